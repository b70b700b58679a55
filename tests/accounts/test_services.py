"""transaction_create and the rate book: amounts land in the base currency at the day's rate."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.test import override_settings

from accounts.currency import MissingRateError, RateBook
from accounts.models import ExchangeRate, Transaction
from accounts.services import transaction_create
from tests.factories import AccountFactory, ProductLineFactory

pytestmark = pytest.mark.django_db

RATE_CHANGE = dt.date(2026, 4, 1)


@pytest.fixture
def usd_rates():
    """USD at 0.9 from 2026-01-01, then 0.8 from 2026-04-01."""
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2026, 1, 1), rate=Decimal("0.9"))
    ExchangeRate.objects.create(currency="USD", valid_from=RATE_CHANGE, rate=Decimal("0.8"))


def create(**kwargs) -> Transaction:
    values = {
        "account": AccountFactory(),
        "kind": Transaction.Kind.SALE,
        "date": dt.date(2026, 6, 1),
        "quantity": Decimal("10"),
        "unit_price": Decimal("100"),
        "currency": "EUR",
    }
    values.update(kwargs)
    return transaction_create(**values)


@pytest.mark.parametrize(
    ("on", "amount_base"),
    [
        (dt.date(2026, 1, 1), Decimal("900.00")),  # first day of the first rate
        (RATE_CHANGE - dt.timedelta(days=1), Decimal("900.00")),  # the day before the change
        (RATE_CHANGE, Decimal("800.00")),  # the day of the change
        (dt.date(2026, 12, 31), Decimal("800.00")),
    ],
)
def test_transaction_converts_at_the_rate_in_force_on_its_date(usd_rates, on, amount_base):
    txn = create(date=on, currency="USD")
    txn.refresh_from_db()
    assert (txn.amount, txn.currency, txn.amount_base) == (Decimal("1000.00"), "USD", amount_base)


def test_base_currency_converts_at_one_without_any_rate():
    txn = create(quantity=Decimal("3"), unit_price=Decimal("33.3333"), currency="EUR")
    txn.refresh_from_db()
    assert (txn.amount, txn.amount_base) == (Decimal("100.00"), Decimal("100.00"))


def test_base_currency_ignores_a_stray_base_rate():
    ExchangeRate.objects.create(currency="EUR", valid_from=dt.date(2020, 1, 1), rate=Decimal("2"))
    assert create(currency="EUR").amount_base == Decimal("1000.00")


@override_settings(KAM_BASE_CURRENCY="USD")
def test_base_currency_comes_from_settings(usd_rates):
    ExchangeRate.objects.create(currency="EUR", valid_from=dt.date(2026, 1, 1), rate=Decimal("1.1"))
    assert create(currency="USD").amount_base == Decimal("1000.00")
    assert create(currency="EUR").amount_base == Decimal("1100.00")


@pytest.mark.parametrize(
    ("currency", "on"),
    [
        ("GBP", dt.date(2026, 6, 1)),  # no rate at all
        ("USD", dt.date(2025, 12, 31)),  # rates exist, but only from later on
    ],
)
def test_missing_rate_raises_a_currency_error_and_writes_nothing(usd_rates, currency, on):
    with pytest.raises(ValidationError) as exc:
        create(currency=currency, date=on)
    assert exc.value.message_dict == {
        "currency": [f"No exchange rate for {currency} on or before {on.isoformat()}."]
    }
    assert Transaction.objects.count() == 0


def test_amount_is_computed_from_quantity_and_price():
    txn = create(quantity=Decimal("2.5"), unit_price=Decimal("19.99"))
    assert (txn.amount, txn.amount_base) == (Decimal("49.98"), Decimal("49.98"))


def test_given_amount_within_half_a_cent_is_kept():
    txn = create(quantity=Decimal("1"), unit_price=Decimal("0.125"), amount=Decimal("0.12"))
    txn.refresh_from_db()
    assert txn.amount == Decimal("0.12")


def test_given_amount_that_does_not_match_is_rejected_and_writes_nothing():
    with pytest.raises(ValidationError) as exc:
        create(amount=Decimal("999.00"))
    assert exc.value.message_dict == {
        "amount": ["Amount must equal quantity x unit price (1000.00)."]
    }
    assert Transaction.objects.count() == 0


def test_invalid_quantity_is_rejected_and_writes_nothing():
    with pytest.raises(ValidationError) as exc:
        create(quantity=Decimal("0"))
    assert exc.value.message_dict == {
        "quantity": ["Quantity must be greater than zero; use a return or credit note."]
    }
    assert Transaction.objects.count() == 0


def test_reimport_of_the_same_external_reference_is_a_validation_error():
    account = AccountFactory()
    first = create(account=account, source_system="erp", external_reference="INV-1")
    with pytest.raises(ValidationError) as exc:
        create(account=account, source_system="erp", external_reference="INV-1")
    assert list(exc.value.message_dict) == [NON_FIELD_ERRORS]
    other_source = create(account=account, source_system="shop", external_reference="INV-1")
    assert set(Transaction.objects.all()) == {first, other_source}


def test_all_fields_are_stored():
    line = ProductLineFactory(code="PUMP")
    txn = create(
        kind=Transaction.Kind.PURCHASE,
        product_line=line,
        product_code="P-100",
        description="Pumps",
        unit_cost=Decimal("60"),
        order_reference="SO-1",
        source_system="erp",
        external_reference="INV-9",
    )
    txn.refresh_from_db()
    assert (
        txn.kind,
        txn.product_line,
        txn.product_code,
        txn.description,
        txn.unit_cost,
        txn.order_reference,
        txn.source_system,
        txn.external_reference,
    ) == ("purchase", line, "P-100", "Pumps", Decimal("60.0000"), "SO-1", "erp", "INV-9")


# --- RateBook -------------------------------------------------------------------------------------

BOOK = RateBook(
    {
        "USD": [(dt.date(2026, 1, 1), Decimal("0.9")), (RATE_CHANGE, Decimal("0.8"))],
        "JPY": [(dt.date(2026, 1, 1), Decimal("0.00612345"))],
        "HALF": [(dt.date(2026, 1, 1), Decimal("0.5"))],
    },
    "EUR",
)


@pytest.mark.parametrize(
    ("amount", "currency", "to_base"),
    [
        ("1000.00", "EUR", "1000.00"),
        ("1000.00", "USD", "800.00"),
        ("123.45", "USD", "98.76"),
        ("0.01", "HALF", "0.01"),  # 0.005: half a cent rounds up
        ("1.25", "HALF", "0.63"),  # 0.625
        ("1.35", "HALF", "0.68"),  # 0.675
        ("0.03", "HALF", "0.02"),  # 0.015
        ("1234567", "JPY", "7559.81"),  # 7559.8093...
        ("1", "JPY", "0.01"),  # 0.00612345
        ("0.5", "JPY", "0.00"),  # 0.003061725
    ],
)
def test_rate_book_rounds_to_cents(amount, currency, to_base):
    assert BOOK.to_base(Decimal(amount), currency, dt.date(2026, 6, 1)) == Decimal(to_base)


@pytest.mark.parametrize(
    ("currency", "on", "rate"),
    [
        ("EUR", dt.date(1900, 1, 1), Decimal(1)),
        ("USD", dt.date(2026, 1, 1), Decimal("0.9")),
        ("USD", dt.date(2026, 3, 31), Decimal("0.9")),
        ("USD", RATE_CHANGE, Decimal("0.8")),
        ("USD", dt.date(2030, 1, 1), Decimal("0.8")),
    ],
)
def test_rate_book_picks_the_latest_rate_on_or_before_the_date(currency, on, rate):
    assert BOOK.rate(currency, on) == rate


@pytest.mark.parametrize(
    ("currency", "on"), [("USD", dt.date(2025, 12, 31)), ("GBP", dt.date(2026, 6, 1))]
)
def test_rate_book_without_a_rate_raises(currency, on):
    with pytest.raises(MissingRateError) as exc:
        BOOK.rate(currency, on)
    assert (exc.value.currency, exc.value.on) == (currency, on)
    assert str(exc.value) == f"No exchange rate for {currency} on or before {on.isoformat()}."


def test_rate_book_loads_the_requested_currencies_in_one_query(
    usd_rates, django_assert_num_queries
):
    ExchangeRate.objects.create(currency="GBP", valid_from=dt.date(2026, 1, 1), rate=Decimal("1.2"))
    with django_assert_num_queries(1):
        book = RateBook.load({"USD"})
    assert book.base == "EUR"
    assert book.rate("USD", RATE_CHANGE - dt.timedelta(days=1)) == Decimal("0.9")
    assert book.rate("USD", RATE_CHANGE) == Decimal("0.8")
    with pytest.raises(MissingRateError):
        book.rate("GBP", dt.date(2026, 6, 1))
    assert RateBook.load().rate("GBP", dt.date(2026, 6, 1)) == Decimal("1.2")
