"""The permission matrix: every endpoint x method x role, against an object inside and one
outside the caller's portfolio, with exact status codes (and exact list membership)."""

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from classification.models import ClassificationOverride, ParameterSet
from tests.api.conftest import ROLES
from tests.factories import (
    AccountPlanFactory,
    AccountTeamMemberFactory,
    AssessmentFactory,
    ContactFactory,
    CustomerNeedFactory,
    ExchangeRateFactory,
    InteractionFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    ProductLineFactory,
    RelationshipInvestmentFactory,
    ServiceCaseFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db

WHERE = ("acc1", "out")  # acc1: nam1's, under gam's global account; out: nobody's but admin's
_seq = itertools.count(1)


def _day(n: int) -> str:
    return (dt.date(2025, 1, 1) + dt.timedelta(days=n)).isoformat()


@dataclass
class Resource:
    path: str
    make: Callable  # (world, account) -> object
    create: Callable | None = None  # (world, account, n) -> body; None: no create
    patch: dict | None = None  # None: no update
    read: str = "account"  # account | customer | all
    write: str = "visible"  # visible | admin | transaction | team
    parent_field: str = "account"
    update_write: str = ""  # when updates follow another rule than creates

    def __post_init__(self):
        self.update_write = self.update_write or self.write


def _override(w, account):
    return ClassificationOverride.objects.create(
        account=account, model="four_s", segment="star", reason="Known partner"
    )


RESOURCES = [
    Resource(
        "customers",
        lambda w, a: a.customer,
        lambda w, a, n: {"name": f"New {n}", "country": "DE"},
        {"industry": "Chemicals"},
        read="customer",
        write="admin",
    ),
    Resource(
        "contacts",
        lambda w, a: ContactFactory(customer=a.customer),
        lambda w, a, n: {"customer": a.customer_id, "name": f"Person {n}"},
        {"title": "Buyer"},
        read="customer",
        parent_field="customer",
    ),
    Resource("managers", lambda w, a: a.owner),
    Resource(
        "accounts",
        lambda w, a: a,
        lambda w, a, n: {
            "customer": a.customer_id,
            "level": "national",
            "country": ["ES", "PT", "NL", "BE", "AT", "PL", "CZ"][n % 7],
            "owner": w.managers["nam1"].pk,
        },
        {"status": "dormant"},
        write="admin",
        update_write="visible",
    ),
    Resource(
        "team-members",
        lambda w, a: AccountTeamMemberFactory(account=a, manager=a.owner),
        lambda w, a, n: {
            "account": a.pk,
            "manager": a.owner_id,  # the owner: the team change moves no visibility
            "role": "support",
            "start_date": _day(n),
        },
        {"role": "executive_sponsor"},
        write="team",
    ),
    Resource(
        "transactions",
        lambda w, a: TransactionFactory(account=a),
        lambda w, a, n: {
            "account": a.pk,
            "kind": "sale",
            "date": "2026-05-01",
            "quantity": "2",
            "unit_price": "10.00",
            "currency": "EUR",
        },
        {"description": "corrected"},
        write="transaction",
    ),
    Resource(
        "interactions",
        lambda w, a: InteractionFactory(account=a),
        lambda w, a, n: {"account": a.pk, "occurred_at": "2026-05-01T10:00:00Z", "summary": "Hi"},
        {"summary": "Better notes"},
    ),
    Resource(
        "needs",
        lambda w, a: CustomerNeedFactory(account=a),
        lambda w, a, n: {"account": a.pk, "description": "Faster delivery"},
        {"priority": "high"},
    ),
    Resource(
        "opportunities",
        lambda w, a: OpportunityFactory(account=a),
        lambda w, a, n: {"account": a.pk, "title": f"Deal {n}", "value": "1000.00"},
        {"probability": 50},
    ),
    Resource(
        "plans",
        lambda w, a: AccountPlanFactory(account=a),
        lambda w, a, n: {
            "account": a.pk,
            "period_start": "2027-01-01",
            "period_end": "2027-12-31",
        },
        {"strategy": "Defend"},
    ),
    Resource(
        "plan-objectives",
        lambda w, a: PlanObjectiveFactory(plan__account=a),
        lambda w, a, n: {"plan": AccountPlanFactory(account=a).pk, "description": "Grow"},
        {"target": "+10 %"},
        parent_field="plan",
    ),
    Resource(
        "plan-actions",
        lambda w, a: PlanActionFactory(objective__plan__account=a),
        lambda w, a, n: {
            "objective": PlanObjectiveFactory(plan__account=a).pk,
            "description": "Call",
            "due_on": "2026-09-01",
        },
        {"description": "Call the CFO"},
        parent_field="objective",
    ),
    Resource(
        "assessments",
        lambda w, a: AssessmentFactory(account=a),
        lambda w, a, n: {"account": a.pk, "assessed_on": _day(n), "satisfaction": 4},
        {"comment": "Fine"},
    ),
    Resource(
        "investments",
        lambda w, a: RelationshipInvestmentFactory(account=a),
        lambda w, a, n: {
            "account": a.pk,
            "side": "supplier",
            "intensity": 2,
            "start_date": "2025-01-01",
        },
        {"intensity": 3},
    ),
    Resource(
        "service-cases",
        lambda w, a: ServiceCaseFactory(account=a),
        lambda w, a, n: {"account": a.pk, "subject": "Broken pallet"},
        {"severity": "high"},
    ),
    Resource(
        "classification/overrides",
        _override,
        lambda w, a, n: {
            "account": a.pk,
            "model": "four_s",
            "segment": "strategic",
            "reason": "Board decision",
        },
    ),
    Resource(
        "exchange-rates",
        lambda w, a: ExchangeRateFactory(currency="USD", valid_from=dt.date(2020, 1, 1)),
        lambda w, a, n: {"currency": "GBP", "valid_from": _day(n), "rate": "1.15"},
        {"rate": "0.95"},
        read="all",
        write="admin",
    ),
    Resource(
        "product-lines",
        lambda w, a: ProductLineFactory(code="PL-X"),
        lambda w, a, n: {"code": f"NEW-{n}", "name": "New line"},
        {"name": "Renamed"},
        read="all",
        write="admin",
    ),
    Resource(
        "classification/parameter-sets",
        lambda w, a: ParameterSet.objects.get_or_create(model="webster", version=1)[0],
        lambda w, a, n: {"model": "four_s", "parameters": {}, "note": f"try {n}"},
        read="all",
        write="admin",
    ),
]


def _inside(w, resource: Resource, role: str, where: str) -> bool:
    if role == "anon":
        return False
    if resource.read == "all":
        return True
    seen = w.visible[role]
    if resource.read == "customer":
        customer = w.accounts[where].customer_id
        return any(w.accounts[key].customer_id == customer for key in seen)
    return where in seen


def expected(w, resource: Resource, method: str, role: str, where: str) -> int:
    if role == "anon":
        return 401
    inside = _inside(w, resource, role, where)
    if method == "list":
        return 200
    if method == "retrieve":
        return 200 if inside else 404
    if method == "create":
        if resource.write == "admin":
            return 201 if role == "admin" else 403
        if resource.write == "team" and role not in ("admin", "lead"):
            return 403
        return 201 if inside else 400
    # update
    if resource.update_write in ("admin", "transaction"):
        return 200 if role == "admin" else 403
    if resource.update_write == "team" and role not in ("admin", "lead"):
        return 403
    return 200 if inside else 404


def _cases():
    for resource in RESOURCES:
        methods = ["list", "retrieve"]
        if resource.create:
            methods.append("create")
        if resource.patch is not None:
            methods.append("update")
        for method in methods:
            yield pytest.param(resource, method, id=f"{resource.path}-{method}")


@pytest.mark.parametrize(("resource", "method"), list(_cases()))
def test_permission_matrix(world, resource, method):
    objects = {where: resource.make(world, world.accounts[where]) for where in WHERE}
    base = f"/api/v1/{resource.path}/"
    want, got = {}, {}
    for role, where in itertools.product(ROLES, WHERE):
        client = world.client(role)
        obj = objects[where]
        if method == "list":
            response = client.get(base, {"page_size": 200})
        elif method == "retrieve":
            response = client.get(f"{base}{obj.pk}/")
        elif method == "create":
            body = resource.create(world, world.accounts[where], next(_seq))
            response = client.post(base, body, format="json")
        else:
            response = client.patch(f"{base}{obj.pk}/", resource.patch, format="json")
        key = (role, where)
        want[key] = expected(world, resource, method, role, where)
        got[key] = response.status_code
        if response.status_code == 400 and want[key] == 400:
            # An invisible parent reads as "not found", never as forbidden.
            assert resource.parent_field in response.json(), response.json()
            assert "not found" in str(response.json()[resource.parent_field]).lower()
        if method == "list" and response.status_code == 200:
            ids = {row["id"] for row in response.json()["results"]}
            want[(*key, "listed")] = _inside(world, resource, role, where)
            got[(*key, "listed")] = obj.pk in ids
    assert got == want


def test_account_history_follows_the_account(world):
    """`accounts/{id}/history/`: 200 to whoever sees the account, 404 to the rest, 401 anonymous."""
    got, want = {}, {}
    for role, where in itertools.product(ROLES, world.accounts):
        url = f"/api/v1/accounts/{world.accounts[where].pk}/history/"
        got[role, where] = world.client(role).get(url).status_code
        want[role, where] = 401 if role == "anon" else 200 if where in world.visible[role] else 404
    assert got == want
