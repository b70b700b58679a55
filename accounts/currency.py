"""Conversion into the base currency at the rate in force on a date."""

import bisect
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from accounts.models import ExchangeRate

CENT = Decimal("0.01")


class MissingRateError(ValueError):
    def __init__(self, currency: str, on: date) -> None:
        super().__init__(f"No exchange rate for {currency} on or before {on.isoformat()}.")
        self.currency = currency
        self.on = on


class RateBook:
    """All exchange rates loaded once, so converting many rows costs no query per row."""

    def __init__(self, rates: dict[str, list[tuple[date, Decimal]]], base: str) -> None:
        self.base = base
        self._dates = {cur: [d for d, _ in rows] for cur, rows in rates.items()}
        self._rates = {cur: [r for _, r in rows] for cur, rows in rates.items()}

    @classmethod
    def load(cls, currencies: set[str] | None = None) -> "RateBook":
        rows = ExchangeRate.objects.order_by("currency", "valid_from")
        if currencies is not None:
            rows = rows.filter(currency__in=currencies)
        by_currency: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        for currency, valid_from, rate in rows.values_list("currency", "valid_from", "rate"):
            by_currency[currency].append((valid_from, rate))
        return cls(by_currency, settings.KAM_BASE_CURRENCY)

    def rate(self, currency: str, on: date) -> Decimal:
        if currency == self.base:
            return Decimal(1)
        dates = self._dates.get(currency)
        if not dates:
            raise MissingRateError(currency, on)
        index = bisect.bisect_right(dates, on) - 1
        if index < 0:
            raise MissingRateError(currency, on)
        return self._rates[currency][index]

    def to_base(self, amount: Decimal, currency: str, on: date) -> Decimal:
        return (amount * self.rate(currency, on)).quantize(CENT, rounding=ROUND_HALF_UP)
