"""Implausible business dates are a 400 on their field, on create and update, never a 500; the
bounds themselves are accepted. The rules live on the model fields (relationships/dates.py)."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Transaction
from kam.dates import MAX_YEARS_AHEAD, TOO_EARLY_MESSAGE, latest_planned_date
from relationships.models import Assessment, CustomerNeed, Opportunity
from tests.factories import (
    AccountPlanFactory,
    CustomerNeedFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
)

pytestmark = pytest.mark.django_db

TOO_LATE = f"at most {MAX_YEARS_AHEAD} years ahead"


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def beyond() -> str:
    return (latest_planned_date() + dt.timedelta(days=1)).isoformat()


def test_the_qa_findings_are_400s_on_their_field(world):
    """The three requests of the QA pass, as nam1 on their own account."""
    client, account = world.client("nam1"), world.accounts["acc1"].pk
    response = client.post(
        "/api/v1/assessments/", {"account": account, "assessed_on": "0001-01-01"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"assessed_on": [TOO_EARLY_MESSAGE]}
    response = client.post(
        "/api/v1/needs/",
        {"account": account, "description": "x", "identified_on": "9999-12-31"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"identified_on": ["A need cannot be identified in the future."]}
    response = client.post(
        "/api/v1/opportunities/",
        {"account": account, "title": "x", "value": "1", "expected_close": "0001-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"expected_close": [TOO_EARLY_MESSAGE]}
    assert [m.objects.count() for m in (Assessment, CustomerNeed, Opportunity)] == [0, 0, 0]


def _bodies(world) -> dict[str, tuple[str, dict]]:
    account = world.accounts["acc1"]
    plan = AccountPlanFactory(account=account)
    objective = PlanObjectiveFactory(plan=plan)
    return {
        "interactions": ("interactions", {"account": account.pk, "summary": "x"}),
        "needs": ("needs", {"account": account.pk, "description": "x"}),
        "assessments": ("assessments", {"account": account.pk}),
        "opportunities": ("opportunities", {"account": account.pk, "title": "x", "value": "1"}),
        "plans": ("plans", {"account": account.pk, "period_start": "2026-01-01"}),
        "plan-objectives": ("plan-objectives", {"plan": plan.pk, "description": "x"}),
        "plan-actions": ("plan-actions", {"objective": objective.pk, "description": "x"}),
        "investments": ("investments", {"account": account.pk, "side": "customer", "intensity": 1}),
        "service-cases": ("service-cases", {"account": account.pk, "subject": "x"}),
        "transactions": (
            "transactions",
            {"account": account.pk, "quantity": "1", "unit_price": "1", "currency": "EUR"},
        ),
    }


@pytest.mark.parametrize(
    ("resource", "field", "value", "message"),
    [
        ("interactions", "occurred_at", "0001-01-01T00:00:00Z", TOO_EARLY_MESSAGE),
        ("interactions", "occurred_at", "9999-12-31T00:00:00Z", "cannot be in the future"),
        ("needs", "identified_on", "1899-12-31", TOO_EARLY_MESSAGE),
        ("needs", "identified_on", tomorrow(), "cannot be identified in the future"),
        ("assessments", "assessed_on", tomorrow(), "An assessment cannot be in the future."),
        ("opportunities", "expected_close", "9999-12-31", TOO_LATE),
        ("plans", "period_end", beyond(), TOO_LATE),
        ("plan-objectives", "due_on", "0001-01-01", TOO_EARLY_MESSAGE),
        ("plan-actions", "due_on", "9999-12-31", TOO_LATE),
        ("plan-actions", "due_on", "1899-12-31", TOO_EARLY_MESSAGE),
        ("investments", "start_date", "0001-01-01", TOO_EARLY_MESSAGE),
        ("service-cases", "opened_at", "9999-12-31T00:00:00Z", "cannot be opened in the future"),
        ("transactions", "date", "1899-12-31", TOO_EARLY_MESSAGE),
    ],
)
def test_create_with_an_implausible_date_is_a_400_on_the_field(
    world, resource, field, value, message
):
    path, body = _bodies(world)[resource]
    response = world.client("nam1").post(f"/api/v1/{path}/", body | {field: value}, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_a_year_one_time_west_or_east_of_utc_is_a_400_not_a_500(world):
    client, account = world.client("nam1"), world.accounts["acc1"].pk
    for value in ("0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00-05:00"):
        response = client.post(
            "/api/v1/interactions/",
            {"account": account, "summary": "x", "occurred_at": value},
            format="json",
        )
        assert response.status_code == 400, (value, response.content)
        assert list(response.json()) == ["occurred_at"]


def test_update_with_an_implausible_date_is_a_400_and_changes_nothing(world):
    need = CustomerNeedFactory(account=world.accounts["acc1"], identified_on=dt.date(2026, 1, 15))
    response = world.client("nam1").patch(
        f"/api/v1/needs/{need.pk}/", {"identified_on": "0001-01-01"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"identified_on": [TOO_EARLY_MESSAGE]}
    need.refresh_from_db()
    assert need.identified_on == dt.date(2026, 1, 15)


def test_marking_an_action_done_in_the_future_is_a_400_on_done_on(world):
    action = PlanActionFactory(objective__plan__account=world.accounts["acc1"])
    response = world.client("nam1").post(
        f"/api/v1/plan-actions/{action.pk}/done/", {"done_on": tomorrow()}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"done_on": ["An action cannot be done in the future."]}
    action.refresh_from_db()
    assert (action.status, action.done_on) == ("open", None)


def test_the_bounds_themselves_are_accepted(world):
    client, account = world.client("nam1"), world.accounts["acc1"].pk
    response = client.post(
        "/api/v1/needs/",
        {"account": account, "description": "x", "identified_on": "1900-01-01"},
        format="json",
    )
    assert response.status_code == 201, response.content
    close = latest_planned_date().isoformat()
    response = client.post(
        "/api/v1/opportunities/",
        {"account": account, "title": "x", "value": "1", "expected_close": close},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["expected_close"] == close
    response = client.post(
        "/api/v1/transactions/",
        {**_bodies(world)["transactions"][1], "date": "1900-01-01"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Transaction.objects.get().date == dt.date(1900, 1, 1)
