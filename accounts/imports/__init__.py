"""Bulk import of transactions: validate every row, then write all of them or none.

This module is the service (`transactions_import`); its parts, each depending only on those before:
`report.py` (the report and the limits), `rows.py` (reading a CSV or JSON source and the per-row
checks), `spool.py` (the row-by-row write path, and the COPY, duplicate check and INSERT that the
set-based path shares) and `set_based.py` (a CSV file checked and written set-based on PostgreSQL).

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
  import of the same references committed first: see `spool._write_postgresql`). The per-row
  checks (`rows.py`) stay the reference: the rows the SQL does not accept outright (the bad ones,
  and good ones spelt unusually, e.g. 1E+2) are read back in order and checked by `_validate_row`,
  so the report (messages, row numbers, order) is that of the row-by-row path; the duplicates
  found in SQL are merged into it in the order the per-row check would have given them. A file the
  two CSV readers could read differently (quotes inside unquoted cells, blank lines, NUL, invalid
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

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction

from accounts.currency import RateBook
from accounts.imports.report import (
    MAX_IMPORT_FILE_SIZE,
    MAX_REPORTED_ERRORS,
    PHASE_COLUMNS,
    ImportFileError,
    ImportReport,
    RowError,
)
from accounts.imports.rows import (
    INJECTION_MESSAGE,
    SOURCE_SYSTEM_LIMIT,
    CsvRows,
    NumberedRow,
    _check_columns,
    _Context,
    _validate_row,
    parse_csv,
    parse_json_rows,
)
from accounts.imports.set_based import _import_csv_set_based
from accounts.imports.spool import (
    _insert_generic,
    _insert_postgresql,
    _report_duplicates_postgresql,
    _Spool,
    _stage_postgresql,
)
from accounts.models import ProductLine
from accounts.selectors import accounts_visible_to
from kam.admin_csv import FORMULA_TRIGGERS

__all__ = [
    "MAX_IMPORT_FILE_SIZE",
    "MAX_REPORTED_ERRORS",
    "CsvRows",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "parse_csv",
    "parse_json_rows",
    "transactions_import",
]


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
