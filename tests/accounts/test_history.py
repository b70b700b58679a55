"""The audit trail outside the API: services called by tasks and commands, the transaction import
(set-based), the demo seed, the dashboard forms and the admin's history pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.demo import demo_portfolio_create
from accounts.imports import transactions_import
from accounts.models import Account, AccountTeamMember, Customer, Transaction
from classification.models import ClassificationOverride, ParameterSet
from classification.services import override_create, parameter_set_create
from relationships.models import (
    AccountPlan,
    Assessment,
    Opportunity,
    PlanAction,
    PlanObjective,
    RelationshipInvestment,
)
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AdminUserFactory,
    ExchangeRateFactory,
    OpportunityFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _trail(model, pk) -> list[tuple[str, str | None, str | None]]:
    records = model.history.filter(id=pk).select_related("history_user").order_by("history_id")
    return [
        (r.history_type, r.history_user.username if r.history_user else None,
         r.history_change_reason)
        for r in records
    ]  # fmt: skip


# --- services outside a request ---------------------------------------------------------------


def test_a_change_outside_any_request_is_the_systems():
    opportunity = OpportunityFactory(probability=10)
    opportunity.probability = 20
    opportunity.save()
    pk = opportunity.pk
    opportunity.delete()

    assert _trail(Opportunity, pk) == [
        ("+", None, "system"),
        ("~", None, "system"),
        ("-", None, "system"),
    ]


def test_override_service_names_its_author_and_the_step_down():
    account = AccountFactory()
    author = UserFactory(username="boss")
    first = override_create(
        account=account, model="four_s", segment="star", reason="Board", author=author
    )
    second = override_create(
        account=account, model="four_s", segment="strategic", reason="Merger", author=author
    )

    assert _trail(ClassificationOverride, first.pk) == [
        ("+", "boss", "Board"),
        ("~", "boss", "replaced by a new override"),
    ]
    assert _trail(ClassificationOverride, second.pk) == [("+", "boss", "Merger")]


def test_parameter_set_service_records_the_new_version_and_the_old_ones_step_down():
    author = UserFactory(username="analyst")
    v1 = parameter_set_create(model="webster", parameters={}, author=author, note="first")
    v2 = parameter_set_create(model="webster", parameters={}, author=author)

    assert _trail(ParameterSet, v1.pk) == [
        ("+", "analyst", "first"),
        ("~", "analyst", "activated"),
        ("~", "analyst", "replaced by v2"),
    ]
    assert _trail(ParameterSet, v2.pk) == [
        ("+", "analyst", "new version"),
        ("~", "analyst", "activated"),
    ]


# --- the import -------------------------------------------------------------------------------


def _row(account: Account, n: int) -> dict:
    return {
        "account": str(account.pk),
        "kind": "sale",
        "date": "2026-05-01",
        "quantity": "2",
        "unit_price": "10.50",
        "currency": "USD",
        "external_reference": f"INV-{n}",
    }


@pytest.fixture
def importer():
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2020, 1, 1), rate=Decimal("0.9"))
    manager = AccountManagerFactory(user__username="importer")
    return manager.user, AccountFactory(owner=manager)


def test_an_import_records_one_created_row_per_transaction_by_the_importer(importer):
    user, account = importer
    TransactionFactory(account=account, source_system="erp", external_reference="INV-0")
    rows = [_row(account, n) for n in range(4)]  # INV-0 is already there

    report = transactions_import(user=user, rows=rows, source_system="erp")

    assert (report.ok, report.created, report.already_present) == (True, 3, 1)
    imported = Transaction.objects.filter(external_reference__in=["INV-1", "INV-2", "INV-3"])
    history = Transaction.history.filter(id__in=imported.values("pk"))
    assert sorted(
        (h.history_type, h.history_user_id, h.history_change_reason, h.external_reference)
        for h in history
    ) == [("+", user.pk, "import: erp", f"INV-{n}") for n in (1, 2, 3)]
    record = history.get(external_reference="INV-1")
    txn = imported.get(external_reference="INV-1")
    assert (record.amount, record.amount_base, record.created_at) == (
        txn.amount,
        txn.amount_base,
        txn.created_at,
    )

    again = transactions_import(user=user, rows=rows, source_system="erp")
    assert again.created == 0
    assert Transaction.history.filter(history_change_reason="import: erp").count() == 3


def test_a_rejected_import_records_nothing(importer):
    user, account = importer
    rows = [_row(account, n) for n in range(3)] + [_row(account, 9) | {"currency": "XYZ"}]

    report = transactions_import(user=user, rows=rows, source_system="erp")

    assert not report.ok
    assert not Transaction.objects.exists()
    assert not Transaction.history.exists()


def test_deleting_the_importing_user_keeps_the_history_without_them(importer):
    """The transaction history's user has no database constraint (one check per imported row);
    deleting a user through the ORM still sets their rows' user to NULL (Django's SET_NULL),
    the trail stays."""
    _, account = importer
    admin = AdminUserFactory(username="one-off")
    report = transactions_import(
        user=admin, rows=[_row(account, n) for n in range(3)], source_system="erp"
    )
    assert report.created == 3

    admin.delete()

    history = Transaction.history.filter(history_change_reason="import: erp")
    assert sorted(history.values_list("external_reference", "history_user")) == [
        (f"INV-{n}", None) for n in range(3)
    ]
    assert _trail(Transaction, history[0].id) == [("+", None, "import: erp")]


# --- the demo seed ----------------------------------------------------------------------------


def test_the_demo_seed_records_a_created_row_for_everything_it_writes():
    demo_portfolio_create(reference_date=dt.date(2026, 5, 14), accounts=12, months=3, seed=3)

    for model in (Customer, Account, AccountTeamMember, Transaction, Opportunity, AccountPlan,
                  PlanObjective, PlanAction, Assessment, RelationshipInvestment):  # fmt: skip
        rows = model.objects.count()
        assert rows > 0, model
        history = model.history.all()
        assert history.count() == rows, model
        assert set(
            history.values_list("history_type", "history_user", "history_change_reason")
        ) == {("+", None, "seed_demo")}


# --- the dashboard ----------------------------------------------------------------------------


def test_dashboard_forms_record_the_logged_in_manager(client):
    manager = AccountManagerFactory(user__username="nam9")
    account = AccountFactory(owner=manager)
    client.force_login(manager.user)
    data = {"title": "Line 2", "value": "1000", "currency": "EUR", "stage": "identified"}

    client.post(f"/accounts/{account.pk}/opportunities/", data | {"probability": "20"})
    opportunity = Opportunity.objects.get()
    client.post(f"/accounts/{account.pk}/opportunities/{opportunity.pk}/stage/", {"stage": "won"})

    assert _trail(Opportunity, opportunity.pk) == [("+", "nam9", None), ("~", "nam9", None)]
    changed = Opportunity.history.filter(id=opportunity.pk).order_by("history_id")
    assert (changed[1].stage, changed[1].probability) == ("won", 100)


# --- the admin --------------------------------------------------------------------------------


def _history_url(obj, version: int | None = None) -> str:
    """The object's history page, or one version's page."""
    opts = obj._meta
    if version is None:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=(obj.pk,))
    name = f"admin:{opts.app_label}_{opts.model_name}_simple_history"
    return reverse(name, args=(obj.pk, version))


def test_admin_changes_are_recorded_and_the_history_page_shows_them(client):
    admin = AdminUserFactory(username="root")
    client.force_login(admin)
    opportunity = OpportunityFactory(title="Retrofit")
    url = reverse("admin:relationships_opportunity_delete", args=(opportunity.pk,))
    pk = opportunity.pk

    transaction = TransactionFactory()
    response = client.get(_history_url(transaction))
    assert response.status_code == 200
    assert b"system" in response.content

    client.post(url, {"post": "yes"})
    assert _trail(Opportunity, pk)[-1] == ("-", "root", None)
    # The trail of a deleted object stays readable for an administrator.
    deleted = Opportunity(pk=pk)
    assert client.get(_history_url(deleted)).status_code == 200


@pytest.fixture
def staff_manager(client):
    """A staff account manager who may view and change transactions and opportunities."""
    manager = AccountManagerFactory(user=UserFactory(username="staffer", is_staff=True))
    manager.user.user_permissions.set(
        Permission.objects.filter(
            codename__in=[
                f"{action}_{model}"
                for action in ("view", "change")
                for model in ("transaction", "opportunity")
            ]
        )
    )
    client.force_login(manager.user)
    client.manager = manager
    return client


def test_a_staff_manager_sees_the_history_of_their_portfolio_only(staff_manager):
    mine = TransactionFactory(account=AccountFactory(owner=staff_manager.manager))
    theirs = TransactionFactory()
    gone = OpportunityFactory()
    gone_pk = gone.pk
    gone.delete()

    assert staff_manager.get(_history_url(mine)).status_code == 200
    assert staff_manager.get(_history_url(theirs)).status_code == 404
    version = Transaction.history.get(id=theirs.pk).history_id
    assert staff_manager.get(_history_url(theirs, version)).status_code == 404
    assert staff_manager.get(_history_url(Opportunity(pk=gone_pk))).status_code == 404
    assert staff_manager.get(_history_url(Transaction(pk=99999999))).status_code == 404


def test_a_version_cannot_be_reverted_through_the_admin(staff_manager):
    opportunity = OpportunityFactory(
        account=AccountFactory(owner=staff_manager.manager), title="Old"
    )
    version = Opportunity.history.get(id=opportunity.pk).history_id
    opportunity.title = "New"
    opportunity.save()
    url = _history_url(opportunity, version)

    assert staff_manager.get(url).status_code == 200
    response = staff_manager.post(url, {"title": "Old", "_change_history": "1"})

    assert response.status_code == 403
    opportunity.refresh_from_db()
    assert opportunity.title == "New"
