"""The Content Security Policy in Debian's Chromium: the dashboard and the admin run under it
without a single violation, and the charts still draw."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import Account
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-pass-word-42"

# Violations are reported twice: on the console (older Chromium says "Refused to ...", newer
# "... violates the following Content Security Policy directive ...") and as DOM events, which
# an init script (not itself subject to the page's policy) records.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} line ${e.lineNumber}`);
});
"""


def assert_charts_drawn(page) -> None:
    """Every chart canvas on the page has a Chart.js chart (Chart.js ran under the policy)."""
    canvases, drawn = page.evaluate(
        """() => {
          const canvases = [...document.querySelectorAll("canvas[data-chart]")];
          return [canvases.length,
                  canvases.filter((c) => window.Chart && window.Chart.getChart(c)).length];
        }"""
    )
    assert canvases >= 1
    assert drawn == canvases


def is_csp_message(text: str) -> bool:
    return "Refused to" in text or "Content Security Policy" in text


@pytest.fixture
def demo():
    call_command("seed_demo", accounts=12, demo_users=True, password=PASSWORD, verbosity=0)
    call_command("recompute_scores", verbosity=0)


@pytest.fixture
def watched(page):
    """The page, and the list of CSP violations and script errors seen on it."""
    problems: list[str] = []
    page.set_default_timeout(15_000)
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if is_csp_message(msg.text) else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return page, problems


def visit(page, problems, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    problems.extend(f"event: {v}" for v in page.evaluate("window.__cspViolations"))
    assert not problems, (url, problems)


def test_dashboard_and_admin_run_under_the_policy(live_server, watched, demo):
    page, problems = watched
    account = Account.objects.filter(transactions__isnull=False).distinct().order_by("pk").first()

    visit(page, problems, f"{live_server.url}/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="My portfolio")).to_be_visible()

    visit(page, problems, f"{live_server.url}/")

    visit(page, problems, f"{live_server.url}/accounts/{account.pk}/")
    expect(page.locator("#revenue-chart")).to_be_visible()
    assert_charts_drawn(page)
    # An htmx form (a swap of the needs card) works without eval or inline styles.
    page.get_by_text("Add a need").click()
    form = page.get_by_test_id("need-form")
    form.get_by_label("Need").fill("Faster delivery")
    form.get_by_role("button", name="Save need").click()
    expect(page.locator("#needs").get_by_role("status")).to_have_text("Need added.")
    assert not problems, problems

    for model in ("four_s", "webster"):
        visit(page, problems, f"{live_server.url}/matrices/{model}/")
        assert_charts_drawn(page)

    visit(page, problems, f"{live_server.url}/team/")
    # The mix bars grow by count without an inline style attribute (static/js/mix-bars.js).
    grows = page.evaluate(
        "[...document.querySelectorAll('.mix-part')].map((p) => getComputedStyle(p).flexGrow)"
    )
    assert grows
    assert all(float(g) >= 1 for g in grows)

    visit(page, problems, f"{live_server.url}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    visit(page, problems, f"{live_server.url}/admin/accounts/account/")
    visit(page, problems, f"{live_server.url}/admin/accounts/account/{account.pk}/change/")
    visit(page, problems, f"{live_server.url}/admin/accounts/transaction/")  # its own filters
    visit(page, problems, f"{live_server.url}/admin/accounts/transaction/add/")
    visit(page, problems, f"{live_server.url}/admin/accounts/account/{account.pk}/history/")

    # Swagger UI: served from our static files (npm), its start-up script as a file.
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    visit(page, problems, f"{live_server.url}/api/docs/")
    expect(page.get_by_text("KAM API", exact=False).first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert not problems, problems
    assert all(url.startswith(live_server.url) for url in requested), requested


def test_lockout_page_renders_under_the_policy(live_server, watched, settings):
    page, problems = watched
    UserFactory(username="nam1")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        visit(page, problems, f"{live_server.url}/login/")
        page.get_by_label("Username").fill("nam1")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Account locked")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed login attempts")
    assert not problems, problems


def test_the_watch_catches_a_violation(live_server, watched):
    """The check above can fail: an inline style and an inline script are refused and seen."""
    page, problems = watched
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        """() => {
          document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
          const script = document.createElement("script");
          script.textContent = "window.__ran = true";
          document.body.append(script);
        }"""
    )
    expect(page.locator("p", has_text="x")).to_have_count(1)
    page.wait_for_function("window.__cspViolations.length >= 2")
    assert page.evaluate("window.__ran") is None
    assert any("inline style" in p and "style-src" in p for p in problems), problems
    assert any("inline script" in p and "script-src" in p for p in problems), problems
