"""Formatting for the dashboard: money with its currency, percentages, sort links."""

from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.http import urlencode

from ..explain import model_label as _model_label
from ..explain import segment_name as _segment_label

register = template.Library()


@register.filter
def money(value, currency: str = "EUR") -> str:
    """1234567.8 -> "EUR 1,234,568" (whole units: the dashboard shows orders of magnitude)."""
    if value is None or value == "":
        return "-"
    amount = Decimal(str(value)).quantize(Decimal("1"))
    sign = "-" if amount < 0 else ""
    return f"{currency} {sign}{intcomma(abs(int(amount)))}"


@register.filter
def money_cents(value, currency: str = "EUR") -> str:
    if value is None or value == "":
        return "-"
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{currency} {sign}{intcomma(f'{abs(amount):.2f}')}"


@register.filter
def percent(value, places: int = 1) -> str:
    """A fraction as a signed percentage: 0.123 -> "+12.3 %"."""
    if value is None:
        return "-"
    return f"{float(value) * 100:+.{places}f} %"


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
    if value is None:
        return "-"
    return f"{float(value):.1f}".removesuffix(".0")


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
