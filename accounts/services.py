"""Writes on accounts and transactions: keyword-only, atomic, validated."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.currency import MissingRateError, RateBook
from accounts.models import Account, ProductLine, Transaction, TransactionKind


@transaction.atomic
def transaction_create(
    *,
    account: Account,
    kind: str = TransactionKind.SALE,
    date: date,
    quantity: Decimal,
    unit_price: Decimal,
    currency: str,
    product_line: ProductLine | None = None,
    product_code: str = "",
    description: str = "",
    unit_cost: Decimal | None = None,
    order_reference: str = "",
    source_system: str = "kam",
    external_reference: str = "",
    amount: Decimal | None = None,
) -> Transaction:
    """Create a transaction, converting its amount into the base currency at the day's rate."""
    if amount is None and quantity is not None and unit_price is not None:
        amount = Transaction.compute_amount(quantity, unit_price)
    txn = Transaction(
        account=account,
        kind=kind,
        date=date,
        quantity=quantity,
        unit_price=unit_price,
        unit_cost=unit_cost,
        amount=amount,
        currency=currency,
        product_line=product_line,
        product_code=product_code,
        description=description,
        order_reference=order_reference,
        source_system=source_system,
        external_reference=external_reference,
        amount_base=Decimal(0),
    )
    txn.full_clean(exclude=["amount_base"])
    try:
        txn.amount_base = RateBook.load({currency}).to_base(amount, currency, date)
    except MissingRateError as exc:
        raise ValidationError({"currency": str(exc)}) from exc
    txn.save()
    return txn


def transaction_convert(*, txn: Transaction) -> None:
    """Set `txn.amount_base` from its amount at the rate in force on its date (no save).

    A missing rate is a ValidationError on `currency`, so a form shows it next to the field.
    """
    try:
        txn.amount_base = RateBook.load({txn.currency}).to_base(txn.amount, txn.currency, txn.date)
    except MissingRateError as exc:
        raise ValidationError({"currency": str(exc)}) from exc
