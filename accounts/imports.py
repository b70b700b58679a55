"""Bulk import of transactions: validate every row, then write all of them or none.

Decisions (see also the API view in `accounts/api/imports.py`):

- All-or-nothing. Any bad row rejects the whole import; the report lists every bad row (row number,
  field, message), capped at `MAX_REPORTED_ERRORS` entries with the full count in `error_count`, so
  a bad 1,000,000-row file does not produce a 100 MB answer; a message quoting a cell (which may be
  128 KB) is clipped to `MAX_MESSAGE_LENGTH` characters for the same reason.
- Row numbers. JSON rows are numbered from 1. A CSV row is reported by its row in the file counting
  the header as row 1, so the first data row is 2: this is the line number in a text editor and the
  row number in a spreadsheet (they differ only after a cell containing a line break, where we count
  records, as the spreadsheet does). Errors about the file itself (encoding, a missing or unknown
  column) have `row` None.
- Idempotent by (source_system, external_reference). A reference already in the database is
  reported as already present (count and row numbers, capped) and is not written again, so a
  re-sent file creates nothing. `external_reference` is therefore required on every row.
- Visibility. An account the caller cannot see is reported exactly like one that does not exist
  ("Unknown account 123").
- CSV injection. Text starting with = + - @ tab or carriage return is rejected, not escaped: the
  value would otherwise reach spreadsheets through every export, and the sender can fix it.
- Unknown columns are rejected (a misspelt optional column would silently lose its data).
- Checked set-based on PostgreSQL. A CSV upload is streamed straight into COPY (PostgreSQL parses
  it) into a temporary table of text cells; one CREATE TABLE AS types and checks every row
  (formats, ranges, the caller's accounts, product lines, amounts), one looks up the rate of
  each (currency, date) pair, one GROUP BY finds the references repeated within the file, one
  index probe tells whether the source system has rows at all (only then are the rows already
  present looked up), and one INSERT ... SELECT writes the rows and their history (a plain
  INSERT, without the present rows; run again with ON CONFLICT DO NOTHING when a concurrent
  import of the same references committed first: see `_write_postgresql`). The per-row checks
  below stay the reference: the rows the SQL does not accept outright (the bad ones, and good
  ones spelt unusually, e.g. 1E+2) are read back in order and checked by `_validate_row`, so the
  report (messages, row numbers, order) is that of the row-by-row path; the duplicates found in
  SQL are merged into it in the order the per-row check would have given them. A file the two
  CSV readers could read differently (quotes inside unquoted cells, blank lines, NUL, invalid
  UTF-8, very long lines, a header with unknown, repeated or missing columns, a row with more or
  fewer cells) is read row by row instead, from the start.
- Memory stays flat on every path: the set-based path streams the upload in 1 MB pieces and
  fetches the rows to re-check in batches; the row-by-row path (JSON bodies, the unusual files
  above, SQLite) writes validated rows to a temporary file as CSV as soon as they are checked
  (validation goes on to count every error). On PostgreSQL that file is COPYed into a temporary
  table, where repeated references are found with one GROUP BY (after the first bad row only
  the row number and reference of each further row are spooled, for this check) and the rows
  already present with one join, and written as above. Elsewhere (SQLite) duplicates are found
  with a map of the file's references in memory (~150 bytes a row), presence is checked in
  batches of 5000 references and the rows are written with bulk_create(batch_size=5000,
  ignore_conflicts=True).
- Audit trail. Bulk writes send no signals, so the import records its history itself, in the same
  statement (PostgreSQL: the INSERT is a CTE whose RETURNING rows feed the historical table) or
  transaction (elsewhere): one historical row per created transaction, by the importing user,
  with the reason "import: <source system>". A rejected import writes neither.
"""

import codecs
import csv
import io
import re
import string
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from accounts.currency import MissingRateError, RateBook
from accounts.history import history_insert_select, history_tracked_columns
from accounts.models import AMOUNT_TOLERANCE, ProductLine, Transaction, TransactionKind
from accounts.selectors import accounts_visible_to
from kam.admin_csv import FORMULA_TRIGGERS

MAX_IMPORT_FILE_SIZE = 200 * 1024 * 1024  # bytes; a larger upload answers 413
MAX_REPORTED_ERRORS = 1000
MAX_REPORTED_PRESENT_ROWS = 1000
MAX_LINE_LENGTH = 1024 * 1024  # characters; protects memory from a file without line breaks
MAX_MESSAGE_LENGTH = 300  # characters of one reported error message
MAX_FIELD_NAME_LENGTH = 60  # characters of a reported column name
PRESENCE_BATCH_SIZE = 5000  # references checked against the database per query
BULK_BATCH_SIZE = 5000

REQUIRED_COLUMNS = (
    "account",
    "kind",
    "date",
    "quantity",
    "unit_price",
    "currency",
    "external_reference",
)
OPTIONAL_COLUMNS = (
    "product_line",
    "product_code",
    "description",
    "unit_cost",
    "order_reference",
    "amount",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
TEXT_COLUMNS = ("product_code", "description", "order_reference", "external_reference")
TEXT_LIMITS = {name: Transaction._meta.get_field(name).max_length for name in TEXT_COLUMNS}
SOURCE_SYSTEM_LIMIT = Transaction._meta.get_field("source_system").max_length
KINDS = frozenset(TransactionKind.values)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
CENT = Decimal("0.01")

NUL_HEADER_MESSAGE = (
    "The header contains NUL bytes: the file is not UTF-8 text (UTF-16?). Save it as CSV UTF-8 "
    "and send it again."
)
INJECTION_MESSAGE = (
    "Text may not start with =, +, -, @, a tab or a carriage return: spreadsheets run it as a "
    "formula (CSV injection)."
)

# The order of the columns in the spooled CSV, the temporary table and the INSERT.
SPOOL_COLUMNS = (
    "row",
    "account_id",
    "kind",
    "date",
    "product_line_id",
    "product_code",
    "description",
    "quantity",
    "unit_price",
    "unit_cost",
    "amount",
    "currency",
    "amount_base",
    "order_reference",
    "external_reference",
)
# The INSERT's columns: the spool's, after the row number, behind the timestamps and source.
INSERT_COLUMNS = ("created_at", "updated_at", "source_system", *SPOOL_COLUMNS[1:])


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


class NumberedRow(dict):
    """A row that carries its number in the source (the CSV row), used in error messages."""

    __slots__ = ("number",)

    def __init__(self, number: int, values: Iterable[tuple[str, str]]) -> None:
        super().__init__(values)
        self.number = number


# --- Parsing ----------------------------------------------------------------------------------


def _first_bad_utf8_byte(raw: IO[bytes]) -> tuple[int, int] | None:
    """(offset, byte) of the first byte that is not valid UTF-8, scanning from the start."""
    try:
        raw.seek(0)
    except (AttributeError, OSError, ValueError):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while True:
        chunk = raw.read(1024 * 1024)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            position = offset - pending + exc.start
            bad = (exc.object[exc.start : exc.start + 1] or b"\x00")[0]
            return position, bad
        if not chunk:
            return None
        offset += len(chunk)


class CsvRows:
    """The data rows of an uploaded CSV file, read as a stream (never the whole file at once).

    UTF-8 with an optional byte-order mark. Iterating raises ImportFileError for a file that is not
    UTF-8 or not readable as CSV. `columns` is the header, once read.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.columns: list[str] | None = None

    def _lines(self, text: io.TextIOWrapper) -> Iterator[str]:
        while line := text.readline(MAX_LINE_LENGTH):
            if len(line) == MAX_LINE_LENGTH and not line.endswith(("\n", "\r")):
                raise ImportFileError(
                    f"A line is longer than {MAX_LINE_LENGTH} characters; is this a CSV file?"
                )
            yield line

    def __iter__(self) -> Iterator[NumberedRow]:
        raw = getattr(self.file, "file", self.file)  # Django's UploadedFile wraps the real file
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        record = 0
        try:
            reader = csv.reader(self._lines(text), strict=True)
            for cells in reader:
                record += 1
                if self.columns is None:
                    header = [cell.strip().lower() for cell in cells]
                    if not any(header):
                        raise ImportFileError("The first row must be the header (column names).")
                    if any("\x00" in name for name in header):
                        raise ImportFileError(NUL_HEADER_MESSAGE)
                    twice = sorted({name for name in header if header.count(name) > 1})
                    if twice:
                        raise ImportFileError(
                            f"Column '{twice[0]}' appears more than once in the header.",
                            field=twice[0],
                        )
                    self.columns = header
                    continue
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # a blank line: counted, not imported
                if len(cells) != len(self.columns):
                    raise ImportFileError(
                        f"Row {record} has {len(cells)} cells but the header has "
                        f"{len(self.columns)}.",
                        row=record,
                        field="row",
                    )
                yield NumberedRow(record, zip(self.columns, cells, strict=True))
        except UnicodeDecodeError:
            where = _first_bad_utf8_byte(raw)
            detail = f" (byte 0x{where[1]:02x} at position {where[0]})" if where else ""
            raise ImportFileError(
                f"The file is not UTF-8 text{detail}. Save it as CSV UTF-8 and send it again."
            ) from None
        except csv.Error as exc:
            raise ImportFileError(
                f"Row {record + 1} is not valid CSV: {exc}.", row=record + 1, field="row"
            ) from None
        finally:
            text.detach()  # leave the uploaded file open for its owner to close
        if self.columns is None:
            raise ImportFileError("The file is empty: expected a header row and data rows.")


def parse_csv(file: IO[bytes]) -> CsvRows:
    """The rows of a CSV upload (binary file object), streamed. See `CsvRows`."""
    return CsvRows(file)


def parse_json_rows(data: Any) -> list[Mapping[str, Any]]:
    """Check that a parsed JSON body is a list of objects; raise ImportFileError otherwise."""
    if not isinstance(data, list):
        raise ImportFileError("Expected a JSON array of row objects.", field="non_field_errors")
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ImportFileError(
                f"Row {index} is not a JSON object.", row=index, field="non_field_errors"
            )
    return data


# --- Validation -------------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _decimal(text: str, *, places: int, digits: int, positive: bool = False) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Bad(f"'{text}' is not a number.") from None
    if not value.is_finite():
        raise _Bad(f"'{text}' is not a number.")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        value_normalised = value.normalize()
        exponent = value_normalised.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            raise _Bad(f"At most {places} decimal places.")
    if positive and value <= 0:
        raise _Bad("Must be greater than zero; use a return or credit note.")
    if value < 0:
        raise _Bad("May not be negative.")
    if abs(value) >= Decimal(10) ** (digits - places):
        raise _Bad(f"Too large: at most {digits - places} digits before the decimal point.")
    return value


def _text(value: Any) -> str | None:
    """The cell as stripped text; None when absent or empty. JSON numbers become their text."""
    if type(value) is str:  # the common case first: every CSV cell
        return value.strip(" ") or None
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Bad("Expected text or a number, not true/false.")
    if isinstance(value, int | float | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise _Bad("Expected text or a number.")
    value = value.strip(" ")
    return value or None


def _check_text(name: str, value: str) -> None:
    if "\x00" in value:
        raise _Bad("Text may not contain NUL characters.")
    if value.startswith(FORMULA_TRIGGERS):
        raise _Bad(INJECTION_MESSAGE)
    if len(value) > TEXT_LIMITS[name]:
        raise _Bad(f"At most {TEXT_LIMITS[name]} characters (this has {len(value)}).")


@dataclass
class _Context:
    """Everything a row is checked against, loaded once per import."""

    account_ids: set[int]
    product_lines: dict[str, int]
    rates: RateBook
    source_system: str
    # First row of each external reference; None on PostgreSQL, which finds duplicates in SQL.
    seen_references: dict[str, int] | None = None
    missing_columns: set[str] = field(default_factory=set)
    unknown_columns: set[str] = field(default_factory=set)


def _check_columns(report: ImportReport, ctx: _Context, columns: Iterable[str]) -> None:
    columns = set(columns)
    for name in REQUIRED_COLUMNS:
        if name not in columns and name not in ctx.missing_columns:
            ctx.missing_columns.add(name)
            report.add_error(None, name, f"Missing column '{name}'.")
    for name in sorted(columns - set(COLUMNS)):
        if name not in ctx.unknown_columns:
            ctx.unknown_columns.add(name)
            report.add_error(
                None, name, f"Unknown column '{name}'. Expected: {', '.join(COLUMNS)}."
            )


def _parse_account(text: str, ctx: _Context) -> int:
    account_id = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
    if account_id is None or account_id not in ctx.account_ids:
        raise _Bad(f"Unknown account {text}.")  # the same words whether missing or invisible
    return account_id


def _parse_kind(text: str, ctx: _Context) -> str:
    if text not in KINDS:
        raise _Bad(f"Unknown kind '{text}'. Expected one of: {', '.join(TransactionKind)}.")
    return text


def _parse_date(text: str, ctx: _Context) -> date:
    try:
        if not DATE_RE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(f"'{text}' is not a date in the form YYYY-MM-DD.") from None


def _parse_currency(text: str, ctx: _Context) -> str:
    if not CURRENCY_RE.match(text):
        raise _Bad(f"'{text}' is not an ISO 4217 currency code in capitals, e.g. EUR.")
    return text


def _parse_product_line(text: str, ctx: _Context) -> int:
    if text not in ctx.product_lines:
        raise _Bad(f"Unknown product line '{text}'.")
    return ctx.product_lines[text]


def _text_parser(name: str):
    def parse(text: str, ctx: _Context) -> str:
        _check_text(name, text)
        return text

    return parse


def _decimal_parser(*, places: int, digits: int, positive: bool = False):
    def parse(text: str, ctx: _Context) -> Decimal:
        return _decimal(text, places=places, digits=digits, positive=positive)

    return parse


PARSERS = {
    "account": _parse_account,
    "kind": _parse_kind,
    "date": _parse_date,
    "quantity": _decimal_parser(places=3, digits=14, positive=True),
    "unit_price": _decimal_parser(places=4, digits=16),
    "currency": _parse_currency,
    "external_reference": _text_parser("external_reference"),
    "product_line": _parse_product_line,
    "product_code": _text_parser("product_code"),
    "description": _text_parser("description"),
    "unit_cost": _decimal_parser(places=4, digits=16),
    "order_reference": _text_parser("order_reference"),
    "amount": _decimal_parser(places=2, digits=18),
}
REQUIRED = frozenset(REQUIRED_COLUMNS)


def _duplicate_message(reference: str, first: int) -> str:
    return f"Duplicate external reference '{reference}' (first in row {first})."


def _validate_row(
    number: int, row: Mapping[str, Any], ctx: _Context, report: ImportReport
) -> tuple | str:
    """The row as a tuple in SPOOL_COLUMNS order, or after reporting its errors its external
    reference ("" when that is missing or bad), still needed for the duplicate check."""
    errors_before = report.error_count
    report.position = (number, PHASE_CELLS)
    parsed: dict[str, Any] = {}
    for name, parse in PARSERS.items():
        value = None
        try:
            text = _text(row.get(name))
            if text is not None:
                value = parse(text, ctx)
            elif name in REQUIRED and name in row:
                report.add_error(number, name, "This field is required.")
        except _Bad as exc:
            report.add_error(number, name, str(exc))
        parsed[name] = value

    account_id, kind, on = parsed["account"], parsed["kind"], parsed["date"]
    quantity, unit_price, currency = parsed["quantity"], parsed["unit_price"], parsed["currency"]
    unit_cost, given_amount = parsed["unit_cost"], parsed["amount"]
    product_line_id = parsed["product_line"]
    texts = {name: parsed[name] or "" for name in TEXT_COLUMNS}

    reference = texts["external_reference"]
    if reference and ctx.seen_references is not None:
        first = ctx.seen_references.setdefault(reference, number)
        if first != number:
            report.add_error(number, "external_reference", _duplicate_message(reference, first))
    report.position = (number, PHASE_AMOUNTS)

    amount = amount_base = None
    if quantity is not None and unit_price is not None:
        exact = quantity * unit_price
        if given_amount is not None:
            if abs(given_amount - exact) > AMOUNT_TOLERANCE:
                expected = Transaction.compute_amount(quantity, unit_price)
                report.add_error(
                    number, "amount", f"Amount must equal quantity x unit price ({expected})."
                )
            amount = given_amount
        else:
            amount = Transaction.compute_amount(quantity, unit_price)
            if amount >= Decimal(10) ** 16:
                report.add_error(number, "amount", "Quantity x unit price is too large.")
    if currency is not None and on is not None:
        try:
            rate = ctx.rates.rate(currency, on)
        except MissingRateError as exc:
            report.add_error(number, "currency", str(exc))
        else:
            if amount is not None:
                amount_base = (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
                if amount_base >= Decimal(10) ** 16:
                    report.add_error(number, "amount", "The amount in base currency is too large.")

    if report.error_count != errors_before:
        return reference
    return (
        number,
        account_id,
        kind,
        on,
        product_line_id,
        texts["product_code"],
        texts["description"],
        quantity,
        unit_price,
        unit_cost,
        amount,
        currency,
        amount_base,
        texts["order_reference"],
        reference,
    )


# --- Writing ----------------------------------------------------------------------------------


def _existing_references(source_system: str, references: list[str]) -> set[str]:
    # `<> ''` repeats the unique index's condition: PostgreSQL cannot infer it from a long IN
    # list, and without it every batch would scan the whole table.
    return set(
        Transaction.objects.filter(source_system=source_system, external_reference__in=references)
        .exclude(external_reference="")
        .values_list("external_reference", flat=True)
    )


REFERENCE_ONLY_PADDING = ("",) * (len(SPOOL_COLUMNS) - 2)


class _Spool:
    """Validated rows, written as CSV to a temporary file in batches after the presence check."""

    def __init__(self, report: ImportReport, *, check_presence: bool) -> None:
        self.report = report
        # PostgreSQL checks presence once, joining the COPYed rows; elsewhere batch by batch.
        self.check_presence = check_presence
        self.file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        # CRLF line ends make the csv module quote a lone CR in a value, as COPY needs.
        self.writer = csv.writer(self.file, lineterminator="\r\n")
        self.batch: list[tuple] = []
        self.count = 0
        self.references_only = False

    def add(self, row: tuple) -> None:
        self.batch.append(row)
        if len(self.batch) >= PRESENCE_BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        present = (
            _existing_references(self.report.source_system, [r[-1] for r in self.batch])
            if self.check_presence
            else set()
        )
        for row in self.batch:
            if row[-1] in present:
                self.report.already_present += 1
                if len(self.report.already_present_rows) < MAX_REPORTED_PRESENT_ROWS:
                    self.report.already_present_rows.append(row[0])
            else:
                self.writer.writerow(row)
                self.count += 1
        self.batch.clear()

    def discard(self) -> None:
        """After the first error nothing will be written: stop spooling, keep validating."""
        self.batch.clear()
        self.file.close()

    def keep_references_only(self) -> None:
        """After the first error (PostgreSQL) only the duplicate check needs the rows."""
        if not self.references_only:
            self.flush()
            self.references_only = True

    def add_reference(self, number: int, reference: str) -> None:
        # The other columns stay empty (NULL after the COPY); the INSERT never reads these rows.
        if reference:
            self.writer.writerow((number, *REFERENCE_ONLY_PADDING, reference))

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


def _stage_postgresql(cursor, file: IO[str]) -> str:
    """COPY the spooled rows into a new temporary table (dropped at commit); return its name."""
    table = f"kam_import_{uuid.uuid4().hex}"  # generated here, never taken from input
    column_sql = (
        "row integer, account_id bigint, kind text, date date, product_line_id bigint, "
        "product_code text, description text, quantity numeric, unit_price numeric, "
        "unit_cost numeric, amount numeric, currency text, amount_base numeric, "
        "order_reference text, external_reference text"
    )
    file.flush()
    file.seek(0)
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({column_sql}) ON COMMIT DROP")
    copy_sql = f"COPY {table} ({', '.join(SPOOL_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
    raw = cursor.cursor
    if hasattr(raw, "copy_expert"):  # psycopg2
        raw.copy_expert(copy_sql, file, size=1024 * 1024)
    else:  # psycopg 3
        with raw.copy(copy_sql) as copy:
            while data := file.read(1024 * 1024):
                copy.write(data)
    cursor.execute(f"ANALYZE {table}")  # temporary tables get no statistics otherwise
    return table


def _report_duplicates_postgresql(
    cursor,
    table: str,
    report: ImportReport,
    *,
    row: str = "row",
    reference: str = "external_reference",
) -> None:
    """Report every row whose external reference an earlier row of the file already has.

    `row` and `reference` are SQL over `table`: the row number and the (valid) reference."""
    cursor.execute(
        f"WITH f AS NOT MATERIALIZED (SELECT {row} AS row, {reference} AS external_reference "  # noqa: S608
        f"FROM {table}), d AS (SELECT external_reference, min(row) AS first FROM f "
        "WHERE external_reference IS NOT NULL GROUP BY 1 HAVING count(*) > 1) "
        "SELECT f.row, d.external_reference, d.first, count(*) OVER () FROM f "
        "JOIN d USING (external_reference) WHERE f.row <> d.first "
        f"ORDER BY f.row LIMIT {MAX_REPORTED_ERRORS}"
    )
    found = cursor.fetchall()
    if found:
        report.merge_errors(
            [
                (
                    (number, PHASE_DUPLICATE),
                    RowError(
                        number,
                        "external_reference",
                        _clip(_duplicate_message(reference, first), MAX_MESSAGE_LENGTH),
                    ),
                )
                for number, reference, first, _ in found
            ],
            found[0][3],
        )


def _insert_postgresql(cursor, table: str, report: ImportReport, *, user, reason: str) -> int:
    source_system = report.source_system
    target = Transaction._meta.db_table
    # Empty text arrives as NULL in COPY's CSV format; the target's text columns are NOT NULL.
    select = (
        "now(), now(), %s, account_id, kind, date, product_line_id, "
        "coalesce(product_code, ''), coalesce(description, ''), quantity, unit_price, "
        "unit_cost, amount, currency, amount_base, coalesce(order_reference, ''), "
        "external_reference"
    )
    present = (
        f"SELECT t.row FROM {table} t WHERE EXISTS (SELECT 1 FROM {target} x "  # noqa: S608
        "WHERE x.source_system = %s AND x.external_reference = t.external_reference "
        "AND x.external_reference <> '')"
    )
    cursor.execute(f"SELECT count(*) FROM ({present}) p", [source_system])  # noqa: S608
    report.already_present = cursor.fetchone()[0]
    if report.already_present:
        cursor.execute(
            f"{present} ORDER BY t.row LIMIT {MAX_REPORTED_PRESENT_ROWS}", [source_system]
        )
        report.already_present_rows = [r[0] for r in cursor.fetchall()]
    return _write_postgresql(
        select=select,
        source=f"{table} s",
        order_by="s.row",
        source_system=source_system,
        skip_present=report.already_present > 0,
        user=user,
        reason=reason,
    )


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def _write_postgresql(
    *,
    select: str,
    source: str,
    order_by: str = "",
    source_system: str,
    skip_present: bool,
    user,
    reason: str,
) -> int:
    """Insert `SELECT {select} FROM {source}` (alias `s`; `%s` in `select` is the source
    system) into the transactions and their history in one statement (both or neither); returns
    the number of rows created.

    A plain INSERT: ON CONFLICT DO NOTHING probes the unique index once more for every row before
    inserting it (a tenth of the write, issue 6). The rows imported before are left out by an
    anti-join, only when the caller found some (`skip_present`). A concurrent import that commits
    some of the same references meanwhile makes the INSERT fail on the unique index; the
    statement then runs again, in the same transaction, with ON CONFLICT DO NOTHING, which skips
    them. RETURNING gives only the columns the history copies (no spill of unused ones)."""
    target = Transaction._meta.db_table
    params = [source_system]
    rows = f"SELECT {select} FROM {source}"  # noqa: S608 (SQL from this module, never input)
    if skip_present:
        rows += (
            f" WHERE NOT EXISTS (SELECT 1 FROM {target} x WHERE x.source_system = %s "  # noqa: S608
            "AND x.external_reference = s.external_reference AND x.external_reference <> '')"
        )
        params.append(source_system)
    if order_by:
        rows += f" ORDER BY {order_by}"
    returning = ", ".join(map(connection.ops.quote_name, history_tracked_columns(Transaction)))

    def write(conflict: str) -> int:
        written = (
            f"WITH written AS (INSERT INTO {target} ({', '.join(INSERT_COLUMNS)}) "
            f"{rows} {conflict} RETURNING {returning})"
        )
        return history_insert_select(
            Transaction,
            source="written",
            prefix=written,
            prefix_params=params,
            reason=reason,
            user=user,
            only_new=False,
        )

    try:
        with transaction.atomic():  # a savepoint, to run again after a unique violation
            return write("")
    except IntegrityError as exc:
        if getattr(exc.__cause__, "pgcode", None) != UNIQUE_VIOLATION:
            raise
    return write("ON CONFLICT DO NOTHING")


def _insert_generic(spool: _Spool, source_system: str, *, user, reason: str) -> int:
    spool.file.seek(0)
    before = Transaction.objects.filter(source_system=source_system).count()
    # SQLite runs one writer at a time: this transaction's new rows are those after the last id.
    last_id = Transaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def decimal_or_none(text: str) -> Decimal | None:
        return Decimal(text) if text else None

    batch: list[Transaction] = []
    for cells in csv.reader(spool.file):
        (_, account_id, kind, on, product_line_id, product_code, description, quantity,
         unit_price, unit_cost, amount, currency, amount_base, order_reference,
         reference) = cells  # fmt: skip
        batch.append(
            Transaction(
                account_id=int(account_id),
                kind=kind,
                date=date.fromisoformat(on),
                product_line_id=int(product_line_id) if product_line_id else None,
                product_code=product_code,
                description=description,
                quantity=Decimal(quantity),
                unit_price=Decimal(unit_price),
                unit_cost=decimal_or_none(unit_cost),
                amount=Decimal(amount),
                currency=currency,
                amount_base=Decimal(amount_base),
                order_reference=order_reference,
                source_system=source_system,
                external_reference=reference,
            )
        )
        if len(batch) >= BULK_BATCH_SIZE:
            Transaction.objects.bulk_create(batch, ignore_conflicts=True)
            batch.clear()
    if batch:
        Transaction.objects.bulk_create(batch, ignore_conflicts=True)
    history_insert_select(
        Transaction,
        source=connection.ops.quote_name(Transaction._meta.db_table),
        where="t.id > %s AND t.source_system = %s",
        params=[last_id, source_system],
        reason=reason,
        user=user,
    )
    return Transaction.objects.filter(source_system=source_system).count() - before


# --- PostgreSQL: a CSV file checked set-based -------------------------------------------------
#
# PostgreSQL parses the CSV (COPY of the raw text cells into a temporary table), a handful of
# statements check every row and one INSERT ... SELECT writes them. The per-row checks above stay
# the reference: the rows that the SQL does not accept outright (few, unless the file is bad) are
# read back and run through `_validate_row`, so their report is word for word that of the
# row-by-row path. A file whose bytes the two CSV readers could read differently (see
# `_check_piece`) goes the row-by-row way from the start.

CHUNK_SIZE = 1024 * 1024  # bytes of the upload read at a time
CSV_FIELD_LIMIT = csv.field_size_limit()  # Python's csv module rejects longer cells
# A quoted cell from one cell boundary to the next (slower; for cells with doubled quotes).
QUOTED_CELL_RE = re.compile(rb'(?:(?<=[,\r\n])|(?<![\s\S]))"(?:[^"]|"")*"(?=[,\r\n]|\Z)')
TRIGGERS_SQL = ", ".join(str(ord(c)) for c in FORMULA_TRIGGERS)  # code points, for ascii()
DIGITS = "0123456789"
# Decimal columns: (places, digits) as in PARSERS.
DECIMALS = {
    "quantity": (3, 14),
    "unit_price": (4, 16),
    "unit_cost": (4, 16),
    "amount": (2, 18),
}


class _RowByRow(Exception):
    """The file needs the row-by-row reader: its CSV or text is unusual (its report decides)."""


def _quotes_agree(piece: bytes) -> bool:
    """True when `piece` (whole records) splits into the same cells for Python's csv module and
    PostgreSQL's COPY: every quote opens a cell at its start or closes it at its end. (COPY
    reads a quote inside an unquoted cell as the start of a quoted part; Python keeps it.)"""
    if b'"' not in piece:
        return True
    if b'""' in piece:  # doubled quotes: the exact but slower scan
        return b'"' not in QUOTED_CELL_RE.sub(b"", piece)
    if piece.count(b'"') % 2:
        return False  # a quoted cell goes on past the piece
    outside = piece.split(b'"')[0::2]  # the text between quoted cells
    before = outside[:-1] if outside[0] else outside[1:-1]  # each ends where a quote opens
    after = outside[1:] if outside[-1] else outside[1:-1]  # each starts where a quote closed
    ends = b"\0".join(before) + b"\0"
    starts = b"\0" + b"\0".join(after)
    return ends.count(b",\0") + ends.count(b"\n\0") == len(before) and starts.count(
        b"\0,"
    ) + starts.count(b"\0\r") + starts.count(b"\0\n") == len(after)


def _check_piece(piece: bytes) -> None:
    """Raise _RowByRow unless COPY reads `piece` (whole lines) exactly as `CsvRows` would."""
    if (
        b"\0" in piece  # COPY refuses NUL; the row-by-row check reports it per cell
        or b"\\." in piece  # a line \. ends COPY's data
        or b"\n\n" in piece  # blank lines: skipped (but counted) by CsvRows, errors for COPY
        or b"\n\r\n" in piece
        or piece.startswith((b"\n", b"\r\n"))
        or max(map(len, piece.split(b"\n"))) >= MAX_LINE_LENGTH
        or not _quotes_agree(piece)
    ):
        raise _RowByRow
    if not piece.isascii():
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            raise _RowByRow from None


def _csv_header(raw: IO[bytes]) -> tuple[list[str], bytes]:
    """The header's column names and the bytes read after it, or _RowByRow unless the header is
    plain (one line, every required column, no unknown or repeated one)."""
    first = raw.read(CHUNK_SIZE)
    first = first.removeprefix(codecs.BOM_UTF8)
    end = first.find(b"\n") + 1
    if not end:
        raise _RowByRow
    line = first[:end]
    try:
        text = line.decode("utf-8").removesuffix("\n").removesuffix("\r")
        columns = [cell.strip().lower() for cell in next(csv.reader([text], strict=True))]
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise _RowByRow from None
    if (
        "\r" in text
        or "\0" in text
        or not _quotes_agree(line)
        or len(set(columns)) != len(columns)
        or not set(REQUIRED_COLUMNS) <= set(columns) <= set(COLUMNS)
    ):
        raise _RowByRow
    return columns, first[end:]


def _csv_pieces(raw: IO[bytes], rest: bytes) -> Iterator[bytes]:
    """The data rows' bytes in pieces of whole lines, each checked by `_check_piece`."""
    carry = rest
    while True:
        chunk = raw.read(CHUNK_SIZE)
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)
        piece, carry = data[:cut], data[cut:]
        if len(carry) >= MAX_LINE_LENGTH:
            raise _RowByRow
        if piece:
            _check_piece(piece)
            yield piece
        if not chunk:
            return


class _PieceReader:
    """A file-like view of an iterator of bytes, for psycopg2's copy_expert (which turns an
    exception in `read` into its own error: `stopped` tells that it was _RowByRow)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces
        self.stopped = False

    def read(self, size: int = -1) -> bytes:
        try:
            return next(self.pieces, b"")
        except _RowByRow:
            self.stopped = True
            raise


def _copy(cursor, sql: str, pieces: Iterator[bytes]) -> None:
    """COPY `pieces` with `sql`; _RowByRow when a piece or PostgreSQL's parser says so."""
    raw = cursor.cursor
    reader = _PieceReader(pieces)
    try:
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(sql, reader, size=CHUNK_SIZE)
        else:  # psycopg 3
            with raw.copy(sql) as copy:
                while piece := reader.read():
                    copy.write(piece)
    except connection.Database.DataError:  # e.g. a row with more or fewer cells than the header
        raise _RowByRow from None
    except (_RowByRow, connection.Database.Error):
        if reader.stopped:
            raise _RowByRow from None
        raise


def _clean(expr: str) -> str:
    """SQL for `_text`: the cell without surrounding spaces, NULL when empty."""
    return f"nullif(btrim({expr}, ' '), '')"


def _date_sql(expr: str) -> str:
    """SQL: `expr` (clean text) as a date when `_parse_date` accepts it, else NULL (no error).

    String functions rather than regular expressions (those cost a microsecond a row), and byte
    order ("C") for the comparisons, not the database's collation."""
    return (
        f"CASE WHEN octet_length({expr}) = 10 AND substr({expr}, 5, 1) = '-' "
        f"AND substr({expr}, 8, 1) = '-' AND btrim(replace({expr}, '-', ''), '{DIGITS}') = '' "
        f"AND substr({expr}, 6, 2) COLLATE \"C\" BETWEEN '01' AND '12' "
        f"AND substr({expr}, 9, 2) COLLATE \"C\" BETWEEN '01' AND '31' "
        f"AND left({expr}, 4) <> '0000' THEN "
        f"CASE WHEN right({expr}, 2) COLLATE \"C\" <= '28' "
        f"OR to_char((left({expr}, 8) || '01')::date "
        f"+ (right({expr}, 2)::int - 1), 'YYYY-MM-DD') = {expr} THEN {expr}::date END END"
    )


def _number_sql(expr: str) -> str:
    """SQL: `expr` (clean text) as a number when it is plain digits with at most one point (any
    other spelling is left to `_decimal`), else NULL (no error)."""
    return (
        f"CASE WHEN octet_length({expr}) <= 41 AND btrim({expr}, '{DIGITS}.') = '' "
        f"AND strpos(substr({expr}, strpos({expr}, '.') + 1), '.') = 0 AND {expr} <> '.' "
        f"THEN {expr}::numeric END"
    )


def _text_ok(expr: str, name: str) -> str:
    """SQL for `_check_text` (PostgreSQL text holds no NUL). Bytes bound characters, so the
    character count is needed only for a long text."""
    limit = TEXT_LIMITS[name]
    return (
        f"((octet_length({expr}) <= {limit} OR length({expr}) <= {limit}) "
        f"AND ascii({expr}) NOT IN ({TRIGGERS_SQL}))"
    )


def _decimal_ok(name: str) -> str:
    places, digits = DECIMALS[name]
    positive = " AND t.quantity > 0" if name == "quantity" else ""
    return f"(t.{name} < 1e{digits - places} AND scale(trim_scale(t.{name})) <= {places}{positive})"


def _typed_sql(raw: str, visible: str) -> str:
    """SQL: each row of `raw` typed as the INSERT needs it (NULL where a cell is bad), `checked`
    true when it passes every check of `_validate_row` but the rate (and the amount in base
    currency): false for every bad row, and for a good one spelt unusually (e.g. 1E+2)."""
    longest = ", ".join(f"octet_length({name})" for name in COLUMNS)
    clean = ", ".join(f"{_clean(name)} AS {name}" for name in COLUMNS)
    decimals = ", ".join(f"{_number_sql(f'c.{name}')} AS {name}" for name in DECIMALS)
    kinds = ", ".join(f"'{kind}'" for kind in TransactionKind.values)
    texts = ", ".join(f"c.{name}" for name in TEXT_COLUMNS[:3])
    ok = " AND ".join(
        [
            "NOT t.too_long",
            f"t.account_id IN ({visible})",
            "t.kind IS NOT NULL",
            "t.date IS NOT NULL",
            _decimal_ok("quantity"),
            _decimal_ok("unit_price"),
            f"(t.no_unit_cost OR {_decimal_ok('unit_cost')})",
            f"(t.no_amount OR {_decimal_ok('amount')})",
            "t.currency IS NOT NULL",
            "t.external_reference IS NOT NULL",
            *(f"(t.{name} IS NULL OR {_text_ok(f't.{name}', name)})" for name in TEXT_COLUMNS[:3]),
            "(t.product_line IS NULL OR pl.id IS NOT NULL)",
            "CASE WHEN t.amount IS NULL THEN round(t.quantity * t.unit_price, 2) < 1e16 "
            f"ELSE abs(t.amount - t.quantity * t.unit_price) <= {AMOUNT_TOLERANCE} END",
        ]
    )
    reference = "c.external_reference"
    # OFFSET 0 keeps each level's columns computed once per row (not inlined into every use).
    return (
        "SELECT t.n, t.account_id, t.kind, t.date, pl.id AS product_line_id, "  # noqa: S608
        "coalesce(t.product_code, '') AS product_code, "
        "coalesce(t.description, '') AS description, t.quantity, t.unit_price, t.unit_cost, "
        "coalesce(t.amount, round(t.quantity * t.unit_price, 2)) AS amount, t.currency, "
        "coalesce(t.order_reference, '') AS order_reference, t.external_reference, "
        f"coalesce({ok}, false) AS checked "
        "FROM (SELECT c.n, c.too_long, "
        "CASE WHEN octet_length(c.account) <= 18 AND btrim(c.account, '0123456789') = '' "
        "THEN c.account::bigint END AS account_id, "
        f"CASE WHEN c.kind IN ({kinds}) THEN c.kind END AS kind, "
        f"{_date_sql('c.date')} AS date, "
        "CASE WHEN octet_length(c.currency) = 3 AND btrim(c.currency, "
        f"'{string.ascii_uppercase}') = '' THEN c.currency END AS currency, "
        f"{decimals}, c.unit_cost IS NULL AS no_unit_cost, c.amount IS NULL AS no_amount, "
        f"CASE WHEN {_text_ok(reference, 'external_reference')} THEN {reference} END "
        f"AS external_reference, c.product_line, {texts} "
        f"FROM (SELECT n, greatest({longest}) > {CSV_FIELD_LIMIT} AS too_long, {clean} "
        f"FROM {raw} OFFSET 0) c OFFSET 0) t "
        "LEFT JOIN accounts_productline pl ON pl.code = t.product_line"
    )


def _import_csv_set_based(rows: CsvRows, report: ImportReport, *, user) -> ImportReport | None:
    """Import a CSV file with its checks in SQL; None (nothing done, the file rewound) when the
    file needs the row-by-row path."""
    raw = getattr(rows.file, "file", rows.file)
    try:
        if not raw.seekable():
            return None
        start = raw.tell()
    except (AttributeError, OSError, ValueError):
        return None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _set_based(cursor, raw, report, user=user)
    except _RowByRow:
        raw.seek(start)
        return None
    return report


def _set_based(cursor, raw: IO[bytes], report: ImportReport, *, user) -> None:
    columns, rest = _csv_header(raw)
    suffix = uuid.uuid4().hex  # table names are generated here, never taken from input
    table, typed, rates = (f"kam_{name}_{suffix}" for name in ("import", "typed", "rates"))
    cursor.execute(
        f"CREATE TEMPORARY TABLE {table} (n bigint GENERATED ALWAYS AS IDENTITY, "
        f"{', '.join(f'{name} text' for name in COLUMNS)}) ON COMMIT DROP"
    )
    _copy(
        cursor,
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)",
        _csv_pieces(raw, rest),
    )
    visible, visible_params = accounts_visible_to(user).values("pk").query.sql_with_params()
    cursor.execute(
        f"CREATE TEMPORARY TABLE {typed} ON COMMIT DROP AS {_typed_sql(table, visible)}",
        visible_params,
    )
    report.total_rows = cursor.rowcount
    # The rate of every (currency, date) pair of the file, looked up once per pair.
    cursor.execute(
        f"CREATE TEMPORARY TABLE {rates} ON COMMIT DROP AS "  # noqa: S608
        "SELECT p.currency, p.date, CASE WHEN p.currency = %s THEN 1 ELSE "
        "(SELECT e.rate FROM accounts_exchangerate e WHERE e.currency = p.currency "
        "AND e.valid_from <= p.date ORDER BY e.valid_from DESC LIMIT 1) END AS rate "
        f"FROM (SELECT DISTINCT currency, date FROM {typed} WHERE checked) p",
        [settings.KAM_BASE_CURRENCY],
    )
    cursor.execute(f"ANALYZE {rates}")
    rated = (
        f"FROM {typed} t JOIN {rates} x ON x.currency = t.currency AND x.date = t.date "
        "WHERE t.checked AND round(t.amount * x.rate, 2) < 1e16"
    )

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as fixed:
        fixed_count = _check_row_by_row(cursor, table, typed, rates, columns, fixed, report, user)
        _report_duplicates_postgresql(cursor, typed, report, row="n + 1")
        if report.ok:
            values = ", ".join(
                "round(t.amount * x.rate, 2) AS amount_base"
                if name == "amount_base"
                else f"t.{name}"
                for name in SPOOL_COLUMNS[1:]
            )
            source = f"SELECT {values} {rated}"
            if fixed_count:
                source = f"{source} UNION ALL {_fixed_rows(cursor, fixed)}"
            _write_set_based(cursor, report, source=source, typed=typed, user=user)
    for name in (table, typed, rates):
        cursor.execute(f"DROP TABLE {name}")


def _check_row_by_row(cursor, table, typed, rates, columns, fixed: IO[str], report, user) -> int:
    """Run the rows the SQL did not accept outright through `_validate_row`, in order, for their
    exact report; write those that pass to `fixed` (as the spool does). Returns their count."""
    ctx = None
    writer = csv.writer(fixed, lineterminator="\r\n")
    fixed_count = 0
    with connection.chunked_cursor() as suspects:
        suspects.execute(
            f"SELECT r.n + 1, {', '.join(f'r.{name}' for name in COLUMNS)} "  # noqa: S608
            f"FROM {table} r WHERE r.n IN (SELECT t.n FROM {typed} t LEFT JOIN {rates} x "
            "ON x.currency = t.currency AND x.date = t.date "
            "WHERE NOT coalesce(t.checked AND round(t.amount * x.rate, 2) < 1e16, false)) "
            "ORDER BY r.n"
        )
        while batch := suspects.fetchmany(2000):
            if ctx is None:
                ctx = _Context(
                    account_ids=set(accounts_visible_to(user).values_list("pk", flat=True)),
                    product_lines=dict(ProductLine.objects.values_list("code", "id")),
                    rates=RateBook.load(),
                    source_system=report.source_system,
                )
            for number, *cells in batch:
                if any(cell is not None and len(cell) > CSV_FIELD_LIMIT for cell in cells):
                    raise _RowByRow  # CsvRows rejects the whole file
                given = dict(zip(COLUMNS, cells, strict=True))
                row = NumberedRow(number, ((name, given[name] or "") for name in columns))
                validated = _validate_row(number, row, ctx, report)
                if report.ok and isinstance(validated, tuple):
                    writer.writerow(validated)  # good after all: written as checked here
                    fixed_count += 1
    return fixed_count


def _fixed_rows(cursor, file: IO[str]) -> str:
    """SQL for the rows that passed the row-by-row checks (COPYed as checked there)."""
    fixed = _stage_postgresql(cursor, file)
    texts = {"product_code", "description", "order_reference"}
    columns = ", ".join(
        f"coalesce({name}, '')" if name in texts else name for name in SPOOL_COLUMNS[1:]
    )
    return f"SELECT {columns} FROM {fixed}"  # noqa: S608


def _write_set_based(cursor, report: ImportReport, *, source: str, typed: str, user) -> None:
    source_system = report.source_system
    target = Transaction._meta.db_table
    columns = ", ".join(SPOOL_COLUMNS[1:])
    # Rows imported before: only a source system with rows can have them (one index probe).
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {target} WHERE source_system = %s "  # noqa: S608
        "AND external_reference <> '')",
        [source_system],
    )
    if cursor.fetchone()[0]:
        cursor.execute(
            f"SELECT t.n + 1 FROM {typed} t WHERE EXISTS (SELECT 1 FROM {target} x "  # noqa: S608
            "WHERE x.source_system = %s AND x.external_reference = t.external_reference "
            f"AND x.external_reference <> '') ORDER BY t.n LIMIT {MAX_REPORTED_PRESENT_ROWS}",
            [source_system],
        )
        report.already_present_rows = [r[0] for r in cursor.fetchall()]
    report.created = _write_postgresql(
        select=f"now(), now(), %s, {columns}",
        source=f"({source}) s",
        source_system=source_system,
        skip_present=bool(report.already_present_rows),
        user=user,
        reason=f"import: {source_system}",
    )
    # Present: imported before, or by a concurrent import of the same references meanwhile.
    report.already_present = report.total_rows - report.created


# --- The service ------------------------------------------------------------------------------


def _new_report(source_system: str) -> ImportReport:
    report = ImportReport(source_system=(source_system or "").strip(" "))
    if not report.source_system:
        report.add_error(None, "source_system", "This field is required.")
    elif len(report.source_system) > SOURCE_SYSTEM_LIMIT:
        report.add_error(None, "source_system", f"At most {SOURCE_SYSTEM_LIMIT} characters.")
    elif report.source_system.startswith(FORMULA_TRIGGERS):
        report.add_error(None, "source_system", INJECTION_MESSAGE)
    return report


def transactions_import(
    *, user, rows: Iterable[Mapping[str, Any]], source_system: str = "import"
) -> ImportReport:
    """Validate every row; if all are good, write the new ones in one transaction.

    `rows` are mappings of column name to text (JSON numbers are accepted too). A row's number is
    its `number` attribute when it has one (CSV rows from `parse_csv`), else its 1-based position.
    Returns the report; `report.ok` is False when the import was rejected and nothing was written.
    """
    postgresql = connection.vendor == "postgresql"
    if postgresql and isinstance(rows, CsvRows):
        report = _import_csv_set_based(rows, _new_report(source_system), user=user)
        if report is not None:
            return report
    report = _new_report(source_system)
    ctx = _Context(
        account_ids=set(accounts_visible_to(user).values_list("pk", flat=True)),
        product_lines=dict(ProductLine.objects.values_list("code", "id")),
        rates=RateBook.load(),
        source_system=report.source_system,
    )
    if not postgresql:
        ctx.seen_references = {}
    spool = _Spool(report, check_presence=not postgresql)
    try:
        try:
            for index, row in enumerate(rows, start=1):
                number = getattr(row, "number", index)
                report.total_rows += 1
                if index == 1 or not isinstance(row, NumberedRow):
                    # CSV rows share the header; JSON objects may differ from row to row.
                    report.position = (number, PHASE_COLUMNS)
                    _check_columns(report, ctx, row.keys())
                validated = _validate_row(number, row, ctx, report)
                if report.ok and isinstance(validated, tuple):
                    spool.add(validated)
                elif postgresql:
                    spool.keep_references_only()
                    spool.add_reference(
                        number, validated if isinstance(validated, str) else validated[-1]
                    )
                elif not spool.file.closed:
                    spool.discard()
            if getattr(rows, "columns", None) is not None:
                report.position = (float("inf"), PHASE_COLUMNS)
                _check_columns(report, ctx, rows.columns)  # a header without data rows
        except ImportFileError as exc:
            # An unreadable file is one clear error; the row errors found so far would mislead.
            report.clear_errors()
            report.already_present = 0
            report.already_present_rows.clear()
            report.add_error(exc.row, exc.field, exc.message)
            return report
        if not report.ok and not postgresql:
            report.already_present = 0
            report.already_present_rows.clear()
            return report
        spool.flush()
        reason = f"import: {report.source_system}"
        with transaction.atomic():
            if postgresql:
                with connection.cursor() as cursor:
                    table = _stage_postgresql(cursor, spool.file)
                    _report_duplicates_postgresql(cursor, table, report)
                    if report.ok:
                        report.created = _insert_postgresql(
                            cursor, table, report, user=user, reason=reason
                        )
                    cursor.execute(f"DROP TABLE {table}")
            elif report.ok:
                report.created = _insert_generic(
                    spool, report.source_system, user=user, reason=reason
                )
        if not report.ok:
            report.already_present = 0
            report.already_present_rows.clear()
            return report
        # A concurrent import may have written some of the same references in the meantime.
        report.already_present = (
            spool.count - report.created + (0 if postgresql else report.already_present)
        )
        return report
    finally:
        spool.close()
