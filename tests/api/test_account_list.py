"""The accounts list's read-only fast path (`.values()` rows, `account_list_data`) answers
exactly what `AccountApiSerializer` answers for the same accounts, field for field, and keeps
the list's count, pages, filters, search, ordering and visibility."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from accounts.api.serializers import AccountApiSerializer
from accounts.models import Account
from classification.models import (
    ClassificationCurrent,
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
)
from classification.selectors import current_classifications
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _current(account: Account, run: ClassificationRun, model: str, segment: str, **extra):
    result = ClassificationResult.objects.create(
        run=run, account=account, model=model, segment=segment, **extra
    )
    ClassificationCurrent.objects.create(
        account=account, model=model, result=result, segment=segment, flags=result.flags
    )


@pytest.fixture
def scored(world):
    """Every kind of value the list shows: nulls (no parent, no opening date, no wallet
    estimate), decimals, dates, scores with axes and flags, an override beside a score and an
    override without one, and an account without any classification."""
    run = ClassificationRun.objects.create(
        trigger="manual", status="succeeded", reference_date=dt.date(2026, 11, 1)
    )
    acc1, acc2 = world.accounts["acc1"], world.accounts["acc2"]
    Account.objects.filter(pk=acc1.pk).update(wallet_estimate=Decimal("1234567.5"))
    Account.objects.filter(pk=acc2.pk).update(opened_on=None, wallet_estimate=None)
    _current(acc1, run, "four_s", "star", axes={"x": 0.5, "y": None}, flags=["declining"])
    _current(acc1, run, "webster", "key_account", axes={"importance": 1.0})
    ClassificationOverride.objects.create(
        account=acc1, model="four_s", segment="strategic", reason="Board decision"
    )
    ClassificationOverride.objects.create(
        account=acc2, model="bensaou", segment="captive_buyer", reason="Known lock-in"
    )
    ClassificationOverride.objects.create(
        account=acc2, model="webster", segment="key_account", reason="Old", is_active=False
    )
    extra = AccountFactory(
        owner=world.managers["nam1"],
        customer=CustomerFactory(name="Beta Ünïcode & Co"),
        wallet_estimate=Decimal("0.00"),
    )
    return [acc1, acc2, extra]


def _expected(accounts) -> list[dict]:
    """What the ModelSerializer answers (the list's answer before the fast path)."""
    accounts = list(Account.objects.filter(pk__in=[a.pk for a in accounts]))
    classifications = current_classifications(account_ids=[a.pk for a in accounts])
    data = AccountApiSerializer(
        accounts, many=True, context={"classifications": classifications}
    ).data
    return {row["id"]: row for row in data}


@pytest.mark.parametrize("role", ["lead", "nam1", "gam", "admin"])
def test_the_list_answers_what_the_serializer_answers(world, scored, role):
    response = world.client(role).get("/api/v1/accounts/", {"page_size": 50})
    assert response.status_code == 200
    body = response.json()
    visible = {world.accounts[key].pk for key in world.visible[role]}
    if role in ("lead", "nam1", "admin"):
        visible.add(scored[2].pk)
    assert {row["id"] for row in body["results"]} == visible
    assert body["count"] == len(visible)
    expected = _expected(Account.objects.filter(pk__in=visible))
    for row in body["results"]:
        want = JSONRenderer().render(expected[row["id"]])
        # Field for field (names, order, values and their JSON types), then byte for byte.
        assert list(row) == list(AccountApiSerializer.Meta.fields)
        for name in row:
            assert row[name] == expected[row["id"]][name], name
        got = JSONRenderer().render(
            next(r for r in response.data["results"] if r["id"] == row["id"])
        )
        assert got == want


def test_values_are_formatted_as_before(world, scored):
    rows = {
        row["id"]: row for row in world.client("lead").get("/api/v1/accounts/").json()["results"]
    }
    acc1, acc2, extra = scored
    assert rows[acc1.pk]["wallet_estimate"] == "1234567.50"
    assert rows[acc1.pk]["opened_on"] == "2020-01-01"
    assert rows[acc1.pk]["created_at"].endswith("Z")
    assert rows[acc2.pk]["wallet_estimate"] is None
    assert rows[acc2.pk]["opened_on"] is None
    assert rows[extra.pk]["wallet_estimate"] == "0.00"
    assert rows[extra.pk]["parent"] is None
    assert rows[extra.pk]["customer_name"] == "Beta Ünïcode & Co"
    four_s = rows[acc1.pk]["classification"]["four_s"]
    assert four_s == {
        "segment": "star",
        "axes": {"x": 0.5, "y": None},
        "flags": ["declining"],
        "override": {"segment": "strategic", "reason": "Board decision"},
    }
    assert rows[acc1.pk]["classification"]["millman_wilson"] is None
    assert rows[acc2.pk]["classification"]["bensaou"] == {
        "segment": None,
        "axes": {},
        "flags": [],
        "override": {"segment": "captive_buyer", "reason": "Known lock-in"},
    }
    assert rows[acc2.pk]["classification"]["webster"] is None  # its override is inactive
    assert set(rows[extra.pk]["classification"].values()) == {None}


def test_pages_count_filters_search_and_ordering_still_apply(world, scored):
    client = world.client("lead")
    for n in range(7):
        AccountFactory(owner=world.managers["nam2"], customer=CustomerFactory(name=f"Page {n}"))
    first = client.get("/api/v1/accounts/", {"page_size": 4}).json()
    second = client.get("/api/v1/accounts/", {"page_size": 4, "page": 2}).json()
    last = client.get("/api/v1/accounts/", {"page_size": 4, "page": "last"}).json()
    assert first["count"] == second["count"] == last["count"] == 10
    assert first["previous"] is None
    assert first["next"].endswith("page=2&page_size=4")
    assert len(last["results"]) == 2
    ids = [r["id"] for r in first["results"] + second["results"] + last["results"]]
    assert len(set(ids)) == 10
    assert client.get("/api/v1/accounts/", {"page": 4, "page_size": 4}).status_code == 404

    names = [r["customer_name"] for r in client.get("/api/v1/accounts/").json()["results"]]
    assert names == sorted(names)
    by_name_desc = client.get("/api/v1/accounts/", {"ordering": "-customer__name"}).json()
    assert [r["customer_name"] for r in by_name_desc["results"]] == sorted(names, reverse=True)

    found = client.get("/api/v1/accounts/", {"search": "Ünïcode"}).json()
    assert (found["count"], found["results"][0]["id"]) == (1, scored[2].pk)
    stars = client.get("/api/v1/accounts/", {"segment_four_s": "star"}).json()
    assert [r["id"] for r in stars["results"]] == [world.accounts["acc1"].pk]
    french = client.get("/api/v1/accounts/", {"country": "FR", "page_size": 50}).json()
    assert {r["country"] for r in french["results"]} == {"FR"}
    assert french["count"] == len(french["results"])


def test_an_empty_portfolio_is_an_empty_first_page(world):
    body = world.client("noprofile").get("/api/v1/accounts/").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    assert world.client("noprofile").get("/api/v1/accounts/", {"page": 2}).status_code == 404


def test_the_list_costs_six_queries_with_token_authentication(
    world, scored, django_assert_max_num_queries
):
    """Token, visible ids, count, page, current scores, overrides (the token is counted here;
    force_authenticate elsewhere skips it)."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token = Token.objects.create(user=world.users["lead"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/accounts/", {"page_size": 50})
    assert response.status_code == 200
    assert response.json()["count"] == 3
