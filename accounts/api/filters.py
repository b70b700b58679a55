"""django-filter sets of the accounts API."""

import re
from datetime import UTC, datetime

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend

from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    Contact,
    Customer,
    ExchangeRate,
    ProductLine,
    Transaction,
)
from classification.models import SEGMENTS, ClassificationCurrent, KamModel


class IntegerFilter(django_filters.NumberFilter):
    """A whole number, as the schema says (`integer`): `1.5` or `1e3` is a 400, not read as a
    decimal that matches nothing. (django-filter's NumberFilter takes any decimal.)"""

    field_class = forms.IntegerField


class KamFilterBackend(DjangoFilterBackend):
    """django-filter's backend, except that a request naming none of the view's filters skips
    building and validating the filter form, which does nothing then (an empty filter is no
    filter) and cost a list request about 1 ms. A parameter counts as naming a filter when it
    is the filter's name or starts with it and `_` (ranges: `date_after`, `date_before`), so a
    filter given in any form still reaches the form and its validation."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = filterset_class.base_filters
        if not any(
            key in names or key.startswith(tuple(f"{name}_" for name in names))
            for key in request.query_params
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


class KamFilterSet(django_filters.FilterSet):
    """Foreign keys filter by plain id: an id outside the portfolio gives an empty list, the
    same answer as an id that does not exist (no 400 that would reveal which ids exist).

    Strict: a value of the wrong type is a 400 with the field's messages (DjangoFilterBackend
    raises on an invalid form), never ignored. Ids and integer fields take whole numbers only;
    dates take ISO 8601 only (`2026-03-31`), the `format: date` of the schema, not the other
    formats Django's DATE_INPUT_FORMATS would guess at (`03/31/2026`)."""

    class Meta:
        filter_overrides = {
            models.ForeignKey: {"filter_class": IntegerFilter},
            models.OneToOneField: {"filter_class": IntegerFilter},
            models.IntegerField: {"filter_class": IntegerFilter},
            models.SmallIntegerField: {"filter_class": IntegerFilter},
            models.PositiveIntegerField: {"filter_class": IntegerFilter},
            models.PositiveSmallIntegerField: {"filter_class": IntegerFilter},
            models.BigIntegerField: {"filter_class": IntegerFilter},
        }

    def get_form_class(self):
        base = super().get_form_class()
        return type(f"Strict{base.__name__}", (StrictFilterForm, base), {})


BOOLEAN_VALUES = {"true", "false", "1", "0"}
# RFC 3339 (the schema's `format: date` / `date-time`); Django alone would also take
# `3/31/2026` or `2026-3-31`.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class StrictFilterForm(forms.Form):
    """A filter given with an empty or unreadable value is an error (a 400), not "no filter":
    `?plan=`, `?is_active=maybe` or `?due_on_before=3/31/2026` are refused. Only free-text
    filters (strings) may be empty. A filter given twice (`?customer=x&customer=7`) is refused
    too: only the last value would count, silently."""

    def clean(self):
        cleaned = super().clean()
        for name, field in self.fields.items():
            suffixes = getattr(field.widget, "suffixes", None)
            if suffixes:
                parts = zip((f"{name}_{suffix}" for suffix in suffixes), field.fields, strict=True)
            else:
                parts = [(name, field)]
            for key, part in parts:
                if key in self.data:
                    repeated = hasattr(self.data, "getlist") and len(self.data.getlist(key)) > 1
                    message = (
                        "Give this filter once (one value)."
                        if repeated
                        else _invalid(part, self.data.get(key))
                    )
                    if message:
                        self.add_error(name, message)
        for name, value in list(cleaned.items()):
            cleaned[name] = _in_utc(value)
        return cleaned


def _in_utc(value):
    """Date-times as UTC: PostgreSQL refuses an offset beyond ±16 hours (`-22:05`), which
    RFC 3339 allows; the instant is the same."""
    if isinstance(value, slice):
        return slice(_in_utc(value.start), _in_utc(value.stop))
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            # Before 0001-01-01 or after 9999-12-31 in UTC: the nearest representable instant.
            edge = datetime.min if value.year == 1 else datetime.max  # noqa: DTZ901
            return edge.replace(tzinfo=UTC)
    return value


def _invalid(field, value) -> str | None:
    value = "" if value is None else str(value)
    if isinstance(field, forms.NullBooleanField):
        return None if value.lower() in BOOLEAN_VALUES else "Enter true or false."
    if isinstance(field, forms.CharField) and value == "":
        return None  # free text
    if value == "":
        return "This value may not be empty."
    if isinstance(field, forms.DateTimeField) and not ISO_DATETIME.fullmatch(value):
        return "Enter a date and time in ISO 8601 (2026-03-31T12:00:00Z)."
    if type(field) is forms.DateField and not ISO_DATE.fullmatch(value):
        return "Enter a date in ISO 8601 (2026-03-31)."
    return None


def _segment_filter(model: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        choices=[(s, s) for s in SEGMENTS[model]],
        method="filter_segment",
        label=f"Current computed segment under {KamModel(model).label}.",
    )


class AccountApiFilter(KamFilterSet):
    """Plain fields, plus the current computed segment under any model (`segment_four_s=star`):
    a subquery on the current results, so it costs no extra query."""

    segment_webster = _segment_filter("webster")
    segment_millman_wilson = _segment_filter("millman_wilson")
    segment_bensaou = _segment_filter("bensaou")
    segment_four_s = _segment_filter("four_s")

    class Meta(KamFilterSet.Meta):
        model = Account
        fields = ("level", "country", "status", "is_key_account", "owner", "customer", "parent")

    def filter_segment(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return queryset
        model = name.removeprefix("segment_")
        current = ClassificationCurrent.objects.filter(model=model, segment=value)
        return queryset.filter(pk__in=current.values("account_id"))


class TransactionApiFilter(KamFilterSet):
    date = django_filters.DateFromToRangeFilter(
        label="Date range: `date_after` and `date_before` (both inclusive)."
    )

    class Meta(KamFilterSet.Meta):
        model = Transaction
        fields = ("account", "kind", "currency", "product_line", "source_system", "date")


class CustomerApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = Customer
        fields = ("country", "industry", "parent")


class ContactApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = Contact
        fields = ("customer", "function", "seniority", "is_active")


class ManagerApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = AccountManager
        fields = ("level", "country", "role", "reports_to")


class TeamMemberApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = AccountTeamMember
        fields = ("account", "manager", "role")


class ExchangeRateApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = ExchangeRate
        fields = ("currency",)


class ProductLineApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = ProductLine
        fields = ("is_active",)
