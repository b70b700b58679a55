"""The import's report (what was created, what was present, every error) and its limits."""

from dataclasses import dataclass, field

MAX_IMPORT_FILE_SIZE = 200 * 1024 * 1024  # bytes; a larger upload answers 413
MAX_REPORTED_ERRORS = 1000
MAX_REPORTED_PRESENT_ROWS = 1000
MAX_LINE_LENGTH = 1024 * 1024  # characters; protects memory from a file without line breaks
MAX_MESSAGE_LENGTH = 300  # characters of one reported error message
MAX_FIELD_NAME_LENGTH = 60  # characters of a reported column name


class ImportFileError(Exception):
    """The source itself is unreadable (encoding, CSV syntax): one file-level error, no rows."""

    def __init__(self, message: str, *, row: int | None = None, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.field = field


@dataclass(frozen=True)
class RowError:
    row: int | None  # None: the error is about the file, not one row
    field: str
    message: str


@dataclass
class ImportReport:
    source_system: str
    total_rows: int = 0
    created: int = 0
    already_present: int = 0
    already_present_rows: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    # Where the check stands: (row, phase); each listed error keeps it, to merge in SQL findings.
    position: tuple[float, int] = (0, 0)
    error_positions: list[tuple[float, int]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, row: int | None, field_name: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            # Messages quote the cell, which may be a megabyte: keep the answer small.
            self.errors.append(RowError(row, _clip(field_name), _clip(message, MAX_MESSAGE_LENGTH)))
            self.error_positions.append(self.position)

    def clear_errors(self) -> None:
        self.errors.clear()
        self.error_positions.clear()
        self.error_count = 0

    def merge_errors(self, found: list[tuple[tuple[float, int], RowError]], count: int) -> None:
        """Add `count` errors found later, `found` the first of them with their positions."""
        merged = sorted(
            [*zip(self.error_positions, self.errors, strict=True), *found], key=lambda e: e[0]
        )[:MAX_REPORTED_ERRORS]
        self.error_positions = [position for position, _ in merged]
        self.errors = [error for _, error in merged]
        self.error_count += count


def _clip(text: str, limit: int = MAX_FIELD_NAME_LENGTH) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


# The order of a row's errors: its columns' checks, then duplicates, then amounts and rates.
PHASE_COLUMNS, PHASE_CELLS, PHASE_DUPLICATE, PHASE_AMOUNTS = 0, 1, 2, 3
