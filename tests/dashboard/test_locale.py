"""Dates and money in the browser's locale, with the currency; CSV exports stay machine-readable."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.utils import translation

from dashboard.templatetags.dashboard import money, number, percent, score
from tests.factories import TransactionFactory

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("language", "value", "expected"),
    [
        ("en", Decimal("1234567.891"), "1,234,567.89 EUR"),
        ("de", Decimal("1234567.891"), "1.234.567,89 EUR"),
        ("fr", Decimal("1234567.891"), "1\u00a0234\u00a0567,89 EUR"),
        ("en", Decimal("-1234.5"), "-1,234.50 EUR"),
        ("de", Decimal("-1234.5"), "-1.234,50 EUR"),
        ("fr", -1234.5, "-1\u00a0234,50 EUR"),
        ("en", 0.005, "0.01 EUR"),  # half up, not to even
        ("en", Decimal("-0.001"), "0.00 EUR"),  # no negative zero
        ("de", 12, "12,00 EUR"),
        ("de", "987.6", "987,60 EUR"),
    ],
)
def test_money_filter(language, value, expected):
    with translation.override(language):
        assert money(value, "EUR") == expected.replace(" EUR", f"{NBSP}EUR")


@pytest.mark.parametrize("value", [None, ""])
def test_money_filter_without_a_value(value):
    assert money(value, "EUR") == "-"


def test_money_filter_leaves_what_is_not_a_number():
    assert money("n/a", "EUR") == "n/a"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", ["12,345", "+12.3 %", "70.3", "70"]), ("de", ["12.345", "+12,3 %", "70,3", "70"])],
)
def test_number_percent_and_score_follow_the_locale(language, expected):
    with translation.override(language):
        shown = [number(12345), percent(0.123), score(70.25), score(70.0)]
    assert shown == [e.replace(" %", f"{NBSP}%") for e in expected]
    assert percent(None) == "-"
    assert score(None) == "-"


def test_negative_percent_keeps_one_sign():
    with translation.override("en"):
        assert percent(Decimal("-0.25")) == f"-25.0{NBSP}%"


def _account_with_sale(portfolio, today):
    account = portfolio["alpha"]
    TransactionFactory(
        account=account, date=today, quantity=Decimal("1"), unit_price=Decimal("1234.56")
    )
    return account


def test_portfolio_in_german(login, portfolio, today):
    _account_with_sale(portfolio, today)
    html = login("nam1").get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de">' in html
    assert f"1.234,56{NBSP}EUR" in html
    assert "1,234.56" not in html
    with translation.override("de"):
        month = translation.gettext(today.strftime("%B"))
    assert f"as of {today.day}. {month} {today.year}" in html  # DATE_FORMAT "j. F Y"


def test_portfolio_in_english(login, portfolio, today):
    _account_with_sale(portfolio, today)
    html = login("nam1").get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in html
    assert f"1,234.56{NBSP}EUR" in html
    assert f" {today.day}, {today.year}</p>" in html  # DATE_FORMAT "N j, Y"


@pytest.mark.parametrize(
    ("accept", "lang", "amount", "day_format"),
    [
        ("de-DE,de;q=0.9", "de", "1.234,56", "%d.%m.%Y"),
        ("en-US,en;q=0.9", "en", "1,234.56", "%m/%d/%Y"),
        ("en-GB", "en-gb", "1,234.56", "%d/%m/%Y"),
        ("fr", "fr", "1\u00a0234,56", "%d/%m/%Y"),
        ("ja", "en", "1,234.56", "%m/%d/%Y"),  # not offered: the default language
    ],
)
def test_account_page_in_the_browser_language(
    login, portfolio, today, accept, lang, amount, day_format
):
    account = _account_with_sale(portfolio, today)
    html = login("nam1").get(f"/accounts/{account.pk}/", HTTP_ACCEPT_LANGUAGE=accept)
    html = html.content.decode()
    assert f'<html lang="{lang}">' in html
    transactions = html.split('id="tx-title"')[1].split("</table>")[0]
    assert f"<td>{today.strftime(day_format)}</td>" in transactions
    assert f"{amount}{NBSP}EUR" in transactions


def test_revenue_chart_data_stays_machine_readable(login, portfolio, today):
    account = _account_with_sale(portfolio, today)
    html = login("nam1").get(f"/accounts/{account.pk}/", HTTP_ACCEPT_LANGUAGE="de")
    html = html.content.decode()
    data = json.loads(
        html.split('<script id="revenue-data" type="application/json">')[1].split("</script>")[0]
    )
    # Months as ISO year-month and plain numbers: charts.js formats them in the page's language.
    assert data["labels"][-1] == today.strftime("%Y-%m")
    assert data["sales"][-1] == 1234.56
    assert data["currency"] == "EUR"


def test_csv_export_ignores_the_locale(login, portfolio, today):
    _account_with_sale(portfolio, today)
    response = login("nam1").get("/portfolio.csv", HTTP_ACCEPT_LANGUAGE="de")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    alpha = next(row for row in rows if row[0] == "Alpha Robotics")
    assert alpha[6] == "1234.56"
