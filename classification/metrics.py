"""Every account's classification metrics as plain data: fetch, then compute.

``load_metrics`` runs a fixed number of set-based queries, whatever the number of accounts (see
``QUERY_COUNT``), and hands the pure scoring package (``classification.scoring``) one dict per
account with every metric of the specification (docs: kam-models.md, section 1), plus ``level``,
``is_key_account`` and ``parent_key``. A missing value is ``None``.

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
  objectives with status ``active`` and ``is_joint_work`` of the plans counted by
  ``has_active_plan``; stages and statuses are today's, not as of R.
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
from collections.abc import Iterable
from dataclasses import dataclass
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
from classification.models import SEGMENTS, ClassificationResult, KamModel
from relationships.models import (
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
"""Queries one ``load_metrics`` call runs when the population is not empty (1 when it is)."""

DAYS_PER_YEAR = 365.25
ZERO = Decimal(0)
# Webster types 4 (partnership) and up: the segment keys are listed in type order.
WEBSTER_PARTNERSHIP_SEGMENTS = SEGMENTS[KamModel.WEBSTER][3:]
ENGAGED_FUNCTIONS = tuple(f.value for f in ContactFunction if f != ContactFunction.OTHER)
RATING_FIELDS = (
    "strategic_fit",
    "openness",
    "satisfaction",
    "customisation",
    "technical_novelty",
    "change_frequency",
)


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


@dataclass(frozen=True)
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
            return Q(**{f"{path}__in": self.global_ids}) | Q(
                **{f"{path}__parent__in": self.global_ids}
            )
        return Q(**{f"{path}__level": Level.GLOBAL}) | Q(**{f"{path}__parent__level": Level.GLOBAL})

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
    of them (the queries then touch only these accounts and their national accounts, so a run can
    load its population in chunks). A fixed number of queries (``QUERY_COUNT``); no transaction
    row is loaded into Python.
    """
    requested = None if account_ids is None else {int(pk) for pk in account_ids}
    if requested is not None and not requested:
        return {}
    population = _load_population(requested)
    if not population.accounts:
        return {}
    windows = metric_windows(reference_date)
    data = _Fetched(
        catalogue_lines=ProductLine.objects.filter(is_active=True).count(),
        money=_fetch_transaction_sums(population, windows),
        sales_distinct=_fetch_sales_distinct(population, windows),
        contacts=_fetch_interactions(population, windows),
        opportunities=_fetch_joint_opportunities(population),
        plans=_fetch_plans(population, windows),
        investments=_fetch_investments(population, windows),
        assessments=_fetch_assessments(population, windows),
        partnership_children=_fetch_partnership_children(population),
    )
    return {
        pk: _compute(account, population.children.get(pk, []), data, windows)
        for pk, account in population.accounts.items()
    }


# --- fetch -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fetched:
    catalogue_lines: int
    money: dict[int, dict[str, Any]]  # per account, own rows only
    sales_distinct: dict[int, dict[str, int]]  # per scored account, group-wide for globals
    contacts: dict[int, dict[str, int]]  # per scored account, group-wide for globals
    opportunities: dict[int, int]  # per account, own rows only
    plans: dict[int, dict[str, int]]  # per account, own rows only
    investments: dict[int, dict[str, int]]  # per account, own rows only
    assessments: dict[int, list[dict[str, Any]]]  # per scored account: latest first, at most 2
    partnership_children: dict[int, int]  # per global account


def _load_population(requested: set[int] | None) -> _Population:
    accounts = Account.objects.order_by()
    if requested is not None:
        accounts = accounts.filter(Q(id__in=requested) | Q(parent_id__in=requested))
    fields = ("id", "level", "parent_id", "status", "is_key_account", "opened_on")
    rows = accounts.values_list(*fields, "wallet_estimate")
    return _Population((_AccountRow(*row) for row in rows.iterator(chunk_size=5000)), requested)


def _fetch_transaction_sums(
    population: _Population, windows: MetricWindows
) -> dict[int, dict[str, Any]]:
    """One pass over the transactions: every additive figure per account, with FILTER clauses."""
    in_12m = Q(date__gt=windows.start_12m)  # the WHERE clause already bounds date <= R
    in_prev = Q(date__gt=windows.start_prev_12m, date__lte=windows.start_12m)
    sale = Q(kind=TransactionKind.SALE)
    deduction = Q(kind__in=[TransactionKind.RETURN, TransactionKind.CREDIT_NOTE])
    line_cost = ExpressionWrapper(
        F("quantity") * F("unit_cost"), output_field=DecimalField(max_digits=32, decimal_places=7)
    )
    rows = (
        Transaction.objects.filter(
            population.rows_of_scope("account"), date__lte=windows.reference_date
        )
        .order_by()
        .values("account_id")
        .annotate(
            sales_12m=Sum("amount_base", filter=in_12m & sale),
            deductions_12m=Sum("amount_base", filter=in_12m & deduction),
            sales_prev=Sum("amount_base", filter=in_prev & sale),
            deductions_prev=Sum("amount_base", filter=in_prev & deduction),
            purchases_12m=Sum("amount_base", filter=in_12m & Q(kind=TransactionKind.PURCHASE)),
            cost_sales_12m=Sum(line_cost, filter=in_12m & sale),
            cost_returns_12m=Sum(line_cost, filter=in_12m & Q(kind=TransactionKind.RETURN)),
            costed_sales_12m=Count("id", filter=in_12m & sale & Q(unit_cost__isnull=False)),
            first_sale=Min("date", filter=sale),
        )
    )
    return {row.pop("account_id"): row for row in rows.iterator(chunk_size=5000)}


def _by_own_and_group(
    population: _Population, queryset: QuerySet, path: str, **aggregates: Any
) -> dict[int, dict[str, int]]:
    """Distinct counts per scored account: own rows for a national account, the union of own and
    national accounts' rows for a global one (grouped by COALESCE(parent, account))."""
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
        for row in rows.iterator(chunk_size=5000):
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
        orders=Count("order_reference", distinct=True, filter=~Q(order_reference="")),
        unreferenced=Count("id", filter=Q(order_reference="")),
        lines=Count("product_line", distinct=True, filter=Q(product_line__is_active=True)),
    )


def _fetch_interactions(
    population: _Population, windows: MetricWindows
) -> dict[int, dict[str, int]]:
    interactions = Interaction.objects.filter(
        occurred_at__gte=windows.interactions_from, occurred_at__lt=windows.interactions_until
    ).order_by()
    own_customer = Q(contacts__customer_id=F("account__customer_id"))
    return _by_own_and_group(
        population,
        interactions,
        "account",
        interaction_count=Count("id", distinct=True),
        contact_count=Count("contacts", distinct=True, filter=own_customer),
        function_count=Count(
            "contacts__function",
            distinct=True,
            filter=own_customer & Q(contacts__function__in=ENGAGED_FUNCTIONS),
        ),
        seniority_count=Count("contacts__seniority", distinct=True, filter=own_customer),
    )


def _fetch_joint_opportunities(population: _Population) -> dict[int, int]:
    rows = (
        Opportunity.objects.filter(
            population.rows_of_scope("account"),
            stage__in=Opportunity.OPEN_STAGES,
            is_joint_work=True,
        )
        .order_by()
        .values("account_id")
        .annotate(n=Count("id"))
    )
    return {row["account_id"]: row["n"] for row in rows}


def _fetch_plans(population: _Population, windows: MetricWindows) -> dict[int, dict[str, int]]:
    ref = windows.reference_date
    rows = (
        AccountPlan.objects.filter(
            population.rows_of_scope("account"),
            period_start__lte=ref,
            period_end__gte=ref,
        )
        .exclude(status=AccountPlanStatus.CLOSED)
        .order_by()
        .values("account_id")
        .annotate(
            plans=Count("id", distinct=True),
            joint_objectives=Count(
                "objectives",
                filter=Q(
                    objectives__status=PlanObjectiveStatus.ACTIVE, objectives__is_joint_work=True
                ),
            ),
        )
    )
    return {row.pop("account_id"): row for row in rows}


def _fetch_investments(
    population: _Population, windows: MetricWindows
) -> dict[int, dict[str, int]]:
    ref = windows.reference_date
    rows = (
        RelationshipInvestment.objects.filter(
            population.rows_of_scope("account"),
            Q(end_date__isnull=True) | Q(end_date__gte=ref),
            start_date__lte=ref,
        )
        .order_by()
        .values("account_id")
        .annotate(
            customer=Sum("intensity", filter=Q(side=RelationshipInvestmentSide.CUSTOMER)),
            supplier=Sum("intensity", filter=Q(side=RelationshipInvestmentSide.SUPPLIER)),
        )
    )
    return {row.pop("account_id"): row for row in rows}


def _fetch_assessments(
    population: _Population, windows: MetricWindows
) -> dict[int, list[dict[str, Any]]]:
    """The latest two assessments on or before R of every scored account (ROW_NUMBER window)."""
    rows = (
        Assessment.objects.filter(
            population.rows_of_population("account"), assessed_on__lte=windows.reference_date
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=F("account_id"), order_by=F("assessed_on").desc())
        )
        .filter(rank__lte=2)
        .order_by("account_id", "rank")
        .values(
            "account_id",
            "contract_type",
            "supplier_status",
            "forecast_sharing",
            "edi_link",
            "open_book_costing",
            "termination_notice",
            *RATING_FIELDS,
        )
    )
    result: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows.iterator(chunk_size=5000):
        result[row.pop("account_id")].append(row)
    return result


def _fetch_partnership_children(population: _Population) -> dict[int, int]:
    parents = (
        Q(account__parent__in=population.global_ids)
        if population.restricted
        else Q(account__parent__level=Level.GLOBAL)
    )
    rows = (
        ClassificationResult.objects.filter(
            parents,
            model=KamModel.WEBSTER,
            is_current=True,
            segment__in=WEBSTER_PARTNERSHIP_SEGMENTS,
        )
        .exclude(account__status=AccountStatus.LOST)
        .order_by()
        .values("account__parent_id")
        .annotate(n=Count("account_id", distinct=True))
    )
    return {row["account__parent_id"]: row["n"] for row in rows}


# --- compute ---------------------------------------------------------------------------------


def _add(total: dict[str, Any], part: dict[str, Any] | None) -> None:
    """Add one account's additive figures into a running total (``first_sale``: the minimum)."""
    for name, value in (part or {}).items():
        if value is None:
            continue
        current = total.get(name)
        if current is None:
            total[name] = value
        elif name == "first_sale":
            total[name] = min(current, value)
        else:
            total[name] = current + value


def _compute(
    account: _AccountRow, children: list[_AccountRow], data: _Fetched, windows: MetricWindows
) -> dict[str, Any]:
    is_global = account.level == Level.GLOBAL
    members = [account, *children]  # children is empty unless the account is global

    money: dict[str, Any] = {}
    opportunities = 0
    joint_objectives = 0
    investments: dict[str, int] = {}
    for member in members:
        _add(money, data.money.get(member.id))
        opportunities += data.opportunities.get(member.id, 0)
        joint_objectives += data.plans.get(member.id, {}).get("joint_objectives", 0)
        _add(investments, data.investments.get(member.id))

    revenue = _net(money, "sales_12m", "deductions_12m")
    revenue_prev = _net(money, "sales_prev", "deductions_prev")
    cost = money.get("cost_sales_12m", ZERO) - money.get("cost_returns_12m", ZERO)
    has_cost = money.get("costed_sales_12m", 0) > 0

    wallet = account.wallet_estimate
    if wallet is None and is_global:
        estimates = [c.wallet_estimate for c in children if c.wallet_estimate is not None]
        wallet = sum(estimates, ZERO) if estimates else None

    sales = data.sales_distinct.get(account.id, {})
    contacts = data.contacts.get(account.id, {})
    assessments = data.assessments.get(account.id, [])
    latest = assessments[0] if assessments else None
    previous = assessments[1] if len(assessments) > 1 else None

    metrics: dict[str, Any] = {
        "revenue_12m": float(revenue),
        "revenue_prev_12m": float(revenue_prev),
        "growth_rate": (
            float((revenue - revenue_prev) / revenue_prev) if revenue_prev > 0 else None
        ),
        "gross_margin_pct": float((revenue - cost) / revenue) if has_cost and revenue > 0 else None,
        "purchases_12m": float(money.get("purchases_12m", ZERO)),
        "order_count_12m": sales.get("orders", 0) + sales.get("unreferenced", 0),
        "line_penetration": (
            sales.get("lines", 0) / data.catalogue_lines if data.catalogue_lines else None
        ),
        "wallet_estimate": float(wallet) if wallet is not None else None,
        "share_of_wallet": (
            max(0.0, min(1.0, float(revenue / wallet)))
            if wallet is not None and wallet > 0
            else None
        ),
        "tenure_years": _tenure(money.get("first_sale") or account.opened_on, windows),
        "active_contacts": contacts.get("contact_count", 0),
        "functions_engaged": contacts.get("function_count", 0),
        "hierarchy_levels": contacts.get("seniority_count", 0),
        "interactions_12m": contacts.get("interaction_count", 0),
        "joint_projects": opportunities + joint_objectives,
        "has_active_plan": data.plans.get(account.id, {}).get("plans", 0) > 0,
        "customer_investment": investments.get("customer", 0),
        "supplier_investment": investments.get("supplier", 0),
        **_assessment_metrics(latest),
        "previous_supplier_status": previous["supplier_status"] if previous else None,
        "child_accounts_partnership": (
            data.partnership_children.get(account.id, 0) if is_global else None
        ),
        "level": account.level,
        "is_key_account": account.is_key_account,
        "parent_key": account.parent_id,
    }
    return metrics


def _net(money: dict[str, Any], sales: str, deductions: str) -> Decimal:
    return money.get(sales, ZERO) - money.get(deductions, ZERO)


def _tenure(since: dt.date | None, windows: MetricWindows) -> float | None:
    if since is None:
        return None
    return max(0, (windows.reference_date - since).days) / DAYS_PER_YEAR


def _assessment_metrics(latest: dict[str, Any] | None) -> dict[str, Any]:
    if latest is None:
        return {
            "contract_type": None,
            "supplier_status": None,
            "info_sharing": None,
            "termination_notice": None,
            **dict.fromkeys(RATING_FIELDS),
        }
    return {
        "contract_type": latest["contract_type"],
        "supplier_status": latest["supplier_status"],
        "info_sharing": sum(
            bool(latest[flag]) for flag in ("forecast_sharing", "edi_link", "open_book_costing")
        ),
        "termination_notice": bool(latest["termination_notice"]),
        **{name: latest[name] for name in RATING_FIELDS},
    }
