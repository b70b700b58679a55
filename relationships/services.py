"""Writes on the relationship around an account: keyword-only, atomic, validated.

Every create and update validates the model (`full_clean`) before saving, so the API, the
dashboard and the admin share the same rules. The caller decides visibility before calling.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.models import Account, AccountManager, Contact
from relationships.models import (
    AccountPlan,
    Assessment,
    CustomerNeed,
    Interaction,
    Opportunity,
    PlanAction,
    PlanObjective,
    RelationshipInvestment,
    ServiceCase,
)


def _create(model: type[models.Model], **fields: Any) -> models.Model:
    obj = model(**fields)
    obj.full_clean()
    obj.save()
    return obj


def _update(obj: models.Model, fields: dict[str, Any], allowed: Iterable[str]) -> models.Model:
    """Set the given fields (only those in `allowed`), validate and save just them."""
    allowed = set(allowed)
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"Cannot update {', '.join(sorted(unknown))} on {type(obj).__name__}.")
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    if fields:
        obj.save(update_fields=[*fields, "updated_at"])
    return obj


# --- interactions ---------------------------------------------------------------------------

INTERACTION_FIELDS = ("kind", "occurred_at", "summary", "sentiment")


@transaction.atomic
def interaction_create(
    *,
    account: Account,
    occurred_at: dt.datetime,
    summary: str,
    kind: str = Interaction.Kind.MEETING,
    sentiment: int = 0,
    author=None,
    contacts: Iterable[Contact] = (),
) -> Interaction:
    interaction = _create(
        Interaction,
        account=account,
        kind=kind,
        occurred_at=occurred_at,
        summary=summary,
        sentiment=sentiment,
        author=author,
    )
    contacts = list(contacts)
    _check_contacts(account, contacts)
    if contacts:
        interaction.contacts.set(contacts)
    return interaction


@transaction.atomic
def interaction_update(
    *, interaction: Interaction, contacts: Iterable[Contact] | None = None, **fields: Any
) -> Interaction:
    _update(interaction, fields, INTERACTION_FIELDS)
    if contacts is not None:
        contacts = list(contacts)
        _check_contacts(interaction.account, contacts)
        interaction.contacts.set(contacts)
    return interaction


def _check_contacts(account: Account, contacts: list[Contact]) -> None:
    strangers = [c for c in contacts if c.customer_id != account.customer_id]
    if strangers:
        raise ValidationError({"contacts": "Every contact must work at the account's customer."})


# --- needs ----------------------------------------------------------------------------------

NEED_FIELDS = ("description", "priority", "status", "identified_on")


@transaction.atomic
def customer_need_create(
    *,
    account: Account,
    description: str,
    identified_on: dt.date | None = None,
    priority: str = CustomerNeed.Priority.MEDIUM,
    status: str = CustomerNeed.Status.OPEN,
) -> CustomerNeed:
    return _create(
        CustomerNeed,
        account=account,
        description=description,
        identified_on=identified_on or timezone.localdate(),
        priority=priority,
        status=status,
    )


@transaction.atomic
def customer_need_update(*, need: CustomerNeed, **fields: Any) -> CustomerNeed:
    return _update(need, fields, NEED_FIELDS)


# --- opportunities --------------------------------------------------------------------------

OPPORTUNITY_FIELDS = (
    "title",
    "stage",
    "value",
    "currency",
    "probability",
    "expected_close",
    "owner",
    "is_joint_work",
)


@transaction.atomic
def opportunity_create(
    *,
    account: Account,
    title: str,
    value: Decimal,
    currency: str = "EUR",
    stage: str = Opportunity.Stage.IDENTIFIED,
    probability: int = 10,
    expected_close: dt.date | None = None,
    owner: AccountManager | None = None,
    is_joint_work: bool = False,
) -> Opportunity:
    return _create(
        Opportunity,
        account=account,
        title=title,
        value=value,
        currency=currency,
        stage=stage,
        probability=probability,
        expected_close=expected_close,
        owner=owner,
        is_joint_work=is_joint_work,
    )


@transaction.atomic
def opportunity_update(*, opportunity: Opportunity, **fields: Any) -> Opportunity:
    return _update(opportunity, fields, OPPORTUNITY_FIELDS)


@transaction.atomic
def opportunity_stage_move(*, opportunity: Opportunity, stage: str) -> Opportunity:
    """Move along the pipeline; a won deal is certain (100 %), a lost one impossible (0 %)."""
    fields: dict[str, Any] = {"stage": stage}
    if stage == Opportunity.Stage.WON:
        fields["probability"] = 100
    elif stage == Opportunity.Stage.LOST:
        fields["probability"] = 0
    return _update(opportunity, fields, OPPORTUNITY_FIELDS)


# --- plans, objectives, actions -------------------------------------------------------------

PLAN_FIELDS = ("period_start", "period_end", "strategy", "status")
OBJECTIVE_FIELDS = ("description", "metric", "target", "due_on", "is_joint_work", "status")
ACTION_FIELDS = ("description", "owner", "due_on", "status", "done_on")


@transaction.atomic
def account_plan_create(
    *,
    account: Account,
    period_start: dt.date,
    period_end: dt.date,
    strategy: str = "",
    status: str = AccountPlan.Status.DRAFT,
) -> AccountPlan:
    return _create(
        AccountPlan,
        account=account,
        period_start=period_start,
        period_end=period_end,
        strategy=strategy,
        status=status,
    )


@transaction.atomic
def account_plan_update(*, plan: AccountPlan, **fields: Any) -> AccountPlan:
    return _update(plan, fields, PLAN_FIELDS)


@transaction.atomic
def plan_objective_create(
    *,
    plan: AccountPlan,
    description: str,
    metric: str = "",
    target: str = "",
    due_on: dt.date | None = None,
    is_joint_work: bool = False,
    status: str = PlanObjective.Status.ACTIVE,
) -> PlanObjective:
    return _create(
        PlanObjective,
        plan=plan,
        description=description,
        metric=metric,
        target=target,
        due_on=due_on,
        is_joint_work=is_joint_work,
        status=status,
    )


@transaction.atomic
def plan_objective_update(*, objective: PlanObjective, **fields: Any) -> PlanObjective:
    return _update(objective, fields, OBJECTIVE_FIELDS)


@transaction.atomic
def plan_objective_mark_achieved(*, objective: PlanObjective) -> PlanObjective:
    return _update(objective, {"status": PlanObjective.Status.ACHIEVED}, OBJECTIVE_FIELDS)


@transaction.atomic
def plan_action_create(
    *,
    objective: PlanObjective,
    description: str,
    due_on: dt.date,
    owner: AccountManager | None = None,
    status: str = PlanAction.Status.OPEN,
    done_on: dt.date | None = None,
) -> PlanAction:
    if status == PlanAction.Status.DONE and done_on is None:
        done_on = timezone.localdate()
    return _create(
        PlanAction,
        objective=objective,
        description=description,
        due_on=due_on,
        owner=owner,
        status=status,
        done_on=done_on,
    )


@transaction.atomic
def plan_action_update(*, action: PlanAction, **fields: Any) -> PlanAction:
    """A status change keeps `done_on` consistent: set on done (today unless given), cleared
    otherwise."""
    status = fields.get("status")
    if status == PlanAction.Status.DONE and not fields.get("done_on") and not action.done_on:
        fields["done_on"] = timezone.localdate()
    elif status is not None and status != PlanAction.Status.DONE:
        fields["done_on"] = None
    return _update(action, fields, ACTION_FIELDS)


@transaction.atomic
def plan_action_mark_done(*, action: PlanAction, done_on: dt.date | None = None) -> PlanAction:
    return _update(
        action,
        {"status": PlanAction.Status.DONE, "done_on": done_on or timezone.localdate()},
        ACTION_FIELDS,
    )


# --- assessments ----------------------------------------------------------------------------

ASSESSMENT_FIELDS = (
    "assessed_on",
    "contract_type",
    "supplier_status",
    "forecast_sharing",
    "edi_link",
    "open_book_costing",
    *Assessment.RATINGS,
    "termination_notice",
    "comment",
)


@transaction.atomic
def assessment_create(*, account: Account, assessor=None, **fields: Any) -> Assessment:
    """`fields` are the assessment's answers (see ASSESSMENT_FIELDS); `assessed_on` defaults to
    today. One assessment per account and day."""
    unknown = set(fields) - set(ASSESSMENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown assessment fields: {', '.join(sorted(unknown))}.")
    fields.setdefault("assessed_on", timezone.localdate())
    return _create(Assessment, account=account, assessor=assessor, **fields)


@transaction.atomic
def assessment_update(*, assessment: Assessment, **fields: Any) -> Assessment:
    return _update(assessment, fields, ASSESSMENT_FIELDS)


# --- investments ----------------------------------------------------------------------------

INVESTMENT_FIELDS = ("side", "kind", "description", "intensity", "start_date", "end_date")


@transaction.atomic
def relationship_investment_create(
    *,
    account: Account,
    side: str,
    intensity: int,
    start_date: dt.date,
    kind: str = RelationshipInvestment.Kind.OTHER,
    description: str = "",
    end_date: dt.date | None = None,
) -> RelationshipInvestment:
    return _create(
        RelationshipInvestment,
        account=account,
        side=side,
        kind=kind,
        description=description,
        intensity=intensity,
        start_date=start_date,
        end_date=end_date,
    )


@transaction.atomic
def relationship_investment_update(
    *, investment: RelationshipInvestment, **fields: Any
) -> RelationshipInvestment:
    return _update(investment, fields, INVESTMENT_FIELDS)


# --- service cases --------------------------------------------------------------------------

SERVICE_CASE_FIELDS = ("subject", "severity", "status", "opened_at", "closed_at")
_CLOSED = (ServiceCase.Status.RESOLVED, ServiceCase.Status.CLOSED)


@transaction.atomic
def service_case_create(
    *,
    account: Account,
    subject: str,
    severity: str = ServiceCase.Severity.MEDIUM,
    status: str = ServiceCase.Status.OPEN,
    opened_at: dt.datetime | None = None,
    closed_at: dt.datetime | None = None,
) -> ServiceCase:
    return _create(
        ServiceCase,
        account=account,
        subject=subject,
        severity=severity,
        status=status,
        opened_at=opened_at or timezone.now(),
        closed_at=closed_at,
    )


@transaction.atomic
def service_case_update(*, case: ServiceCase, **fields: Any) -> ServiceCase:
    """Resolving or closing stamps `closed_at` (now, unless given); reopening clears it."""
    status = fields.get("status")
    if status in _CLOSED and not fields.get("closed_at") and not case.closed_at:
        fields["closed_at"] = timezone.now()
    elif status is not None and status not in _CLOSED:
        fields["closed_at"] = None
    return _update(case, fields, SERVICE_CASE_FIELDS)
