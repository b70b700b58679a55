"""Every account's classification metrics as plain data: fetch, then compute.

``load_metrics`` runs a fixed number of set-based queries, whatever the number of accounts (see
``QUERY_COUNT``), and hands the pure scoring package (``classification.scoring``) one dict per
account with every metric of the specification (docs: kam-models.md, section 1), plus ``level``,
``is_key_account`` and ``parent_key``. A missing value is ``None``. ``population_metrics`` runs
the same queries and returns a mapping that builds each account's dict when it is read: a run's
prepare step reads the whole population's metrics through it (see ``classification.services``).

Windows (``metric_windows``), for a reference date R:

* 12 months: ``R - 1 year < date <= R``. ``R - 1 year`` is ``relativedelta(years=1)``, so a 29
  February falls back to the 28th: R = 2024-02-29 covers 2023-03-01 .. 2024-02-29.
* previous 12 months: ``R - 2 years < date <= R - 1 year``; the two windows are contiguous.
* Datetimes (interactions): the same calendar days in the current time zone, i.e.
  ``midnight(R - 1 year + 1 day) <= occurred_at < midnight(R + 1 day)``, both aware.
* Nothing dated after R counts anywhere (first sale, assessments, investments, plans).

Aggregation into a global account: its own rows plus those of all its national accounts (any
status; a lost national account's past sales still happened). Additive figures are aggregated per
account in SQL and added into the parent in Python; distinct counts (orders, product lines,
contacts, functions, seniorities) are counted in SQL over the union of the global's and its
children's rows, grouped by ``COALESCE(parent, account)``, so that a contact met by two national
accounts counts once.

Decisions where the specification leaves room:

* ``order_count_12m``: distinct non-empty ``order_reference`` of sale rows (across a global
  account's group, one reference is one order); a sale row without a reference is an order of
  its own.
* ``gross_margin_pct``: cost = quantity x unit cost of sales minus that of returns (returns
  without a cost and credit notes carry none); ``None`` when no sale row in the window has a
  unit cost or when net sales <= 0.
* ``line_penetration``: distinct *active* product lines sold in 12 months / active product lines
  in the catalogue, so it stays within 0..1; ``None`` when the catalogue has no active line.
* ``share_of_wallet``: revenue_12m / wallet_estimate clamped to 0..1; ``None`` without an estimate
  or with an estimate of 0.
* ``wallet_estimate`` of a global account: its own estimate when set, else the sum of its
  national accounts' estimates (``None`` when none has one).
* ``tenure_years``: days / 365.25 from the first sale on or before R (a global: the first sale of
  its group), else from the account's own ``opened_on``; never negative; ``None`` without either.
* ``active_contacts``: contacts of the interaction's account's customer (``Contact.is_active`` is
  not consulted: the spec defines "active" by the interaction); ``functions_engaged`` leaves out
  ``other``.
* ``has_active_plan``: the account's own plan (not its children's) with
  ``period_start <= R <= period_end`` and a status other than ``closed`` (a draft counts).
* ``joint_projects``: open opportunities (identified .. negotiation) with ``is_joint_work`` plus
  objectives with status ``active`` and ``is_joint_work`` of plans in force on R (the same plan
  filter as ``has_active_plan``; a global account adds its national accounts' ones); stages and
  statuses are today's, not as of R.
* ``customer_investment`` / ``supplier_investment``: sum of intensities with
  ``start_date <= R`` and (no end or ``end_date >= R``); 0 when none.
* Assessment fields come from the account's own latest assessment with ``assessed_on <= R`` (a
  global account too); ``previous_supplier_status`` from the one before it.
* ``child_accounts_partnership``: a global account's national accounts, not lost, whose current
  Webster result is type 4 or more; 0 for a global account without any, ``None`` for a national.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts.models import (
    Account,
    AccountStatus,
    ContactFunction,
    Level,
    ProductLine,
    Transaction,
    TransactionKind,
)
from classification.models import SEGMENTS, ClassificationCurrent, KamModel
from relationships.models import (
    ASSESSMENT_RATINGS,
    AccountPlan,
    AccountPlanStatus,
    Assessment,
    Interaction,
    Opportunity,
    PlanObjectiveStatus,
    RelationshipInvestment,
    RelationshipInvestmentSide,
)

METRIC_NAMES: tuple[str, ...] = (
    "revenue_12m",
    "revenue_prev_12m",
    "growth_rate",
    "gross_margin_pct",
    "purchases_12m",
    "order_count_12m",
    "line_penetration",
    "wallet_estimate",
    "share_of_wallet",
    "tenure_years",
    "active_contacts",
    "functions_engaged",
    "hierarchy_levels",
    "interactions_12m",
    "joint_projects",
    "has_active_plan",
    "customer_investment",
    "supplier_investment",
    "contract_type",
    "supplier_status",
    "previous_supplier_status",
    "info_sharing",
    "strategic_fit",
    "openness",
    "satisfaction",
    "customisation",
    "technical_novelty",
    "change_frequency",
    "termination_notice",
    "child_accounts_partnership",
)
EXTRA_KEYS: tuple[str, ...] = ("level", "is_key_account", "parent_key")

QUERY_COUNT = 12
"""Queries one ``load_metrics`` call runs at most (fewer when a chunk has no national or no global
account: Django skips a query filtered on an empty id list; 1 when the population is empty)."""

DAYS_PER_YEAR = 365.25
ZERO = Decimal(0)
# Webster types 4 (partnership) and up: the segment keys are listed in type order.
WEBSTER_PARTNERSHIP_SEGMENTS = SEGMENTS[KamModel.WEBSTER][3:]
ENGAGED_FUNCTIONS = tuple(f.value for f in ContactFunction if f != ContactFunction.OTHER)
INFO_SHARING_FIELDS = ("forecast_sharing", "edi_link", "open_book_costing")
# Copied as they are from the latest assessment.
ASSESSMENT_METRICS = ("contract_type", *ASSESSMENT_RATINGS, "termination_notice")


@dataclass(frozen=True)
class MetricWindows:
    """Date windows of one run; each is ``start < date <= end`` (see the module docstring)."""

    reference_date: dt.date
    start_12m: dt.date  # exclusive
    start_prev_12m: dt.date  # exclusive; the previous window ends (inclusive) at start_12m

    @property
    def interactions_from(self) -> dt.datetime:
        """Aware start (inclusive) of the 12-month window in the current time zone."""
        return _midnight(self.start_12m + dt.timedelta(days=1))

    @property
    def interactions_until(self) -> dt.datetime:
        """Aware end (exclusive) of the 12-month window in the current time zone."""
        return _midnight(self.reference_date + dt.timedelta(days=1))


def metric_windows(reference_date: dt.date) -> MetricWindows:
    return MetricWindows(
        reference_date=reference_date,
        start_12m=reference_date - relativedelta(years=1),
        start_prev_12m=reference_date - relativedelta(years=2),
    )


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass(frozen=True, slots=True)
class _AccountRow:
    id: int
    level: str
    parent_id: int | None
    status: str
    is_key_account: bool
    opened_on: dt.date | None
    wallet_estimate: Decimal | None


class _Population:
    """The accounts to score, their national children, and the row filters derived from them."""

    def __init__(self, rows: Iterable[_AccountRow], requested: set[int] | None) -> None:
        self.restricted = requested is not None
        by_id = {row.id: row for row in rows}
        self.accounts = {
            pk: row
            for pk, row in by_id.items()
            if row.status != AccountStatus.LOST and (requested is None or pk in requested)
        }
        self.children: dict[int, list[_AccountRow]] = defaultdict(list)
        for row in by_id.values():
            parent = self.accounts.get(row.parent_id) if row.parent_id else None
            if parent is not None and parent.level == Level.GLOBAL:
                self.children[parent.id].append(row)
        self.global_ids = sorted(pk for pk, r in self.accounts.items() if r.level == Level.GLOBAL)
        self.other_ids = sorted(pk for pk, r in self.accounts.items() if r.level != Level.GLOBAL)
        self.scope_ids = sorted(
            {*self.accounts, *(c.id for kids in self.children.values() for c in kids)}
        )

    def rows_of_scope(self, path: str) -> Q:
        """Rows of every account whose figures are needed (for additive aggregates)."""
        return Q(**{f"{path}__in": self.scope_ids}) if self.restricted else Q()

    def rows_of_own(self, path: str) -> Q:
        """Rows of accounts scored on their own rows only (every account that is not global)."""
        if self.restricted:
            return Q(**{f"{path}__in": self.other_ids})
        return ~Q(**{f"{path}__level": Level.GLOBAL})

    def rows_of_groups(self, path: str) -> Q:
        """Rows of global accounts and of their national accounts (for distinct counts)."""
        if self.restricted:
            members = {*self.global_ids, *(c.id for kids in self.children.values() for c in kids)}
            return Q(**{f"{path}__in": sorted(members)})
        # parent_id IS NOT NULL rather than parent.level = global: no join, and a row keyed to a
        # parent that is not a scored global account is dropped by the caller anyway.
        return Q(**{f"{path}__level": Level.GLOBAL}) | Q(**{f"{path}__parent__isnull": False})

    def rows_of_population(self, path: str) -> Q:
        return Q(**{f"{path}__in": sorted(self.accounts)}) if self.restricted else Q()

    @staticmethod
    def group_key(path: str) -> Coalesce:
        return Coalesce(f"{path}__parent_id", f"{path}_id")


def load_metrics(
    *, reference_date: dt.date, account_ids: Iterable[int] | None = None
) -> dict[int, dict[str, Any]]:
    """The metrics of every account to score, keyed by account id.

    The population is every account whose status is not ``lost``; with ``account_ids`` only those
    of them (the queries then touch only these accounts and their national accounts). A fixed
    number of queries (``QUERY_COUNT``); no transaction row is loaded into Python.
    """
    return dict(population_metrics(reference_date=reference_date, account_ids=account_ids))


def population_metrics(
    *, reference_date: dt.date, account_ids: Iterable[int] | None = None
) -> PopulationMetrics:
    """``load_metrics`` as a read-only mapping that builds an account's dict when it is read.

    The queries run here; only their per-account aggregates are kept, so a whole population's
    metrics can be read account by account without holding 100,000 dicts of 33 keys at once.
    """
    requested = None if account_ids is None else {int(pk) for pk in account_ids}
    if requested is not None and not requested:
        return PopulationMetrics(None)
    population = _load_population(requested)
    if not population.accounts:
        return PopulationMetrics(None)
    windows = metric_windows(reference_date)

    parts: dict[int, dict[str, Any]] = defaultdict(dict)
    # One query's rows at a time (each is freed before the next runs): a whole population's
    # rows are most of the memory a run's preparation needs.
    queries = [
        lambda: _fetch_transaction_sums(population, windows),
        lambda: _fetch_joint_opportunities(population),
        lambda: _fetch_plans(population, windows),
        lambda: _fetch_investments(population, windows),
    ]
    for query in queries:
        for row in query():
            parts[row.pop("account_id")].update((k, v) for k, v in row.items() if v is not None)
    own = {pk: _Additive(**parts.pop(pk)) for pk in list(parts)}
    catalogue = ProductLine.objects.filter(is_active=True).count()
    distinct = _fetch_sales_distinct(population, windows)
    _merge(distinct, _fetch_interactions(population, windows))
    return PopulationMetrics(
        _Inputs(
            population=population,
            windows=windows,
            own=own,
            distinct=distinct,
            assessments=_fetch_assessments(population, windows),
            catalogue_lines=catalogue,
            partnership_children=_fetch_partnership_children(population),
        )
    )


@dataclass(frozen=True)
class _Inputs:
    """What the queries returned, per account: everything ``_compute`` needs."""

    population: _Population
    windows: MetricWindows
    own: dict[int, _Additive]
    distinct: dict[int, dict[str, int]]
    assessments: dict[int, list[tuple]]
    catalogue_lines: int
    partnership_children: dict[int, int]


class PopulationMetrics(Mapping[int, dict[str, Any]]):
    """Account id -> its metrics dict, computed on each read (see ``population_metrics``)."""

    def __init__(self, inputs: _Inputs | None) -> None:
        self._inputs = inputs
        self._accounts = inputs.population.accounts if inputs else {}

    def __getitem__(self, pk: int) -> dict[str, Any]:
        account = self._accounts[pk]
        inputs = self._inputs
        return _compute(
            account,
            inputs.population.children.get(pk, ()),
            own=inputs.own,
            distinct=inputs.distinct.get(pk, {}),
            assessments=inputs.assessments.get(pk, ()),
            catalogue_lines=inputs.catalogue_lines,
            partnership_children=inputs.partnership_children.get(pk, 0),
            windows=inputs.windows,
        )

    def __iter__(self) -> Iterator[int]:
        return iter(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)

    def __contains__(self, pk: object) -> bool:
        return pk in self._accounts


def load_percentile_metrics(*, reference_date: dt.date) -> dict[int, dict[str, Any]]:
    """Only what percentiles rank (wallet, contacts, functions, interactions) for every account.

    A run's preparation needs these for the whole population; skipping the transaction queries
    keeps it to three queries and a fraction of `load_metrics`' time. Same values as there.
    """
    population = _load_population(None)
    if not population.accounts:
        return {}
    interactions = _fetch_interactions(population, metric_windows(reference_date))
    metrics = {}
    for pk, account in population.accounts.items():
        wallet = account.wallet_estimate
        if account.level == Level.GLOBAL and wallet is None:
            estimates = [
                c.wallet_estimate
                for c in population.children.get(pk, ())
                if c.wallet_estimate is not None
            ]
            wallet = sum(estimates, ZERO) if estimates else None
        seen = interactions.get(pk, {})
        metrics[pk] = {
            "level": account.level,
            "wallet_estimate": float(wallet) if wallet is not None else None,
            "active_contacts": seen.get("active_contacts", 0),
            "functions_engaged": seen.get("functions_engaged", 0),
            "interactions_12m": seen.get("interactions_12m", 0),
        }
    return metrics


# --- fetch -----------------------------------------------------------------------------------
# Rows are fetched in one go, never with .iterator(): on PostgreSQL a server-side cursor makes the
# planner favour the first rows and run without parallel workers (five times slower at 100k
# accounts / 5M transactions). A result row is per account, so memory stays O(accounts).


def _load_population(requested: set[int] | None) -> _Population:
    accounts = Account.objects.order_by()
    if requested is not None:
        accounts = accounts.filter(Q(id__in=requested) | Q(parent_id__in=requested))
    columns = ("id", "level", "parent_id", "status", "is_key_account", "opened_on")
    rows = accounts.values_list(*columns, "wallet_estimate")
    return _Population((_AccountRow(*row) for row in rows), requested)


def _fetch_transaction_sums(population: _Population, windows: MetricWindows) -> QuerySet:
    """One pass over the transactions: every additive figure per account, with FILTER clauses.

    Rows after R are left out by the WHERE clause; older rows count only for the first sale.
    """
    in_12m = Q(date__gt=windows.start_12m)
    in_prev = Q(date__gt=windows.start_prev_12m, date__lte=windows.start_12m)
    sale = Q(kind=TransactionKind.SALE)
    deduction = Q(kind__in=[TransactionKind.RETURN, TransactionKind.CREDIT_NOTE])
    line_cost = ExpressionWrapper(
        F("quantity") * F("unit_cost"), output_field=DecimalField(max_digits=32, decimal_places=7)
    )
    return (
        Transaction.objects.filter(
            population.rows_of_scope("account"), date__lte=windows.reference_date
        )
        .order_by()
        .values("account_id")
        .annotate(
            sales_12m=Sum("amount_base", filter=in_12m & sale),
            deductions_12m=Sum("amount_base", filter=in_12m & deduction),
            sales_prev_12m=Sum("amount_base", filter=in_prev & sale),
            deductions_prev_12m=Sum("amount_base", filter=in_prev & deduction),
            purchases_12m=Sum("amount_base", filter=in_12m & Q(kind=TransactionKind.PURCHASE)),
            cost_sales_12m=Sum(line_cost, filter=in_12m & sale),
            cost_returns_12m=Sum(line_cost, filter=in_12m & Q(kind=TransactionKind.RETURN)),
            costed_sales_12m=Count("unit_cost", filter=in_12m & sale),
            first_sale=Min("date", filter=sale),
        )
    )


def _fetch_joint_opportunities(population: _Population) -> QuerySet:
    return (
        Opportunity.objects.filter(
            population.rows_of_scope("account"),
            stage__in=Opportunity.OPEN_STAGES,
            is_joint_work=True,
        )
        .order_by()
        .values("account_id")
        .annotate(joint_opportunities=Count("id"))
    )


def _fetch_plans(population: _Population, windows: MetricWindows) -> QuerySet:
    """Plans in force on R (any status but closed) and their active joint objectives."""
    ref = windows.reference_date
    return (
        AccountPlan.objects.filter(
            population.rows_of_scope("account"),
            period_start__lte=ref,
            period_end__gte=ref,
        )
        .exclude(status=AccountPlanStatus.CLOSED)
        .order_by()
        .values("account_id")
        .annotate(
            active_plans=Count("id", distinct=True),
            joint_objectives=Count(
                "objectives",
                filter=Q(
                    objectives__status=PlanObjectiveStatus.ACTIVE, objectives__is_joint_work=True
                ),
            ),
        )
    )


def _fetch_investments(population: _Population, windows: MetricWindows) -> QuerySet:
    ref = windows.reference_date
    return (
        RelationshipInvestment.objects.filter(
            population.rows_of_scope("account"),
            Q(end_date__isnull=True) | Q(end_date__gte=ref),
            start_date__lte=ref,
        )
        .order_by()
        .values("account_id")
        .annotate(
            customer_investment=Sum(
                "intensity", filter=Q(side=RelationshipInvestmentSide.CUSTOMER)
            ),
            supplier_investment=Sum(
                "intensity", filter=Q(side=RelationshipInvestmentSide.SUPPLIER)
            ),
        )
    )


def _by_own_and_group(
    population: _Population, queryset: QuerySet, path: str, **aggregates: Any
) -> dict[int, dict[str, int]]:
    """Distinct counts per scored account: own rows for a national account, the union of its own
    and its national accounts' rows for a global one (grouped by COALESCE(parent, account))."""
    own = (
        queryset.filter(population.rows_of_own(path))
        .values(key=F(f"{path}_id"))
        .annotate(**aggregates)
    )
    groups = (
        queryset.filter(population.rows_of_groups(path))
        .values(key=population.group_key(path))
        .annotate(**aggregates)
    )
    result: dict[int, dict[str, int]] = {}
    for rows, wanted in ((own, population.other_ids), (groups, population.global_ids)):
        keep = set(wanted)
        for row in rows:
            key = row.pop("key")
            if key in keep:
                result[key] = row
    return result


def _fetch_sales_distinct(
    population: _Population, windows: MetricWindows
) -> dict[int, dict[str, int]]:
    sales = Transaction.objects.filter(
        kind=TransactionKind.SALE,
        date__gt=windows.start_12m,
        date__lte=windows.reference_date,
    ).order_by()
    return _by_own_and_group(
        population,
        sales,
        "account",
        order_count_12m=(
            Count("order_reference", distinct=True, filter=~Q(order_reference=""))
            + Count("id", filter=Q(order_reference=""))
        ),
        product_lines_12m=Count(
            "product_line", distinct=True, filter=Q(product_line__is_active=True)
        ),
    )


def _fetch_interactions(
    population: _Population, windows: MetricWindows
) -> dict[int, dict[str, int]]:
    interactions = Interaction.objects.filter(
        occurred_at__gte=windows.interactions_from, occurred_at__lt=windows.interactions_until
    ).order_by()
    # Annotation names must not shadow the "contacts" relation used by the next ones.
    own_customer = Q(contacts__customer_id=F("account__customer_id"))
    return _by_own_and_group(
        population,
        interactions,
        "account",
        interactions_12m=Count("id", distinct=True),
        active_contacts=Count("contacts", distinct=True, filter=own_customer),
        functions_engaged=Count(
            "contacts__function",
            distinct=True,
            filter=own_customer & Q(contacts__function__in=ENGAGED_FUNCTIONS),
        ),
        hierarchy_levels=Count("contacts__seniority", distinct=True, filter=own_customer),
    )


_ASSESSMENT_ROW = ("rank", "supplier_status", *ASSESSMENT_METRICS, *INFO_SHARING_FIELDS)


def _fetch_assessments(population: _Population, windows: MetricWindows) -> dict[int, list[tuple]]:
    """The latest two assessments on or before R of every scored account (ROW_NUMBER window).

    Rows are tuples until ``_compute`` reads them: a whole population's dicts would double the
    memory a run's preparation needs."""
    rows = (
        Assessment.objects.filter(
            population.rows_of_population("account"), assessed_on__lte=windows.reference_date
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=F("account_id"), order_by=F("assessed_on").desc())
        )
        .filter(rank__lte=2)
        .order_by()
        .values_list("account_id", *_ASSESSMENT_ROW)
    )
    result: dict[int, list[tuple]] = defaultdict(list)
    for account_id, *row in rows:
        result[account_id].append(tuple(row))
    for pair in result.values():
        pair.sort()  # by rank, the first column
    return result


def _fetch_partnership_children(population: _Population) -> dict[int, int]:
    parents = (
        Q(account__parent__in=population.global_ids)
        if population.restricted
        else Q(account__parent__level=Level.GLOBAL)
    )
    rows = (
        ClassificationCurrent.objects.filter(
            parents, model=KamModel.WEBSTER, segment__in=WEBSTER_PARTNERSHIP_SEGMENTS
        )
        .exclude(account__status=AccountStatus.LOST)
        .order_by()
        .values("account__parent_id")
        .annotate(n=Count("account_id", distinct=True))
    )
    return {row["account__parent_id"]: row["n"] for row in rows}


def _merge(into: dict[int, dict[str, int]], other: dict[int, dict[str, int]]) -> None:
    for pk, values in other.items():
        into.setdefault(pk, {}).update(values)


# --- compute ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Additive:
    """One account's figures that add up into its global account (money in base currency)."""

    sales_12m: Decimal = ZERO
    deductions_12m: Decimal = ZERO  # returns and credit notes
    sales_prev_12m: Decimal = ZERO
    deductions_prev_12m: Decimal = ZERO
    purchases_12m: Decimal = ZERO
    cost_sales_12m: Decimal = ZERO
    cost_returns_12m: Decimal = ZERO
    costed_sales_12m: int = 0  # sale rows with a unit cost
    first_sale: dt.date | None = None  # the minimum, not a sum
    joint_opportunities: int = 0
    active_plans: int = 0
    joint_objectives: int = 0
    customer_investment: int = 0
    supplier_investment: int = 0

    def __add__(self, other: _Additive) -> _Additive:
        sums = {name: getattr(self, name) + getattr(other, name) for name in _SUMMED}
        firsts = [day for day in (self.first_sale, other.first_sale) if day is not None]
        return _Additive(**sums, first_sale=min(firsts, default=None))

    @property
    def revenue_12m(self) -> Decimal:
        return self.sales_12m - self.deductions_12m

    @property
    def revenue_prev_12m(self) -> Decimal:
        return self.sales_prev_12m - self.deductions_prev_12m


_SUMMED = tuple(f.name for f in fields(_Additive) if f.name != "first_sale")
_NOTHING = _Additive()


def _compute(
    account: _AccountRow,
    children: Iterable[_AccountRow],
    *,
    own: dict[int, _Additive],
    distinct: dict[str, int],
    assessments: Iterable[tuple],
    catalogue_lines: int,
    partnership_children: int,
    windows: MetricWindows,
) -> dict[str, Any]:
    is_global = account.level == Level.GLOBAL
    figures = own.get(account.id, _NOTHING)
    has_active_plan = figures.active_plans > 0  # the account's own plans only
    wallet = account.wallet_estimate
    if is_global:
        for child in children:
            figures += own.get(child.id, _NOTHING)
        if wallet is None:
            estimates = [c.wallet_estimate for c in children if c.wallet_estimate is not None]
            wallet = sum(estimates, ZERO) if estimates else None

    revenue, revenue_prev = figures.revenue_12m, figures.revenue_prev_12m
    cost = figures.cost_sales_12m - figures.cost_returns_12m
    rows = [dict(zip(_ASSESSMENT_ROW, row, strict=True)) for row in assessments]
    latest, previous, *_ = [*rows, None, None]
    return {
        "revenue_12m": float(revenue),
        "revenue_prev_12m": float(revenue_prev),
        "growth_rate": (
            float((revenue - revenue_prev) / revenue_prev) if revenue_prev > 0 else None
        ),
        "gross_margin_pct": (
            float((revenue - cost) / revenue) if figures.costed_sales_12m and revenue > 0 else None
        ),
        "purchases_12m": float(figures.purchases_12m),
        "order_count_12m": distinct.get("order_count_12m", 0),
        "line_penetration": (
            distinct.get("product_lines_12m", 0) / catalogue_lines if catalogue_lines else None
        ),
        "wallet_estimate": float(wallet) if wallet is not None else None,
        "share_of_wallet": (
            max(0.0, min(1.0, float(revenue / wallet)))
            if wallet is not None and wallet > 0
            else None
        ),
        "tenure_years": _tenure(figures.first_sale or account.opened_on, windows),
        "active_contacts": distinct.get("active_contacts", 0),
        "functions_engaged": distinct.get("functions_engaged", 0),
        "hierarchy_levels": distinct.get("hierarchy_levels", 0),
        "interactions_12m": distinct.get("interactions_12m", 0),
        "joint_projects": figures.joint_opportunities + figures.joint_objectives,
        "has_active_plan": has_active_plan,
        "customer_investment": figures.customer_investment,
        "supplier_investment": figures.supplier_investment,
        **_assessment_metrics(latest),
        "previous_supplier_status": previous["supplier_status"] if previous else None,
        "child_accounts_partnership": partnership_children if is_global else None,
        "level": account.level,
        "is_key_account": account.is_key_account,
        "parent_key": account.parent_id,
    }


def _tenure(since: dt.date | None, windows: MetricWindows) -> float | None:
    if since is None:
        return None
    return max(0, (windows.reference_date - since).days) / DAYS_PER_YEAR


def _assessment_metrics(latest: dict[str, Any] | None) -> dict[str, Any]:
    if latest is None:
        return dict.fromkeys(("supplier_status", "info_sharing", *ASSESSMENT_METRICS))
    values = {name: latest[name] for name in ASSESSMENT_METRICS}
    values["termination_notice"] = bool(values["termination_notice"])
    return {
        **values,
        "supplier_status": latest["supplier_status"],
        "info_sharing": sum(bool(latest[flag]) for flag in INFO_SHARING_FIELDS),
    }
