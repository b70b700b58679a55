"""Alerts on the portfolio page, and recomputing an account or the whole portfolio."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from classification.models import ClassificationResult, ClassificationRun, SegmentChange
from tests.factories import (
    AccountFactory,
    ClassificationResultFactory,
    PlanActionFactory,
    ServiceCaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def run_now(**fields) -> ClassificationRun:
    return ClassificationRun.objects.create(
        trigger="nightly",
        reference_date=timezone.localdate(),
        status="succeeded",
        finished_at=timezone.now(),
        **fields,
    )


def result(run, account, model, segment, flags=()):
    return ClassificationResultFactory(
        run=run, account=account, model=model, segment=segment, flags=list(flags), current=True
    )


@pytest.fixture
def alerting(portfolio, today):
    """Every kind of alert on nam1's alpha, and the same on the stranger's account."""
    old = run_now()
    new = run_now()
    for account in (portfolio["alpha"], portfolio["hidden"]):
        SegmentChange.objects.create(
            run=old, account=account, model="four_s", previous_segment="status", segment="star"
        )
        SegmentChange.objects.create(
            run=new, account=account, model="four_s", previous_segment="star", segment="strategic"
        )
        result(new, account, "millman_wilson", "uncoupling_kam", ["uncoupling:growth"])
        result(new, account, "four_s", "strategic", ["over_capacity"])
        PlanActionFactory.create_batch(
            2, objective__plan__account=account, due_on=today - dt.timedelta(days=3)
        )
        PlanActionFactory(objective__plan__account=account, due_on=today + dt.timedelta(days=3))
        ServiceCaseFactory(account=account, severity="critical", subject="Line stopped")
        ServiceCaseFactory(account=account, severity="high", status="resolved")
        ServiceCaseFactory(account=account, severity="low")
    result(new, portfolio["beta"], "millman_wilson", "mid_kam", ["uncoupling:growth"])
    return new


def test_portfolio_alerts_cover_every_kind_for_visible_accounts_only(login, portfolio, alerting):
    response = login("nam1").get("/")
    alerts = response.context["alerts"]
    assert [(c.account_id, c.segment) for c in alerts["segment_changes"].rows] == [
        (portfolio["alpha"].pk, "strategic")
    ]
    assert [a["name"] for a in alerts["revenue_drop"].rows] == ["Alpha Robotics", "Beta Foods"]
    assert [a["name"] for a in alerts["uncoupling"].rows] == ["Alpha Robotics"]
    assert [a["name"] for a in alerts["over_capacity"].rows] == ["Alpha Robotics"]
    assert alerts["overdue"].rows == [
        {"account_id": portfolio["alpha"].pk, "name": "Alpha Robotics", "country": "DE", "count": 2}
    ]
    assert alerts["overdue_total"] == 2
    assert [c.subject for c in alerts["severe_cases"].rows] == ["Line stopped"]
    html = response.content.decode()
    assert "Segment changes since the previous run" in html
    assert "Revenue down 30 % or more" in html
    assert "Open severe service cases" in html
    assert "Hidden Steel" not in html


def test_no_alerts_says_so(login, portfolio):
    response = login("nam1").get("/")
    assert response.context["alerts"]["count"] == 0
    assert b"Nothing needs your attention." in response.content


@pytest.mark.parametrize("size", [2, 20])
def test_alerts_keep_the_portfolio_query_count_bounded(
    login, nam1, lead, today, django_assert_max_num_queries, size
):
    run = run_now()
    for account in AccountFactory.create_batch(size, owner=nam1):
        SegmentChange.objects.create(
            run=run, account=account, model="bensaou", previous_segment="a", segment="b"
        )
        result(run, account, "four_s", "strategic", ["over_capacity"])
        PlanActionFactory(objective__plan__account=account, due_on=today - dt.timedelta(days=1))
        ServiceCaseFactory(account=account, severity="high")
    client = login("lead")
    # A lead's page has two more reads than a manager's: the owners filter, the running run.
    with django_assert_max_num_queries(17):
        response = client.get("/")
    alerts = response.context["alerts"]
    assert alerts["overdue_total"] == size
    assert response.context["summary"]["overdue_actions"] == size
    # Each kind shows its first 8 and says how many more there are, read in SQL, not fetched.
    for kind in ("segment_changes", "over_capacity", "overdue", "severe_cases"):
        assert (len(alerts[kind].rows), alerts[kind].total) == (min(size, 8), size), kind
    assert alerts["count"] == 4 * size
    assert response.content.decode().count(f"and {size - 8} more") == (4 if size > 8 else 0)


# --- recompute ---------------------------------------------------------------------------------


def test_account_recompute_swaps_in_the_cards(login, portfolio, nam1):
    account = portfolio["alpha"]
    response = login("nam1").post(f"/accounts/{account.pk}/recompute/", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="classifications"' in html
    assert "<html" not in html
    run = ClassificationRun.objects.get(scope=f"account:{account.pk}")
    assert run.status == "succeeded"
    assert run.requested_by == nam1.user
    assert f"Recomputed just now (run {run.pk})." in html
    assert ClassificationResult.objects.current().filter(account=account).count() == 4


def test_account_recompute_permissions(client, login, portfolio):
    hidden = portfolio["hidden"]
    assert client.post(f"/accounts/{hidden.pk}/recompute/").status_code == 302
    assert login("nam1").post(f"/accounts/{hidden.pk}/recompute/", **HTMX).status_code == 404
    assert login("nam1").get(f"/accounts/{portfolio['alpha'].pk}/recompute/").status_code == 405
    assert not ClassificationRun.objects.exists()
    response = login("nam1").post(f"/accounts/{portfolio['alpha'].pk}/recompute/")
    assert response.status_code == 302  # without htmx: back to the account page


def test_portfolio_recompute_only_for_leads_and_admins(client, login, portfolio):
    assert client.post("/recompute/").status_code == 302
    response = login("nam1").post("/recompute/", **HTMX)
    assert response.status_code == 403
    assert not ClassificationRun.objects.exists()
    assert b"recompute-portfolio" not in login("nam1").get("/").content
    assert login("nam1").get("/runs/1/progress/").status_code == 403


def test_lead_starts_a_run_and_the_progress_bar_follows_it(
    login, portfolio, lead, django_capture_on_commit_callbacks
):
    client = login("lead")
    assert b'data-testid="recompute-portfolio"' in client.get("/").content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/recompute/", **HTMX)
    assert len(callbacks) == 1  # the task is dispatched after the commit
    run = ClassificationRun.objects.get(scope="portfolio")
    assert run.trigger == "manual"
    assert run.requested_by == lead.user
    html = response.content.decode()
    assert f'hx-get="/runs/{run.pk}/progress/"' in html
    assert 'hx-trigger="every 1s"' in html
    assert "Recompute queued" in html

    # A second click joins the run instead of starting another one; the page shows it too.
    client.post("/recompute/", **HTMX)
    assert ClassificationRun.objects.filter(scope="portfolio").count() == 1
    assert b'data-testid="run-progress"' in client.get("/").content

    ClassificationRun.objects.filter(pk=run.pk).update(
        status="running", chunks_total=4, chunks_done=1, population={"pools": list(range(50))}
    )
    with CaptureQueriesContext(connection) as polled:  # every second: never the statistics
        html = client.get(f"/runs/{run.pk}/progress/", **HTMX).content.decode()
        client.get("/")
    assert not [q["sql"] for q in polled.captured_queries if '"population"' in q["sql"]]
    assert "chunk 1 of 4" in html
    assert 'value="25"' in html
    assert "every 1s" in html

    ClassificationRun.objects.filter(pk=run.pk).update(status="succeeded", chunks_done=4)
    html = client.get(f"/runs/{run.pk}/progress/", **HTMX).content.decode()
    assert "Recompute finished" in html
    assert "every 1s" not in html  # polling stops


def test_lead_run_completes_in_process_without_a_broker(
    login, portfolio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login("lead").post("/recompute/", **HTMX)
    run = ClassificationRun.objects.get(scope="portfolio")
    assert run.status == "succeeded"
    assert run.accounts_total == 4
    assert response.status_code == 200


def test_admin_may_recompute_the_portfolio(client, portfolio, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post("/recompute/", **HTMX).status_code == 200
    assert ClassificationRun.objects.filter(scope="portfolio").exists()


def test_warnings_read_current_results_only(login, portfolio):
    """A flag of an earlier run that the current result no longer has raises no alert."""
    alpha = portfolio["alpha"]
    result(run_now(), alpha, "four_s", "strategic", ["over_capacity"])
    result(run_now(), alpha, "millman_wilson", "uncoupling_kam", ["uncoupling:growth"])
    latest = run_now()
    result(latest, alpha, "four_s", "strategic", [])
    result(latest, alpha, "millman_wilson", "mid_kam", [])
    alerts = login("nam1").get("/").context["alerts"]
    for kind in ("over_capacity", "revenue_drop", "uncoupling"):
        assert (alerts[kind].rows, alerts[kind].total) == ([], 0), kind
    assert alerts["count"] == 0


def test_each_alert_list_shows_eight_accounts_and_counts_the_rest(login, nam1, portfolio):
    """A large portfolio's alerts stay readable (and the page fast): eight links per list."""
    run = run_now()
    for i in range(11):
        account = AccountFactory(customer__name=f"Over {i:02}", owner=nam1)
        result(run, account, "four_s", "strategic", ["over_capacity"])
    response = login("nam1").get("/")
    over_capacity = response.context["alerts"]["over_capacity"]
    assert [a["name"] for a in over_capacity.rows] == [f"Over {i:02}" for i in range(8)]
    assert (over_capacity.total, over_capacity.more) == (11, 3)
    html = response.content.decode()
    alerts = html[html.index('data-testid="alerts"') :]
    alerts = alerts[: alerts.index("</section>")]
    assert [f"Over {i:02}" in alerts for i in range(11)] == [True] * 8 + [False] * 3
    assert "and 3 more" in alerts


def test_warning_kinds_are_cut_and_counted_each_on_its_own(login, nam1, portfolio):
    """One account may raise several warnings: each kind keeps its own first eight by name and
    its own total, whatever the other kinds hold."""
    run = run_now()
    names = [f"Warn {i:02}" for i in range(12)]
    for i, name in enumerate(names):
        account = AccountFactory(customer__name=name, owner=nam1)
        segment = "uncoupling_kam" if i % 2 == 0 else "mid_kam"
        result(run, account, "millman_wilson", segment, ["uncoupling:growth"] if i % 3 == 0 else [])
        result(run, account, "four_s", "strategic", ["over_capacity"] if i >= 2 else [])
    alerts = login("nam1").get("/").context["alerts"]
    expected = {
        "revenue_drop": [n for i, n in enumerate(names) if i % 3 == 0],
        "uncoupling": [n for i, n in enumerate(names) if i % 2 == 0],
        "over_capacity": names[2:],
    }
    for kind, flagged in expected.items():
        assert [a["name"] for a in alerts[kind].rows] == flagged[:8], kind
        assert alerts[kind].total == len(flagged), kind
