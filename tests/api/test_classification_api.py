"""Scores, recompute, runs, parameter sets, overrides, the segment filter, the summary."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classification.models import (
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
)
from classification.services import recompute_account_now, run_request
from tests.factories import (
    AccountPlanFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db


def test_recompute_one_account_then_read_scores(world):
    account = world.accounts["acc1"]
    TransactionFactory(account=account, date=dt.date.today() - dt.timedelta(days=30))
    response = world.client("nam1").post(f"/api/v1/accounts/{account.pk}/recompute/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["run"]["status"] == "succeeded"
    assert response["Location"] == body["run"]["url"]
    assert type(response["Location"]) is str
    assert {row["model"] for row in body["current"]} == {
        "webster",
        "millman_wilson",
        "bensaou",
        "four_s",
    }

    # Recompute again: the first results move to the history.
    world.client("nam1").post(f"/api/v1/accounts/{account.pk}/recompute/")
    scores = world.client("nam1").get(f"/api/v1/accounts/{account.pk}/scores/").json()
    assert scores["account"] == account.pk
    assert len(scores["current"]) == 4
    assert all(row["is_current"] for row in scores["current"])
    assert all(row["explanation"] for row in scores["current"])
    assert len(scores["history"]) == 4
    assert not any(row["is_current"] for row in scores["history"])

    detail = world.client("nam1").get(f"/api/v1/accounts/{account.pk}/").json()
    four_s = detail["classification"]["four_s"]
    current = ClassificationResult.objects.current().get(account=account, model="four_s")
    assert four_s["segment"] == current.segment
    assert four_s["axes"] == current.axes


@pytest.mark.parametrize("path", ["scores/", "recompute/"])
def test_scores_and_recompute_of_invisible_account_are_404(world, path):
    url = f"/api/v1/accounts/{world.accounts['acc1'].pk}/{path}"
    client = world.client("nam2")
    response = client.post(url) if path == "recompute/" else client.get(url)
    assert response.status_code == 404
    assert not ClassificationRun.objects.exists()


def test_run_request_202_then_200_for_the_running_one(world):
    client = world.client("lead")
    first = client.post("/api/v1/classification/runs/", {}, format="json")
    assert first.status_code == 202
    run = ClassificationRun.objects.get()
    assert type(first["Location"]) is str  # WSGI servers refuse str subclasses in headers
    assert first["Location"].endswith(f"/api/v1/classification/runs/{run.pk}/")
    assert first.json()["url"] == first["Location"]
    assert run.trigger == "api"
    assert run.requested_by == world.users["lead"]
    second = world.client("admin").post("/api/v1/classification/runs/", {}, format="json")
    assert second.status_code == 200
    assert second.json()["id"] == run.pk
    assert ClassificationRun.objects.count() == 1


@pytest.mark.parametrize(("role", "status"), [("gam", 403), ("nam1", 403), ("noprofile", 403)])
def test_only_admins_and_leads_start_population_runs(world, role, status):
    response = world.client(role).post("/api/v1/classification/runs/", {}, format="json")
    assert response.status_code == status
    assert not ClassificationRun.objects.exists()


def test_run_request_with_a_blank_reference_date_is_400_not_a_run(world):
    """Found by Schemathesis: a blank form field read as "no date" and started a run."""
    response = world.client("lead").post(
        "/api/v1/classification/runs/", {"reference_date": ""}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert "reference_date" in response.json()
    assert not ClassificationRun.objects.exists()


def test_runs_list_hides_runs_of_invisible_accounts(world):
    portfolio, _ = run_request(trigger="api", dispatch=False)
    mine, _ = run_request(trigger="api", account=world.accounts["acc1"], dispatch=False)
    theirs, _ = run_request(trigger="api", account=world.accounts["out"], dispatch=False)
    ids = {
        r["id"] for r in world.client("nam1").get("/api/v1/classification/runs/").json()["results"]
    }
    assert ids == {portfolio.pk, mine.pk}
    assert world.client("nam1").get(f"/api/v1/classification/runs/{theirs.pk}/").status_code == (
        404
    )
    assert len(world.client("admin").get("/api/v1/classification/runs/").json()["results"]) == 3


def test_parameter_set_create_and_validation(world):
    admin = world.client("admin")
    bad = admin.post(
        "/api/v1/classification/parameter-sets/",
        {"model": "four_s", "parameters": {"capacity": "lots", "nonsense": 1}},
        format="json",
    )
    assert bad.status_code == 400
    assert "parameters" in bad.json()
    assert not ParameterSet.objects.exists()
    good = admin.post(
        "/api/v1/classification/parameter-sets/",
        {"model": "four_s", "parameters": {}, "note": "defaults", "version": 42},
        format="json",
    )
    assert good.status_code == 201, good.json()
    assert good.json()["version"] == 1
    assert good.json()["is_active"] is True
    assert good.json()["author"] == world.users["admin"].pk
    forbidden = world.client("lead").post(
        "/api/v1/classification/parameter-sets/", {"model": "four_s"}, format="json"
    )
    assert forbidden.status_code == 403


def test_override_replaces_the_active_one(world):
    account = world.accounts["acc1"]
    client = world.client("nam1")
    url = "/api/v1/classification/overrides/"
    body = {"account": account.pk, "model": "four_s", "segment": "star", "reason": "Growth"}
    assert client.post(url, body, format="json").status_code == 201
    second = client.post(url, {**body, "segment": "strategic"}, format="json")
    assert second.status_code == 201
    active = ClassificationOverride.objects.get(account=account, is_active=True)
    assert active.segment == "strategic"
    assert active.author == world.users["nam1"]
    assert ClassificationOverride.objects.filter(account=account).count() == 2
    invalid = client.post(url, {**body, "segment": "network"}, format="json")
    assert invalid.status_code == 400
    assert "segment" in invalid.json()
    # Shown beside the computed segment in the account.
    detail = client.get(f"/api/v1/accounts/{account.pk}/").json()
    assert detail["classification"]["four_s"]["override"] == {
        "segment": "strategic",
        "reason": "Growth",
    }


def test_filter_accounts_by_segment(world):
    for key in ("acc1", "acc2"):
        recompute_account_now(account=world.accounts[key])
    segments = dict(
        ClassificationResult.objects.current()
        .filter(model="four_s")
        .values_list("account_id", "segment")
    )
    client = world.client("lead")
    for segment in set(segments.values()):
        found = client.get("/api/v1/accounts/", {"segment_four_s": segment}).json()["results"]
        assert {row["id"] for row in found} == {a for a, s in segments.items() if s == segment}
    bad = client.get("/api/v1/accounts/", {"segment_four_s": "network"})
    assert bad.status_code == 400
    key = client.get("/api/v1/accounts/", {"is_key_account": "true"}).json()["results"]
    assert [row["id"] for row in key] == [world.accounts["acc1"].pk]


def test_filter_transactions_by_date_range_kind_and_currency(world):
    account = world.accounts["acc1"]
    inside = TransactionFactory(account=account, date=dt.date(2026, 3, 1))
    TransactionFactory(account=account, date=dt.date(2026, 1, 1))
    TransactionFactory(account=account, date=dt.date(2026, 3, 2), kind="return")
    rows = (
        world.client("nam1")
        .get(
            "/api/v1/transactions/",
            {
                "date_after": "2026-02-01",
                "date_before": "2026-03-31",
                "kind": "sale",
                "currency": "EUR",
            },
        )
        .json()["results"]
    )
    assert [row["id"] for row in rows] == [inside.pk]


def test_portfolio_summary(world):
    today = dt.date.today()
    acc1, acc2 = world.accounts["acc1"], world.accounts["acc2"]
    TransactionFactory(account=acc1, date=today - dt.timedelta(days=10))  # 1000 in 12m
    TransactionFactory(account=acc1, date=today - dt.timedelta(days=400), unit_price=Decimal(50))
    TransactionFactory(account=acc2, date=today - dt.timedelta(days=10))  # not nam1's
    TransactionFactory(account=world.accounts["out"], date=today - dt.timedelta(days=10))
    OpportunityFactory(account=acc1, value=Decimal("2500"))
    OpportunityFactory(account=acc1, value=Decimal("999"), stage="won")
    objective = PlanObjectiveFactory(plan=AccountPlanFactory(account=acc1))
    PlanActionFactory(objective=objective, due_on=today - dt.timedelta(days=1))
    PlanActionFactory(objective=objective, due_on=today + dt.timedelta(days=1))

    data = world.client("nam1").get("/api/v1/portfolio/summary/").json()
    assert data["revenue_12m"] == "1000.00"
    assert data["revenue_prev_12m"] == "500.00"
    assert data["revenue_change"] == "1.0000"
    assert data["accounts"] == {
        "by_level": {"national": 1},
        "by_status": {"active": 1},
        "key_accounts": 1,
        "total": 1,
    }
    assert data["open_opportunities_value"] == "2500.00"
    assert data["overdue_actions"] == 1

    lead = world.client("lead").get("/api/v1/portfolio/summary/").json()
    assert lead["revenue_12m"] == "2000.00"
    assert lead["accounts"]["total"] == 2
    nobody = world.client("noprofile").get("/api/v1/portfolio/summary/").json()
    assert nobody["accounts"]["total"] == 0
    assert nobody["revenue_12m"] == "0.00"


def test_runs_and_scores_are_read_without_the_runs_population(world):
    """A run's population statistics are megabytes at 100,000 accounts; no answer shows them."""
    run = ClassificationRun.objects.create(
        trigger="manual", reference_date="2026-03-31", status="succeeded",
        population={"pools": list(range(50))},
    )  # fmt: skip
    client = world.client("lead")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/classification/runs/").status_code == 200
        assert client.get(f"/api/v1/classification/runs/{run.pk}/").status_code == 200
        account = world.accounts["acc1"].pk
        assert client.get(f"/api/v1/accounts/{account}/scores/").status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if '"population"' in q["sql"]]
