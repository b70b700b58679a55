"""The account page (360 view): visibility, content, revenue series, query count."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from accounts.models import Contact
from dashboard.selectors import account_revenue_by_month
from tests.dashboard.conftest import months_ago
from tests.factories import (
    AccountFactory,
    AccountPlanFactory,
    AccountTeamMemberFactory,
    AssessmentFactory,
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
    response = login("nam1").get(url(account))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1
    for text in [
        "Alpha Robotics",
        "Revenue by month, 24 months",
        "Meeting number 2",
        "Deal 1",
        "Need 0",
        "Case 2",
        "Objective 1",
        "Action 2",
        "Eva Exec",
        "Latest assessment",
        "Uncoupling KAM",
        "Customer&#x27;s yearly spend in our categories",  # readable indicator name
        "Not a key account, but strategic or star",  # readable flag
        "Support",  # team role
    ]:
        assert text in html, text
    data = json.loads(
        html.split('<script id="revenue-data" type="application/json">')[1].split("</script>")[0]
    )
    assert len(data["labels"]) == 24
    assert sum(data["sales"]) == 3000.0


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


@pytest.mark.parametrize("size", [1, 12])
def test_account_page_query_count_is_bounded(
    login, portfolio, classify, today, django_assert_max_num_queries, size
):
    account = portfolio["alpha"]
    _populate(account, today, n=size)
    classify(account, four_s="star", webster="repeated", bensaou="market_exchange")
    client = login("nam1")
    with django_assert_max_num_queries(22):
        assert client.get(url(account)).status_code == 200


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
