"""PostgreSQL: a CSV file checked set-based.

PostgreSQL parses the CSV (COPY of the raw text cells into a temporary table), a handful of
statements check every row and one INSERT ... SELECT writes them. The per-row checks (`rows.py`)
stay the reference: the rows that the SQL does not accept outright (few, unless the file is bad)
are read back and run through `_validate_row`, so their report is word for word that of the
row-by-row path. A file whose bytes the two CSV readers could read differently (see
`_check_piece`) goes the row-by-row way from the start."""

import codecs
import csv
import re
import string
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.db import connection, transaction

from accounts.currency import RateBook
from accounts.imports.report import MAX_LINE_LENGTH, MAX_REPORTED_PRESENT_ROWS, ImportReport
from accounts.imports.rows import (
    COLUMNS,
    REQUIRED_COLUMNS,
    TEXT_COLUMNS,
    TEXT_LIMITS,
    CsvRows,
    NumberedRow,
    _Context,
    _validate_row,
)
from accounts.imports.spool import (
    SPOOL_COLUMNS,
    _report_duplicates_postgresql,
    _stage_postgresql,
    _write_postgresql,
    present_sql,
)
from accounts.models import AMOUNT_TOLERANCE, ProductLine, Transaction, TransactionKind
from accounts.selectors import accounts_visible_to
from kam.admin_csv import FORMULA_TRIGGERS
from kam.dates import EARLIEST_DATE

CHUNK_SIZE = 1024 * 1024  # bytes of the upload read at a time
CSV_FIELD_LIMIT = csv.field_size_limit()  # Python's csv module rejects longer cells
# A quoted cell from one cell boundary to the next (slower; for cells with doubled quotes).
QUOTED_CELL_RE = re.compile(rb'(?:(?<=[,\r\n])|(?<![\s\S]))"(?:[^"]|"")*"(?=[,\r\n]|\Z)')
TRIGGERS_SQL = ", ".join(str(ord(c)) for c in FORMULA_TRIGGERS)  # code points, for ascii()
DIGITS = "0123456789"
# Decimal columns: (places, digits) as in PARSERS (rows.py).
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
        f"AND left({expr}, 4) COLLATE \"C\" >= '{EARLIEST_DATE.year:04d}' THEN "
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
            f"SELECT t.n + 1 FROM {typed} t WHERE {present_sql('t')} "  # noqa: S608
            f"ORDER BY t.n LIMIT {MAX_REPORTED_PRESENT_ROWS}",
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
