"""The account page (360 view): visibility, content, revenue series, query count."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from accounts.models import Contact
from classification.models import ClassificationOverride, ParameterSet
from dashboard.selectors import account_classification, account_revenue_by_month
from tests.dashboard.conftest import months_ago
from tests.factories import (
    AccountFactory,
    AccountPlanFactory,
    AccountTeamMemberFactory,
    AssessmentFactory,
    ClassificationResultFactory,
    ClassificationRunFactory,
    ContactFactory,
    CustomerNeedFactory,
    GlobalAccountFactory,
    InteractionFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    RelationshipInvestmentFactory,
    ServiceCaseFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db


def url(account) -> str:
    return f"/accounts/{account.pk}/"


def test_invisible_account_is_404(login, portfolio):
    assert login("nam1").get(url(portfolio["hidden"])).status_code == 404
    assert login("nam1").get("/accounts/999999/").status_code == 404


def test_lead_opens_team_members_account(login, portfolio):
    assert login("lead").get(url(portfolio["gamma"])).status_code == 200


def _populate(account, today, n=3):
    plan = AccountPlanFactory(account=account)
    for i in range(n):
        TransactionFactory(account=account, date=months_ago(today, i))
        contact = ContactFactory(customer=account.customer, name=f"Person {i}")
        InteractionFactory(account=account, summary=f"Meeting number {i}").contacts.add(contact)
        OpportunityFactory(account=account, title=f"Deal {i}")
        CustomerNeedFactory(account=account, description=f"Need {i}")
        ServiceCaseFactory(account=account, subject=f"Case {i}")
        RelationshipInvestmentFactory(account=account)
        objective = PlanObjectiveFactory(plan=plan, description=f"Objective {i}")
        PlanActionFactory(objective=objective, description=f"Action {i}")
        AssessmentFactory(account=account, assessed_on=dt.date(2025, 1, 1 + i))
        AccountTeamMemberFactory(account=account)


PRIMARY = [
    "Alpha Robotics",
    "Revenue by month, 24 months",
    "Meeting number 2",
    "With Person 2",  # the contacts met, from the contacts query
    "Deal 1",
    "Objective 1",
    "Action 2",
    "Eva Exec",
    "Uncoupling KAM",
    "Customer&#x27;s yearly spend in our categories",  # readable indicator name
    "Not a key account, but strategic or star",  # readable flag
    "Support",  # team role
    "Transactions",
]
# Loaded by htmx right after the page (/accounts/<pk>/more/), or with it on ?sections=all.
SECONDARY = ["Need 0", "Case 2", "Latest assessment", "Investments", "Service cases"]


def test_account_page_shows_every_section(login, portfolio, classify, today):
    account = portfolio["alpha"]
    _populate(account, today)
    classify(account, four_s="strategic", millman_wilson="uncoupling_kam")
    ContactFactory(
        customer=account.customer,
        name="Eva Exec",
        function=Contact.Function.EXECUTIVE,
        seniority=Contact.Seniority.EXECUTIVE,
    )
    client = login("nam1")
    response = client.get(url(account))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1
    for text in PRIMARY:
        assert text in html, text
    for text in SECONDARY:
        assert text not in html, text
    # The placeholder loads the secondary sections once the page is shown, and links to them.
    assert f'hx-get="/accounts/{account.pk}/more/" hx-trigger="load"' in html
    assert 'href="?sections=all#account-more"' in html
    more = client.get(f"/accounts/{account.pk}/more/")
    assert more.status_code == 200
    assert "<html" not in more.content.decode()  # a fragment for htmx to swap in
    assert 'id="account-more"' in more.content.decode()
    for text in SECONDARY:
        assert text in more.content.decode(), text
    data = json.loads(
        html.split('<script id="revenue-data" type="application/json">')[1].split("</script>")[0]
    )
    assert len(data["labels"]) == 24
    assert sum(data["sales"]) == 3000.0
    # Without JavaScript, the link brings the whole page at once.
    everything = client.get(url(account) + "?sections=all").content.decode()
    for text in PRIMARY + SECONDARY:
        assert text in everything, text
    assert 'hx-trigger="load"' not in everything


def test_secondary_sections_of_an_invisible_account_are_404(login, portfolio):
    assert login("nam1").get(f"/accounts/{portfolio['hidden'].pk}/more/").status_code == 404
    assert login("nam1").post(f"/accounts/{portfolio['alpha'].pk}/more/").status_code == 405


def test_timeline_names_the_contacts_met_even_inactive_ones(login, portfolio):
    account = portfolio["alpha"]
    gone = ContactFactory(customer=account.customer, name="Gone Person", is_active=False)
    here = ContactFactory(customer=account.customer, name="Here Person")
    ContactFactory(customer=account.customer, name="Never Met")
    InteractionFactory(account=account, summary="Both").contacts.add(gone, here)
    InteractionFactory(account=account, summary="Nobody")
    response = login("nam1").get(url(account))
    timeline = {i.summary: [c.name for c in i.people] for i in response.context["timeline"]}
    assert timeline == {"Both": ["Gone Person", "Here Person"], "Nobody": []}
    # The contacts list and the interaction form offer the active contacts only, once each.
    assert response.context["contact_count"] == 2
    offered = [label for _, label in response.context["form"].fields["contacts"].choices]
    assert [label.split(" (")[0] for label in offered] == ["Here Person", "Never Met"]


def test_hierarchy_lists_visible_national_accounts(login, nam1):
    from tests.factories import GlobalManagerFactory, UserFactory

    gam = GlobalManagerFactory(user=UserFactory(username="gam"))
    root = GlobalAccountFactory(customer__name="Group", owner=gam)
    AccountFactory(customer=root.customer, owner=nam1, parent=root, country="DE")
    AccountFactory(customer=root.customer, parent=root, country="FR")
    response = login("gam").get(url(root))
    assert sorted(a.country for a in response.context["family"]) == ["", "DE", "FR"]
    nat = login("nam1").get(url(root.national_accounts.get(country="DE")))
    # nam1 does not see the global account nor the French one: only its own.
    assert [a.country for a in nat.context["family"]] == ["DE"]


def test_revenue_by_month_is_one_query_with_exact_values(today, django_assert_num_queries):
    account = AccountFactory()
    TransactionFactory(account=account, date=months_ago(today, 0), unit_price=Decimal("10"))
    TransactionFactory(account=account, date=months_ago(today, 0), kind="return")
    TransactionFactory(account=account, date=months_ago(today, 1), kind="credit_note")
    TransactionFactory(account=account, date=months_ago(today, 23), kind="purchase")
    TransactionFactory(account=account, date=months_ago(today, 24))  # outside the window
    with django_assert_num_queries(1):
        series = account_revenue_by_month(account=account, reference_date=today.replace(day=28))
    assert len(series.months) == 24
    assert series.sales[-1] == 100.0
    assert series.returns[-1] == 1000.0
    assert series.returns[-2] == 1000.0
    assert series.purchases[0] == 1000.0
    assert sum(series.sales) == 100.0


def _global_family(nam1, today):
    """A global account (the lead's team member owns it) with two national accounts."""
    root = GlobalAccountFactory(customer__name="Group", owner=nam1)
    for country in ("DE", "FR"):
        AccountFactory(customer=root.customer, owner=nam1, parent=root, country=country)
    return root


@pytest.mark.parametrize("size", [1, 12])
@pytest.mark.parametrize(
    ("who", "kind"),
    [
        ("nam1", "national"),
        ("nam1", "global"),
        ("nam1", "national of a global"),
        ("lead", "national"),
    ],
)
def test_account_page_query_count_is_bounded(
    login, portfolio, nam1, classify, today, django_assert_max_num_queries, size, who, kind
):
    """Issue 6's dashboard target: at most 15 queries, whatever the account's kind and size."""
    account = portfolio["alpha"]
    if kind != "national":
        root = _global_family(nam1, today)
        account = root if kind == "global" else root.national_accounts.get(country="DE")
    _populate(account, today, n=size)
    classify(account, four_s="star", webster="repeated", bensaou="market_exchange")
    ClassificationOverride.objects.create(
        account=account, model="millman_wilson", segment="partnership_kam", reason="Known"
    )
    client = login(who)
    with django_assert_max_num_queries(15):
        response = client.get(url(account))
    assert response.status_code == 200
    assert len(response.context["timeline"]) == min(size, 10)
    assert len(response.context["plans"][0].objectives.all()) == size
    if kind != "national":
        assert len(response.context["family"]) == 3


@pytest.mark.parametrize("size", [1, 12])
def test_secondary_sections_query_count_is_bounded(
    login, portfolio, today, django_assert_max_num_queries, size
):
    account = portfolio["alpha"]
    _populate(account, today, n=size)
    client = login("nam1")
    # Session, user, visible set, account, then assessments, investments, needs, service cases.
    with django_assert_max_num_queries(8):
        response = client.get(f"/accounts/{account.pk}/more/")
    assert response.status_code == 200
    assert len(response.context["needs"]) == size
    assert len(response.context["service_cases"]) == size


def test_classification_is_one_query(classify, portfolio, django_assert_num_queries):
    account = portfolio["alpha"]
    params = ParameterSet.objects.create(model="four_s", version=7, parameters={}, is_active=True)
    older = ClassificationRunFactory(reference_date=dt.date(2026, 9, 1))
    ClassificationResultFactory(run=older, account=account, model="four_s", segment="status")
    failed = ClassificationRunFactory(reference_date=dt.date(2026, 10, 1), status="failed")
    ClassificationResultFactory(run=failed, account=account, model="four_s", segment="streamline")
    latest = ClassificationRunFactory(reference_date=dt.date(2026, 11, 1))
    ClassificationResultFactory(
        run=latest,
        account=account,
        model="four_s",
        segment="star",
        axes={"a": 70.0},
        flags=["key_account_candidate"],
        explanation=[{"indicator": "wallet_estimate", "points": 1.0}],
        parameter_set=params,
        current=True,
    )
    ClassificationOverride.objects.create(
        account=account, model="webster", segment="new_task", reason="Just met"
    )
    ClassificationOverride.objects.create(
        account=account, model="four_s", segment="status", reason="Old", is_active=False
    )
    with django_assert_num_queries(1):
        found = account_classification(account=account)
    result = found.results["four_s"]
    assert list(found.results) == ["four_s"]
    assert (result.segment, result.axes, result.flags) == (
        "star",
        {"a": 70.0},
        ["key_account_candidate"],
    )
    assert result.explanation == [{"indicator": "wallet_estimate", "points": 1.0}]
    assert (result.run_id, result.run.reference_date) == (latest.pk, dt.date(2026, 11, 1))
    assert str(result.parameter_set) == "4S v7 (active)"
    # An override of a model without a result is kept (its card says "not computed yet").
    assert found.overrides == {"webster": {"segment": "new_task", "reason": "Just met"}}
    assert [(r.run_id, r.reference_date, r.segments) for r in found.history] == [
        (older.pk, dt.date(2026, 9, 1), {"four_s": "status"}),
        (latest.pk, dt.date(2026, 11, 1), {"four_s": "star"}),
    ]


def test_classification_history_keeps_the_last_runs(portfolio):
    account = portfolio["alpha"]
    runs = [ClassificationRunFactory(reference_date=dt.date(2026, 1, 1 + i)) for i in range(4)]
    for run in runs:
        ClassificationResultFactory(run=run, account=account, model="webster", segment="rebuy")
    found = account_classification(account=account, runs=2)
    assert [r.run_id for r in found.history] == [runs[2].pk, runs[3].pk]
    assert found.results == {}
    assert found.overrides == {}


def test_transactions_page_without_a_count(login, portfolio, today):
    account = portfolio["alpha"]
    for day in range(16):  # one more than a page
        TransactionFactory(account=account, date=today - dt.timedelta(days=day))
    client = login("nam1")
    first = client.get(url(account))
    page = first.context["transactions"]
    assert (len(page.rows), page.number, page.has_next, page.has_previous) == (15, 1, True, False)
    assert page.rows[0].date == today  # newest first
    assert b'rel="next"' in first.content
    second = client.get(url(account), {"tx_page": 2})
    page = second.context["transactions"]
    assert (len(page.rows), page.has_next, page.has_previous) == (1, False, True)
    assert page.rows[0].date == today - dt.timedelta(days=15)
    assert client.get(url(account), {"tx_page": "9" * 40}).status_code == 200
    for bad in ("x", "-3", "0"):
        assert client.get(url(account), {"tx_page": bad}).context["transactions"].number == 1
    beyond = client.get(url(account), {"tx_page": 9})
    assert beyond.context["transactions"].rows == []
    assert b"No transactions on this page." in beyond.content


def test_account_and_family_are_one_query(nam1, portfolio, django_assert_max_num_queries):
    from dashboard.selectors import account_with_family
    from tests.factories import GlobalManagerFactory, UserFactory

    gam = GlobalManagerFactory(user=UserFactory(username="gam"))
    root = GlobalAccountFactory(customer__name="Group", owner=gam)
    de = AccountFactory(customer=root.customer, parent=root, owner=nam1, country="DE")
    AccountFactory(customer=root.customer, parent=root, owner=gam, country="FR")
    with django_assert_max_num_queries(2):  # the visible set, then the account with its family
        account, family = account_with_family(user=nam1.user, pk=de.pk)
    assert account == de
    assert family == [de]  # the group and the French account are not nam1's
    account, family = account_with_family(user=gam.user, pk=root.pk)
    assert [a.country for a in family] == ["", "DE", "FR"]
    alone, family = account_with_family(user=nam1.user, pk=portfolio["alpha"].pk)
    assert (alone, family) == (portfolio["alpha"], [])
    assert account_with_family(user=nam1.user, pk=portfolio["hidden"].pk) == (None, [])
