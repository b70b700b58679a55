"""Model rules of the relationship around an account: validation and database constraints."""

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from relationships.models import (
    ASSESSMENT_RATINGS,
    Assessment,
    Interaction,
    Opportunity,
    PlanAction,
    RelationshipInvestment,
)
from tests.factories import (
    AccountFactory,
    AccountPlanFactory,
    AssessmentFactory,
    CustomerFactory,
    CustomerNeedFactory,
    InteractionFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    RelationshipInvestmentFactory,
    ServiceCaseFactory,
)

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def clean_errors(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        obj.clean()
    return exc.value.message_dict


def full_clean_errors(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        obj.full_clean()
    return exc.value.message_dict


@contextmanager
def violates(constraint: str):
    """The database refuses the write with this constraint; the savepoint keeps the test going."""
    with pytest.raises(IntegrityError, match=f'"{constraint}"'), transaction.atomic():
        yield


@pytest.fixture
def account():
    return AccountFactory()


# --- Interaction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentiment", "valid"), [(-3, False), (-2, True), (0, True), (2, True), (3, False)]
)
def test_interaction_sentiment_range(account, sentiment, valid):
    interaction = InteractionFactory.build(account=account, sentiment=sentiment)
    if valid:
        interaction.full_clean()
        interaction.save()
    else:
        assert list(full_clean_errors(interaction)) == ["sentiment"]
        with violates("interaction_sentiment_range"):
            interaction.save()


# --- Opportunity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probability", "constraint"),
    [(0, None), (100, None), (101, "opportunity_probability_range"), (-1, "probability")],
)
def test_opportunity_probability_range(account, probability, constraint):
    opportunity = OpportunityFactory.build(account=account, probability=probability)
    if constraint is None:
        opportunity.full_clean()
        opportunity.save()
    else:
        assert list(full_clean_errors(opportunity)) == ["probability"]
        # -1 may trip the column's own "positive" check first; either way the row is refused.
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            opportunity.save()


def test_opportunity_is_open_by_stage():
    open_stages = {s for s in Opportunity.Stage if OpportunityFactory.build(stage=s).is_open}
    assert open_stages == {"identified", "qualified", "proposal", "negotiation"}


# --- AccountPlan ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "valid"),
    [
        (dt.date(2026, 1, 1), dt.date(2026, 12, 31), True),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1), True),
        (dt.date(2026, 1, 2), dt.date(2026, 1, 1), False),
    ],
)
def test_plan_period_is_ordered(account, start, end, valid):
    plan = AccountPlanFactory.build(account=account, period_start=start, period_end=end)
    if valid:
        plan.full_clean()
        plan.save()
    else:
        assert clean_errors(plan) == {"period_end": ["The period cannot end before it starts."]}
        with violates("plan_period_ordered"):
            plan.save()


# --- PlanAction -----------------------------------------------------------------------------------

DONE_NEEDS_DATE = {"done_on": ["A done action needs the date it was done."]}
ONLY_DONE_HAS_DATE = {"done_on": ["Only a done action has a done date."]}


@pytest.mark.parametrize(
    ("status", "done_on", "errors"),
    [
        (PlanAction.Status.DONE, dt.date(2026, 2, 1), None),
        (PlanAction.Status.OPEN, None, None),
        (PlanAction.Status.CANCELLED, None, None),
        (PlanAction.Status.DONE, None, DONE_NEEDS_DATE),
        (PlanAction.Status.OPEN, dt.date(2026, 2, 1), ONLY_DONE_HAS_DATE),
        (PlanAction.Status.CANCELLED, dt.date(2026, 2, 1), ONLY_DONE_HAS_DATE),
    ],
)
def test_plan_action_done_date_follows_status(status, done_on, errors):
    action = PlanActionFactory.build(
        objective=PlanObjectiveFactory(), status=status, done_on=done_on
    )
    if errors is None:
        action.full_clean()
        action.save()
    else:
        assert clean_errors(action) == errors
        with violates("action_done_has_date"):
            action.save()


# --- ServiceCase ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closed_at", "valid"),
    [
        (None, True),
        (NOON, True),
        (NOON + dt.timedelta(days=3), True),
        (NOON - dt.timedelta(seconds=1), False),
    ],
)
def test_service_case_closes_after_it_opens(account, closed_at, valid):
    case = ServiceCaseFactory.build(account=account, opened_at=NOON, closed_at=closed_at)
    if valid:
        case.full_clean()
        case.save()
    else:
        assert full_clean_errors(case) == {"closed_at": ["A case cannot close before it opened."]}
        with violates("service_case_dates_ordered"):
            case.save()


# --- Assessment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rating", ASSESSMENT_RATINGS)
@pytest.mark.parametrize("value", [0, 6])
def test_assessment_ratings_are_one_to_five(account, rating, value):
    assessment = AssessmentFactory.build(account=account, **{rating: value})
    assert list(full_clean_errors(assessment)) == [rating]
    with violates(f"assessment_{rating}_range"):
        assessment.save()


@pytest.mark.parametrize("value", [None, 1, 5])
def test_assessment_ratings_accept_one_to_five_and_blank(account, value):
    assessment = AssessmentFactory.build(
        account=account, **dict.fromkeys(ASSESSMENT_RATINGS, value)
    )
    assessment.full_clean()
    assessment.save()


def test_assessment_is_one_per_account_and_day(account):
    AssessmentFactory(account=account, assessed_on=dt.date(2026, 1, 10))
    AssessmentFactory(account=account, assessed_on=dt.date(2026, 1, 11))
    AssessmentFactory(assessed_on=dt.date(2026, 1, 10))
    with violates("assessment_one_per_day"):
        AssessmentFactory(account=account, assessed_on=dt.date(2026, 1, 10))


@pytest.mark.parametrize(
    ("flags", "info_sharing"),
    [((False, False, False), 0), ((True, False, False), 1), ((True, True, True), 3)],
)
def test_assessment_info_sharing_counts_the_flags(flags, info_sharing):
    forecast, edi, open_book = flags
    assessment = Assessment(forecast_sharing=forecast, edi_link=edi, open_book_costing=open_book)
    assert assessment.info_sharing == info_sharing


# --- RelationshipInvestment -----------------------------------------------------------------------


@pytest.mark.parametrize(("intensity", "valid"), [(0, False), (1, True), (3, True), (4, False)])
def test_investment_intensity_is_one_to_three(account, intensity, valid):
    investment = RelationshipInvestmentFactory.build(account=account, intensity=intensity)
    if valid:
        investment.full_clean()
        investment.save()
    else:
        assert list(full_clean_errors(investment)) == ["intensity"]
        with violates("investment_intensity_range"):
            investment.save()


def test_investment_until_not_before_from(account):
    investment = RelationshipInvestmentFactory.build(
        account=account, start_date=dt.date(2025, 1, 2), end_date=dt.date(2025, 1, 1)
    )
    with violates("investment_dates_ordered"):
        investment.save()
    investment.end_date = investment.start_date
    investment.save()


# --- __str__ --------------------------------------------------------------------------------------


def test_str_of_every_relationships_model():
    account = AccountFactory(customer=CustomerFactory(name="Acme"), country="DE")
    plan = AccountPlanFactory(
        account=account, period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31)
    )
    objective = PlanObjectiveFactory(plan=plan, description="x" * 80)

    assert [
        str(InteractionFactory(account=account, kind=Interaction.Kind.CALL, occurred_at=NOON)),
        str(CustomerNeedFactory(account=account, description="Shorter lead times")),
        str(OpportunityFactory(account=account, title="Second plant", value=Decimal("1"))),
        str(plan),
        str(objective),
        str(PlanActionFactory(objective=objective, description="Site visit")),
        str(ServiceCaseFactory(account=account, subject="Late delivery")),
        str(AssessmentFactory(account=account, assessed_on=dt.date(2026, 1, 10))),
        str(
            RelationshipInvestmentFactory(
                account=account,
                side=RelationshipInvestment.Side.CUSTOMER,
                kind=RelationshipInvestment.Kind.TOOLING,
                intensity=3,
            )
        ),
    ] == [
        "Call on 2026-03-02",
        "Shorter lead times",
        "Second plant",
        "Plan 2026-01-01 to 2026-12-31 for Acme (DE)",
        "x" * 60,
        "Site visit",
        "Late delivery",
        "Assessment of Acme (DE) on 2026-01-10",
        "Customer in us: Dedicated tooling or plant (3)",
    ]
