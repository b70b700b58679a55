"""The admin for the accounts app, and the shared pieces in kam/admin_csv.py."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, Contact, Transaction
from kam.admin_csv import csv_safe
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    ContactFactory,
    CustomerFactory,
    ExchangeRateFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _url(model_name: str, view: str, *args) -> str:
    return reverse(f"admin:accounts_{model_name}_{view}", args=args)


@pytest.mark.parametrize(
    ("model_name", "factory", "max_queries"),
    [
        # session, user, 2 counts, rows, 2 filter choices
        ("account", AccountFactory, 7),
        # session, user, rates' currencies (filter), product lines (filter), count, rows: the
        # source systems come from the cache, and no filter reads every transaction
        ("transaction", TransactionFactory, 6),
    ],
)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, model_name, factory, max_queries
):
    url = _url(model_name, "changelist")
    factory.create_batch(5)
    admin_client.get(url)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as five_rows:
        response = admin_client.get(url)
    assert response.context["cl"].result_count == 5

    factory.create_batch(25)
    with (
        django_assert_max_num_queries(max_queries),
        CaptureQueriesContext(connection) as thirty_rows,
    ):
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 30
    assert len(thirty_rows) == len(five_rows)


# --- CSV export ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Acme", "Acme"),
        ("=1+2", "'=1+2"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd", "'\t=cmd"),
        ("\rcmd", "'\rcmd"),
        ("a=b", "a=b"),
        ("Anna-Lena", "Anna-Lena"),
        ("", ""),
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (0, "0"),
        (-3, "-3"),
        (Decimal("-12.50"), "-12.50"),
        (1.5, "1.5"),
        (dt.date(2026, 6, 1), "2026-06-01"),
    ],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_csv_export_writes_the_selected_rows_with_a_header_and_escapes_formulas(admin_client):
    customer = CustomerFactory(name="@SUM(A1)")
    first = ContactFactory(
        customer=customer,
        name='=HYPERLINK("http://evil.example")',
        title="-1+2",
        function=Contact.Function.RND,
        seniority=Contact.Seniority.EXECUTIVE,
        email="anna@example.com",
        phone="+49 30 1234",
    )
    second = ContactFactory(
        customer=customer,
        name="Zoe, Smith",
        title="\tBuyer",
        function=Contact.Function.OTHER,
        seniority=Contact.Seniority.OPERATIONAL,
        is_active=False,
    )
    ContactFactory(name="Not selected")

    response = admin_client.post(
        _url("contact", "changelist"),
        {"action": "export_as_csv", "_selected_action": [first.pk, second.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contact-')
    assert b"".join(response.streaming_content).decode() == (
        "Name,Customer,Title,Function,Seniority,Email,Phone,Is active\r\n"
        '"\'=HYPERLINK(""http://evil.example"")",\'@SUM(A1),\'-1+2,R&D,Executive,'
        "anna@example.com,'+49 30 1234,yes\r\n"
        "\"Zoe, Smith\",'@SUM(A1),'\tBuyer,Other,Operational,,,no\r\n"
    )


def test_csv_export_is_offered_on_every_kam_admin():
    kam_admins = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in {"accounts", "relationships"}
    ]
    assert len(kam_admins) == 17
    assert all("export_as_csv" in {a.__name__ for a in m.actions} for m in kam_admins)


# --- Validation reaches the form ------------------------------------------------------------------


def test_model_clean_messages_show_on_the_account_form(admin_client):
    customer = CustomerFactory()
    owner = AccountManagerFactory()

    response = admin_client.post(
        _url("account", "add"),
        {
            "customer": customer.pk,
            "level": "national",
            "country": "",
            "status": "active",
            "owner": owner.pk,
            "currency": "EUR",
            **_empty_inlines("team_members", "plans"),
        },
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"country": ["A national account needs a country."]}
    assert not Account.objects.exists()


def test_account_with_a_team_member_inline_is_saved(admin_client):
    customer = CustomerFactory()
    owner = AccountManagerFactory()
    supporter = AccountManagerFactory()
    inlines = _empty_inlines("team_members", "plans")
    inlines |= {
        "team_members-TOTAL_FORMS": "1",
        "team_members-0-manager": supporter.pk,
        "team_members-0-role": "support",
        "team_members-0-start_date": "2026-01-01",
    }

    response = admin_client.post(
        _url("account", "add"),
        {
            "customer": customer.pk,
            "level": "national",
            "country": "FR",
            "status": "active",
            "owner": owner.pk,
            "currency": "EUR",
            **inlines,
        },
    )

    assert response.status_code == 302
    account = Account.objects.get()
    assert [m.manager for m in account.team_members.all()] == [supporter]


def _empty_inlines(*prefixes: str) -> dict[str, str]:
    data = {}
    for prefix in prefixes:
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data


# --- Transactions --------------------------------------------------------------------------------


def _transaction_data(account: Account, **overrides) -> dict:
    return {
        "account": account.pk,
        "kind": "sale",
        "date": "2026-06-01",
        "product_line": "",
        "product_code": "",
        "description": "",
        "order_reference": "SO-1",
        "quantity": "10",
        "unit_price": "100",
        "unit_cost": "",
        "amount": "",
        "currency": "USD",
        "source_system": "kam",
        "external_reference": "",
        **overrides,
    }


def test_transaction_in_a_currency_without_a_rate_is_a_form_error(admin_client):
    account = AccountFactory()
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2020, 1, 1))

    response = admin_client.post(
        _url("transaction", "add"), _transaction_data(account, currency="JPY")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "currency": ["No exchange rate for JPY on or before 2026-06-01."]
    }
    assert "No exchange rate for JPY on or before 2026-06-01." in response.content.decode()
    assert not Transaction.objects.exists()


def test_transaction_added_in_usd_is_converted_at_the_rate_in_force(admin_client):
    account = AccountFactory()
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2025, 1, 1), rate=Decimal("0.9"))
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2026, 5, 1), rate=Decimal("0.85"))
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2026, 7, 1), rate=Decimal("0.5"))

    response = admin_client.post(_url("transaction", "add"), _transaction_data(account))

    assert response.status_code == 302
    txn = Transaction.objects.get()
    assert (txn.amount, txn.currency, txn.amount_base) == (
        Decimal("1000.00"),
        "USD",
        Decimal("850.00"),
    )


def test_transaction_amount_that_is_not_quantity_times_price_is_a_form_error(admin_client):
    account = AccountFactory()
    ExchangeRateFactory(currency="USD")

    response = admin_client.post(
        _url("transaction", "add"), _transaction_data(account, amount="999")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "amount": ["Amount must equal quantity x unit price (1000.00)."]
    }
    assert not Transaction.objects.exists()


@pytest.fixture
def manager_client(client):
    """A staff account manager holding every model permission on transactions."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=[f"{a}_transaction" for a in ("add", "change", "delete", "view")],
        )
    )
    client.force_login(user)
    client.manager = AccountManagerFactory(user=user)
    return client


def test_manager_can_add_a_transaction(manager_client):
    account = AccountFactory(owner=manager_client.manager)
    ExchangeRateFactory(currency="USD", rate=Decimal("0.9"))

    response = manager_client.post(_url("transaction", "add"), _transaction_data(account))

    assert response.status_code == 302
    assert Transaction.objects.get().amount_base == Decimal("900.00")


def test_manager_cannot_change_or_delete_a_transaction(manager_client):
    txn = TransactionFactory(account=AccountFactory(owner=manager_client.manager))
    change_url = _url("transaction", "change", txn.pk)

    page = manager_client.get(change_url)
    changed = manager_client.post(
        change_url, _transaction_data(txn.account, currency="EUR", quantity="99")
    )
    deleted = manager_client.post(_url("transaction", "delete", txn.pk), {"post": "yes"})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert (changed.status_code, deleted.status_code) == (403, 403)
    txn.refresh_from_db()
    assert txn.quantity == Decimal("10")


def test_manager_sees_only_their_portfolio(manager_client):
    mine = TransactionFactory(account=AccountFactory(owner=manager_client.manager))
    TransactionFactory()

    response = manager_client.get(_url("transaction", "changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]


def _choices(response, title: str) -> list[str]:
    changelist = response.context["cl"]
    spec = next(spec for spec in changelist.filter_specs if spec.title == title)
    return [choice["display"] for choice in spec.choices(changelist)][1:]  # after "All"


def test_transaction_filters_read_no_distinct_over_the_transactions(admin_client):
    """Currencies from the rates (a transaction can be in no other), source systems cached for
    ten minutes, dates as ranges: on 5,000,000 transactions each had read every row."""
    cache.clear()
    ExchangeRateFactory(currency="USD")
    erp = TransactionFactory(source_system="erp", currency="USD")
    TransactionFactory(source_system="kam")
    url = _url("transaction", "changelist")
    first = admin_client.get(url)
    assert _choices(first, "currency") == ["EUR", "USD"]
    assert _choices(first, "source system") == ["erp", "kam"]
    TransactionFactory(source_system="shop")  # listed once the cached list expires
    with CaptureQueriesContext(connection) as queries:
        again = admin_client.get(url)
    assert _choices(again, "source system") == ["erp", "kam"]
    assert not [
        q for q in queries.captured_queries if "DISTINCT" in q["sql"] and "transaction" in q["sql"]
    ]
    for params in ({"source_system": "erp"}, {"currency": "USD"}):
        assert list(admin_client.get(url, params).context["cl"].result_list) == [erp]
    assert admin_client.get(url, {"source_system": "shop"}).context["cl"].result_count == 1


def test_a_managers_source_systems_are_their_portfolios(manager_client):
    TransactionFactory(account=AccountFactory(owner=manager_client.manager), source_system="erp")
    TransactionFactory(source_system="someone-elses-erp")

    response = manager_client.get(_url("transaction", "changelist"))

    assert _choices(response, "source system") == ["erp"]


def test_the_source_systems_are_read_directly_when_the_cache_is_down(admin_client):
    TransactionFactory(source_system="erp")
    unreachable = "django.core.cache.backends.redis.RedisCache"
    with override_settings(
        CACHES={"default": {"BACKEND": unreachable, "LOCATION": "redis://127.0.0.1:1/0"}}
    ):
        response = admin_client.get(_url("transaction", "changelist"))

    assert response.status_code == 200
    assert _choices(response, "source system") == ["erp"]


def test_manager_cannot_book_on_an_account_outside_their_portfolio(manager_client):
    ExchangeRateFactory(currency="USD")
    other = AccountFactory()

    response = manager_client.post(_url("transaction", "add"), _transaction_data(other))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["account"]
    assert not Transaction.objects.exists()


# --- Autocomplete --------------------------------------------------------------------------------

AUTOCOMPLETE_FIELDS = sorted(
    (model._meta.app_label, model._meta.model_name, field)
    for model, model_admin in admin.site._registry.items()
    if model._meta.app_label in {"accounts", "relationships"}
    for field in model_admin.autocomplete_fields
)


@pytest.mark.parametrize(("app_label", "model_name", "field_name"), AUTOCOMPLETE_FIELDS)
def test_every_autocomplete_field_answers(admin_client, app_label, model_name, field_name):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": "a"},
    )

    assert response.status_code == 200


def test_account_autocomplete_offers_only_the_managers_portfolio(manager_client):
    manager_client.manager.user.user_permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="view_account")
    )
    mine = AccountFactory(owner=manager_client.manager, customer__name="Acme Mine")
    AccountFactory(customer__name="Acme Other")

    response = manager_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "accounts",
            "model_name": "transaction",
            "field_name": "account",
            "term": "Acme",
        },
    )

    assert response.json()["results"] == [{"id": str(mine.pk), "text": "Acme Mine (DE)"}]
