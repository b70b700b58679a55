"""Hostile text in every field the dashboard renders, shared by the page tests
(tests/kam/test_bad_input.py) and the browser tests (tests/e2e/test_bad_input_browser.py).

A test module uses the `hostile` fixture by importing `hostile_fixture` from here.
"""

import pytest
from django.db import models
from django.utils import timezone
from django.utils.html import escape

from classification.models import ParameterSet
from classification.services import override_create, recompute_account_now
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AccountPlanFactory,
    AssessmentFactory,
    ContactFactory,
    CustomerFactory,
    CustomerNeedFactory,
    GlobalAccountFactory,
    GlobalManagerFactory,
    InteractionFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    ProductLineFactory,
    RelationshipInvestmentFactory,
    SalesLeadFactory,
    ServiceCaseFactory,
    TransactionFactory,
)

# What a user types into a form: script, an attribute break-out and a template expression.
HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)>{{7*7}}'

# Fields that are not free text: codes checked by constraints or used as keys, and secrets.
NOT_FREE_TEXT = {
    "password",
    "username",
    "country",
    "currency",
    "segment",
    "previous_segment",
    "source_system",
    "scope",
    "worker",
}


def payload(n: int, max_length: int | None) -> str:
    """Script, an attribute break-out and a template expression, numbered to find the field."""
    candidates = [
        f'<script>alert({n})</script>"><img src=x onerror=alert({n})>{{{{7*7}}}}',
        f"<script>alert({n})</script>",
        f"<b>{n}</b>",
    ]
    return next(c for c in candidates if max_length is None or len(c) <= max_length)


class Payloads:
    """Every free-text CharField/TextField of the objects given gets its own numbered payload, so
    a field added to a model later is covered without touching this test."""

    def __init__(self) -> None:
        self.by_field: dict[str, str] = {}

    def fill(self, obj):
        names = []
        for field in obj._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField):
                continue
            if field.choices or field.name in NOT_FREE_TEXT:
                continue
            value = payload(len(self.by_field) + 1, field.max_length)
            self.by_field[f"{obj._meta.label}.{field.name}"] = value
            setattr(obj, field.name, value)
            names.append(field.name)
        obj.save(update_fields=names)
        return obj

    def escaped(self, label: str) -> str:
        return escape(self.by_field[label])


def assert_nothing_unescaped(html: str) -> None:
    for raw in ("<script>alert(", "<img src=x", "<b>"):
        assert raw not in html, html[max(0, html.index(raw) - 300) : html.index(raw) + 100]


@pytest.fixture(name="hostile")
def hostile_fixture():
    """A lead, a global manager and a national manager whose every text is hostile, with a
    global account and its national account full of hostile relationship data, classified."""
    texts = Payloads()
    lead = SalesLeadFactory()
    global_manager = GlobalManagerFactory(reports_to=lead)
    manager = AccountManagerFactory(reports_to=lead)
    for person in (lead, global_manager, manager):
        texts.fill(person.user)
        texts.fill(person)
    customer = texts.fill(CustomerFactory())
    parent = GlobalAccountFactory(customer=customer, owner=global_manager)
    account = AccountFactory(customer=customer, owner=manager, parent=parent)
    contact = texts.fill(ContactFactory(customer=customer))
    line = texts.fill(ProductLineFactory())
    texts.fill(TransactionFactory(account=account, product_line=line, date=timezone.localdate()))
    interaction = texts.fill(InteractionFactory(account=account, author=manager.user))
    interaction.contacts.add(contact)
    texts.fill(CustomerNeedFactory(account=account))
    opportunity = texts.fill(OpportunityFactory(account=account, owner=manager))
    plan = texts.fill(
        AccountPlanFactory(
            account=account,
            period_start=timezone.localdate().replace(month=1, day=1),
            period_end=timezone.localdate().replace(month=12, day=31),
        )
    )
    objective = texts.fill(PlanObjectiveFactory(plan=plan))
    action = texts.fill(PlanActionFactory(objective=objective, owner=manager))
    texts.fill(ServiceCaseFactory(account=account))
    texts.fill(AssessmentFactory(account=account, assessor=manager.user))
    texts.fill(RelationshipInvestmentFactory(account=account))
    for parameter_set in ParameterSet.objects.all():
        texts.fill(parameter_set)
    for target in (parent, account):
        recompute_account_now(account=target)
    override = override_create(
        account=account, model="four_s", segment="star", reason="placeholder", author=manager.user
    )
    texts.fill(override)
    return {
        "texts": texts,
        "lead": lead,
        "manager": manager,
        "account": account,
        "opportunity": opportunity,
        "action": action,
    }
