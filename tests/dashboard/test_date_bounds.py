"""The account page's forms refuse implausible dates with the models' message under the field,
keeping what was typed; a row saved before the rules still shows."""

import datetime as dt

import pytest
from django.utils import timezone

from kam.dates import MAX_YEARS_AHEAD, TOO_EARLY_MESSAGE, latest_planned_date
from relationships.models import (
    Assessment,
    CustomerNeed,
    Interaction,
    Opportunity,
    PlanAction,
    PlanObjective,
)
from tests.factories import AccountPlanFactory, OpportunityFactory, PlanObjectiveFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TOO_LATE = f"at most {MAX_YEARS_AHEAD} years ahead"


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def _need(account):
    data = {"description": "Consignment stock", "priority": "low", "status": "open"}
    return "needs", "need_form", "need", data, "Consignment stock"


def _opportunity(account):
    data = {
        "title": "Retrofit kit",
        "value": "9000",
        "currency": "EUR",
        "stage": "identified",
        "probability": "20",
    }
    return "opportunities", "opportunity_form", "opp", data, 'value="Retrofit kit"'


def _objective(account):
    plan = AccountPlanFactory(account=account)
    data = {"plan": plan.pk, "description": "Grow spare parts", "metric": "Volume"}
    return "objectives", "objective_form", "objective", data, 'value="Volume"'


def _action(account):
    objective = PlanObjectiveFactory(plan__account=account)
    data = {"objective": objective.pk, "description": "Call the buyer"}
    return "actions", "action_form", "action", data, 'value="Call the buyer"'


def _assessment(account):
    data = {
        "contract_type": "annual",
        "supplier_status": "approved",
        "comment": "New CPO, more open",
    }
    return "assessments", "assessment_form", "assessment", data, "New CPO, more open"


SECTIONS = {
    "needs": ("needs", CustomerNeed),
    "opportunities": ("opportunities", Opportunity),
    "objectives": ("plans", PlanObjective),
    "actions": ("plans", PlanAction),
    "assessments": ("assessment", Assessment),
}


@pytest.mark.parametrize(
    ("build", "field", "value", "message"),
    [
        (_need, "identified_on", "0001-01-01", TOO_EARLY_MESSAGE),
        (_need, "identified_on", "9999-12-31", "A need cannot be identified in the future."),
        (_opportunity, "expected_close", "0001-01-01", TOO_EARLY_MESSAGE),
        (_opportunity, "expected_close", "9999-12-31", TOO_LATE),
        (_objective, "due_on", "1899-12-31", TOO_EARLY_MESSAGE),
        (_action, "due_on", "9999-12-31", TOO_LATE),
        (_assessment, "assessed_on", "0001-01-01", TOO_EARLY_MESSAGE),
        (_assessment, "assessed_on", tomorrow(), "An assessment cannot be in the future."),
    ],
)
def test_implausible_dates_are_refused_under_the_field_keeping_the_input(
    login, portfolio, build, field, value, message
):
    account = portfolio["alpha"]
    url_name, form_name, prefix, data, kept = build(account)
    section, model = SECTIONS[url_name]
    response = login("nam1").post(
        f"/accounts/{account.pk}/{url_name}/", data | {field: value}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="{section}"' in html
    errors = response.context[form_name].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert f'id="id_{prefix}_{field}_error"' in html
    assert kept in html
    assert f'value="{value}"' in html  # the date typed stays, to be corrected
    assert not model.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [("0001-01-01T09:00", TOO_EARLY_MESSAGE), ("9999-12-31T09:00", "cannot be in the future")],
)
def test_an_implausible_interaction_time_is_refused_under_the_field(
    login, portfolio, value, message
):
    account = portfolio["alpha"]
    data = {"kind": "call", "occurred_at": value, "summary": "Frame contract", "sentiment": "0"}
    response = login("nam1").post(f"/accounts/{account.pk}/interactions/", data, **HTMX)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["occurred_at"])
    html = response.content.decode()
    assert 'id="id_occurred_at_error"' in html
    assert "Frame contract" in html
    assert not Interaction.objects.exists()


def test_without_htmx_the_page_comes_back_with_the_error(login, portfolio):
    account = portfolio["alpha"]
    data = _opportunity(account)[3] | {"expected_close": "0001-01-01"}
    response = login("nam1").post(f"/accounts/{account.pk}/opportunities/", data)
    assert response.status_code == 200
    assert b"<h1" in response.content
    assert response.context["opportunity_form"].errors == {"expected_close": [TOO_EARLY_MESSAGE]}
    assert not Opportunity.objects.exists()


def test_the_bounds_themselves_are_saved(login, portfolio):
    account = portfolio["alpha"]
    client = login("nam1")
    close = latest_planned_date().isoformat()
    data = _opportunity(account)[3] | {"expected_close": close}
    client.post(f"/accounts/{account.pk}/opportunities/", data, **HTMX)
    data = _need(account)[3] | {"identified_on": "1900-01-01"}
    client.post(f"/accounts/{account.pk}/needs/", data, **HTMX)
    assert Opportunity.objects.get().expected_close == latest_planned_date()
    assert CustomerNeed.objects.get().identified_on == dt.date(1900, 1, 1)


def test_a_row_saved_before_the_rules_still_shows(login, portfolio):
    account = portfolio["alpha"]
    OpportunityFactory(account=account, title="Legacy deal", expected_close=dt.date(1, 1, 1))
    response = login("nam1").get(f"/accounts/{account.pk}/")
    assert response.status_code == 200
    assert "Legacy deal" in response.content.decode()
