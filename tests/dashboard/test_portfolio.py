"""The portfolio page: visibility, filters, sorting, pagination, CSV export, query count."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, TransactionFactory

pytestmark = pytest.mark.django_db

URL = "/"


def names(response) -> list[str]:
    return [row["account"].customer.name for row in response.context["rows"]]


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize(
    "url",
    ["/", "/portfolio.csv", "/accounts/1/"],
)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_login_page_and_logout(client, nam1):
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'<label for="id_username">Username</label>' in page.content
    response = client.post("/login/", {"username": "nam1", "password": "pass-word-123"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/logout/").status_code == 405  # logout is POST only
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_manager_sees_only_own_accounts(login, portfolio):
    response = login("nam1").get(URL)
    assert response.status_code == 200
    assert names(response) == ["Alpha Robotics", "Beta Foods"]
    assert response.content.count(b"<h1") == 1
    assert "owner" not in response.context["form"].fields


def test_lead_sees_the_team_and_filters_by_owner(login, portfolio, nam2):
    client = login("lead")
    response = client.get(URL)
    assert names(response) == ["Alpha Robotics", "Beta Foods", "Gamma Chemicals"]
    response = client.get(URL, {"owner": nam2.pk})
    assert names(response) == ["Gamma Chemicals"]


def test_owner_filter_cannot_reach_outside_the_portfolio(login, portfolio, stranger):
    response = login("lead").get(URL, {"owner": stranger.pk})
    # Not a valid choice for this lead: the filter is dropped, the portfolio stays the lead's.
    assert "Hidden Steel" not in names(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "alp"}, ["Alpha Robotics"]),
        ({"status": "dormant"}, ["Beta Foods"]),
        ({"country": "AT"}, ["Beta Foods"]),
        ({"key": "yes"}, ["Alpha Robotics"]),
        ({"key": "no"}, ["Beta Foods"]),
        ({"level": "global"}, []),
        ({"sort": "-name"}, ["Beta Foods", "Alpha Robotics"]),
        ({"status": "not-a-status"}, ["Alpha Robotics", "Beta Foods"]),
    ],
)
def test_filters(login, portfolio, params, expected):
    assert names(login("nam1").get(URL, params)) == expected


def test_segment_filter_and_current_segments_in_rows(login, portfolio, classify):
    classify(portfolio["alpha"], four_s="strategic", webster="partnership")
    classify(portfolio["beta"], four_s="streamline")
    response = login("nam1").get(URL, {"segment": "four_s:strategic"})
    assert names(response) == ["Alpha Robotics"]
    assert response.context["rows"][0]["segments"]["webster"]["segment"] == "partnership"
    assert b"Strategic" in response.content
    distribution = {m["model"]: m for m in response.context["distribution"]}
    counts = {s["segment"]: s["count"] for s in distribution["four_s"]["segments"]}
    assert counts == {"strategic": 1, "star": 0, "status": 0, "streamline": 1}


def test_sort_by_revenue(login, portfolio, today):
    TransactionFactory(account=portfolio["beta"], date=today, unit_price=Decimal("500"))
    TransactionFactory(account=portfolio["alpha"], date=today, unit_price=Decimal("100"))
    response = login("nam1").get(URL, {"sort": "-revenue"})
    assert names(response) == ["Beta Foods", "Alpha Robotics"]
    assert response.context["rows"][0]["account"].revenue_12m == Decimal("5000.00")


def test_pagination_25_per_page(login, nam1):
    AccountFactory.create_batch(30, owner=nam1)
    client = login("nam1")
    first = client.get(URL)
    assert len(first.context["rows"]) == 25
    assert first.context["page"].paginator.num_pages == 2
    second = client.get(URL, {"page": 2})
    assert len(second.context["rows"]) == 5


def test_key_figures_the_revenue_loaded_after_the_page(
    login, portfolio, today, django_assert_max_num_queries
):
    """The revenue reads every transaction of 24 months: the page shows without it and htmx
    fetches it right after (a fragment that swaps the placeholder); without JavaScript
    `?sections=all` puts it on the page. Either way only the caller's accounts count."""
    TransactionFactory(account=portfolio["alpha"], date=today, unit_price=Decimal("100"))
    TransactionFactory(account=portfolio["gamma"], date=today, unit_price=Decimal("999"))
    client = login("nam1")
    response = client.get(URL)
    html = response.content.decode()
    assert response.context["summary"]["revenue_12m"] is None
    assert 'hx-get="/portfolio/revenue/" hx-trigger="load" hx-swap="outerHTML"' in html
    assert '<a href="?sections=all">Show it</a>' in html
    assert 'data-testid="kpi-revenue"' not in html

    with django_assert_max_num_queries(5):  # session, user, visibility, the revenue
        fragment = client.get("/portfolio/revenue/", HTTP_HX_REQUEST="true")
    assert fragment.context["revenue"]["revenue_12m"] == Decimal("1000.00")
    text = fragment.content.decode()
    assert text.startswith('<div class="kpi" id="kpi-revenue">')
    assert '<span class="kpi-value" data-testid="kpi-revenue">1,000.00\u00a0EUR</span>' in text

    inline = client.get(URL, {"sections": "all"})
    assert inline.context["summary"]["revenue_12m"] == Decimal("1000.00")
    assert 'data-testid="kpi-revenue">1,000.00\u00a0EUR<' in inline.content.decode()

    lead = login("lead").get("/portfolio/revenue/")
    assert lead.context["revenue"]["revenue_12m"] == Decimal("10990.00")


def test_the_revenue_fragment_needs_a_login(client):
    response = client.get("/portfolio/revenue/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("size", [5, 50])
def test_portfolio_query_count_is_bounded(
    login, nam1, classify, django_assert_max_num_queries, size
):
    accounts = AccountFactory.create_batch(size, owner=nam1)
    for account in accounts:
        classify(account, four_s="star", bensaou="market_exchange")
    client = login("nam1")
    # The page resolves the visible set once and hands it to every read, the summary included;
    # the summary's counts also give the country filter, the alerts the overdue count.
    with django_assert_max_num_queries(15):
        response = client.get(URL, {"sort": "-revenue"})
    assert len(response.context["rows"]) == min(size, 25)


def test_csv_exports_filtered_rows_with_segments(login, portfolio, classify, today):
    classify(portfolio["alpha"], four_s="strategic")
    TransactionFactory(account=portfolio["alpha"], date=today, unit_price=Decimal("100"))
    response = login("lead").get(reverse("dashboard:portfolio_csv"), {"country": "DE"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0] == [
        "Customer",
        "Level",
        "Country",
        "Status",
        "Key account",
        "Owner",
        "Revenue 12 months",
        "Webster",
        "Millman-Wilson",
        "Bensaou",
        "4S",
    ]
    assert rows[1:] == [
        [
            "Alpha Robotics",
            "National",
            "DE",
            "Active",
            "yes",
            "nam1",
            "1000.00",
            "",
            "",
            "",
            "Strategic",
        ]
    ]


def test_csv_is_scoped_and_escapes_formulas(login, nam1, stranger):
    AccountFactory(customer__name='=HYPERLINK("http://evil")', owner=nam1)
    AccountFactory(customer__name="@SUM(A1)", owner=nam1, country="AT")
    AccountFactory(customer__name="Hidden Steel", owner=stranger)
    rows = csv_rows(login("nam1").get("/portfolio.csv"))
    customers = sorted(row[0] for row in rows[1:])
    assert customers == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]


def test_unfiltered_count_comes_from_the_summary_and_filtered_lists_count_themselves(
    login, portfolio
):
    client = login("nam1")
    unfiltered = client.get(URL, {"sort": "name"})
    assert unfiltered.context["page"].paginator.count == 2  # alpha and beta, not the others
    filtered = client.get(URL, {"status": "dormant"})
    assert filtered.context["page"].paginator.count == 1
    assert names(filtered) == ["Beta Foods"]


def test_current_classifications_reads_results_and_overrides_in_one_query(
    portfolio, classify, django_assert_num_queries
):
    from classification.models import ClassificationOverride
    from classification.selectors import current_classifications

    alpha, beta = portfolio["alpha"], portfolio["beta"]
    classify(alpha, four_s="star", webster="partnership")
    ClassificationOverride.objects.create(
        account=alpha, model="four_s", segment="strategic", reason="Board decision"
    )
    # An override of a model the account has no result of yet still shows.
    ClassificationOverride.objects.create(
        account=beta, model="bensaou", segment="captive_buyer", reason="Known from the tender"
    )
    ClassificationOverride.objects.create(
        account=beta, model="webster", segment="partnership", reason="old", is_active=False
    )
    with django_assert_num_queries(1):
        found = current_classifications(account_ids=[alpha.pk, beta.pk, portfolio["hidden"].pk])
    assert found[alpha.pk]["four_s"] == {
        "segment": "star",
        "axes": {"a": 70.0, "b": 60.0},
        "flags": ["key_account_candidate"],
        "override": {"segment": "strategic", "reason": "Board decision"},
    }
    assert found[alpha.pk]["webster"]["override"] is None
    assert found[beta.pk] == {
        "bensaou": {
            "segment": None,
            "axes": {},
            "flags": [],
            "override": {"segment": "captive_buyer", "reason": "Known from the tender"},
        }
    }
    assert portfolio["hidden"].pk not in found
