"""The "Export selected rows as CSV" admin action, shared by every KAM ModelAdmin.

The export writes what the changelist shows (its `list_display` columns, with choice labels and
computed columns resolved), so what people see is what they get in the spreadsheet.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.utils import label_for_field, lookup_field
from django.db.models import Model, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import capfirst

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK_SIZE = 2000


def csv_safe(value: object) -> str:
    """`value` as CSV cell text that a spreadsheet will not run as a formula.

    Text starting with = + - @ tab or carriage return gets a leading single quote (the OWASP
    advice). Numbers are left alone: a number cannot carry a formula and -12.50 must stay a number.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def _columns(model_admin: admin.ModelAdmin, request: HttpRequest) -> list:
    return [name for name in model_admin.get_list_display(request) if name != "action_checkbox"]


def _cell(name, obj: Model, model_admin: admin.ModelAdmin) -> object:
    field, _attr, value = lookup_field(name, obj, model_admin)
    if field is not None and field.flatchoices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value).replace(microsecond=0).isoformat(sep=" ")
    return value


def csv_rows(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> Iterator[list[str]]:
    """The header row, then one row per object, every cell passed through `csv_safe`."""
    columns = _columns(model_admin, request)
    model = model_admin.model
    yield [csv_safe(capfirst(str(label_for_field(c, model, model_admin)))) for c in columns]
    objects: Iterable[Model] = queryset.iterator(chunk_size=EXPORT_CHUNK_SIZE)
    for obj in objects:
        yield [csv_safe(_cell(c, obj, model_admin)) for c in columns]


@admin.action(description="Export selected rows as CSV", permissions=["view"])
def export_as_csv(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in csv_rows(model_admin, request, queryset)),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"{model_admin.model._meta.model_name}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CsvExportMixin:
    """Adds the CSV export to a ModelAdmin's actions (keep it when overriding `actions`)."""

    actions = (export_as_csv,)
