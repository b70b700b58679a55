"""Writes: mass assignment, invisible parents, transaction corrections, guarded account fields,
Django validation and integrity errors as 400s, the relationship services' actions."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Transaction
from relationships.models import Opportunity, PlanAction
from tests.factories import (
    AccountTeamMemberFactory,
    AssessmentFactory,
    ExchangeRateFactory,
    OpportunityFactory,
    PlanActionFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db

SALE = {"kind": "sale", "date": "2026-05-01", "quantity": "3", "unit_price": "10.00"}


def test_read_only_fields_ignore_writes(world):
    body = {
        **SALE,
        "account": world.accounts["acc1"].pk,
        "currency": "EUR",
        "id": 999_999,
        "amount": "1.00",
        "amount_base": "5.00",
        "created_at": "2000-01-01T00:00:00Z",
    }
    response = world.client("nam1").post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 201, response.json()
    txn = Transaction.objects.get()
    assert txn.pk != 999_999
    assert (txn.amount, txn.amount_base) == (Decimal("30.00"), Decimal("30.00"))
    assert txn.created_at.year != 2000
    assert response.json()["amount"] == "30.00"


def test_transaction_converts_currency_and_missing_rate_is_400(world):
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2026, 1, 1), rate=Decimal("0.5"))
    client = world.client("nam1")
    body = {**SALE, "account": world.accounts["acc1"].pk, "currency": "USD"}
    assert client.post("/api/v1/transactions/", body, format="json").json()["amount_base"] == (
        "15.00"
    )
    response = client.post("/api/v1/transactions/", {**body, "currency": "JPY"}, format="json")
    assert response.status_code == 400
    assert "No exchange rate for JPY" in response.json()["currency"][0]


def test_a_transaction_without_kind_is_a_sale(world):
    body = {k: v for k, v in SALE.items() if k != "kind"}
    response = world.client("nam1").post(
        "/api/v1/transactions/",
        {**body, "account": world.accounts["acc1"].pk, "currency": "EUR"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "sale"


def test_a_transaction_with_zero_quantity_is_a_400_on_quantity(world):
    body = {**SALE, "account": world.accounts["acc1"].pk, "currency": "EUR", "quantity": "0"}
    response = world.client("nam1").post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["quantity"]


def test_duplicate_external_reference_is_400(world):
    body = {**SALE, "account": world.accounts["acc1"].pk, "currency": "EUR"}
    body["external_reference"] = "ERP-1"
    client = world.client("nam1")
    assert client.post("/api/v1/transactions/", body, format="json").status_code == 201
    response = client.post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 400
    assert "external reference" in str(response.json())


def test_only_admin_corrects_or_deletes_transactions(world):
    txn = TransactionFactory(account=world.accounts["acc1"])
    url = f"/api/v1/transactions/{txn.pk}/"
    for role in ("lead", "gam", "nam1"):
        client = world.client(role)
        assert client.patch(url, {"quantity": "1"}, format="json").status_code == 403
        assert client.delete(url).status_code == 403
    admin = world.client("admin")
    response = admin.patch(url, {"quantity": "2", "amount_base": "1.00"}, format="json")
    assert response.status_code == 200
    txn.refresh_from_db()
    assert (txn.quantity, txn.amount, txn.amount_base) == (
        Decimal("2"),
        Decimal("200.00"),
        Decimal("200.00"),
    )
    assert admin.delete(url).status_code == 204
    assert not Transaction.objects.filter(pk=txn.pk).exists()


@pytest.mark.parametrize(
    ("role", "field", "status"),
    [
        ("admin", "is_key_account", 200),
        ("lead", "is_key_account", 200),
        ("gam", "is_key_account", 403),
        ("nam1", "is_key_account", 403),
        ("nam2", "is_key_account", 404),
        ("noprofile", "is_key_account", 404),
        ("admin", "owner", 200),
        ("lead", "owner", 200),
        ("gam", "owner", 403),
        ("nam1", "owner", 400),  # nam2 is not among the managers nam1 sees: "not found"
    ],
)
def test_guarded_account_fields(world, role, field, status):
    account = world.accounts["acc1"]
    value = {"is_key_account": False, "owner": world.managers["nam2"].pk}[field]
    response = world.client(role).patch(
        f"/api/v1/accounts/{account.pk}/", {field: value}, format="json"
    )
    assert response.status_code == status, response.json()
    account.refresh_from_db()
    changed = getattr(account, f"{field}_id" if field == "owner" else field) == value
    assert changed is (status == 200)


def test_unguarded_account_fields_and_same_value_are_open_to_the_owner(world):
    account = world.accounts["acc1"]
    response = world.client("nam1").patch(
        f"/api/v1/accounts/{account.pk}/",
        {"status": "dormant", "is_key_account": True, "customer": world.accounts["out"].pk},
        format="json",
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.status == "dormant"
    assert account.customer_id == world.accounts["acc1"].customer_id  # read-only: ignored


def test_lead_hands_accounts_only_to_their_team(world):
    account = world.accounts["acc1"]
    response = world.client("lead").patch(
        f"/api/v1/accounts/{account.pk}/", {"owner": world.managers["lead"].pk}, format="json"
    )
    assert response.status_code == 200  # the lead is in their own subtree
    gam = world.managers["gam"].pk  # visible to the lead? no: "not found"
    response = world.client("lead").patch(
        f"/api/v1/accounts/{account.pk}/", {"owner": gam}, format="json"
    )
    assert response.status_code == 400
    assert "owner" in response.json()


def test_a_manager_outside_the_lead_team_is_a_400_with_a_list_of_messages(world):
    """Found by Schemathesis: a manager the lead sees (a team member of one of his accounts) but
    who is not on his team was answered `{"owner": "..."}`, not a list of messages."""
    account = world.accounts["acc1"]
    AccountTeamMemberFactory(account=account, manager=world.managers["other"])
    response = world.client("lead").patch(
        f"/api/v1/accounts/{account.pk}/", {"owner": world.managers["other"].pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"owner": ["Choose a manager of your team."]}


def test_model_validation_is_400_not_500(world):
    # The owner of a national account must be a national manager (Account.clean).
    response = world.client("admin").patch(
        f"/api/v1/accounts/{world.accounts['acc1'].pk}/",
        {"owner": world.managers["gam"].pk},
        format="json",
    )
    assert response.status_code == 400
    assert "owner" in response.json()


def test_integrity_errors_are_400(world):
    AssessmentFactory(account=world.accounts["acc1"], assessed_on=dt.date(2026, 2, 1))
    response = world.client("nam1").post(
        "/api/v1/assessments/",
        {"account": world.accounts["acc1"].pk, "assessed_on": "2026-02-01"},
        format="json",
    )
    assert response.status_code == 400
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2026, 1, 1))
    response = world.client("admin").post(
        "/api/v1/exchange-rates/",
        {"currency": "USD", "valid_from": "2026-01-01", "rate": "1.1"},
        format="json",
    )
    assert response.status_code == 400


def test_author_and_assessor_are_the_caller(world):
    client = world.client("nam1")
    body = {"account": world.accounts["acc1"].pk, "summary": "Visit", "author": 1}
    body["occurred_at"] = "2026-05-01T10:00:00Z"
    assert client.post("/api/v1/interactions/", body, format="json").json()["author"] == (
        world.users["nam1"].pk
    )


def test_interaction_contacts_must_be_visible(world):
    from tests.factories import ContactFactory

    mine = ContactFactory(customer=world.accounts["acc1"].customer)
    theirs = ContactFactory(customer=world.accounts["out"].customer)
    body = {"account": world.accounts["acc1"].pk, "summary": "Visit"}
    body["occurred_at"] = "2026-05-01T10:00:00Z"
    client = world.client("nam1")
    ok = client.post("/api/v1/interactions/", {**body, "contacts": [mine.pk]}, format="json")
    assert ok.status_code == 201
    assert ok.json()["contacts"] == [mine.pk]
    bad = client.post("/api/v1/interactions/", {**body, "contacts": [theirs.pk]}, format="json")
    assert bad.status_code == 400
    assert "contacts" in bad.json()


def test_opportunity_stage_move(world):
    opportunity = OpportunityFactory(account=world.accounts["acc1"], probability=30)
    url = f"/api/v1/opportunities/{opportunity.pk}/move/"
    response = world.client("nam1").post(url, {"stage": "won"}, format="json")
    assert response.status_code == 200
    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.probability) == (Opportunity.Stage.WON, 100)
    assert world.client("nam2").post(url, {"stage": "lost"}, format="json").status_code == 404
    assert world.client("nam1").post(url, {"stage": "nope"}, format="json").status_code == 400


def test_plan_action_done_and_reopen(world):
    action = PlanActionFactory(objective__plan__account=world.accounts["acc1"])
    client = world.client("nam1")
    response = client.post(f"/api/v1/plan-actions/{action.pk}/done/", {"done_on": "2026-04-02"})
    assert response.status_code == 200
    assert response.json()["done_on"] == "2026-04-02"
    reopened = client.patch(f"/api/v1/plan-actions/{action.pk}/", {"status": "open"})
    assert reopened.status_code == 200
    action.refresh_from_db()
    assert (action.status, action.done_on) == (PlanAction.Status.OPEN, None)
    objective = action.objective
    achieved = client.post(f"/api/v1/plan-objectives/{objective.pk}/achieve/")
    assert achieved.json()["status"] == "achieved"


def test_plans_nest_objectives_and_actions(world):
    action = PlanActionFactory(objective__plan__account=world.accounts["acc1"])
    plan = action.objective.plan
    data = world.client("nam1").get(f"/api/v1/plans/{plan.pk}/").json()
    assert data["objectives"][0]["id"] == action.objective_id
    assert data["objectives"][0]["actions"][0]["id"] == action.pk
    # Nested rows are read-only here.
    world.client("nam1").patch(
        f"/api/v1/plans/{plan.pk}/", {"objectives": [], "strategy": "New"}, format="json"
    )
    assert plan.objectives.count() == 1


@pytest.mark.parametrize(
    ("quantity", "unit_price"),
    [("99999999999.999", "999999999999.9999"), ("10000000", "1000000000.0000")],
)
def test_an_amount_too_large_is_a_400_on_the_fields_sent(world, quantity, unit_price):
    """quantity x unit price beyond the amount's 18 digits: the answer names quantity and
    unit_price (what the client sent), not `amount` (which it does not send)."""
    body = {
        **SALE,
        "account": world.accounts["acc1"].pk,
        "currency": "EUR",
        "quantity": quantity,
        "unit_price": unit_price,
    }
    response = world.client("nam1").post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert sorted(errors) == ["quantity", "unit_price"]
    assert "more than a transaction's amount can hold" in errors["quantity"][0]
    assert not Transaction.objects.exists()


def test_an_amount_up_to_the_largest_is_accepted(world):
    body = {
        **SALE,
        "account": world.accounts["acc1"].pk,
        "currency": "EUR",
        "quantity": "1",
        "unit_price": "9999999999999999.9900",
    }
    response = world.client("nam1").post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 400  # unit_price holds 12 digits before the point
    assert list(response.json()) == ["unit_price"]
    body.update(quantity="10000", unit_price="999999999999.9999")  # 9,999,999,999,999,999.00
    response = world.client("nam1").post("/api/v1/transactions/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "9999999999999999.00"


def test_an_admin_correction_too_large_names_the_field_changed(world):
    txn = TransactionFactory(account=world.accounts["acc1"], quantity=Decimal("10000000"))
    response = world.client("admin").patch(
        f"/api/v1/transactions/{txn.pk}/", {"unit_price": "1000000000"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["unit_price"]
    txn.refresh_from_db()
    assert txn.quantity == Decimal("10000000")
