"""Formatting for the dashboard: money with its currency, percentages, sort links.

Numbers follow the active language's formats (LocaleMiddleware picks it from the browser's
Accept-Language): "1,234.56" in English, "1.234,56" in German. Exports never use these filters.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.formats import get_format, number_format
from django.utils.http import urlencode

from ..explain import model_label as _model_label
from ..explain import segment_name as _segment_label

register = template.Library()


NBSP = "\u00a0"  # keeps an amount and its currency (or a number and "%") on one line


def _decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _localized(number: Decimal, places: int) -> str:
    """`number` rounded half up to `places`, with the active locale's separators and grouping."""
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return number_format(rounded, decimal_pos=places, force_grouping=True)


@register.filter
def money(value, currency: str = "EUR") -> str:
    """1234567.891 -> "1,234,567.89 EUR" in English, "1.234.567,89 EUR" in German; "-" if empty."""
    number = _decimal(value)
    if number is None:
        return "-" if value is None or value == "" else str(value)
    return f"{_localized(number, 2)}{NBSP}{currency}"


@register.filter
def number(value, places: int = 0) -> str:
    """A count or quantity with the locale's grouping: 12345 -> "12,345" / "12.345"."""
    parsed = _decimal(value)
    if parsed is None:
        return "-" if value is None or value == "" else str(value)
    return _localized(parsed, int(places))


@register.filter
def percent(value, places: int = 1) -> str:
    """A fraction as a signed percentage: 0.123 -> "+12.3 %" ("+12,3 %" in German)."""
    parsed = _decimal(value)
    if parsed is None:
        return "-"
    shown = _localized(parsed * 100, int(places))
    return f"{'' if shown.startswith('-') else '+'}{shown}{NBSP}%"


@register.filter
def segment_label(value: str) -> str:
    return _segment_label(value) if value else ""


@register.filter
def model_label(value: str) -> str:
    return _model_label(value)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def score(value) -> str:
    """A 0-100 score with one decimal, dropped when it is zero: 70.0 -> "70", 70.25 -> "70.3"."""
    parsed = _decimal(value)
    if parsed is None:
        return "-"
    return _localized(parsed, 1).removesuffix(f"{get_format('DECIMAL_SEPARATOR')}0")


@register.simple_tag(takes_context=True)
def sort_url(context, key: str) -> str:
    """The current query string with the sort set to `key`, toggled when already sorted by it."""
    query = context["request"].GET.copy()
    current = query.get("sort", "name")
    query["sort"] = f"-{key}" if current == key else key
    query.pop("page", None)
    return f"?{query.urlencode()}"


@register.simple_tag(takes_context=True)
def sort_state(context, key: str) -> str:
    """ "ascending"/"descending"/"none" for aria-sort on a column header."""
    current = context["request"].GET.get("sort", "name")
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"


@register.simple_tag(takes_context=True)
def page_url(context, number: int, param: str = "page") -> str:
    query = context["request"].GET.copy()
    query[param] = number
    return f"?{urlencode(query, doseq=True)}"
