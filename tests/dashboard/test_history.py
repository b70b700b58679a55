"""The classification history on the account page: one query, finished runs only, last N runs."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from classification.models import ClassificationResult, ClassificationRun
from dashboard.selectors import account_classification

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def run_on(day: dt.date, status: str = "succeeded") -> ClassificationRun:
    return ClassificationRun.objects.create(
        trigger="nightly",
        reference_date=day,
        status=status,
        finished_at=timezone.now() if status == "succeeded" else None,
    )


def store(run: ClassificationRun, account, **segments) -> None:
    ClassificationResult.objects.bulk_create(
        ClassificationResult(run=run, account=account, model=model, segment=segment)
        for model, segment in segments.items()
    )


def history_data(html: str) -> dict:
    marker = '<script id="history-data" type="application/json">'
    return json.loads(html.split(marker)[1].split("</script>")[0])


def test_history_is_one_query_oldest_first_finished_runs_only(portfolio, django_assert_num_queries):
    alpha, beta = portfolio["alpha"], portfolio["beta"]
    first = run_on(dt.date(2026, 9, 30))
    store(first, alpha, four_s="streamline", webster="repeated")
    store(first, beta, four_s="strategic")  # another account: not in alpha's history
    failed = run_on(dt.date(2026, 10, 15), status="failed")
    store(failed, alpha, four_s="star")  # a failed run's partial results are not history
    running = run_on(dt.date(2026, 10, 20), status="running")
    store(running, alpha, four_s="star")
    second = run_on(dt.date(2026, 10, 31))
    store(second, alpha, four_s="status", webster="repeated", bensaou="captive_buyer")

    with django_assert_num_queries(1):
        history = account_classification(account=alpha).history

    assert [(h.run_id, h.reference_date, h.segments) for h in history] == [
        (first.pk, dt.date(2026, 9, 30), {"four_s": "streamline", "webster": "repeated"}),
        (
            second.pk,
            dt.date(2026, 10, 31),
            {"bensaou": "captive_buyer", "four_s": "status", "webster": "repeated"},
        ),
    ]


def test_history_keeps_the_last_runs_only(portfolio, django_assert_num_queries):
    alpha = portfolio["alpha"]
    runs = [run_on(dt.date(2026, 1, 1) + dt.timedelta(days=7 * i)) for i in range(5)]
    for run in runs:
        store(run, alpha, four_s="star", millman_wilson="mid_kam")
    with django_assert_num_queries(1):
        history = account_classification(account=alpha, runs=3).history
    assert [h.run_id for h in history] == [r.pk for r in runs[2:]]


def test_account_page_draws_and_tabulates_the_history(login, portfolio):
    alpha = portfolio["alpha"]
    first = run_on(dt.date(2026, 9, 30))
    store(first, alpha, four_s="streamline", millman_wilson="early_kam")
    second = run_on(dt.date(2026, 10, 31))
    store(second, alpha, four_s="strategic", millman_wilson="uncoupling_kam", webster="network")

    html = login("nam1").get(f"/accounts/{alpha.pk}/").content.decode()

    data = history_data(html)
    assert data["runs"] == [
        {"run": first.pk, "date": "2026-09-30"},
        {"run": second.pk, "date": "2026-10-31"},
    ]
    models = {m["model"]: m for m in data["models"]}
    assert list(models) == ["webster", "millman_wilson", "bensaou", "four_s"]
    assert models["four_s"]["data"] == ["Streamline", "Strategic"]
    assert models["four_s"]["segments"] == ["Streamline", "Status", "Star", "Strategic"]
    assert models["millman_wilson"]["data"] == ["Early KAM", "Uncoupling KAM"]
    assert models["millman_wilson"]["segments"][0] == "Uncoupling KAM"  # the lowest rung
    assert models["webster"]["data"] == [None, "Network"]  # no result in the first run
    assert models["bensaou"]["data"] == [None, None]
    assert 'data-chart="history"' in html
    # The table fallback holds the same data, newest run first.
    table = html.split('data-testid="history-table"')[1].split("</table>")[0]
    rows = table.split("<tr>")[2:]
    assert "10/31/2026" in rows[0]
    assert "<td>Network</td><td>Uncoupling KAM</td><td>—</td><td>Strategic</td>" in rows[0]
    assert "09/30/2026" in rows[1]
    assert "<td>—</td><td>Early KAM</td><td>—</td><td>Streamline</td>" in rows[1]


def test_account_without_runs_says_so(login, portfolio):
    html = login("nam1").get(f"/accounts/{portfolio['beta'].pk}/").content.decode()
    assert "No finished run has classified this account yet." in html
    assert "history-data" not in html


def test_recompute_answer_carries_the_new_history(login, portfolio):
    alpha = portfolio["alpha"]
    store(run_on(dt.date(2026, 9, 30)), alpha, four_s="streamline")
    response = login("nam1").post(f"/accounts/{alpha.pk}/recompute/", **HTMX)
    assert response.status_code == 200
    data = history_data(response.content.decode())
    assert len(data["runs"]) == 2
    assert data["runs"][0]["date"] == "2026-09-30"
    assert all(m["data"][-1] for m in data["models"])  # the new run scored every model
