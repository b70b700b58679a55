"""django-filter sets of the accounts API."""

import django_filters
from django.db import models
from django.db.models import QuerySet

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
from classification.models import SEGMENTS, ClassificationResult, KamModel


class KamFilterSet(django_filters.FilterSet):
    """Foreign keys filter by plain id: an id outside the portfolio gives an empty list, the
    same answer as an id that does not exist (no 400 that would reveal which ids exist)."""

    class Meta:
        filter_overrides = {
            models.ForeignKey: {"filter_class": django_filters.NumberFilter},
            models.OneToOneField: {"filter_class": django_filters.NumberFilter},
        }


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
        current = ClassificationResult.objects.filter(model=model, segment=value, is_current=True)
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
