"""The dashboard in Debian's Chromium against the live server, on the seeded demo portfolio."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.selectors import accounts_visible_to

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-pass-word-42"


@pytest.fixture
def demo():
    call_command("seed_demo", accounts=40, demo_users=True, password=PASSWORD, verbosity=0)
    call_command("recompute_scores", verbosity=0)
    return {u.username: u for u in get_user_model().objects.all()}


@pytest.fixture
def page(page):
    page.set_viewport_size({"width": 1366, "height": 900})
    page.set_default_timeout(15_000)
    return page


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="My portfolio")).to_be_visible()


def visible_names(user) -> set[str]:
    return set(accounts_visible_to(user).values_list("customer__name", flat=True))


def table_names(page) -> list[str]:
    return page.locator("[data-testid=accounts-table] tbody a.row-link").all_inner_texts()


def test_anonymous_visitor_is_sent_to_login(live_server, page, screenshot, demo):
    page.goto(f"{live_server.url}/accounts/1/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/accounts/1/$"))
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    screenshot("login")


def test_nam1_sees_only_own_accounts(live_server, page, screenshot, demo):
    log_in(page, live_server, "nam1")
    mine = visible_names(demo["nam1"])
    others = visible_names(demo["nam2"]) - mine
    count = accounts_visible_to(demo["nam1"]).count()
    expect(page.get_by_test_id("result-count")).to_have_text(re.compile(rf"^{count} accounts?"))
    shown = table_names(page)
    assert shown
    assert set(shown) <= mine
    assert not set(shown) & others
    # The revenue figure arrives right after the page (an htmx request, under the CSP).
    expect(page.get_by_test_id("kpi-revenue")).to_have_text(re.compile(r"^[\d,.]+\sEUR$"))
    expect(page.locator("#kpi-revenue[aria-busy]")).to_have_count(0)
    screenshot("portfolio")

    # Searching for another manager's customer finds nothing.
    page.get_by_label("Search customer").fill(sorted(others)[0])
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No account matches these filters.")).to_be_visible()


def test_lead_sees_nam1_and_nam2_accounts(live_server, page, demo):
    log_in(page, live_server, "lead")
    both = visible_names(demo["nam1"]) | visible_names(demo["nam2"])
    assert both <= visible_names(demo["lead"])
    expect(page.get_by_label("Owner")).to_be_visible()
    nam2 = demo["nam2"].manager
    page.get_by_label("Owner").select_option(str(nam2.pk))
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"owner={nam2.pk}"))  # the filtered page has loaded
    owned = set(
        accounts_visible_to(demo["lead"])
        .filter(owner=nam2)
        .values_list("customer__name", flat=True)
    )
    shown = table_names(page)
    assert shown
    assert set(shown) <= owned


def _busiest_account(user):
    from django.db.models import Count

    return (
        accounts_visible_to(user)
        .annotate(n=Count("transactions"))
        .filter(customer__contacts__isnull=False)
        .order_by("-n")
        .first()
    )


# Earlier months' segments for the history chart: (months back, {model: segment}).
EARLIER_RUNS = [
    (3, {"four_s": "streamline", "millman_wilson": "early_kam", "bensaou": "market_exchange"}),
    (2, {"four_s": "status", "millman_wilson": "mid_kam", "bensaou": "market_exchange"}),
    (1, {"four_s": "status", "millman_wilson": "mid_kam", "bensaou": "captive_buyer"}),
]


def _earlier_runs(account) -> int:
    """Finished runs of this account in past months (copies of its current results with other
    segments), so that its history has something to draw. Returns how many runs it has now."""
    import datetime as dt

    from django.utils import timezone

    from classification.models import ClassificationResult, ClassificationRun
    from classification.selectors import account_result_history

    current = {r.model: r for r in account_result_history(account_id=account.pk)}
    assert len(current) == 4  # recompute_scores scored it under every model
    today = timezone.localdate()
    for months, segments in EARLIER_RUNS:
        day = today - dt.timedelta(days=30 * months)
        run = ClassificationRun.objects.create(
            trigger="nightly",
            scope=f"account:{account.pk}",
            reference_date=day,
            status="succeeded",
            finished_at=timezone.now() - dt.timedelta(days=30 * months),
        )
        ClassificationResult.objects.bulk_create(
            ClassificationResult(
                run=run,
                account=account,
                model=model,
                segment=segments.get(model, result.segment),
                axes=result.axes,
            )
            for model, result in current.items()
        )
    return len(EARLIER_RUNS) + 1


def test_account_page_draws_the_revenue_and_history_charts(live_server, page, screenshot, demo):
    account = _busiest_account(demo["nam1"])
    runs = _earlier_runs(account)
    log_in(page, live_server, "nam1")
    page.get_by_role("link", name=account.customer.name).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(account.customer.name)
    canvas = page.locator("canvas#revenue-chart")
    expect(canvas).to_have_attribute("data-chart-ready", "true")
    points = int(canvas.get_attribute("data-chart-points"))
    assert points > 0
    drawn = page.evaluate(
        "() => Chart.getChart('revenue-chart').data.datasets.map(d => d.data.length)"
    )
    assert drawn == [24, 24, 24]

    # The classification history: one stepped line per model, a point per run.
    history = page.locator("canvas#history-chart")
    expect(history).to_have_attribute("data-chart-ready", "true")
    assert int(history.get_attribute("data-chart-points")) == 4 * runs
    drawn = page.evaluate(
        """() => Chart.getChart('history-chart').data.datasets.map(
            d => [d.label, d.data.length, d.data[0]])"""
    )
    assert drawn == [
        ["Webster", runs, drawn[0][2]],
        ["Millman-Wilson", runs, "Early KAM"],
        ["Bensaou", runs, "Market exchange"],
        ["4S", runs, "Streamline"],
    ]
    page.get_by_text("History as a table").click()
    expect(page.get_by_test_id("history-table").locator("tbody tr")).to_have_count(runs)
    page.get_by_text("History as a table").click()
    page.set_viewport_size({"width": 1366, "height": 1500})  # header, cards and history
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot("account")


def test_log_an_interaction_without_reload(live_server, page, screenshot, demo):
    account = _busiest_account(demo["nam1"])
    log_in(page, live_server, "nam1")
    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    page.evaluate("() => { window.__sameDocument = true; }")

    page.get_by_text("Log an interaction").click()
    form = page.get_by_test_id("interaction-form")
    form.get_by_label("Type").select_option("visit")
    form.get_by_role("button", name="Save interaction").click()
    # Summary left empty: the error shows inline and the chosen type is kept.
    expect(page.get_by_text("This field is required.")).to_be_visible()
    expect(page.get_by_test_id("interaction-form").get_by_label("Type")).to_have_value("visit")

    form = page.get_by_test_id("interaction-form")
    form.get_by_label("Summary").fill("Plant tour with the new buyer")
    form.locator("input[name=contacts]").first.check()
    form.get_by_role("button", name="Save interaction").click()

    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Plant tour with the new buyer")
    expect(page.get_by_role("status")).to_have_text("Interaction saved.")
    assert page.evaluate("() => window.__sameDocument === true")  # no full reload
    page.locator("#interactions").scroll_into_view_if_needed()
    page.evaluate("() => document.getElementById('interactions').scrollIntoView()")
    screenshot("account-interaction")


def test_add_a_need_without_reload(live_server, page, screenshot, demo):
    account = _busiest_account(demo["nam1"])
    log_in(page, live_server, "nam1")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    page.evaluate("() => { window.__sameDocument = true; }")
    # The secondary sections are loaded by htmx right after the page: the placeholder goes.
    more = page.get_by_test_id("account-more")
    for heading in ("Latest assessment", "Investments", "Needs", "Service cases"):
        expect(more.get_by_role("heading", level=2, name=heading)).to_be_visible()
    expect(page.get_by_text("Loading the assessment")).to_have_count(0)
    assert errors == []

    page.get_by_text("Add a need").click()
    form = page.get_by_test_id("need-form")
    form.get_by_label("Priority").select_option("high")
    form.get_by_role("button", name="Save need").click()
    # Description left empty: the error shows inline and the chosen priority is kept.
    needs = page.locator("#needs")
    expect(needs.get_by_text("This field is required.")).to_be_visible()
    expect(page.get_by_test_id("need-form").get_by_label("Priority")).to_have_value("high")

    form = page.get_by_test_id("need-form")
    form.get_by_label("Need").fill("Consignment stock at the Linz plant")
    form.get_by_role("button", name="Save need").click()

    expect(needs.get_by_role("status")).to_have_text("Need added.")
    expect(needs).to_contain_text("Consignment stock at the Linz plant")
    expect(needs).to_contain_text("High priority")
    assert page.evaluate("() => window.__sameDocument === true")  # no full reload
    needs.scroll_into_view_if_needed()
    screenshot("account-need")


def test_secondary_sections_without_javascript(live_server, browser, demo):
    """Without JavaScript the placeholder's link brings the page with every section."""
    account = _busiest_account(demo["nam1"])
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        log_in(page, live_server, "nam1")
        page.goto(f"{live_server.url}/accounts/{account.pk}/")
        expect(page.get_by_role("heading", level=2, name="Service cases")).to_have_count(0)
        page.get_by_role("link", name="Show them").click()
        expect(page).to_have_url(re.compile(r"\?sections=all#account-more$"))
        for heading in ("Latest assessment", "Investments", "Needs", "Service cases"):
            expect(page.get_by_role("heading", level=2, name=heading)).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_contain_text(account.customer.name)
    finally:
        context.close()


def test_override_segment_list_follows_the_model(live_server, page, demo):
    account = _busiest_account(demo["nam1"])
    log_in(page, live_server, "nam1")
    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    page.evaluate("() => { window.__sameDocument = true; }")
    page.get_by_text("Override a segment").click()
    form = page.get_by_test_id("override-form")
    form.get_by_label("Model").select_option("four_s")
    segment = form.get_by_label("Segment")
    expect(segment).to_have_value("strategic")  # the first 4S segment
    visible = segment.evaluate(
        "s => [...s.querySelectorAll('optgroup')].filter(g => !g.disabled).map(g => g.label)"
    )
    assert visible == ["4S"]
    segment.select_option("streamline")
    form.get_by_label("Reason").fill("Volumes moved to a competitor")
    form.get_by_role("button", name="Save override").click()
    expect(page.get_by_test_id("override-four_s")).to_have_text("Set by hand: Streamline")
    assert page.evaluate("() => window.__sameDocument === true")


def test_matrix_shows_a_point_per_visible_account_and_opens_one(
    live_server, page, screenshot, demo
):
    from classification.models import ClassificationResult

    user = demo["nam1"]
    expected = (
        ClassificationResult.objects.current()
        .filter(model="four_s", account__in=accounts_visible_to(user))
        .count()
    )
    assert expected > 0
    log_in(page, live_server, "nam1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="4S").click()
    expect(page.get_by_role("heading", level=1, name="4S matrix")).to_be_visible()
    canvas = page.locator("canvas#matrix-chart")
    expect(canvas).to_have_attribute("data-chart-ready", "true")
    drawn = page.evaluate(
        "() => Chart.getChart('matrix-chart').data.datasets.reduce((n, d) => n + d.data.length, 0)"
    )
    assert drawn == expected
    expect(page.get_by_test_id("matrix-table").locator("tbody tr")).to_have_count(expected)
    screenshot("matrix-4s")

    # Click the first drawn point: its account page opens.
    target = page.evaluate(
        """() => {
          const chart = Chart.getChart('matrix-chart');
          for (let i = 0; i < chart.data.datasets.length; i++) {
            const meta = chart.getDatasetMeta(i);
            if (meta.data.length) {
              const el = meta.data[0];
              return {x: el.x, y: el.y, url: chart.data.datasets[i].data[0].url};
            }
          }
        }"""
    )
    canvas.click(position={"x": target["x"], "y": target["y"]})
    expect(page).to_have_url(re.compile(re.escape(target["url"]) + "$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    page.goto(f"{live_server.url}/matrices/millman_wilson/")
    expect(page.locator("canvas#matrix-chart")).to_have_attribute("data-chart-ready", "true")
    screenshot("matrix-millman-wilson")


def test_lead_sees_the_team_view(live_server, page, screenshot, demo):
    log_in(page, live_server, "lead")
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1, name="Team")).to_be_visible()
    table = page.get_by_test_id("team-table")
    for username in ("nam1", "nam2"):
        name = demo[username].get_full_name() or username
        expect(table).to_contain_text(name)
    screenshot("team")


def test_nam1_has_no_team_view(live_server, page, demo):
    log_in(page, live_server, "nam1")
    expect(page.get_by_role("link", name="Team")).to_have_count(0)
    page.goto(f"{live_server.url}/team/")
    expect(page.get_by_text("only for sales leads and global managers")).to_be_visible()
