"""Model rules of the accounts app: clean() names the field, the database holds the line anyway."""

import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from accounts.models import (
    Account,
    AccountManager,
    Contact,
    ExchangeRate,
    Level,
    Transaction,
)
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AccountTeamMemberFactory,
    ContactFactory,
    CustomerFactory,
    GlobalAccountFactory,
    GlobalManagerFactory,
    ProductLineFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def clean_errors(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        obj.clean()
    return exc.value.message_dict


def full_clean_errors(obj, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        obj.full_clean(**kwargs)
    return exc.value.message_dict


@contextmanager
def violates(constraint: str):
    """The database refuses the write with this constraint; the savepoint keeps the test going."""
    with pytest.raises(IntegrityError, match=f'"{constraint}"'), transaction.atomic():
        yield


# --- AccountManager -------------------------------------------------------------------------------

CYCLE = {"reports_to": ["This would make a cycle in the reporting hierarchy."]}


@pytest.mark.parametrize("size", [1, 2, 4])
def test_manager_cycle_is_rejected_by_clean(size):
    """size 1: A->A; size 2: A->B->A; size 4: A->B->C->D->A."""
    chain = [AccountManagerFactory()]
    for _ in range(size - 1):
        chain.append(AccountManagerFactory(reports_to=chain[-1]))
    top = chain[0]
    top.reports_to = chain[-1]
    assert clean_errors(top) == CYCLE


def test_manager_chain_without_cycle_is_valid():
    chain = [AccountManagerFactory()]
    for _ in range(4):
        chain.append(AccountManagerFactory(reports_to=chain[-1]))
    newcomer = AccountManagerFactory.build(user=UserFactory(), reports_to=chain[-1])
    newcomer.full_clean()
    chain[2].full_clean()


def test_manager_clean_terminates_on_a_cycle_above_it_in_the_database():
    a = AccountManagerFactory()
    b = AccountManagerFactory(reports_to=a)
    AccountManager.objects.filter(pk=a.pk).update(reports_to=b)  # forced past clean()
    newcomer = AccountManagerFactory.build(user=UserFactory(), reports_to=b)
    newcomer.full_clean()


def test_manager_own_superior_is_rejected_by_the_database():
    manager = AccountManagerFactory()
    with violates("manager_not_own_superior"):
        AccountManager.objects.filter(pk=manager.pk).update(reports_to=manager)


@pytest.mark.parametrize(
    ("level", "boss_level", "errors"),
    [
        (
            Level.GLOBAL,
            Level.NATIONAL,
            {"reports_to": ["A global manager reports to a global manager or to nobody."]},
        ),
        (Level.GLOBAL, Level.GLOBAL, None),
        (Level.NATIONAL, Level.GLOBAL, None),
        (Level.NATIONAL, Level.NATIONAL, None),
    ],
)
def test_manager_reporting_line_by_level(level, boss_level, errors):
    boss = (GlobalManagerFactory if boss_level == Level.GLOBAL else AccountManagerFactory)()
    factory = GlobalManagerFactory if level == Level.GLOBAL else AccountManagerFactory
    manager = factory.build(user=UserFactory(), reports_to=boss)
    if errors is None:
        manager.full_clean()
    else:
        assert clean_errors(manager) == errors


def test_national_manager_needs_a_country():
    manager = AccountManagerFactory.build(user=UserFactory(), country="")
    assert clean_errors(manager) == {"country": ["A national manager needs a country."]}
    with violates("manager_national_has_country"):
        AccountManagerFactory(country="")


def test_global_manager_needs_no_country():
    manager = GlobalManagerFactory.build(user=UserFactory(), country="")
    manager.full_clean()
    GlobalManagerFactory(country="")


# --- Account --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "country", "errors"),
    [
        (Level.NATIONAL, "", {"country": ["A national account needs a country."]}),
        (Level.GLOBAL, "DE", {"country": ["A global account has no country."]}),
        (Level.NATIONAL, "DE", None),
        (Level.GLOBAL, "", None),
    ],
)
def test_account_country_matches_level_in_clean(level, country, errors):
    owner = (GlobalManagerFactory if level == Level.GLOBAL else AccountManagerFactory)()
    account = Account(customer=CustomerFactory(), level=level, country=country, owner=owner)
    if errors is None:
        account.full_clean()
    else:
        assert clean_errors(account) == errors


@pytest.mark.parametrize(
    ("factory", "country"),
    [(AccountFactory, ""), (AccountFactory, "de"), (GlobalAccountFactory, "DE")],
)
def test_account_country_matches_level_in_the_database(factory, country):
    with violates("account_country_matches_level"):
        factory(country=country)


@pytest.mark.parametrize(
    ("level", "owner_factory", "message"),
    [
        (Level.NATIONAL, GlobalManagerFactory, "The owner must be a national manager."),
        (Level.GLOBAL, AccountManagerFactory, "The owner must be a global manager."),
    ],
)
def test_account_owner_level_must_equal_account_level(level, owner_factory, message):
    country = "DE" if level == Level.NATIONAL else ""
    account = Account(
        customer=CustomerFactory(), level=level, country=country, owner=owner_factory()
    )
    assert clean_errors(account) == {"owner": [message]}


def test_account_parent_must_be_global():
    customer = CustomerFactory()
    national_parent = AccountFactory(customer=customer, country="FR")
    account = AccountFactory.build(customer=customer, owner=AccountManagerFactory())
    account.parent = national_parent
    assert clean_errors(account) == {"parent": ["The parent must be a global account."]}


@pytest.fixture
def groups():
    """Two corporate groups: root with subsidiaries a and b, and an unrelated root with one."""
    root = CustomerFactory(name="Group")
    other = CustomerFactory(name="Other group")
    return {
        "root": root,
        "a": CustomerFactory(name="Sub A", parent=root),
        "b": CustomerFactory(name="Sub B", parent=root),
        "other": other,
        "other_sub": CustomerFactory(name="Other sub", parent=other),
    }


SAME_GROUP = "The global account must be of the same customer group."


@pytest.mark.parametrize(
    ("global_customer", "national_customer", "errors"),
    [
        ("root", "root", None),
        ("root", "a", None),
        ("a", "root", None),
        ("a", "b", None),
        ("other", "a", {"parent": [SAME_GROUP]}),
        ("other_sub", "a", {"parent": [SAME_GROUP]}),
        ("a", "other", {"parent": [SAME_GROUP]}),
    ],
)
def test_account_parent_must_be_of_the_same_customer_group(
    groups, global_customer, national_customer, errors
):
    parent = GlobalAccountFactory(customer=groups[global_customer])
    account = Account(
        customer=groups[national_customer],
        level=Level.NATIONAL,
        country="DE",
        owner=AccountManagerFactory(),
        parent=parent,
    )
    if errors is None:
        account.full_clean()
    else:
        assert clean_errors(account) == errors


def test_only_a_national_account_may_have_a_parent():
    customer = CustomerFactory()
    parent = GlobalAccountFactory(customer=customer)
    child = GlobalAccountFactory(customer=CustomerFactory(parent=customer))
    child.parent = parent
    assert clean_errors(child) == {
        "parent": ["Only a national account can belong to a global account."]
    }
    with violates("account_only_national_has_parent"):
        Account.objects.filter(pk=child.pk).update(parent=parent)


def test_account_is_unique_per_customer_level_and_country():
    customer = CustomerFactory()
    AccountFactory(customer=customer, country="DE")
    AccountFactory(customer=customer, country="FR")
    GlobalAccountFactory(customer=customer)
    with violates("account_unique_customer_level"):
        AccountFactory(customer=customer, country="DE")
    with violates("account_unique_customer_level"):
        GlobalAccountFactory(customer=customer)
    assert Account.objects.filter(customer=customer).count() == 3


def test_duplicate_account_fails_full_clean():
    existing = AccountFactory()
    duplicate = Account(
        customer=existing.customer, level=Level.NATIONAL, country="DE", owner=existing.owner
    )
    assert list(full_clean_errors(duplicate)) == [NON_FIELD_ERRORS]


# --- AccountTeamMember ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "valid"),
    [
        (dt.date(2026, 1, 2), dt.date(2026, 1, 1), False),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1), True),
        (dt.date(2026, 1, 1), None, True),
    ],
)
def test_team_member_until_not_before_from(start, end, valid):
    member = AccountTeamMemberFactory.build(
        account=AccountFactory(), manager=AccountManagerFactory(), start_date=start, end_date=end
    )
    if valid:
        member.full_clean()
        member.save()
    else:
        assert clean_errors(member) == {"end_date": ["'Until' cannot be before 'from'."]}
        with violates("team_member_dates_ordered"):
            member.save()


# --- Transaction ----------------------------------------------------------------------------------


def build_transaction(**kwargs) -> Transaction:
    kwargs.setdefault("account", AccountFactory())
    return TransactionFactory.build(**kwargs)


def test_transaction_amount_must_equal_quantity_times_price():
    txn = build_transaction(
        quantity=Decimal("10"), unit_price=Decimal("100"), amount=Decimal("999")
    )
    assert clean_errors(txn) == {"amount": ["Amount must equal quantity x unit price (1000.00)."]}
    with violates("transaction_amount_is_quantity_times_price"):
        txn.save()


@pytest.mark.parametrize(
    ("quantity", "unit_price", "amount"),
    [
        (Decimal("3"), Decimal("0.3333"), Decimal("1.00")),  # 0.9999, rounds to the cent
        (Decimal("1"), Decimal("0.125"), Decimal("0.12")),  # half a cent either way is fine
        (Decimal("1"), Decimal("0.125"), Decimal("0.13")),
        (Decimal("2.5"), Decimal("4"), Decimal("10.00")),
    ],
)
def test_transaction_amount_within_half_a_cent_is_accepted(quantity, unit_price, amount):
    txn = build_transaction(quantity=quantity, unit_price=unit_price, amount=amount)
    txn.full_clean()
    txn.save()


@pytest.mark.parametrize(
    ("quantity", "unit_price", "amount"),
    [
        ("1", "0.125", "0.13"),  # half a cent rounds up, as on an invoice
        ("1", "0.135", "0.14"),
        ("1", "0.005", "0.01"),
        ("1", "0.0049", "0.00"),
        ("3", "0.3333", "1.00"),
        ("2.5", "19.99", "49.98"),  # 49.975
        ("1000", "1.2345", "1234.50"),
    ],
)
def test_compute_amount_rounds_half_up_to_the_cent(quantity, unit_price, amount):
    assert Transaction.compute_amount(Decimal(quantity), Decimal(unit_price)) == Decimal(amount)


def test_transaction_amount_more_than_half_a_cent_off_is_rejected():
    txn = build_transaction(
        quantity=Decimal("1"), unit_price=Decimal("0.125"), amount=Decimal("0.11")
    )
    assert clean_errors(txn) == {"amount": ["Amount must equal quantity x unit price (0.13)."]}
    with violates("transaction_amount_is_quantity_times_price"):
        txn.save()


@pytest.mark.parametrize("quantity", [Decimal("0"), Decimal("-1")])
def test_transaction_quantity_must_be_positive(quantity):
    txn = build_transaction(quantity=quantity)
    assert clean_errors(txn) == {
        "quantity": ["Quantity must be greater than zero; use a return or credit note."]
    }
    with violates("transaction_quantity_positive"):
        txn.save()


def test_transaction_negative_price_is_rejected():
    txn = build_transaction(unit_price=Decimal("-1"))
    assert full_clean_errors(txn) == {
        "unit_price": ["Ensure this value is greater than or equal to 0."]
    }
    with violates("transaction_price_not_negative"):
        txn.save()


def test_transaction_zero_price_is_allowed():
    txn = build_transaction(unit_price=Decimal("0"))
    txn.full_clean()
    txn.save()
    assert txn.amount == Decimal("0.00")


def test_transaction_negative_cost_is_rejected():
    with violates("transaction_cost_not_negative"):
        TransactionFactory(unit_cost=Decimal("-0.01"))


def test_transaction_external_reference_is_unique_per_source_system():
    account = AccountFactory()
    TransactionFactory(account=account, source_system="erp", external_reference="INV-1")
    TransactionFactory(account=account, source_system="shop", external_reference="INV-1")
    with violates("transaction_unique_external_ref"):
        TransactionFactory(account=account, source_system="erp", external_reference="INV-1")
    duplicate = build_transaction(account=account, source_system="erp", external_reference="INV-1")
    assert list(full_clean_errors(duplicate)) == [NON_FIELD_ERRORS]


def test_transaction_empty_external_references_are_not_unique():
    account = AccountFactory()
    TransactionFactory.create_batch(3, account=account, source_system="erp", external_reference="")
    assert Transaction.objects.filter(account=account, external_reference="").count() == 3


# --- ExchangeRate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [Decimal("0"), Decimal("-0.5")])
def test_exchange_rate_must_be_positive(rate):
    row = ExchangeRate(currency="USD", valid_from=dt.date(2026, 1, 1), rate=rate)
    assert list(full_clean_errors(row)) == ["rate"]
    with violates("rate_positive"):
        row.save()


def test_exchange_rate_is_unique_per_currency_and_day():
    day = dt.date(2026, 1, 1)
    ExchangeRate.objects.create(currency="USD", valid_from=day, rate=Decimal("0.9"))
    ExchangeRate.objects.create(currency="GBP", valid_from=day, rate=Decimal("1.2"))
    ExchangeRate.objects.create(currency="USD", valid_from=day.replace(day=2), rate=Decimal("0.8"))
    with violates("rate_unique_per_day"):
        ExchangeRate.objects.create(currency="USD", valid_from=day, rate=Decimal("0.95"))


# --- Customer -------------------------------------------------------------------------------------


def test_customer_cannot_be_inside_its_own_group():
    root = CustomerFactory()
    child = CustomerFactory(parent=root)
    grandchild = CustomerFactory(parent=child)
    root.parent = grandchild
    assert clean_errors(root) == {"parent": ["A customer cannot be inside its own group."]}
    assert grandchild.group_root() == root


# --- __str__ --------------------------------------------------------------------------------------


def test_str_of_every_accounts_model():
    customer = CustomerFactory(name="Acme")
    named = AccountManagerFactory(user=UserFactory(first_name="Ada", last_name="Lovelace"))
    unnamed = AccountManagerFactory(user=UserFactory(username="bob"))
    national = AccountFactory(customer=customer, country="DE", owner=named)
    global_account = GlobalAccountFactory(customer=customer)
    member = AccountTeamMemberFactory(account=national, manager=unnamed, role="support")
    rate = ExchangeRate.objects.create(
        currency="USD", valid_from=dt.date(2026, 1, 1), rate=Decimal("0.9")
    )
    rate.refresh_from_db()
    sale = TransactionFactory(
        account=national, quantity=Decimal("10"), unit_price=Decimal("100"), currency="EUR"
    )

    assert [
        str(customer),
        str(ContactFactory(customer=customer, name="Jane Doe")),
        str(Contact(name="Loose end")),
        str(named),
        str(unnamed),
        str(AccountManager(pk=7)),
        str(national),
        str(global_account),
        str(Account(level=Level.GLOBAL)),
        str(member),
        str(ProductLineFactory(code="PUMP", name="Pumps")),
        str(rate),
        str(sale),
    ] == [
        "Acme",
        "Jane Doe (Acme)",
        "Loose end",
        "Ada Lovelace",
        "bob",
        "Manager 7",
        "Acme (DE)",
        "Acme (global)",
        "? (global)",
        "bob - Support on Acme (DE)",
        "PUMP Pumps",
        "USD 0.90000000 from 2026-01-01",
        "Sale 1000.00 EUR on 2026-06-01",
    ]
