"""Reading the rows (a CSV upload, streamed, or a JSON body) and checking each of them.

`_validate_row` is the reference for every check: the set-based path (`set_based.py`) runs the
rows its SQL does not accept outright through it, so both paths report the same words."""

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO, Any

from accounts.currency import MissingRateError, RateBook
from accounts.imports.report import (
    MAX_LINE_LENGTH,
    PHASE_AMOUNTS,
    PHASE_CELLS,
    ImportFileError,
    ImportReport,
)
from accounts.models import AMOUNT_TOLERANCE, Transaction, TransactionKind
from kam.admin_csv import FORMULA_TRIGGERS
from kam.dates import EARLIEST_DATE, TOO_EARLY_MESSAGE

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
        value = date.fromisoformat(text)
    except ValueError:
        raise _Bad(f"'{text}' is not a date in the form YYYY-MM-DD.") from None
    if value < EARLIEST_DATE:
        raise _Bad(TOO_EARLY_MESSAGE)
    return value


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
    """The row as a tuple in SPOOL_COLUMNS order (spool.py), or after reporting its errors its
    external reference ("" when that is missing or bad), still needed for the duplicate check."""
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
