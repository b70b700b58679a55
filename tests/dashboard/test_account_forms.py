"""The forms of the account page: needs, opportunities (and their stage), plan objectives and
actions (and marking one done), assessments and segment overrides. Each one with and without
htmx, with its validation, and refused outside the user's portfolio."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from classification.models import ClassificationOverride
from relationships.models import Assessment, CustomerNeed, Opportunity, PlanAction, PlanObjective
from tests.factories import (
    AccountPlanFactory,
    AssessmentFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def fragment(response, section: str) -> str:
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="{section}"' in html
    assert "<html" not in html  # a fragment, not a page
    return html


def today_iso() -> str:
    return timezone.localdate().isoformat()


# --- the generic rules, for every form ------------------------------------------------------


def _need(account):
    return f"/accounts/{account.pk}/needs/", {
        "description": "x",
        "priority": "high",
        "status": "open",
    }


def _opportunity(account):
    return f"/accounts/{account.pk}/opportunities/", {
        "title": "x",
        "value": "10",
        "currency": "EUR",
        "stage": "identified",
        "probability": "10",
    }


def _stage(account):
    opp = OpportunityFactory(account=account)
    return f"/accounts/{account.pk}/opportunities/{opp.pk}/stage/", {"stage": "qualified"}


def _objective(account):
    plan = AccountPlanFactory(account=account)
    return f"/accounts/{account.pk}/objectives/", {"plan": plan.pk, "description": "x"}


def _action(account):
    objective = PlanObjectiveFactory(plan__account=account)
    return f"/accounts/{account.pk}/actions/", {
        "objective": objective.pk,
        "description": "x",
        "due_on": today_iso(),
    }


def _done(account):
    action = PlanActionFactory(objective__plan__account=account)
    return f"/accounts/{account.pk}/actions/{action.pk}/done/", {}


def _assessment(account):
    return f"/accounts/{account.pk}/assessments/", {
        "assessed_on": today_iso(),
        "contract_type": "annual",
        "supplier_status": "approved",
    }


def _override(account):
    return f"/accounts/{account.pk}/overrides/", {
        "model": "four_s",
        "segment": "star",
        "reason": "x",
    }


FORMS = {
    "need": _need,
    "opportunity": _opportunity,
    "stage": _stage,
    "objective": _objective,
    "action": _action,
    "done": _done,
    "assessment": _assessment,
    "override": _override,
}


def snapshot():
    return [
        (m.__name__, list(m.objects.order_by("pk").values()))
        for m in (
            CustomerNeed,
            Opportunity,
            PlanObjective,
            PlanAction,
            Assessment,
            ClassificationOverride,
        )
    ]


@pytest.mark.parametrize("name", FORMS)
def test_account_outside_the_portfolio_is_404_and_writes_nothing(login, portfolio, name):
    url, data = FORMS[name](portfolio["hidden"])
    before = snapshot()
    assert login("nam1").post(url, data, **HTMX).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("name", FORMS)
def test_anonymous_is_sent_to_login(client, portfolio, name):
    url, data = FORMS[name](portfolio["alpha"])
    before = snapshot()
    response = client.post(url, data, **HTMX)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert snapshot() == before


@pytest.mark.parametrize("name", FORMS)
def test_get_is_not_allowed(login, portfolio, name):
    url, _ = FORMS[name](portfolio["alpha"])
    assert login("nam1").get(url).status_code == 405


@pytest.mark.parametrize("name", FORMS)
def test_without_htmx_success_redirects_to_the_section(login, portfolio, name):
    account = portfolio["alpha"]
    url, data = FORMS[name](account)
    response = login("nam1").post(url, data)
    assert response.status_code == 302
    # Back to the section; the lazily loaded ones (needs, assessment) come with the page then.
    more = "?sections=all" if name in {"need", "assessment"} else ""
    assert response["Location"].startswith(f"/accounts/{account.pk}/{more}#")


def test_csrf_is_enforced(portfolio, nam1):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(nam1.user)
    url, data = _need(portfolio["alpha"])
    assert client.post(url, data, **HTMX).status_code == 403
    assert not CustomerNeed.objects.exists()


def test_object_of_another_account_is_404(login, portfolio):
    alpha, beta = portfolio["alpha"], portfolio["beta"]
    opp = OpportunityFactory(account=beta)
    action = PlanActionFactory(objective__plan__account=beta)
    client = login("nam1")
    stage_url = f"/accounts/{alpha.pk}/opportunities/{opp.pk}/stage/"
    assert client.post(stage_url, {"stage": "won"}, **HTMX).status_code == 404
    assert client.post(f"/accounts/{alpha.pk}/actions/{action.pk}/done/", **HTMX).status_code == 404
    opp.refresh_from_db()
    action.refresh_from_db()
    assert (opp.stage, action.status) == ("identified", "open")


def test_account_page_shows_every_form(login, portfolio):
    account = portfolio["alpha"]
    PlanActionFactory(objective__plan__account=account)
    OpportunityFactory(account=account)
    client = login("nam1")
    html = client.get(f"/accounts/{account.pk}/").content.decode()
    html += client.get(f"/accounts/{account.pk}/more/").content.decode()  # loaded by htmx
    for testid in ("need-form", "opportunity-form", "objective-form", "action-form"):
        assert f'data-testid="{testid}"' in html
    for testid in ("assessment-form", "override-form", "stage-form-"):
        assert f'data-testid="{testid}' in html
    assert "Mark done" in html
    # Every visible field has a label.
    for field_id in ("id_need_description", "id_opp_title", "id_assessment_strategic_fit"):
        assert f'for="{field_id}"' in html


# --- 1. needs -------------------------------------------------------------------------------


def test_add_a_need(login, portfolio):
    account = portfolio["alpha"]
    data = {
        "description": "Shorter lead times for spare parts",
        "priority": "high",
        "status": "in_progress",
        "identified_on": "2026-02-03",
    }
    response = login("nam1").post(f"/accounts/{account.pk}/needs/", data, **HTMX)
    html = fragment(response, "needs")
    assert "Shorter lead times for spare parts" in html
    assert "Need added." in html
    need = CustomerNeed.objects.get()
    assert (need.account, need.priority, need.status) == (account, "high", "in_progress")
    assert need.identified_on == dt.date(2026, 2, 3)
    assert response.context["need_form"].is_bound is False  # a fresh form after a save


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"description": "   "}, "description", "This field is required."),
        ({"priority": "urgent"}, "priority", "Select a valid choice."),
        ({"identified_on": "soon"}, "identified_on", "Enter a valid date."),
    ],
)
def test_need_errors_are_inline_and_keep_the_input(login, portfolio, overrides, field, message):
    account = portfolio["alpha"]
    data = {"description": "Consignment stock", "priority": "low", "status": "open"}
    data |= {"identified_on": "2026-02-03"} | overrides
    response = login("nam1").post(f"/accounts/{account.pk}/needs/", data, **HTMX)
    html = fragment(response, "needs")
    assert message in " ".join(response.context["need_form"].errors[field])
    assert f'id="id_need_{field}_error"' in html
    if field != "description":
        assert "Consignment stock" in html
    assert not CustomerNeed.objects.exists()


def test_need_error_without_htmx_renders_the_page(login, portfolio):
    account = portfolio["alpha"]
    response = login("nam1").post(f"/accounts/{account.pk}/needs/", {"description": ""})
    assert response.status_code == 200
    assert b"<h1" in response.content
    assert "description" in response.context["need_form"].errors
    assert not CustomerNeed.objects.exists()


# --- 2. opportunities -----------------------------------------------------------------------


def test_add_an_opportunity(login, portfolio, nam1):
    account = portfolio["alpha"]
    data = {
        "title": "Second production line",
        "value": "125000.50",
        "currency": "chf",
        "stage": "qualified",
        "probability": "40",
        "expected_close": "2027-03-31",
        "is_joint_work": "on",
    }
    response = login("nam1").post(f"/accounts/{account.pk}/opportunities/", data, **HTMX)
    html = fragment(response, "opportunities")
    assert "Second production line" in html
    assert "Opportunity added." in html
    opp = Opportunity.objects.get()
    assert opp.account == account
    assert (opp.value, opp.currency, opp.stage, opp.probability) == (
        Decimal("125000.50"),
        "CHF",
        "qualified",
        40,
    )
    assert opp.expected_close == dt.date(2027, 3, 31)
    assert opp.is_joint_work is True
    assert opp.owner == nam1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"value": "-5"}, "value", "greater than or equal to 0"),
        ({"probability": "140"}, "probability", "less than or equal to 100"),
        ({"currency": "EURO"}, "currency", "at most 3 characters"),
        ({"currency": "e1"}, "currency", "at least 3 characters"),
        ({"stage": "dreaming"}, "stage", "Select a valid choice."),
    ],
)
def test_opportunity_errors_are_inline_and_keep_the_input(
    login, portfolio, overrides, field, message
):
    account = portfolio["alpha"]
    data = {
        "title": "Retrofit kit",
        "value": "9000",
        "currency": "EUR",
        "stage": "identified",
        "probability": "20",
    } | overrides
    response = login("nam1").post(f"/accounts/{account.pk}/opportunities/", data, **HTMX)
    html = fragment(response, "opportunities")
    assert message in " ".join(response.context["opportunity_form"].errors[field])
    assert f'id="id_opp_{field}_error"' in html
    if field != "title":
        assert 'value="Retrofit kit"' in html
    assert not Opportunity.objects.exists()


def test_service_error_shows_on_the_field(login, portfolio):
    """A rule only the model knows (currency code format) comes back on its field."""
    account = portfolio["alpha"]
    data = {"title": "X", "value": "1", "currency": "1$%", "stage": "identified"}
    response = login("nam1").post(
        f"/accounts/{account.pk}/opportunities/", data | {"probability": "5"}, **HTMX
    )
    fragment(response, "opportunities")
    assert response.context["opportunity_form"].errors["currency"]
    assert not Opportunity.objects.exists()


def test_move_an_opportunity_stage(login, portfolio):
    account = portfolio["alpha"]
    opp = OpportunityFactory(account=account, title="Frame contract", probability=30)
    url = f"/accounts/{account.pk}/opportunities/{opp.pk}/stage/"
    response = login("nam1").post(url, {"stage": "won"}, **HTMX)
    html = fragment(response, "opportunities")
    assert "Frame contract moved." in html
    opp.refresh_from_db()
    assert (opp.stage, opp.probability) == ("won", 100)
    assert Opportunity.objects.count() == 1
    assert f'data-testid="stage-form-{opp.pk}"' not in html  # closed: no more moves


@pytest.mark.parametrize(
    ("stage", "start", "message"),
    [
        ("nowhere", "identified", "Select a valid choice."),
        ("qualified", "qualified", "at this stage already"),
        ("proposal", "lost", "closed already"),
    ],
)
def test_stage_move_errors(login, portfolio, stage, start, message):
    account = portfolio["alpha"]
    opp = OpportunityFactory(account=account, stage=start)
    url = f"/accounts/{account.pk}/opportunities/{opp.pk}/stage/"
    response = login("nam1").post(url, {"stage": stage}, **HTMX)
    fragment(response, "opportunities")
    assert message in " ".join(response.context["stage_form"].errors["stage"])
    if start != "lost":
        assert f'id="stage-{opp.pk}-error"' in response.content.decode()
    opp.refresh_from_db()
    assert opp.stage == start


# --- 3. plans: objectives, actions, done ----------------------------------------------------


def test_add_a_plan_objective(login, portfolio):
    account = portfolio["alpha"]
    plan = AccountPlanFactory(account=account)
    data = {
        "plan": plan.pk,
        "description": "Become preferred supplier",
        "metric": "Share of wallet",
        "target": "40 %",
        "due_on": "2026-12-01",
        "is_joint_work": "on",
    }
    response = login("nam1").post(f"/accounts/{account.pk}/objectives/", data, **HTMX)
    html = fragment(response, "plans")
    assert "Become preferred supplier" in html
    assert "Objective added." in html
    obj = PlanObjective.objects.get()
    assert (obj.plan, obj.metric, obj.target) == (plan, "Share of wallet", "40 %")
    assert (obj.due_on, obj.is_joint_work, obj.status) == (dt.date(2026, 12, 1), True, "active")


def test_objective_on_another_accounts_plan_is_refused(login, portfolio):
    account = portfolio["alpha"]
    AccountPlanFactory(account=account)
    foreign = AccountPlanFactory(account=portfolio["hidden"])
    data = {"plan": foreign.pk, "description": "Sneaky"}
    response = login("nam1").post(f"/accounts/{account.pk}/objectives/", data, **HTMX)
    html = fragment(response, "plans")
    assert "Select a valid choice" in " ".join(response.context["objective_form"].errors["plan"])
    assert 'id="id_objective_plan_error"' in html
    assert "Sneaky" in html
    assert not PlanObjective.objects.exists()


def test_objective_needs_a_description(login, portfolio):
    account = portfolio["alpha"]
    plan = AccountPlanFactory(account=account)
    data = {"plan": plan.pk, "description": " ", "metric": "Volume"}
    response = login("nam1").post(f"/accounts/{account.pk}/objectives/", data, **HTMX)
    html = fragment(response, "plans")
    assert 'id="id_objective_description_error"' in html
    assert 'value="Volume"' in html
    assert not PlanObjective.objects.exists()


def test_add_a_plan_action(login, portfolio, nam1):
    account = portfolio["alpha"]
    objective = PlanObjectiveFactory(plan__account=account)
    data = {"objective": objective.pk, "description": "Plant visit", "due_on": "2026-06-30"}
    response = login("nam1").post(f"/accounts/{account.pk}/actions/", data, **HTMX)
    html = fragment(response, "plans")
    assert "Plant visit" in html
    assert "Action added." in html
    action = PlanAction.objects.get()
    assert (action.objective, action.due_on) == (objective, dt.date(2026, 6, 30))
    assert (action.status, action.done_on, action.owner) == ("open", None, nam1)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"due_on": ""}, "due_on", "This field is required."),
        ({"description": ""}, "description", "This field is required."),
        ({"description": "x" * 251}, "description", "at most 250 characters"),
        ({"objective": "999999"}, "objective", "Select a valid choice."),
    ],
)
def test_action_errors_are_inline(login, portfolio, overrides, field, message):
    account = portfolio["alpha"]
    objective = PlanObjectiveFactory(plan__account=account)
    data = {"objective": objective.pk, "description": "Call the buyer", "due_on": "2026-06-30"}
    response = login("nam1").post(f"/accounts/{account.pk}/actions/", data | overrides, **HTMX)
    html = fragment(response, "plans")
    assert message in " ".join(response.context["action_form"].errors[field])
    assert f'id="id_action_{field}_error"' in html
    assert not PlanAction.objects.exists()


def test_mark_an_action_done(login, portfolio):
    account = portfolio["alpha"]
    action = PlanActionFactory(objective__plan__account=account, description="Send the offer")
    response = login("nam1").post(f"/accounts/{account.pk}/actions/{action.pk}/done/", **HTMX)
    html = fragment(response, "plans")
    assert "Done: Send the offer" in html
    action.refresh_from_db()
    assert (action.status, action.done_on) == ("done", timezone.localdate())
    assert PlanAction.objects.count() == 1


def test_an_action_done_already_is_refused(login, portfolio):
    account = portfolio["alpha"]
    action = PlanActionFactory(
        objective__plan__account=account, status="done", done_on=dt.date(2026, 1, 2)
    )
    response = login("nam1").post(f"/accounts/{account.pk}/actions/{action.pk}/done/", **HTMX)
    html = fragment(response, "plans")
    assert "This action is done already." in html
    action.refresh_from_db()
    assert action.done_on == dt.date(2026, 1, 2)


# --- 4. assessments -------------------------------------------------------------------------


def assessment_data(**overrides) -> dict:
    data = {
        "assessed_on": today_iso(),
        "contract_type": "multi_year",
        "supplier_status": "preferred",
        "forecast_sharing": "on",
        "open_book_costing": "on",
        "strategic_fit": "5",
        "openness": "4",
        "satisfaction": "3",
        "customisation": "2",
        "technical_novelty": "1",
        "change_frequency": "",
        "termination_notice": "on",
        "comment": "New CPO, more open",
    }
    return data | overrides


def test_record_an_assessment(login, portfolio, nam1):
    account = portfolio["alpha"]
    response = login("nam1").post(f"/accounts/{account.pk}/assessments/", assessment_data(), **HTMX)
    html = fragment(response, "assessment")
    assert "Assessment recorded." in html
    assert "New CPO, more open" in html
    a = Assessment.objects.get()
    assert (a.account, a.assessor, a.assessed_on) == (account, nam1.user, timezone.localdate())
    assert (a.contract_type, a.supplier_status) == ("multi_year", "preferred")
    assert (a.forecast_sharing, a.edi_link, a.open_book_costing) == (True, False, True)
    ratings = [getattr(a, r) for r in Assessment.RATINGS]
    assert ratings == [5, 4, 3, 2, 1, None]
    assert a.termination_notice is True
    assert a.comment == "New CPO, more open"


def test_assessment_form_defaults_to_today_and_the_latest_answers(login, portfolio):
    account = portfolio["alpha"]
    AssessmentFactory(account=account, supplier_status="sole", edi_link=True)
    response = login("nam1").get(f"/accounts/{account.pk}/more/")
    form = response.context["assessment_form"]
    assert form["assessed_on"].value() == timezone.localdate()
    assert form["supplier_status"].value() == "sole"
    assert form["edi_link"].value() is True


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"strategic_fit": "6"}, "strategic_fit", "Select a valid choice."),
        ({"openness": "0"}, "openness", "Select a valid choice."),
        ({"contract_type": "handshake"}, "contract_type", "Select a valid choice."),
        ({"assessed_on": ""}, "assessed_on", "This field is required."),
        ({"assessed_on": "2099-01-01"}, "assessed_on", "cannot be in the future"),
    ],
)
def test_assessment_errors_are_inline_and_keep_the_input(
    login, portfolio, overrides, field, message
):
    account = portfolio["alpha"]
    response = login("nam1").post(
        f"/accounts/{account.pk}/assessments/", assessment_data(**overrides), **HTMX
    )
    html = fragment(response, "assessment")
    assert message in " ".join(response.context["assessment_form"].errors[field])
    assert f'id="id_assessment_{field}_error"' in html
    assert "New CPO, more open" in html
    assert 'id="id_assessment_termination_notice" checked' in html
    assert not Assessment.objects.exists()


def test_second_assessment_the_same_day_is_refused_by_the_service(login, portfolio):
    account = portfolio["alpha"]
    AssessmentFactory(account=account, assessed_on=timezone.localdate())
    response = login("nam1").post(f"/accounts/{account.pk}/assessments/", assessment_data(), **HTMX)
    html = fragment(response, "assessment")
    assert response.context["assessment_form"].errors
    assert 'role="alert"' in html or "_error" in html
    assert Assessment.objects.count() == 1


# --- 5. segment overrides -------------------------------------------------------------------


def test_override_a_segment(login, portfolio, classify, nam1):
    account = portfolio["alpha"]
    classify(account, four_s="star")
    data = {"model": "four_s", "segment": "strategic", "reason": "Board-level partnership"}
    response = login("nam1").post(f"/accounts/{account.pk}/overrides/", data, **HTMX)
    html = fragment(response, "classifications")
    assert "Segment set by hand." in html
    assert "Set by hand: Strategic" in html
    assert "Board-level partnership" in html
    assert ">Star<" in html  # the computed segment stays beside it
    o = ClassificationOverride.objects.get()
    assert (o.account, o.model, o.segment, o.author) == (account, "four_s", "strategic", nam1.user)
    assert (o.reason, o.is_active) == ("Board-level partnership", True)


def test_override_without_a_computed_result_is_shown(login, portfolio):
    account = portfolio["alpha"]
    data = {"model": "webster", "segment": "partnership", "reason": "Joint R&D"}
    response = login("nam1").post(f"/accounts/{account.pk}/overrides/", data, **HTMX)
    assert 'data-testid="override-webster"' in fragment(response, "classifications")


def test_a_new_override_replaces_the_active_one(login, portfolio):
    account = portfolio["alpha"]
    client = login("nam1")
    url = f"/accounts/{account.pk}/overrides/"
    client.post(url, {"model": "four_s", "segment": "star", "reason": "One"}, **HTMX)
    client.post(url, {"model": "four_s", "segment": "status", "reason": "Two"}, **HTMX)
    assert ClassificationOverride.objects.count() == 2
    active = ClassificationOverride.objects.get(is_active=True)
    assert (active.segment, active.reason) == ("status", "Two")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"reason": "   "}, "reason", "This field is required."),
        ({"segment": "partnership"}, "segment", "is not a segment of 4S"),
        ({"segment": "galaxy"}, "segment", "Select a valid choice."),
        ({"model": "bcg"}, "model", "Select a valid choice."),
    ],
)
def test_override_errors_are_inline_and_keep_the_input(login, portfolio, overrides, field, message):
    account = portfolio["alpha"]
    data = {"model": "four_s", "segment": "star", "reason": "Growing fast"} | overrides
    response = login("nam1").post(f"/accounts/{account.pk}/overrides/", data, **HTMX)
    html = fragment(response, "classifications")
    assert message in " ".join(response.context["override_form"].errors[field])
    assert f'id="id_override_{field}_error"' in html
    if field != "reason":
        assert "Growing fast" in html
    assert not ClassificationOverride.objects.exists()


def test_override_segment_select_is_grouped_by_model(login, portfolio):
    html = login("nam1").get(f"/accounts/{portfolio['alpha'].pk}/").content.decode()
    assert 'data-segment-select="true"' in html
    assert '<optgroup label="4S">' in html
    assert '<option value="streamline">' in html
