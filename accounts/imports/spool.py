"""The row-by-row write path: validated rows spooled to a temporary file as CSV, then written.

On PostgreSQL the spool is COPYed into a temporary table (`_stage_postgresql`), its repeated
references found with one GROUP BY and its rows written with one INSERT ... SELECT and their
history (`_write_postgresql`); the set-based path (`set_based.py`) uses these three too. Elsewhere
(SQLite) presence is checked batch by batch and the rows written with bulk_create."""

import csv
import tempfile
import uuid
from datetime import date
from decimal import Decimal
from typing import IO

from django.db import IntegrityError, connection, transaction

from accounts.history import history_insert_select, history_tracked_columns
from accounts.imports.report import (
    MAX_MESSAGE_LENGTH,
    MAX_REPORTED_ERRORS,
    MAX_REPORTED_PRESENT_ROWS,
    PHASE_DUPLICATE,
    ImportReport,
    RowError,
    _clip,
)
from accounts.imports.rows import _duplicate_message
from accounts.models import Transaction

PRESENCE_BATCH_SIZE = 5000  # references checked against the database per query
BULK_BATCH_SIZE = 5000

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


def present_sql(alias: str) -> str:
    """SQL that is true when row `alias` carries a reference already stored for the source
    system (the one parameter, %s).

    A scalar subquery with LIMIT, which PostgreSQL runs as one probe of the unique index per
    row and never turns into a join. A join's plan rests on the estimate of the source system's
    rows, and right after an import that estimate is stale (about one row for the rows just
    written): the nested loop it chose compared every row of a re-sent file with every row
    stored, and a re-sent file of 100,000 rows took 170 s instead of one (issue 6)."""
    return (
        f"COALESCE((SELECT true FROM {Transaction._meta.db_table} x "  # noqa: S608
        f"WHERE x.source_system = %s AND x.external_reference = {alias}.external_reference "
        "AND x.external_reference <> '' LIMIT 1), false)"
    )


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
    # Empty text arrives as NULL in COPY's CSV format; the target's text columns are NOT NULL.
    select = (
        "now(), now(), %s, account_id, kind, date, product_line_id, "
        "coalesce(product_code, ''), coalesce(description, ''), quantity, unit_price, "
        "unit_cost, amount, currency, amount_base, coalesce(order_reference, ''), "
        "external_reference"
    )
    present = f"SELECT t.row FROM {table} t WHERE {present_sql('t')}"  # noqa: S608
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

    A plain INSERT when no row is present yet: ON CONFLICT DO NOTHING probes the unique index
    once more for every row before inserting it (a tenth of the write, issue 6). When the caller
    found rows imported before (`skip_present`), ON CONFLICT DO NOTHING is what skips them: an
    anti-join would rest on the stale estimate of the source system's rows (see `present_sql`).
    A concurrent import that commits some of the same references meanwhile makes the plain
    INSERT fail on the unique index; the statement then runs again, in the same transaction,
    with ON CONFLICT DO NOTHING. RETURNING gives only the columns the history copies (no spill
    of unused ones)."""
    target = Transaction._meta.db_table
    params = [source_system]
    rows = f"SELECT {select} FROM {source}"  # noqa: S608 (SQL from this module, never input)
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

    if skip_present:
        return write("ON CONFLICT DO NOTHING")
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
