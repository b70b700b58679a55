"""Portfolio-level reads, scoped to what the caller may see (accounts.selectors decides that)."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.currency import MissingRateError, RateBook
from accounts.models import Transaction
from accounts.selectors import accounts_visible_to
from classification.metrics import metric_windows
from classification.models import ClassificationCurrent
from relationships.models import Opportunity, PlanAction

ZERO = Decimal("0.00")


def _net_sales(window: Q) -> Sum:
    return Sum("amount_base", filter=window & Q(kind="sale"), default=ZERO) - Sum(
        "amount_base", filter=window & Q(kind__in=["return", "credit_note"]), default=ZERO
    )


def portfolio_revenue(
    *, user, reference_date: dt.date | None = None, visible: QuerySet | None = None
) -> dict:
    """Net sales of the caller's visible portfolio over the last 12 months and the 12 before, in
    the base currency, and the change between them (None without a previous year). One query,
    the summary's costliest: it reads every transaction of those 24 months."""
    today = reference_date or timezone.localdate()
    windows = metric_windows(today)
    accounts = accounts_visible_to(user) if visible is None else visible
    last_12m = Q(date__gt=windows.start_12m, date__lte=today)
    prev_12m = Q(date__gt=windows.start_prev_12m, date__lte=windows.start_12m)
    # Bounded in WHERE too (not only in the FILTER clauses), so that older history is never read:
    # the (account, date) index then covers exactly the two windows.
    revenue = Transaction.objects.filter(
        account_id__in=accounts.values("pk"), date__gt=windows.start_prev_12m, date__lte=today
    ).aggregate(revenue_12m=_net_sales(last_12m), revenue_prev_12m=_net_sales(prev_12m))
    change = None
    if revenue["revenue_prev_12m"] > 0:
        change = (revenue["revenue_12m"] - revenue["revenue_prev_12m"]) / revenue[
            "revenue_prev_12m"
        ]
    return {**revenue, "revenue_change": change}


def portfolio_summary(
    *,
    user,
    reference_date: dt.date | None = None,
    visible: QuerySet | None = None,
    count_overdue: bool = True,
    with_revenue: bool = True,
) -> dict:
    """Key figures of the caller's visible portfolio, in the base currency.

    A fixed number of queries whatever the portfolio size: one per figure group. A page that
    has already resolved `accounts_visible_to(user)` passes it as `visible`; one that counts the
    overdue actions itself (the dashboard's alerts) passes `count_overdue=False` and gets None;
    one that loads the revenue afterwards (`portfolio_revenue`, the dashboard) passes
    `with_revenue=False` and gets None for its three figures.
    """
    today = reference_date or timezone.localdate()
    accounts = accounts_visible_to(user) if visible is None else visible
    visible_ids = accounts.values("pk")
    revenue = dict.fromkeys(("revenue_12m", "revenue_prev_12m", "revenue_change"))
    if with_revenue:
        revenue = portfolio_revenue(user=user, reference_date=today, visible=accounts)

    counts = {"by_level": {}, "by_status": {}, "key_accounts": 0, "total": 0}
    countries = set()
    for level, status, is_key, country, n in (
        accounts.values_list("level", "status", "is_key_account", "country")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts["by_level"][level] = counts["by_level"].get(level, 0) + n
        counts["by_status"][status] = counts["by_status"].get(status, 0) + n
        counts["key_accounts"] += n if is_key else 0
        counts["total"] += n
        countries.add(country)

    segments: dict[str, dict[str, int]] = {}
    for model, segment, n in (
        ClassificationCurrent.objects.filter(account_id__in=visible_ids)
        .values_list("model", "segment")
        .annotate(n=Count("pk"))
        .order_by("model", "segment")
    ):
        segments.setdefault(model, {})[segment] = n

    open_value, unconverted = ZERO, set()
    rates = RateBook.load()
    for currency, value in (
        Opportunity.objects.filter(account_id__in=visible_ids, stage__in=Opportunity.OPEN_STAGES)
        .values_list("currency")
        .annotate(value=Sum("value"))
        .order_by()
    ):
        try:
            open_value += rates.to_base(value, currency, today)
        except MissingRateError:
            unconverted.add(currency)

    overdue_actions = None
    if count_overdue:
        overdue_actions = PlanAction.objects.filter(
            objective__plan__account_id__in=visible_ids, status="open", due_on__lt=today
        ).count()
    return {
        "reference_date": today,
        "currency": rates.base,
        **revenue,
        "accounts": counts,
        "countries": sorted(countries - {""}),
        "segments": segments,
        "open_opportunities_value": open_value,
        "unconverted_currencies": sorted(unconverted),
        "overdue_actions": overdue_actions,
    }
