"""Dashboard reads. Every one starts from the caller's visible portfolio (accounts.selectors)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, Mod, RowNumber, TruncMonth
from django.utils import timezone

from accounts.models import Account, AccountManager, Contact, Transaction
from accounts.selectors import accounts_visible_to, manager_subtree, managers_seen_by
from classification.metrics import metric_windows
from classification.models import (
    ClassificationCurrent,
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
)
from classification.selectors import account_result_history, current_classifications
from relationships.models import Interaction

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
    *,
    user,
    filters: Mapping[str, object],
    reference_date: dt.date | None = None,
    visible: QuerySet[Account] | None = None,
) -> QuerySet[Account]:
    """The caller's visible accounts, filtered, searched and sorted, with their 12-month revenue.

    `filters` holds cleaned values of `AccountFilterForm`; empty values are ignored. `visible`
    (here and below): the caller's `accounts_visible_to(user)` when a page already holds it,
    so the visible set is resolved once per request.
    """
    today = reference_date or timezone.localdate()
    accounts = (
        (accounts_visible_to(user) if visible is None else visible)
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
        current = ClassificationCurrent.objects.filter(
            account_id=OuterRef("pk"), model=model, segment=segment
        )
        accounts = accounts.filter(Exists(current))
    sort = str(filters.get("sort") or "name")
    descending = sort.startswith("-")
    fields = SORTS.get(sort.lstrip("-"), SORTS["name"])
    order = [f"-{f}" if descending else f for f in fields]
    return accounts.order_by(*order, "pk")


def portfolio_countries(*, user, visible: QuerySet[Account] | None = None) -> list[str]:
    """Countries present in the caller's portfolio (for the country filter)."""
    return list(
        (accounts_visible_to(user) if visible is None else visible)
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
        months=[m.strftime("%Y-%m") for m in starts],  # the page names them in its locale
        sales=[float(by_kind["sales"].get(m, ZERO)) for m in starts],
        purchases=[float(by_kind["purchases"].get(m, ZERO)) for m in starts],
        returns=[float(by_kind["returns"].get(m, ZERO)) for m in starts],
    )


def account_with_family(*, user, pk: int) -> tuple[Account | None, list[Account]]:
    """One visible account and the visible accounts of its family (its global account and that
    one's nationals, by level and country), in one query; (None, []) when not visible.

    An account with no global account above it and not global itself has no family.
    """
    own = Account.objects.filter(pk=pk)
    root = own.annotate(
        root=Case(
            When(parent_id__isnull=False, then=F("parent_id")),
            When(level="global", then=F("pk")),
        )
    ).values("root")
    rows = list(
        accounts_visible_to(user)
        .filter(Q(pk=pk) | Q(pk=Subquery(root)) | Q(parent_id=Subquery(root)))
        .select_related("customer", "owner__user", "parent__customer")
        .order_by("level", "country", "pk")
    )
    account = next((a for a in rows if a.pk == pk), None)
    if account is None:
        return None, []
    has_family = account.parent_id is not None or account.level == "global"
    return account, rows if has_family else []


# --- classification matrices ------------------------------------------------------------------

MATRIX_CHART_POINTS = 2000  # enough to show how a portfolio spreads; 100,000 were 35 MB of page


def matrix_results(
    *, user, model: str, level: str = "", owner: AccountManager | None = None
) -> QuerySet[ClassificationCurrent]:
    """The current results under `model` of the visible accounts, optionally of one level or
    owner: what a matrix page counts, samples for its chart and lists a page at a time."""
    accounts = accounts_visible_to(user)
    if level:
        accounts = accounts.filter(level=level)
    if owner is not None:
        accounts = accounts.filter(owner=owner)
    return ClassificationCurrent.objects.filter(model=model, account_id__in=accounts.values("pk"))


def matrix_segment_counts(results: QuerySet[ClassificationCurrent]) -> dict[str, int]:
    """Accounts per segment, all of them (one GROUP BY on the narrow current table)."""
    rows = results.order_by().values_list("segment").annotate(n=Count("pk"))
    return dict(rows)


def _matrix_point(account_id, segment, axes, name, country) -> dict:
    return {
        "account_id": account_id,
        "segment": segment,
        "axes": axes or {},
        "name": name,
        "country": country,
    }


MATRIX_COLUMNS = (
    "account_id",
    "segment",
    "result__axes",
    "account__customer__name",
    "account__country",
)


def matrix_chart_points(
    results: QuerySet[ClassificationCurrent], *, total: int, limit: int | None = None
) -> list[dict]:
    """The accounts the chart draws: all of them up to `limit`, beyond that every k-th by account
    id (k = total / limit, rounded up): an even sample of at most `limit`, chosen in SQL."""
    step = max(1, -(-total // (limit or MATRIX_CHART_POINTS)))
    rows = results.order_by()
    if step > 1:
        rows = (
            rows.annotate(position=Window(RowNumber(), order_by=F("account_id").asc()))
            .annotate(bucket=Mod(F("position") - 1, step))
            .filter(bucket=0)
        )
    return [_matrix_point(*row) for row in rows.values_list(*MATRIX_COLUMNS)]


def matrix_table(results: QuerySet[ClassificationCurrent]) -> QuerySet:
    """The accounts by customer name, as rows for a paginator (one page read at a time)."""
    return results.order_by("account__customer__name", "account_id").values_list(*MATRIX_COLUMNS)


def matrix_rows(page_rows) -> list[dict]:
    return [_matrix_point(*row) for row in page_rows]


def model_parameters(*, model: str) -> dict:
    """The active parameters of a model merged over its defaults (one query)."""
    from classification.models import ParameterSet
    from classification.scoring.params import ParameterError, validate_params

    active = (
        ParameterSet.objects.filter(model=model, is_active=True)
        .values_list("parameters", flat=True)
        .first()
    )
    try:
        return validate_params(model, active or {})
    except ParameterError:
        return validate_params(model, None)


# --- team view --------------------------------------------------------------------------------


def team_overview(
    *, user, reference_date: dt.date | None = None, visible: QuerySet[Account] | None = None
) -> list[dict]:
    """Per manager the user oversees: visible accounts owned, revenue 12 months, 4S segment mix.

    The managers are those whose portfolios the user sees (a lead's subtree, everyone for an
    admin) and the owners of accounts the user sees (a global manager's nationals). Colleagues
    who only sit on a visible account's team are not listed: their row would show a zero that
    is not their portfolio. Three queries whatever the team size.
    """
    today = reference_date or timezone.localdate()
    start = metric_windows(today).start_12m
    visible = accounts_visible_to(user) if visible is None else visible
    seen = managers_seen_by(user)
    managers = AccountManager.objects.all()
    if seen is not None:
        managers = managers.filter(Q(pk__in=seen) | Q(pk__in=visible.values("owner_id")))
    managers = list(managers.select_related("user").order_by("level", "user__last_name"))
    # Accounts per owner and their 4S mix in one GROUP BY: an account has at most one current
    # 4S row, so the LEFT JOIN neither drops nor repeats accounts.
    counts: dict[int, int] = {}
    mix: dict[int, dict[str, int]] = {}
    for owner_id, segment, n in (
        visible.order_by()
        .annotate(
            four_s=FilteredRelation(
                "current_classifications",
                condition=Q(current_classifications__model="four_s"),
            )
        )
        .values_list("owner_id", "four_s__segment")
        .annotate(n=Count("pk"))
    ):
        counts[owner_id] = counts.get(owner_id, 0) + n
        if segment is not None:
            mix.setdefault(owner_id, {})[segment] = n
    revenue = dict(
        Transaction.objects.filter(
            account_id__in=visible.values("pk"), date__gt=start, date__lte=today
        )
        .order_by()
        .values("account__owner_id")
        .annotate(
            net=Sum("amount_base", filter=Q(kind="sale"), default=ZERO)
            - Sum("amount_base", filter=Q(kind__in=["return", "credit_note"]), default=ZERO)
        )
        .values_list("account__owner_id", "net")
    )
    return [
        {
            "manager": m,
            "accounts": counts.get(m.pk, 0),
            "revenue_12m": revenue.get(m.pk, ZERO),
            "mix": mix.get(m.pk, {}),
        }
        for m in managers
    ]


def families_of(*, visible: QuerySet[Account]) -> QuerySet[Account]:
    """Visible global accounts with at least one visible national account, by customer name:
    what the team page pages through (4,500 of them for the head of 100,000 accounts)."""
    nationals = visible.filter(level="national", parent_id=OuterRef("pk"))
    return visible.filter(Exists(nationals), level="global").order_by("customer__name", "pk")


def global_families(
    *,
    user,
    global_ids: list[int],
    reference_date: dt.date | None = None,
    visible: QuerySet[Account] | None = None,
) -> list[dict]:
    """The given visible global accounts (a page of `families_of`) with their visible national
    accounts side by side, in the order of `global_ids`.

    Two queries: the accounts (with revenue), then their current segments.
    """
    today = reference_date or timezone.localdate()
    visible = accounts_visible_to(user) if visible is None else visible
    accounts = list(
        visible.filter(Q(pk__in=global_ids) | Q(level="national", parent_id__in=global_ids))
        .select_related("customer", "owner__user")
        .annotate(revenue_12m=_revenue_12m(today))
        .order_by("customer__name", "level", "country")
    )
    segments = current_classifications(account_ids=[a.pk for a in accounts])
    families: dict[int, dict] = {pk: {"global": None, "nationals": []} for pk in global_ids}
    for a in accounts:
        a.segments = segments.get(a.pk, {})
        if a.pk in families:
            families[a.pk]["global"] = a
        elif a.parent_id in families:
            families[a.parent_id]["nationals"].append(a)
    return [f for f in families.values() if f["global"] is not None and f["nationals"]]


# --- alerts -----------------------------------------------------------------------------------

ALERT_LIMIT = 8
SEVERE = ("high", "critical")
OPEN_CASE = ("open", "in_progress")
WARNINGS = {
    # Flags matched in the JSON text: a JSON `contains` lookup does not exist on SQLite.
    "revenue_drop": Q(model="millman_wilson", flags_text__contains='"uncoupling:growth"'),
    "uncoupling": Q(model="millman_wilson", segment="uncoupling_kam"),
    "over_capacity": Q(model="four_s", flags_text__contains='"over_capacity"'),
}


@dataclass(frozen=True)
class AlertGroup:
    """The first ALERT_LIMIT alerts of one kind, in order, and how many there are in all."""

    rows: list
    total: int = 0

    @property
    def more(self) -> int:
        return self.total - len(self.rows)

    def __bool__(self) -> bool:
        return self.total > 0


class _SumOver(Func):
    """SUM(aggregate) for a window: Django's Sum refuses an aggregate as its argument."""

    function = "SUM"
    window_compatible = True
    output_field = IntegerField()


def _first_with_total(queryset: QuerySet, *order_by) -> QuerySet:
    """The queryset's first ALERT_LIMIT rows in order, each carrying the count of all rows, so a
    group costs one query and returns at most ALERT_LIMIT rows whatever the portfolio's size."""
    return queryset.annotate(total=Window(Count("*"))).order_by(*order_by)[:ALERT_LIMIT]


def _group(rows: list) -> AlertGroup:
    return AlertGroup(rows=rows, total=rows[0].total if rows else 0)


def portfolio_alerts(
    *, user, reference_date: dt.date | None = None, visible: QuerySet[Account] | None = None
) -> dict:
    """What needs attention in the visible portfolio: per kind, the first ALERT_LIMIT alerts and
    how many there are. Four queries, and at most 4 x ALERT_LIMIT rows, whatever its size.

    - segment changes of the latest portfolio run (and account recomputes since),
    - classification warnings: revenue drops (Millman-Wilson `uncoupling:growth`), uncoupling
      (current stage uncoupling_kam), over-capacity (4S `over_capacity`),
    - overdue plan actions per account (most overdue first), and their number in all,
    - open high or critical service cases.
    """
    from classification.models import ClassificationRun, SegmentChange
    from relationships.models import PlanAction, ServiceCase

    today = reference_date or timezone.localdate()
    visible = (accounts_visible_to(user) if visible is None else visible).values("pk")
    latest_run = (
        ClassificationRun.objects.filter(status="succeeded", scope="portfolio")
        .order_by("-finished_at", "-pk")
        .values("pk")[:1]
    )
    changes = list(
        _first_with_total(
            SegmentChange.objects.filter(
                account_id__in=visible, run_id__gte=Subquery(latest_run)
            ).select_related("account__customer"),
            "-run_id",
            "account__customer__name",
            "model",
            "pk",
        )
    )
    # From the narrow current table alone (two rows per account, by its unique index; segment
    # and flags are copied there), never from the wide results table. One pass: each kind is
    # numbered by name and counted within its own partition, and cut at ALERT_LIMIT in SQL
    # (the rows outside a kind are numbered too, in the kind's other partition, and skipped).
    by_name = [F("account__customer__name").asc(), F("account_id").asc()]
    flagged = (
        ClassificationCurrent.objects.filter(
            account_id__in=visible, model__in=["millman_wilson", "four_s"]
        )
        .annotate(flags_text=Cast("flags", output_field=TextField()))
        .filter(Q(*WARNINGS.values(), _connector=Q.OR))
        .annotate(**{kind: ExpressionWrapper(q, BooleanField()) for kind, q in WARNINGS.items()})
    )
    for kind in WARNINGS:
        flagged = flagged.annotate(
            **{
                f"{kind}_total": Window(Count("*"), partition_by=[F(kind)]),
                f"{kind}_position": Window(RowNumber(), partition_by=[F(kind)], order_by=by_name),
            }
        )
    flagged = flagged.filter(
        Q(**{f"{kind}_position__lte": ALERT_LIMIT for kind in WARNINGS}, _connector=Q.OR)
    ).order_by()
    rows = list(
        flagged.values(
            "account_id",
            "account__customer__name",
            "account__country",
            *(f"{kind}{part}" for kind in WARNINGS for part in ("", "_total", "_position")),
        )
    )
    warnings = {}
    for kind in WARNINGS:
        ours = sorted(
            (r for r in rows if r[kind] and r[f"{kind}_position"] <= ALERT_LIMIT),
            key=itemgetter(f"{kind}_position"),
        )
        warnings[kind] = AlertGroup(
            rows=[
                {
                    "account_id": r["account_id"],
                    "name": r["account__customer__name"],
                    "country": r["account__country"],
                }
                for r in ours
            ],
            total=ours[0][f"{kind}_total"] if ours else 0,
        )
    overdue = list(
        PlanAction.objects.filter(
            objective__plan__account_id__in=visible, status="open", due_on__lt=today
        )
        .order_by()
        .values(
            "objective__plan__account_id",
            "objective__plan__account__customer__name",
            "objective__plan__account__country",
        )
        .annotate(n=Count("pk"), accounts=Window(Count("*")), actions=Window(_SumOver("n")))
        .order_by("-n", "objective__plan__account__customer__name", "objective__plan__account_id")[
            :ALERT_LIMIT
        ]
    )
    cases = list(
        _first_with_total(
            ServiceCase.objects.filter(
                account_id__in=visible, severity__in=SEVERE, status__in=OPEN_CASE
            ).select_related("account__customer"),
            "severity",  # "critical" sorts before "high"
            "-opened_at",
            "pk",
        )
    )
    groups = {
        "segment_changes": _group(changes),
        **warnings,
        "overdue": AlertGroup(
            rows=[
                {
                    "account_id": row["objective__plan__account_id"],
                    "name": row["objective__plan__account__customer__name"],
                    "country": row["objective__plan__account__country"],
                    "count": row["n"],
                }
                for row in overdue
            ],
            total=overdue[0]["accounts"] if overdue else 0,
        ),
        "severe_cases": _group(cases),
    }
    return {
        **groups,
        "overdue_total": overdue[0]["actions"] if overdue else 0,
        "count": sum(group.total for group in groups.values()),
    }


# --- classification history -------------------------------------------------------------------

HISTORY_RUNS = 24


@dataclass(frozen=True)
class HistoryRun:
    run_id: int
    reference_date: dt.date
    segments: dict[str, str]


# --- the account page's classification section ------------------------------------------------


@dataclass(frozen=True)
class AccountClassification:
    """What the account page shows of the models: the current result per model (with its run's
    reference date and its parameter set), the active overrides, and the segment history."""

    results: dict[str, ClassificationResult]
    overrides: dict[str, dict]
    history: list[HistoryRun]


# The columns of `account_classification`'s UNION, each NULL (of its type) where a part has none.
_CLASSIFICATION_COLUMNS: dict[str, Value] = {
    "kind": Value(None, output_field=TextField()),
    "run_id": Value(None, output_field=IntegerField()),
    "reference_date": Value(None, output_field=DateField()),
    "model": Value(None, output_field=TextField()),
    "segment": Value(None, output_field=TextField()),
    "axes": Value(None, output_field=JSONField()),
    "flags": Value(None, output_field=JSONField()),
    "explanation": Value(None, output_field=JSONField()),
    "ps_model": Value(None, output_field=TextField()),
    "ps_version": Value(None, output_field=IntegerField()),
    "ps_active": Value(None, output_field=BooleanField()),
    "reason": Value(None, output_field=TextField()),
}


def _union_part(queryset: QuerySet, kind: str, **columns) -> QuerySet:
    """`queryset` as rows of exactly the UNION's columns, in their order (aliased `c_*`, so no
    name collides with a model field); a column not given is NULL."""
    given = {"kind": Value(kind, output_field=TextField()), **columns}
    aliased = {f"c_{n}": given.get(n, null) for n, null in _CLASSIFICATION_COLUMNS.items()}
    # SQLite allows no ORDER BY inside a UNION.
    return queryset.order_by().annotate(**aliased).values_list(*aliased)


def account_classification(*, account: Account, runs: int = HISTORY_RUNS) -> AccountClassification:
    """The current results, the active overrides and the last `runs` runs' segments of one
    (already visible) account, in one UNION ALL query instead of three.

    The results are unsaved `ClassificationResult` instances carrying what the page reads:
    segment, axes, flags, explanation, run id and reference date, parameter set (its label).
    """
    current = _union_part(
        ClassificationCurrent.objects.filter(
            account_id=account.pk, result__run__status="succeeded"
        ),
        "current",
        run_id=F("result__run_id"),
        reference_date=F("result__run__reference_date"),
        model=F("model"),
        segment=F("result__segment"),
        axes=F("result__axes"),
        flags=F("result__flags"),
        explanation=F("result__explanation"),
        ps_model=F("result__parameter_set__model"),
        ps_version=F("result__parameter_set__version"),
        ps_active=F("result__parameter_set__is_active"),
    )
    results = account_result_history(account_id=account.pk)
    recent = results.order_by("-run_id").values("run_id").distinct()[:runs]
    history = _union_part(
        results.filter(run_id__in=recent),
        "history",
        run_id=F("run_id"),
        reference_date=F("run__reference_date"),
        model=F("model"),
        segment=F("segment"),
    )
    overrides = _union_part(
        ClassificationOverride.objects.filter(account_id=account.pk, is_active=True),
        "override",
        model=F("model"),
        segment=F("segment"),
        reason=F("reason"),
    )
    found = AccountClassification(results={}, overrides={}, history=[])
    by_run: dict[int, HistoryRun] = {}
    for row in current.union(history, overrides, all=True):
        values = dict(zip(_CLASSIFICATION_COLUMNS, row, strict=True))
        kind, model, segment = values["kind"], values["model"], values["segment"]
        if kind == "override":
            found.overrides[model] = {"segment": segment, "reason": values["reason"]}
        elif kind == "history":
            run = by_run.setdefault(
                values["run_id"], HistoryRun(values["run_id"], values["reference_date"], {})
            )
            run.segments[model] = segment
        else:
            found.results[model] = _result(account, values)
    found.history.extend(sorted(by_run.values(), key=lambda r: (r.reference_date, r.run_id)))
    return found


def _result(account: Account, values: dict) -> ClassificationResult:
    result = ClassificationResult(
        account=account,
        run=ClassificationRun(pk=values["run_id"], reference_date=values["reference_date"]),
        model=values["model"],
        segment=values["segment"],
        axes=values["axes"] or {},
        flags=values["flags"] or [],
        explanation=values["explanation"] or [],
    )
    if values["ps_model"]:
        result.parameter_set = ParameterSet(
            model=values["ps_model"], version=values["ps_version"], is_active=values["ps_active"]
        )
    return result


# --- the account page's timeline and contacts -------------------------------------------------


def account_timeline_and_contacts(
    *, account: Account, size: int
) -> tuple[list[Interaction], list[Contact]]:
    """The account's last `size` interactions (newest first, with their author) and its
    customer's active contacts, in two queries: the contacts query also brings the contacts
    each interaction was held with (as `people` on the interaction, inactive ones included),
    so no prefetch query more. An interaction's contacts are its account's customer's
    (`relationships.services` checks it).
    """
    timeline = list(
        account.interactions.select_related("author").order_by("-occurred_at", "-pk")[:size]
    )
    contacts = Contact.objects.filter(customer_id=account.customer_id)  # ordered by name
    if not timeline:
        return timeline, list(contacts.filter(is_active=True))
    rows = (
        contacts.annotate(
            met=FilteredRelation(
                "interactions", condition=Q(interactions__in=[i.pk for i in timeline])
            )
        )
        .filter(Q(is_active=True) | Q(met__isnull=False))
        .annotate(met_in=F("met__id"))
    )
    active: dict[int, Contact] = {}
    people: dict[int, list[Contact]] = defaultdict(list)
    for contact in rows:  # one row per contact and interaction it was met in
        if contact.is_active:
            active.setdefault(contact.pk, contact)
        if contact.met_in is not None:
            people[contact.met_in].append(contact)
    for interaction in timeline:
        interaction.people = people.get(interaction.pk, [])
    return timeline, list(active.values())
