"""The plausible bounds of the business dates (relationships/dates.py): the validators, every
write service refusing a date out of bounds on its field, the admin, and rows saved before the
rules still loading."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.services import transaction_create
from kam.dates import (
    EARLIEST_DATE,
    MAX_YEARS_AHEAD,
    TOO_EARLY_MESSAGE,
    EarliestDateValidator,
    HappenedValidator,
    PlannedValidator,
    latest_planned_date,
)
from relationships import services
from relationships.models import CustomerNeed, Opportunity
from tests.factories import (
    AccountFactory,
    AccountPlanFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
)

DAY = dt.timedelta(days=1)
TOO_LATE = f"at most {MAX_YEARS_AHEAD} years ahead"


def messages(exc: pytest.ExceptionInfo) -> list[str]:
    return exc.value.messages


# --- the validators -------------------------------------------------------------------------


def test_latest_planned_date_is_50_years_ahead_and_knows_leap_days():
    assert latest_planned_date(dt.date(2026, 11, 28)) == dt.date(2076, 11, 28)
    assert latest_planned_date(dt.date(2028, 2, 29)) == dt.date(2078, 2, 28)


@pytest.mark.parametrize(
    "validator", [EarliestDateValidator(), HappenedValidator(), PlannedValidator()]
)
def test_every_validator_refuses_a_date_before_1900(validator):
    validator(EARLIEST_DATE)
    validator(None)
    with pytest.raises(ValidationError) as exc:
        validator(EARLIEST_DATE - DAY)
    assert messages(exc) == [TOO_EARLY_MESSAGE]


def test_happened_refuses_tomorrow_with_its_message():
    validator = HappenedValidator("A need cannot be identified in the future.")
    validator(timezone.localdate())
    with pytest.raises(ValidationError) as exc:
        validator(timezone.localdate() + DAY)
    assert messages(exc) == ["A need cannot be identified in the future."]


def test_happened_allows_an_hour_of_clock_skew_on_a_time():
    validator = HappenedValidator("An interaction cannot be in the future.")
    validator(timezone.now() + dt.timedelta(minutes=50))
    with pytest.raises(ValidationError, match="cannot be in the future"):
        validator(timezone.now() + dt.timedelta(minutes=70))


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_year_one_as_an_aware_time_is_refused_not_an_overflow(zone):
    with pytest.raises(ValidationError) as exc:
        HappenedValidator()(dt.datetime(1, 1, 1, tzinfo=ZoneInfo(zone)))
    assert messages(exc) == [TOO_EARLY_MESSAGE]
    HappenedValidator()(dt.datetime(1900, 1, 2, tzinfo=ZoneInfo(zone)))


def test_planned_refuses_beyond_50_years_and_allows_the_past():
    validator = PlannedValidator()
    validator(latest_planned_date())
    validator(dt.date(1990, 5, 1))  # a late deal or an old plan is still plausible
    with pytest.raises(ValidationError) as exc:
        validator(latest_planned_date() + DAY)
    assert TOO_LATE in messages(exc)[0]
    assert latest_planned_date().isoformat() in messages(exc)[0]


def test_validators_compare_by_what_the_migrations_write():
    """Otherwise makemigrations would see a change at every run."""
    assert HappenedValidator("x") == HappenedValidator("x")
    assert HappenedValidator("x") != HappenedValidator("y")
    assert PlannedValidator() == PlannedValidator()
    assert PlannedValidator() != EarliestDateValidator()
    path, args, kwargs = HappenedValidator("x").deconstruct()
    assert (path, args, kwargs) == ("kam.dates.HappenedValidator", ("x",), {})


# --- every write service --------------------------------------------------------------------


def _value(kind: str, *, time: bool = False):
    day = {
        "tomorrow": timezone.localdate() + DAY,
        "beyond": latest_planned_date() + DAY,
        "year1": dt.date(1, 1, 1),
        "1899": dt.date(1899, 12, 31),
    }[kind]
    if not time:
        return day
    if kind == "tomorrow":
        return timezone.now() + dt.timedelta(hours=2)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _create_calls(account):
    """(service, kwargs without the date, date field, is a time)."""
    plan = AccountPlanFactory(account=account)
    objective = PlanObjectiveFactory(plan=plan)
    return {
        "interaction": (
            services.interaction_create,
            {"account": account, "summary": "x"},
            "occurred_at",
            True,
        ),
        "need": (
            services.customer_need_create,
            {"account": account, "description": "x"},
            "identified_on",
            False,
        ),
        "assessment": (services.assessment_create, {"account": account}, "assessed_on", False),
        "opportunity": (
            services.opportunity_create,
            {"account": account, "title": "x", "value": Decimal(1)},
            "expected_close",
            False,
        ),
        "plan_start": (
            services.account_plan_create,
            {"account": account, "period_end": dt.date(2026, 12, 31)},
            "period_start",
            False,
        ),
        "plan_end": (
            services.account_plan_create,
            {"account": account, "period_start": dt.date(2026, 1, 1)},
            "period_end",
            False,
        ),
        "objective": (
            services.plan_objective_create,
            {"plan": plan, "description": "x"},
            "due_on",
            False,
        ),
        "action": (
            services.plan_action_create,
            {"objective": objective, "description": "x"},
            "due_on",
            False,
        ),
        "action_done": (
            services.plan_action_create,
            {
                "objective": objective,
                "description": "x",
                "due_on": dt.date(2026, 1, 1),
                "status": "done",
            },
            "done_on",
            False,
        ),
        "investment": (
            services.relationship_investment_create,
            {"account": account, "side": "customer", "intensity": 1},
            "start_date",
            False,
        ),
        "service_case": (
            services.service_case_create,
            {"account": account, "subject": "x"},
            "opened_at",
            True,
        ),
    }


HAPPENED = ("interaction", "need", "assessment", "action_done", "service_case")
PLANNED = ("opportunity", "objective", "action", "investment")
CASES = [
    *[(name, kind) for name in HAPPENED for kind in ("year1", "1899", "tomorrow")],
    *[(name, kind) for name in PLANNED for kind in ("year1", "1899", "beyond")],
    # A plan's start after its end is a message of its own: each bound on the side it can hit.
    ("plan_start", "year1"),
    ("plan_start", "1899"),
    ("plan_end", "beyond"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "kind"), CASES)
def test_every_create_service_refuses_an_implausible_date_on_its_field(name, kind):
    service, kwargs, field, is_time = _create_calls(AccountFactory())[name]
    with pytest.raises(ValidationError) as exc:
        service(**kwargs, **{field: _value(kind, time=is_time)})
    errors = exc.value.message_dict
    assert list(errors) == [field], errors
    if kind in ("year1", "1899"):
        assert errors[field] == [TOO_EARLY_MESSAGE]
    elif kind == "tomorrow":
        assert "in the future" in errors[field][0]
    else:
        assert TOO_LATE in errors[field][0]


@pytest.mark.django_db
def test_update_services_refuse_it_too():
    need = services.customer_need_create(account=AccountFactory(), description="x")
    with pytest.raises(ValidationError) as exc:
        services.customer_need_update(need=need, identified_on=dt.date(9999, 12, 31))
    assert list(exc.value.message_dict) == ["identified_on"]
    action = PlanActionFactory()
    with pytest.raises(ValidationError) as exc:
        services.plan_action_mark_done(action=action, done_on=timezone.localdate() + DAY)
    assert exc.value.message_dict == {"done_on": ["An action cannot be done in the future."]}
    need.refresh_from_db()
    action.refresh_from_db()
    assert need.identified_on == timezone.localdate()
    assert action.done_on is None


@pytest.mark.django_db
def test_the_bounds_themselves_are_accepted():
    account = AccountFactory()
    need = services.customer_need_create(
        account=account, description="x", identified_on=EARLIEST_DATE
    )
    opp = services.opportunity_create(
        account=account, title="x", value=Decimal(1), expected_close=latest_planned_date()
    )
    assert (need.identified_on, opp.expected_close) == (EARLIEST_DATE, latest_planned_date())


@pytest.mark.django_db
def test_a_transaction_before_1900_is_refused_on_its_date():
    with pytest.raises(ValidationError) as exc:
        transaction_create(
            account=AccountFactory(),
            date=dt.date(1899, 12, 31),
            quantity=Decimal(1),
            unit_price=Decimal(1),
            currency="EUR",
        )
    assert exc.value.message_dict == {"date": [TOO_EARLY_MESSAGE]}


@pytest.mark.django_db
def test_rows_saved_before_the_rules_still_load_and_the_bad_date_is_named_on_the_next_save():
    old = OpportunityFactory(expected_close=dt.date(1, 1, 1))  # saved without validation
    assert Opportunity.objects.get(pk=old.pk).expected_close == dt.date(1, 1, 1)
    with pytest.raises(ValidationError) as exc:
        services.opportunity_stage_move(opportunity=old, stage="qualified")
    assert list(exc.value.message_dict) == ["expected_close"]
    services.opportunity_update(opportunity=old, expected_close=dt.date(2027, 1, 31))
    assert services.opportunity_stage_move(opportunity=old, stage="qualified").stage == "qualified"


# --- the admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_shows_the_same_message_on_the_field(admin_client):
    account = AccountFactory()
    url = reverse("admin:relationships_customerneed_add")
    data = {"account": account.pk, "description": "x", "priority": "low", "status": "open"}
    response = admin_client.post(url, data | {"identified_on": "9999-12-31"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"identified_on": ["A need cannot be identified in the future."]}
    response = admin_client.post(url, data | {"identified_on": "0001-01-01"})
    assert response.context["adminform"].form.errors == {"identified_on": [TOO_EARLY_MESSAGE]}
    assert not CustomerNeed.objects.exists()
    url = reverse("admin:relationships_opportunity_add")
    data = {
        "account": account.pk,
        "title": "x",
        "stage": "identified",
        "value": "1",
        "currency": "EUR",
        "probability": "10",
    }
    response = admin_client.post(url, data | {"expected_close": "0001-01-01"})
    assert response.context["adminform"].form.errors == {"expected_close": [TOO_EARLY_MESSAGE]}
    assert not Opportunity.objects.exists()
