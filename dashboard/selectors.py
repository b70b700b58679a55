"""Dashboard reads. Every one starts from the caller's visible portfolio (accounts.selectors)."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.models import Account, AccountManager, Transaction
from accounts.selectors import accounts_visible_to, manager_subtree
from classification.metrics import metric_windows
from classification.models import ClassificationResult
from classification.selectors import account_result_history

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=18, decimal_places=2)

SORTS: dict[str, tuple[str, ...]] = {
    "name": ("customer__name", "level", "country"),
    "country": ("country", "customer__name"),
    "level": ("level", "customer__name"),
    "status": ("status", "customer__name"),
    "owner": ("owner__user__last_name", "owner__user__username", "customer__name"),
    "revenue": ("revenue_12m", "customer__name"),
}


def _revenue_12m(today: dt.date) -> Subquery:
    """Net sales of the outer account over the last 12 months, as a correlated subquery."""
    start = metric_windows(today).start_12m
    window = Q(account_id=OuterRef("pk"), date__gt=start, date__lte=today)
    sales = (
        Transaction.objects.filter(window)
        .order_by()
        .values("account_id")
        .annotate(
            net=Sum("amount_base", filter=Q(kind="sale"), default=ZERO)
            - Sum("amount_base", filter=Q(kind__in=["return", "credit_note"]), default=ZERO)
        )
        .values("net")
    )
    return Coalesce(Subquery(sales, output_field=MONEY), Value(ZERO), output_field=MONEY)


def account_list(
    *, user, filters: Mapping[str, object], reference_date: dt.date | None = None
) -> QuerySet[Account]:
    """The caller's visible accounts, filtered, searched and sorted, with their 12-month revenue.

    `filters` holds cleaned values of `AccountFilterForm`; empty values are ignored.
    """
    today = reference_date or timezone.localdate()
    accounts = (
        accounts_visible_to(user)
        .select_related("customer", "owner__user", "parent__customer")
        .annotate(revenue_12m=_revenue_12m(today))
    )
    if filters.get("q"):
        accounts = accounts.filter(customer__name__icontains=filters["q"])
    for field in ("level", "country", "status"):
        if filters.get(field):
            accounts = accounts.filter(**{field: filters[field]})
    if filters.get("key") in ("yes", "no"):
        accounts = accounts.filter(is_key_account=filters["key"] == "yes")
    if filters.get("owner"):
        accounts = accounts.filter(owner=filters["owner"])
    if filters.get("segment"):
        model, segment = str(filters["segment"]).split(":", 1)
        current = ClassificationResult.objects.filter(
            account_id=OuterRef("pk"), model=model, segment=segment, is_current=True
        )
        accounts = accounts.filter(Exists(current))
    sort = str(filters.get("sort") or "name")
    descending = sort.startswith("-")
    fields = SORTS.get(sort.lstrip("-"), SORTS["name"])
    order = [f"-{f}" if descending else f for f in fields]
    return accounts.order_by(*order, "pk")


def portfolio_countries(*, user) -> list[str]:
    """Countries present in the caller's portfolio (for the country filter)."""
    return list(
        accounts_visible_to(user)
        .exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )


def owners_selectable_by(*, user) -> QuerySet[AccountManager] | None:
    """Managers a lead (or an admin) may filter on; None for a manager with no team."""
    if user.is_superuser:
        return AccountManager.objects.select_related("user")
    manager = getattr(user, "manager", None)
    if manager is None or not manager.is_sales_lead:
        return None
    return AccountManager.objects.filter(pk__in=manager_subtree(manager)).select_related("user")


@dataclass(frozen=True)
class RevenueSeries:
    months: list[str]
    sales: list[float]
    purchases: list[float]
    returns: list[float]

    def as_chart_data(self) -> dict:
        return {
            "labels": self.months,
            "sales": self.sales,
            "purchases": self.purchases,
            "returns": self.returns,
        }


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    first = today.replace(day=1)
    starts = []
    year, month = first.year, first.month
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(starts))


def account_revenue_by_month(
    *, account: Account, months: int = 24, reference_date: dt.date | None = None
) -> RevenueSeries:
    """Sales, purchases and returns (with credit notes) per month, in one aggregate query."""
    today = reference_date or timezone.localdate()
    starts = _month_starts(today, months)
    rows = (
        Transaction.objects.filter(account=account, date__gte=starts[0], date__lte=today)
        .annotate(month=TruncMonth("date"))
        .values("month", "kind")
        .annotate(total=Sum("amount_base"))
        .order_by()
    )
    by_kind: dict[str, dict[dt.date, Decimal]] = {"sales": {}, "purchases": {}, "returns": {}}
    series_of = {"sale": "sales", "purchase": "purchases", "return": "returns"}
    series_of["credit_note"] = "returns"
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, dt.datetime) else month
        bucket = by_kind[series_of[row["kind"]]]
        bucket[month] = bucket.get(month, ZERO) + (row["total"] or ZERO)
    return RevenueSeries(
        months=[m.strftime("%b %Y") for m in starts],
        sales=[float(by_kind["sales"].get(m, ZERO)) for m in starts],
        purchases=[float(by_kind["purchases"].get(m, ZERO)) for m in starts],
        returns=[float(by_kind["returns"].get(m, ZERO)) for m in starts],
    )


def account_current_results(*, account: Account) -> QuerySet[ClassificationResult]:
    """The current result of each model for one (already visible) account, with its explanation."""
    return account_result_history(account_id=account.pk).filter(is_current=True)
