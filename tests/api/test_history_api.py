"""The audit trail through the API: every write records who made it, and
`/api/v1/accounts/{id}/history/` shows an account's trail to those who see the account."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone

from accounts.imports import transactions_import
from accounts.models import Account, AccountTeamMember, Customer, Transaction
from classification.models import ClassificationOverride, ParameterSet
from relationships.models import (
    AccountPlan,
    Assessment,
    Opportunity,
    PlanAction,
    PlanObjective,
    RelationshipInvestment,
)
from tests.factories import (
    AccountPlanFactory,
    AdminUserFactory,
    ExchangeRateFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Audited:
    path: str
    model: type
    create: Callable  # (world) -> body
    creator: str
    patch: dict | None = None
    updater: str = ""
    deleter: str = ""  # "" when the API deletes nothing of this kind
    then: tuple = ()  # what the create itself changes next (a new parameter set is activated)


def _acc1(w) -> int:
    return w.accounts["acc1"].pk


AUDITED = [
    Audited(
        "customers",
        Customer,
        lambda w: {"name": "Newco", "country": "DE"},
        "admin",
        {"industry": "Chemicals"},
        "admin",
    ),
    Audited(
        "accounts",
        Account,
        lambda w: {
            "customer": w.accounts["acc1"].customer_id,
            "level": "national",
            "country": "ES",
            "owner": w.managers["nam1"].pk,
        },
        "admin",
        {"status": "dormant"},
        "nam1",
    ),
    Audited(
        "team-members",
        AccountTeamMember,
        lambda w: {
            "account": _acc1(w),
            "manager": w.managers["nam1"].pk,
            "role": "support",
            "start_date": "2026-01-01",
        },
        "lead",
        {"role": "executive_sponsor"},
        "lead",
        "lead",
    ),
    Audited(
        "transactions",
        Transaction,
        lambda w: {
            "account": _acc1(w),
            "date": "2026-05-01",
            "quantity": "2",
            "unit_price": "10.00",
            "currency": "EUR",
        },
        "nam1",
        {"description": "corrected"},
        "admin",
        "admin",
    ),
    Audited(
        "opportunities",
        Opportunity,
        lambda w: {"account": _acc1(w), "title": "Deal", "value": "1000.00"},
        "nam1",
        {"probability": 50},
        "nam1",
    ),
    Audited(
        "plans",
        AccountPlan,
        lambda w: {"account": _acc1(w), "period_start": "2027-01-01", "period_end": "2027-12-31"},
        "nam1",
        {"strategy": "Defend"},
        "lead",
    ),
    Audited(
        "plan-objectives",
        PlanObjective,
        lambda w: {"plan": AccountPlanFactory(account=w.accounts["acc1"]).pk, "description": "G"},
        "nam1",
        {"target": "+10 %"},
        "nam1",
    ),
    Audited(
        "plan-actions",
        PlanAction,
        lambda w: {
            "objective": PlanObjectiveFactory(plan__account=w.accounts["acc1"]).pk,
            "description": "Call",
            "due_on": "2026-09-01",
        },
        "nam1",
        {"description": "Call the CFO"},
        "nam1",
    ),
    Audited(
        "assessments",
        Assessment,
        lambda w: {"account": _acc1(w), "assessed_on": "2026-02-02", "satisfaction": 4},
        "nam1",
        {"comment": "Fine"},
        "nam1",
    ),
    Audited(
        "investments",
        RelationshipInvestment,
        lambda w: {
            "account": _acc1(w),
            "side": "supplier",
            "intensity": 2,
            "start_date": "2025-01-01",
        },
        "nam1",
        {"intensity": 3},
        "nam1",
    ),
    Audited(
        "classification/overrides",
        ClassificationOverride,
        lambda w: {"account": _acc1(w), "model": "four_s", "segment": "star", "reason": "Board"},
        "nam1",
    ),
    Audited(
        "classification/parameter-sets",
        ParameterSet,
        lambda w: {"model": "four_s", "parameters": {}, "note": "try"},
        "admin",
        then=(("~", "admin"),),
    ),
]


@pytest.mark.parametrize("audited", AUDITED, ids=[a.path for a in AUDITED])
def test_every_api_write_records_who_made_it(world, audited):
    ExchangeRateFactory(currency="EUR", valid_from=dt.date(2000, 1, 1), rate=1)
    base = f"/api/v1/{audited.path}/"
    created = world.client(audited.creator).post(base, audited.create(world), format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    expected = [("+", audited.creator), *audited.then]
    if audited.patch is not None:
        response = world.client(audited.updater).patch(f"{base}{pk}/", audited.patch, format="json")
        assert response.status_code == 200, response.json()
        expected.append(("~", audited.updater))
    if audited.deleter:
        response = world.client(audited.deleter).delete(f"{base}{pk}/")
        assert response.status_code == 204
        expected.append(("-", audited.deleter))

    records = audited.model.history.filter(id=pk).order_by("history_id")
    assert [(r.history_type, r.history_user.username) for r in records] == expected
    if audited.patch is not None:
        field, value = next(iter(audited.patch.items()))
        changes = {c.field: c.new for c in records[1].diff_against(records[0]).changes}
        assert str(changes[field]).rstrip("0") == str(value).rstrip("0")


def test_a_new_override_records_the_old_ones_step_down(world):
    client = world.client("nam1")
    body = {"account": _acc1(world), "model": "four_s", "segment": "star", "reason": "Board"}
    first = client.post("/api/v1/classification/overrides/", body, format="json").json()["id"]
    client.post("/api/v1/classification/overrides/", body | {"segment": "strategic"}, format="json")

    latest = ClassificationOverride.history.filter(id=first).latest("history_id")
    assert (latest.history_type, latest.is_active, latest.history_user.username) == (
        "~",
        False,
        "nam1",
    )
    assert latest.history_change_reason == "replaced by a new override"


# --- the history endpoint ---------------------------------------------------------------------


def _url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/history/"


def test_the_trail_lists_the_account_and_everything_attached_newest_first(world):
    acc1, client = world.accounts["acc1"], world.client("nam1")
    opportunity = OpportunityFactory(account=acc1, title="Retrofit", probability=30)
    objective = PlanObjectiveFactory(plan__account=acc1, description="Win plant two")
    PlanActionFactory(objective=objective, description="Visit")
    OpportunityFactory(account=world.accounts["acc2"])  # another account: not in acc1's trail
    client.patch(f"/api/v1/opportunities/{opportunity.pk}/", {"probability": 60}, format="json")
    client.patch(f"/api/v1/accounts/{acc1.pk}/", {"status": "dormant"}, format="json")

    response = client.get(_url(acc1))

    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert body["count"] == len(results) == 8  # customer, account x2, opp x2, plan, obj, action
    assert [(r["model"], r["change"], r["who"]) for r in results[:2]] == [
        ("account", "~", "nam1"),
        ("opportunity", "~", "nam1"),
    ]
    assert results[0]["object"] == str(acc1)
    assert results[0]["changes"] == [{"field": "status", "old": "active", "new": "dormant"}]
    assert results[1]["changes"] == [{"field": "probability", "old": 30, "new": 60}]
    assert results[1]["object_id"] == opportunity.pk
    assert results[1]["object"] == "Retrofit"
    assert {(r["model"], r["change"]) for r in results[2:]} == {
        ("customer", "+"),
        ("account", "+"),
        ("opportunity", "+"),
        ("plan", "+"),
        ("plan_objective", "+"),
        ("plan_action", "+"),
    }
    created = [r for r in results if r["change"] == "+"]
    assert all(r["who"] is None and r["reason"] == "system" for r in created)
    assert all(r["changes"] == [] for r in created)
    whens = [r["when"] for r in results]
    assert whens == sorted(whens, reverse=True)


def test_deleted_objects_stay_in_the_trail(world):
    acc1 = world.accounts["acc1"]
    member = world.client("lead").post(
        "/api/v1/team-members/",
        {
            "account": acc1.pk,
            "manager": acc1.owner_id,
            "role": "support",
            "start_date": "2026-01-01",
        },
        format="json",
    )
    world.client("lead").delete(f"/api/v1/team-members/{member.json()['id']}/")

    results = world.client("nam1").get(_url(acc1), {"model": "team_member"}).json()["results"]

    assert [(r["change"], r["who"]) for r in results] == [("-", "lead"), ("+", "lead")]
    assert results[0]["object"] == f"{acc1.owner} - Support on {acc1}"


def test_the_trail_pages_with_the_api_pagination(world):
    acc1 = world.accounts["acc1"]
    TransactionFactory.create_batch(5, account=acc1)

    first = world.client("nam1").get(_url(acc1), {"page_size": 3}).json()
    second = world.client("nam1").get(_url(acc1), {"page_size": 3, "page": 2}).json()

    assert first["count"] == second["count"] == 7  # customer, account, 5 transactions
    assert len(first["results"]) == len(second["results"]) == 3
    assert first["next"].endswith("page=2&page_size=3")
    seen = {(r["model"], r["object_id"]) for r in first["results"] + second["results"]}
    assert len(seen) == 6


def test_filters_by_model_and_day(world):
    acc1 = world.accounts["acc1"]
    TransactionFactory(account=acc1)
    today = timezone.localdate()
    client = world.client("nam1")

    def models(**params) -> list[str]:
        return [r["model"] for r in client.get(_url(acc1), params).json()["results"]]

    assert models(model="transaction") == ["transaction"]
    assert sorted(models(since=today.isoformat(), until=today.isoformat())) == [
        "account",
        "customer",
        "transaction",
    ]
    assert models(since=(today + dt.timedelta(days=1)).isoformat()) == []
    assert models(until=(today - dt.timedelta(days=1)).isoformat()) == []
    assert models(since=today.isoformat(), until=(today - dt.timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"model": "contact"}, "model"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"page_size": "0"}, "page_size"),
        ({"until": ""}, "until"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_filters_are_400_with_the_field(world, params, field):
    response = world.client("nam1").get(_url(world.accounts["acc1"]), params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_outside_unknown_and_anonymous(world):
    nam1 = world.client("nam1")
    assert nam1.get(_url(world.accounts["out"])).status_code == 404
    assert nam1.get("/api/v1/accounts/999999/history/").status_code == 404
    assert world.client("anon").get(_url(world.accounts["acc1"])).status_code == 401
    assert world.client("admin").get(_url(world.accounts["out"])).status_code == 200


def _busy_account(world) -> Account:
    """Changes of every kind in the trail, several of each, created and changed."""
    acc1 = world.accounts["acc1"]
    admin = world.client("admin")
    lead = world.client("lead")
    for n in range(4):
        opportunity = OpportunityFactory(account=acc1)
        admin.patch(f"/api/v1/opportunities/{opportunity.pk}/", {"probability": 40 + n})
        transaction = TransactionFactory(account=acc1)
        admin.patch(f"/api/v1/transactions/{transaction.pk}/", {"description": f"fixed {n}"})
        action = PlanActionFactory(objective__plan__account=acc1)
        admin.patch(f"/api/v1/plan-actions/{action.pk}/", {"description": f"call {n}"})
        member = lead.post(
            "/api/v1/team-members/",
            {"account": acc1.pk, "manager": acc1.owner_id, "role": "support",
             "start_date": f"2026-01-0{n + 1}"},
            format="json",
        ).json()  # fmt: skip
        lead.patch(f"/api/v1/team-members/{member['id']}/", {"role": "executive_sponsor"})
        admin.post(
            "/api/v1/classification/overrides/",
            {"account": acc1.pk, "model": "four_s", "segment": "star", "reason": f"r{n}"},
            format="json",
        )
        admin.post(
            "/api/v1/assessments/",
            {"account": acc1.pk, "assessed_on": f"2026-03-0{n + 1}", "satisfaction": 4},
            format="json",
        )
        admin.post(
            "/api/v1/investments/",
            {"account": acc1.pk, "side": "customer", "intensity": 2, "start_date": "2025-01-01"},
            format="json",
        )
        admin.patch(f"/api/v1/accounts/{acc1.pk}/", {"status": ["dormant", "active"][n % 2]})
    return acc1


# The account (1), the count (1), the page (1), two per model on the page (11 models at most),
# the managers and customers that the entries' names mention (2): whatever the page size.
MAX_QUERIES = 3 + 2 * 11 + 2


def test_the_query_count_does_not_grow_with_the_page(world, django_assert_max_num_queries):
    acc1 = _busy_account(world)
    client = world.client("nam1")

    for size in (5, 50):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = client.get(_url(acc1), {"page_size": size})
        results = response.json()["results"]
        assert len(results) == size
        assert response.json()["count"] > 50
    assert len({r["model"] for r in results}) >= 10  # the page of 50 spans (almost) every model


def test_the_trail_outlives_the_user_who_imported(world):
    """The transaction history's user has no database constraint: a user deleted through the
    ORM is set to NULL on their rows (Django's SET_NULL); one removed by SQL leaves an id that
    matches nobody. Either way the trail shows the rows, by nobody."""
    ExchangeRateFactory(currency="EUR", valid_from=dt.date(2000, 1, 1), rate=1)
    acc1 = world.accounts["acc1"]
    row = {"account": acc1.pk, "kind": "sale", "date": "2026-05-01", "quantity": "1",
           "unit_price": "10", "currency": "EUR"}  # fmt: skip
    orm, sql = AdminUserFactory(username="orm-gone"), AdminUserFactory(username="sql-gone")
    for user, reference in ((orm, "ORM-1"), (sql, "SQL-1")):
        report = transactions_import(user=user, rows=[row | {"external_reference": reference}])
        assert report.created == 1

    orm.delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_user WHERE id = %s", [sql.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # nothing holds the id: no error

    history = Transaction.history.order_by("external_reference")
    assert list(history.values_list("external_reference", "history_user_id")) == [
        ("ORM-1", None),
        ("SQL-1", sql.pk),
    ]
    results = world.client("nam1").get(_url(acc1), {"model": "transaction"}).json()["results"]
    assert sorted((r["change"], r["who"], r["reason"]) for r in results) == [
        ("+", None, "import: import"),
        ("+", None, "import: import"),
    ]
