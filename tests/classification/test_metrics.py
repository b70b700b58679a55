"""load_metrics against real PostgreSQL: a small portfolio with hand-computed values.

Reference date 2026-06-30: the 12-month window is 2025-07-01 .. 2026-06-30, the previous one
2024-07-01 .. 2025-06-30. Interactions are placed in Europe/Berlin to test the day boundaries.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Transaction
from classification.metrics import (
    EXTRA_KEYS,
    METRIC_NAMES,
    QUERY_COUNT,
    load_metrics,
    load_percentile_metrics,
    metric_windows,
)
from classification.models import ClassificationResult, ClassificationRun
from classification.scoring import population_stats
from relationships.models import AccountPlan, Opportunity, PlanObjective
from tests.factories import (
    AccountFactory,
    AccountPlanFactory,
    AssessmentFactory,
    ContactFactory,
    CustomerFactory,
    GlobalAccountFactory,
    InteractionFactory,
    OpportunityFactory,
    PlanObjectiveFactory,
    ProductLineFactory,
    RelationshipInvestmentFactory,
    TransactionFactory,
    make_current,
)

pytestmark = pytest.mark.django_db

REF = dt.date(2026, 6, 30)
BERLIN = ZoneInfo("Europe/Berlin")
Kind = Transaction.Kind


def tx(account, day, kind=Kind.SALE, qty="1", price="100", **kwargs):
    return TransactionFactory(
        account=account,
        kind=kind,
        date=day,
        quantity=Decimal(qty),
        unit_price=Decimal(price),
        **kwargs,
    )


def meet(account, when, *contacts):
    interaction = InteractionFactory(account=account, occurred_at=when)
    interaction.contacts.set(contacts)
    return interaction


def berlin(*args):
    return dt.datetime(*args, tzinfo=BERLIN)


def result(run, account, segment, *, model="webster", current=True):
    made = ClassificationResult.objects.create(
        run=run, account=account, model=model, segment=segment
    )
    if current:
        make_current(made)
    return made


@pytest.fixture
def lines():
    active = [ProductLineFactory(code=f"L{n}") for n in range(1, 5)]
    inactive = ProductLineFactory(code="L5", is_active=False)
    return [*active, inactive]


@pytest.fixture
def portfolio(lines):
    """Accounts A (rich national), B (no history), D (sale without cost), L (lost), global G
    with nationals N1, N2 and the lost N3, and G2 (global, no data)."""
    l1, l2, l3, l4, l5 = lines

    # --- A: a national key account with every kind of row -------------------------------------
    a = AccountFactory(is_key_account=True, wallet_estimate=Decimal("20000"))
    # 12 months: sales 1000 + 900 + 1000 + 100 + 100, return 100, credit note 50 -> 2950.
    tx(
        a,
        REF,
        qty="10",
        price="100",
        unit_cost=Decimal("60"),
        product_line=l1,
        order_reference="SO-1",
    )
    tx(
        a,
        dt.date(2025, 7, 1),
        qty="5",
        price="200",
        currency="USD",
        amount_base=Decimal("900.00"),
        product_line=l2,
        order_reference="SO-2",
    )
    tx(
        a,
        dt.date(2026, 1, 15),
        qty="2",
        price="500",
        unit_cost=Decimal("300"),
        product_line=l1,
        order_reference="SO-2",
    )
    tx(a, dt.date(2026, 2, 1), order_reference="")
    tx(a, dt.date(2026, 3, 1), product_line=l5, order_reference="")
    tx(a, dt.date(2026, 3, 10), Kind.RETURN, unit_cost=Decimal("60"), product_line=l1)
    tx(a, dt.date(2026, 4, 1), Kind.CREDIT_NOTE, price="50")
    tx(a, dt.date(2026, 5, 1), Kind.PURCHASE, qty="3", product_line=l3)
    # previous 12 months: sales 1000 + 500, return 100 -> 1400.
    tx(a, dt.date(2025, 6, 30), qty="4", price="250", unit_cost=Decimal("100"))
    tx(a, dt.date(2024, 7, 1), price="500")
    tx(a, dt.date(2025, 1, 1), Kind.RETURN)
    tx(a, dt.date(2025, 6, 30), Kind.PURCHASE, price="700")
    # older, and after the reference date: ignored except for the first sale.
    tx(a, dt.date(2024, 6, 30), price="300")
    tx(a, dt.date(2019, 7, 1), price="10")
    tx(a, dt.date(2026, 7, 1), price="5000", unit_cost=Decimal("1"), product_line=l4)
    tx(a, dt.date(2018, 1, 1), Kind.PURCHASE)  # a purchase is no sale: tenure ignores it

    c1 = ContactFactory(customer=a.customer, function="procurement", seniority="management")
    c2 = ContactFactory(customer=a.customer, function="finance", seniority="senior")
    c3 = ContactFactory(customer=a.customer, function="other", seniority="operational")
    c4 = ContactFactory(customer=a.customer, function="procurement", seniority="management")
    c5 = ContactFactory(customer=a.customer, function="executive", seniority="executive")
    stranger = ContactFactory(function="rnd", seniority="executive")  # another customer's
    meet(a, berlin(2026, 6, 30, 23, 30), c1, c2)
    meet(a, berlin(2025, 7, 1, 0, 0), c3, stranger)
    meet(a, berlin(2026, 1, 1, 10, 0))
    meet(a, berlin(2026, 2, 2, 10, 0), c4, c1)
    meet(a, berlin(2025, 6, 30, 23, 59), c5)  # before the window
    meet(a, berlin(2026, 7, 1, 0, 0), c5)  # after the window

    OpportunityFactory(account=a, stage=Opportunity.Stage.QUALIFIED, is_joint_work=True)
    OpportunityFactory(account=a, stage=Opportunity.Stage.NEGOTIATION, is_joint_work=True)
    OpportunityFactory(account=a, stage=Opportunity.Stage.PROPOSAL, is_joint_work=False)
    OpportunityFactory(account=a, stage=Opportunity.Stage.WON, is_joint_work=True)
    plan = AccountPlanFactory(account=a, status=AccountPlan.Status.ACTIVE)  # 2026
    PlanObjectiveFactory(plan=plan, is_joint_work=True)
    PlanObjectiveFactory(plan=plan, is_joint_work=True, status=PlanObjective.Status.ACHIEVED)
    PlanObjectiveFactory(plan=plan, is_joint_work=False)
    closed = AccountPlanFactory(
        account=a,
        status=AccountPlan.Status.CLOSED,
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2026, 12, 31),
    )
    PlanObjectiveFactory(plan=closed, is_joint_work=True)
    past = AccountPlanFactory(
        account=a,
        status=AccountPlan.Status.DRAFT,
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31),
    )
    PlanObjectiveFactory(plan=past, is_joint_work=True)

    customer, supplier = "customer", "supplier"
    RelationshipInvestmentFactory(account=a, side=customer, intensity=3)  # from 2025, no end
    RelationshipInvestmentFactory(
        account=a, side=customer, intensity=2, end_date=dt.date(2026, 6, 29)
    )
    RelationshipInvestmentFactory(account=a, side=customer, intensity=1, end_date=REF)
    RelationshipInvestmentFactory(
        account=a, side=customer, intensity=2, start_date=dt.date(2026, 7, 1)
    )
    RelationshipInvestmentFactory(account=a, side=supplier, intensity=2, start_date=REF)

    AssessmentFactory(account=a, assessed_on=dt.date(2024, 1, 1), supplier_status="sole")
    AssessmentFactory(
        account=a,
        assessed_on=dt.date(2025, 6, 1),
        contract_type="spot",
        supplier_status="preferred",
    )
    AssessmentFactory(
        account=a,
        assessed_on=dt.date(2026, 3, 1),
        contract_type="annual",
        supplier_status="approved",
        forecast_sharing=True,
        edi_link=True,
        strategic_fit=4,
        openness=5,
        satisfaction=2,
        customisation=3,
        technical_novelty=1,
        change_frequency=5,
    )
    AssessmentFactory(
        account=a,
        assessed_on=dt.date(2026, 7, 15),
        contract_type="strategic_agreement",
        supplier_status="sole",
    )

    # --- B: a prospect without history; D: a sale without cost; L: lost ------------------------
    b = AccountFactory(status=Account.Status.PROSPECT, opened_on=dt.date(2024, 6, 30))
    b_bare = AccountFactory(opened_on=None, status=Account.Status.DORMANT)
    d = AccountFactory(wallet_estimate=Decimal("0"), opened_on=None)
    tx(d, dt.date(2026, 5, 1), qty="2", price="250")
    lost = AccountFactory(status=Account.Status.LOST)
    tx(lost, dt.date(2026, 5, 1))

    # --- G: a global account with two national accounts (and a lost one) -----------------------
    group = CustomerFactory(name="Group")
    g = GlobalAccountFactory(customer=group, wallet_estimate=None)
    n1 = AccountFactory(customer=group, country="DE", parent=g, wallet_estimate=Decimal("1000"))
    n2 = AccountFactory(customer=group, country="FR", parent=g, wallet_estimate=Decimal("3000"))
    n3 = AccountFactory(customer=group, country="IT", parent=g, status=Account.Status.LOST)
    tx(
        g,
        dt.date(2026, 1, 10),
        price="1000",
        unit_cost=Decimal("500"),
        product_line=l1,
        order_reference="G-1",
    )
    tx(n1, dt.date(2026, 2, 1), price="2000", product_line=l2, order_reference="N1-1")
    tx(n1, dt.date(2026, 3, 1), price="500", product_line=l1, order_reference="N1-1")
    tx(n1, dt.date(2025, 3, 1), price="1000", order_reference="N1-0")  # previous window
    tx(
        n2,
        dt.date(2026, 2, 1),
        qty="3",
        price="500",
        unit_cost=Decimal("200"),
        product_line=l3,
        order_reference="N2-1",
    )
    tx(n2, dt.date(2026, 3, 1), Kind.RETURN, price="500", unit_cost=Decimal("200"))
    tx(n3, dt.date(2025, 9, 1), price="700", product_line=l4, order_reference="N3-1")

    g1 = ContactFactory(customer=group, function="procurement", seniority="management")
    g2 = ContactFactory(customer=group, function="quality", seniority="executive")
    g3 = ContactFactory(customer=group, function="it", seniority="senior")
    meet(n1, berlin(2026, 4, 1, 9, 0), g1, g2)
    meet(n2, berlin(2026, 4, 2, 9, 0), g1)
    meet(g, berlin(2026, 4, 3, 9, 0), g3)

    OpportunityFactory(account=g, stage=Opportunity.Stage.IDENTIFIED, is_joint_work=True)
    OpportunityFactory(account=n1, stage=Opportunity.Stage.PROPOSAL, is_joint_work=True)
    PlanObjectiveFactory(plan=AccountPlanFactory(account=n2), is_joint_work=True)
    RelationshipInvestmentFactory(account=n1, side=customer, intensity=2)
    RelationshipInvestmentFactory(account=g, side=supplier, intensity=3)
    AssessmentFactory(
        account=g,
        assessed_on=dt.date(2026, 2, 1),
        contract_type="strategic_agreement",
        supplier_status="sole",
        open_book_costing=True,
        termination_notice=True,
    )
    AssessmentFactory(account=n1, assessed_on=dt.date(2026, 5, 1), supplier_status="none")

    old_run = ClassificationRun.objects.create(
        trigger="nightly", reference_date=dt.date(2026, 5, 31), status="succeeded"
    )
    run = ClassificationRun.objects.create(
        trigger="nightly", reference_date=dt.date(2026, 6, 29), status="succeeded"
    )
    result(old_run, n2, "network", current=False)
    result(run, n1, "partnership")
    result(run, n2, "repeated")
    result(run, n3, "network")  # lost: not counted
    result(run, n2, "strategic_partnership", model="bensaou")
    g2 = GlobalAccountFactory(wallet_estimate=None)

    return {
        "a": a, "b": b, "b_bare": b_bare, "d": d, "lost": lost,
        "g": g, "n1": n1, "n2": n2, "n3": n3, "g2": g2,
    }  # fmt: skip


@pytest.fixture
def metrics(portfolio):
    with timezone.override(BERLIN):
        return load_metrics(reference_date=REF)


def test_windows_and_leap_day():
    w = metric_windows(REF)
    assert (w.start_12m, w.start_prev_12m) == (dt.date(2025, 6, 30), dt.date(2024, 6, 30))
    leap = metric_windows(dt.date(2024, 2, 29))
    assert (leap.start_12m, leap.start_prev_12m) == (dt.date(2023, 2, 28), dt.date(2022, 2, 28))
    with timezone.override(BERLIN):
        assert w.interactions_from == berlin(2025, 7, 1)
        assert w.interactions_until == berlin(2026, 7, 1)


def test_population_excludes_lost_accounts(metrics, portfolio):
    p = portfolio
    expected = {p[k].pk for k in ("a", "b", "b_bare", "d", "g", "n1", "n2", "g2")}
    assert set(metrics) == expected
    for values in metrics.values():
        assert set(values) == {*METRIC_NAMES, *EXTRA_KEYS}


def test_rich_national_account(metrics, portfolio):
    a = portfolio["a"]
    assert metrics[a.pk] == {
        "revenue_12m": 2950.0,
        "revenue_prev_12m": 1400.0,
        "growth_rate": pytest.approx(1550 / 1400),
        "gross_margin_pct": pytest.approx((2950 - 1140) / 2950),
        "purchases_12m": 300.0,
        "order_count_12m": 4,  # SO-1, SO-2 and two sales without a reference
        "line_penetration": 0.5,  # L1, L2 of 4 active lines (L5 is inactive, L3 a purchase)
        "wallet_estimate": 20000.0,
        "share_of_wallet": pytest.approx(2950 / 20000),
        "tenure_years": pytest.approx(2556 / 365.25),  # first sale 2019-07-01
        "active_contacts": 4,  # c1, c2, c3, c4; not the stranger nor c5 (outside the window)
        "functions_engaged": 2,  # procurement, finance ("other" left out)
        "hierarchy_levels": 3,  # management, senior, operational
        "interactions_12m": 4,
        "joint_projects": 3,  # two open joint opportunities, one active joint objective
        "has_active_plan": True,
        "customer_investment": 4,  # 3 (open-ended) + 1 (ends on the reference date)
        "supplier_investment": 2,  # starts on the reference date
        "contract_type": "annual",
        "supplier_status": "approved",
        "previous_supplier_status": "preferred",
        "info_sharing": 2,
        "strategic_fit": 4,
        "openness": 5,
        "satisfaction": 2,
        "customisation": 3,
        "technical_novelty": 1,
        "change_frequency": 5,
        "termination_notice": False,
        "child_accounts_partnership": None,
        "level": "national",
        "is_key_account": True,
        "parent_key": None,
    }


def test_account_without_history(metrics, portfolio):
    m = metrics[portfolio["b"].pk]
    assert m == {
        "revenue_12m": 0.0,
        "revenue_prev_12m": 0.0,
        "growth_rate": None,
        "gross_margin_pct": None,
        "purchases_12m": 0.0,
        "order_count_12m": 0,
        "line_penetration": 0.0,
        "wallet_estimate": None,
        "share_of_wallet": None,
        "tenure_years": pytest.approx(730 / 365.25),  # opened 2024-06-30
        "active_contacts": 0,
        "functions_engaged": 0,
        "hierarchy_levels": 0,
        "interactions_12m": 0,
        "joint_projects": 0,
        "has_active_plan": False,
        "customer_investment": 0,
        "supplier_investment": 0,
        "contract_type": None,
        "supplier_status": None,
        "previous_supplier_status": None,
        "info_sharing": None,
        "strategic_fit": None,
        "openness": None,
        "satisfaction": None,
        "customisation": None,
        "technical_novelty": None,
        "change_frequency": None,
        "termination_notice": None,
        "child_accounts_partnership": None,
        "level": "national",
        "is_key_account": False,
        "parent_key": None,
    }
    assert metrics[portfolio["b_bare"].pk]["tenure_years"] is None


def test_sale_without_cost_and_zero_wallet(metrics, portfolio):
    m = metrics[portfolio["d"].pk]
    assert (m["revenue_12m"], m["gross_margin_pct"]) == (500.0, None)
    assert (m["wallet_estimate"], m["share_of_wallet"]) == (0.0, None)
    assert m["tenure_years"] == pytest.approx(60 / 365.25)  # first sale 2026-05-01
    assert m["order_count_12m"] == 1


def test_global_account_aggregates_its_national_accounts(metrics, portfolio):
    g, n1 = portfolio["g"], portfolio["n1"]
    m = metrics[g.pk]
    # 1000 (own) + 2000 + 500 (N1) + 1500 - 500 (N2) + 700 (N3, lost but still its sales)
    assert m["revenue_12m"] == 5200.0
    assert m["revenue_prev_12m"] == 1000.0
    assert m["growth_rate"] == pytest.approx(4.2)
    assert m["gross_margin_pct"] == pytest.approx((5200 - (500 + 600 - 200)) / 5200)
    assert m["order_count_12m"] == 4  # G-1, N1-1 (two rows), N2-1, N3-1
    assert m["line_penetration"] == 1.0  # L1 .. L4
    assert m["wallet_estimate"] == 4000.0  # none of its own: N1 + N2
    assert m["share_of_wallet"] == 1.0  # clamped
    assert m["tenure_years"] == pytest.approx(486 / 365.25)  # N1's sale of 2025-03-01
    # g1 met by N1 and N2 counts once
    assert (m["active_contacts"], m["functions_engaged"], m["hierarchy_levels"]) == (3, 3, 3)
    assert m["interactions_12m"] == 3
    assert m["joint_projects"] == 3  # G's and N1's opportunities, N2's objective
    assert m["has_active_plan"] is False  # only N2 has a plan
    assert (m["customer_investment"], m["supplier_investment"]) == (2, 3)
    assert (m["contract_type"], m["supplier_status"]) == ("strategic_agreement", "sole")
    assert (m["previous_supplier_status"], m["info_sharing"]) == (None, 1)
    assert m["termination_notice"] is True
    assert m["child_accounts_partnership"] == 1  # N1; not N2's old result, not the lost N3
    assert (m["level"], m["parent_key"]) == ("global", None)

    m1 = metrics[n1.pk]
    assert (m1["revenue_12m"], m1["gross_margin_pct"], m1["order_count_12m"]) == (2500.0, None, 1)
    assert (m1["active_contacts"], m1["functions_engaged"], m1["interactions_12m"]) == (2, 2, 1)
    assert (m1["customer_investment"], m1["supplier_investment"]) == (2, 0)
    assert m1["supplier_status"] == "none"
    assert (m1["parent_key"], m1["child_accounts_partnership"]) == (g.pk, None)
    m2 = metrics[portfolio["n2"].pk]
    assert (m2["revenue_12m"], m2["gross_margin_pct"]) == (1000.0, pytest.approx(0.6))
    assert (m2["has_active_plan"], m2["joint_projects"], m2["active_contacts"]) == (True, 1, 1)
    empty = metrics[portfolio["g2"].pk]
    assert (empty["child_accounts_partnership"], empty["wallet_estimate"]) == (0, None)


def test_account_ids_restricts_the_population(metrics, portfolio):
    p = portfolio
    with timezone.override(BERLIN):
        chunk = load_metrics(reference_date=REF, account_ids=[p["g"].pk, p["a"].pk, p["lost"].pk])
        alone = load_metrics(reference_date=REF, account_ids=[p["n1"].pk])
    assert set(chunk) == {p["g"].pk, p["a"].pk}
    assert chunk[p["g"].pk] == metrics[p["g"].pk]  # its national accounts still count
    assert chunk[p["a"].pk] == metrics[p["a"].pk]
    assert alone == {p["n1"].pk: metrics[p["n1"].pk]}
    assert load_metrics(reference_date=REF, account_ids=[p["lost"].pk]) == {}
    assert load_metrics(reference_date=REF, account_ids=[]) == {}


def test_percentile_metrics_match_the_full_load(metrics, portfolio):
    with timezone.override(BERLIN):
        light = load_percentile_metrics(reference_date=REF)
    assert set(light) == set(metrics)
    for pk, values in light.items():
        assert values == {name: metrics[pk][name] for name in values}
    assert population_stats(light) == population_stats(metrics)


def test_interaction_window_follows_the_current_time_zone(portfolio):
    with timezone.override(dt.UTC):
        m = load_metrics(reference_date=REF)[portfolio["a"].pk]
    # In UTC, 2026-06-30 23:30 Berlin is inside and 2025-07-01 00:00 Berlin (2025-06-30 22:00
    # UTC) falls out; 2025-06-30 23:59 Berlin is 21:59 UTC, also out; 2026-07-01 00:00 Berlin
    # is 2026-06-30 22:00 UTC, now inside.
    assert (m["interactions_12m"], m["active_contacts"]) == (4, 4)
    assert m["functions_engaged"] == 3  # c5 (executive) replaces c3 (other)


def test_leap_day_reference(lines):
    account = AccountFactory()
    tx(account, dt.date(2023, 2, 28), price="7")  # previous window (its last day)
    tx(account, dt.date(2023, 3, 1), price="11")  # first day of the 12 months
    tx(account, dt.date(2024, 2, 29), price="13")  # the reference date itself
    tx(account, dt.date(2022, 2, 28), price="17")  # just before the previous window
    m = load_metrics(reference_date=dt.date(2024, 2, 29))[account.pk]
    assert (m["revenue_12m"], m["revenue_prev_12m"]) == (24.0, 7.0)


def _populate(n: int) -> None:
    lines = [ProductLineFactory(code=f"Q{k}") for k in range(3)]
    parent = GlobalAccountFactory()
    for k in range(n):
        account = AccountFactory(parent=parent if k % 3 == 0 else None, country="DE")
        contact = ContactFactory(customer=account.customer)
        tx(account, dt.date(2026, 1, 1), unit_cost=Decimal("10"), product_line=lines[k % 3])
        tx(account, dt.date(2025, 1, 1), Kind.RETURN)
        meet(account, berlin(2026, 3, 1, 12, 0), contact)
        OpportunityFactory(account=account, is_joint_work=True)
        PlanObjectiveFactory(plan=AccountPlanFactory(account=account), is_joint_work=True)
        RelationshipInvestmentFactory(account=account)
        AssessmentFactory(account=account, assessed_on=dt.date(2025, 1, 1))
        AssessmentFactory(account=account, assessed_on=dt.date(2026, 1, 1))
        run = ClassificationRun.objects.create(
            trigger="manual", scope=f"account:{account.pk}", reference_date=REF, status="succeeded"
        )
        result(run, account, "partnership")


def _count_queries(**kwargs) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        loaded = load_metrics(reference_date=REF, **kwargs)
    return len(ctx.captured_queries), len(loaded)


def test_query_count_does_not_grow_with_accounts():
    _populate(3)
    small, small_accounts = _count_queries()
    _populate(27)
    large, large_accounts = _count_queries()
    assert (small_accounts, large_accounts) == (3 + 1, 30 + 2)
    assert small == large == QUERY_COUNT
    # In creation order, so that the first three hold a global account (whose queries a chunk
    # without one skips).
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    assert (
        _count_queries(account_ids=ids[:3])[0] == _count_queries(account_ids=ids)[0] == QUERY_COUNT
    )


def test_assessment_info_sharing_counts_each_practice(lines):
    account = AccountFactory()
    AssessmentFactory(
        account=account,
        assessed_on=dt.date(2026, 6, 30),
        forecast_sharing=True,
        edi_link=True,
        open_book_costing=True,
    )
    m = load_metrics(reference_date=REF)[account.pk]
    assert (m["info_sharing"], m["previous_supplier_status"]) == (3, None)


def test_empty_catalogue_gives_no_line_penetration():
    account = AccountFactory()
    tx(account, dt.date(2026, 1, 1))
    assert load_metrics(reference_date=REF)[account.pk]["line_penetration"] is None
