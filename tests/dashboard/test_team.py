"""The team view: who may see it, the per-manager figures, global families, query counts."""

from decimal import Decimal

import pytest
from django.utils import timezone

from classification.models import ClassificationRun
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AccountTeamMemberFactory,
    ClassificationResultFactory,
    GlobalAccountFactory,
    GlobalManagerFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def rows_by_user(response) -> dict[str, dict]:
    return {r["manager"].user.username: r for r in response.context["rows"]}


def test_anonymous_is_sent_to_login(client):
    response = client.get("/team/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/team/"


def test_account_manager_gets_a_friendly_403(login, portfolio):
    response = login("nam1").get("/team/")
    assert response.status_code == 403
    assert b"only for sales leads and global managers" in response.content
    assert b'href="/team/"' not in response.content  # no nav link either


def test_lead_sees_each_manager_with_accounts_revenue_and_mix(login, portfolio, today, classify):
    TransactionFactory(account=portfolio["alpha"], date=today, unit_price=Decimal("100"))
    TransactionFactory(account=portfolio["gamma"], date=today, unit_price=Decimal("25"))
    classify(portfolio["alpha"], four_s="strategic")
    classify(portfolio["beta"], four_s="streamline")
    classify(portfolio["hidden"], four_s="strategic")
    response = login("lead").get("/team/")
    assert response.status_code == 200
    assert response.content.count(b"<h1") == 1
    rows = rows_by_user(response)
    assert set(rows) == {"lead", "nam1", "nam2"}
    assert rows["nam1"]["accounts"] == 2
    assert rows["nam1"]["revenue_12m"] == Decimal("1000.00")
    assert rows["nam1"]["mix"] == {"strategic": 1, "streamline": 1}
    assert rows["nam2"]["accounts"] == 1
    assert rows["nam2"]["revenue_12m"] == Decimal("250.00")
    assert rows["nam2"]["mix"] == {}
    assert rows["lead"]["accounts"] == 0
    html = response.content.decode()
    assert "Hidden Steel" not in html
    assert "stranger" not in html
    assert 'href="/team/" aria-current="page"' in html


def test_a_colleague_on_an_account_team_is_no_row_of_the_team(login, portfolio):
    """Someone from another team on a visible account's team owns none of the lead's accounts:
    a row for them would show a false "0 accounts, 0.00" instead of their portfolio."""
    colleague = AccountManagerFactory(user=UserFactory(username="colleague"))
    AccountFactory(customer__name="Colleague's own", owner=colleague)
    AccountTeamMemberFactory(account=portfolio["alpha"], manager=colleague, role="support")
    response = login("lead").get("/team/")
    assert set(rows_by_user(response)) == {"lead", "nam1", "nam2"}
    assert "Colleague&#x27;s own" not in response.content.decode()


def test_global_manager_sees_national_accounts_side_by_side(login, portfolio, nam1, nam2):
    gm = GlobalManagerFactory(user=UserFactory(username="gm"))
    group = GlobalAccountFactory(customer__name="Omega Group", owner=gm)
    de = AccountFactory(customer=group.customer, parent=group, owner=nam1, country="DE")
    fr = AccountFactory(customer=group.customer, parent=group, owner=nam2, country="FR")
    other = AccountManagerFactory()
    AccountFactory(customer__name="Elsewhere", owner=other)
    response = login("gm").get("/team/")
    assert response.status_code == 200
    rows = rows_by_user(response)
    assert rows["nam1"]["accounts"] == 1  # only the national account under gm's global
    assert rows["nam2"]["accounts"] == 1
    assert rows["gm"]["accounts"] == 1
    families = response.context["families"]
    assert len(families) == 1
    assert families[0]["global"] == group
    assert [a.pk for a in families[0]["nationals"]] == [de.pk, fr.pk]
    html = response.content.decode()
    assert f'href="/accounts/{fr.pk}/"' in html
    assert "Elsewhere" not in html


def test_admin_sees_the_team_view(client, portfolio):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    response = client.get("/team/")
    assert response.status_code == 200
    assert {"nam1", "nam2", "stranger"} <= set(rows_by_user(response))


@pytest.mark.parametrize("size", [2, 12])
def test_team_query_count_is_bounded(login, lead, today, django_assert_max_num_queries, size):
    run = ClassificationRun.objects.create(
        trigger="manual", reference_date=today, status="succeeded", finished_at=timezone.now()
    )
    for _ in range(size):
        manager = AccountManagerFactory(reports_to=lead)
        for account in AccountFactory.create_batch(2, owner=manager):
            TransactionFactory(account=account, date=today)
            ClassificationResultFactory(
                run=run, account=account, model="four_s", segment="star", current=True
            )
    gm_group = GlobalAccountFactory(owner=lead)
    AccountFactory.create_batch(size, parent=gm_group, owner=lead)
    client = login("lead")
    with django_assert_max_num_queries(10):
        response = client.get("/team/")
    assert len(response.context["rows"]) == size + 1


def test_global_families_are_shown_twenty_at_a_time(login, lead):
    """The head of 100,000 accounts had every one of 4,500 families on one 10 MB page."""
    groups = [GlobalAccountFactory(customer__name=f"Group {i:02}", owner=lead) for i in range(22)]
    for group in groups:
        AccountFactory(customer=group.customer, parent=group, owner=lead, country="DE")
    GlobalAccountFactory(customer__name="Group without nationals", owner=lead)
    client = login("lead")

    first = client.get("/team/")
    second = client.get("/team/", {"families_page": 2})

    shown = [f["global"].customer.name for f in first.context["families"]]
    shown += [f["global"].customer.name for f in second.context["families"]]
    assert shown == [f"Group {i:02}" for i in range(22)]
    assert len(first.context["families"]) == 20
    assert first.context["families_page"].paginator.count == 22
    assert 'href="?families_page=2" rel="next"' in first.content.decode()
