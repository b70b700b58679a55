"""Which result is current: the narrow `ClassificationCurrent` table that finalize switches with
set-based SQL (a fixed number of statements whatever the number of accounts)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classification import services
from classification.models import (
    ClassificationCurrent,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
    SegmentChange,
)
from classification.scoring import MODELS, IndicatorExplanation, ModelResult
from tests.factories import (
    AccountFactory,
    ClassificationResultFactory,
    TransactionFactory,
    make_current,
)

pytestmark = pytest.mark.django_db

REFERENCE = dt.date(2026, 11, 1)


def add_accounts(count: int) -> list:
    accounts = []
    for i in range(count):
        account = AccountFactory(wallet_estimate=100_000 * (i + 1))
        TransactionFactory(
            account=account, date=dt.date(2026, 9, 10), quantity=Decimal(5 + i), unit_price=100
        )
        accounts.append(account)
    return accounts


def run_with(four_s: dict, *, capture: bool = False) -> tuple[ClassificationRun, int]:
    """A portfolio run under these 4S parameters; with `capture`, the statements of finalize."""
    services.parameter_set_create(model="four_s", parameters=four_s)
    run, _ = services.run_request(trigger="manual", reference_date=REFERENCE, dispatch=False)
    for index, ids in enumerate(services.run_prepare(run_id=run.pk)):
        services.run_score_chunk(run_id=run.pk, chunk_index=index, account_ids=ids)
    with CaptureQueriesContext(connection) as queries:
        services.run_finalize(run_id=run.pk)
    run.refresh_from_db()
    return run, len(queries) if capture else 0


def test_finalize_switches_the_narrow_table_and_never_rewrites_results():
    accounts = add_accounts(3)
    first, _ = run_with({"cutoff": 100})
    stored = {r.pk: (r.segment, r.flags, r.explanation) for r in first.results.all()}
    second, _ = run_with({"cutoff": 0, "capacity": 1})

    current = ClassificationCurrent.objects.select_related("result")
    assert current.count() == len(accounts) * len(MODELS)
    assert {c.result.run_id for c in current} == {second.pk}
    assert all(c.segment == c.result.segment for c in current)
    # Flags are copied after the capacity rule has set them (capacity 1: the others are over).
    assert all(c.flags == c.result.flags for c in current)
    assert any("over_capacity" in c.flags for c in current)
    assert {r.pk: (r.segment, r.flags, r.explanation) for r in first.results.all()} == stored
    assert not any(r.is_current for r in first.results.with_current())
    assert all(r.is_current for r in second.results.with_current())
    assert set(ClassificationResult.objects.current().values_list("run_id", flat=True)) == {
        second.pk
    }
    assert second.results_count == len(accounts) * len(MODELS)


def test_finalize_takes_the_same_statements_for_2_or_8_accounts():
    """Segment changes, capacity flags and the switch are each one statement, however many."""
    add_accounts(2)
    run_with({"cutoff": 100})
    small, small_statements = run_with({"cutoff": 0, "capacity": 1}, capture=True)
    add_accounts(6)
    run_with({"cutoff": 100})
    large, large_statements = run_with({"cutoff": 0, "capacity": 1}, capture=True)

    assert small_statements == large_statements
    # Every 4S result went to strategic (a change each, the new accounts' first run excepted);
    # all but the strongest of each level are over capacity.
    assert (small.events_count, large.events_count) == (2, 8)
    assert SegmentChange.objects.filter(run=large, model="four_s").count() == 8
    over = ClassificationResult.objects.filter(run=large, model="four_s", segment="strategic")
    flagged = [r for r in over if "over_capacity" in r.flags]
    assert len(flagged) == 7
    for result in flagged:
        assert result.flags == sorted(result.flags)
        assert result.explanation[-1]["indicator"] == "capacity"
        assert result.explanation[-1]["note"].endswith(
            "of 8 strategic accounts of this level by A + B, capacity 1"
        )


def test_a_one_account_run_switches_only_that_account():
    accounts = add_accounts(3)
    first, _ = run_with({"cutoff": 100})
    run = services.recompute_account_now(account=accounts[1])

    by_account = dict(
        ClassificationCurrent.objects.filter(model="webster").values_list(
            "account_id", "result__run_id"
        )
    )
    assert by_account == {
        accounts[0].pk: first.pk,
        accounts[1].pk: run.pk,
        accounts[2].pk: first.pk,
    }


def test_current_results_are_read_through_the_narrow_table(django_assert_num_queries):
    """`current()`, `not_current()` and `with_current()` read `ClassificationCurrent`, each in
    the one query of the results."""
    account = AccountFactory()
    older = ClassificationResultFactory(account=account, model="four_s", segment="star")
    newer = ClassificationResultFactory(account=account, model="four_s", segment="status")
    webster = ClassificationResultFactory(account=account, model="webster", segment="repeated")
    make_current(newer)

    with django_assert_num_queries(3):
        assert list(ClassificationResult.objects.current()) == [newer]
        assert list(ClassificationResult.objects.not_current().order_by("pk")) == [older, webster]
        flags = {r.pk: r.is_current for r in ClassificationResult.objects.with_current()}
    assert flags == {older.pk: False, newer.pk: True, webster.pk: False}

    make_current(webster, older)  # a first current result for webster, a switch for 4S
    assert set(ClassificationResult.objects.current()) == {older, webster}
    assert ClassificationCurrent.objects.get(account=account, model="four_s").segment == "star"


@pytest.mark.parametrize(("shown", "expected"), [("yes", {"newer"}), ("no", {"older"})])
def test_the_admin_filters_results_by_current(admin_client, shown, expected):
    account = AccountFactory()
    results = {
        "older": ClassificationResultFactory(account=account, segment="star"),
        "newer": ClassificationResultFactory(account=account, segment="status", current=True),
    }

    response = admin_client.get("/admin/classification/classificationresult/", {"current": shown})

    assert response.status_code == 200
    listed = {r.pk for r in response.context["cl"].result_list}
    assert listed == {results[name].pk for name in expected}
    assert all(r.is_current == (shown == "yes") for r in response.context["cl"].result_list)


def test_results_written_by_copy_keep_any_text_in_their_json():
    """Backslashes, quotes, tabs and newlines in an explanation survive COPY's text format."""
    account = AccountFactory()
    run = ClassificationRun.objects.create(
        trigger="manual", reference_date=REFERENCE, status="running"
    )
    note = 'a "quoted"\tC:\\path\\n and a\nnew line, ünïcode'
    result = ModelResult(
        segment="star",
        axes={"a": 61.5, "b": None},
        flags={"z_flag", "a_flag"},
        explanation=[IndicatorExplanation("x", "raw\\value", 50.0, 0.5, 25.0, "a", note)],
    )
    parameter_set = ParameterSet.objects.create(model="four_s", version=99)
    services._write_results(run.pk, {"four_s": {account.pk: result}}, {"four_s": parameter_set})

    stored = ClassificationResult.objects.get(run=run)
    assert (stored.segment, stored.axes, stored.flags) == (
        "star",
        result.axes,
        ["a_flag", "z_flag"],
    )
    assert stored.explanation == [result.explanation[0].to_dict()]
    assert stored.explanation[0]["note"] == note
    assert stored.parameter_set == parameter_set


def test_the_admin_lists_results_without_their_runs_population(admin_client):
    """The result list neither reads a run's population (megabytes at 100,000 accounts, once
    per listed result) nor the distinct segments of every result; its segment filter offers
    the spec's segments and filters by them."""
    account = AccountFactory()
    star = ClassificationResultFactory(account=account, model="four_s", segment="star")
    ClassificationResultFactory(account=account, model="webster", segment="repeated")
    ClassificationRun.objects.filter(pk=star.run_id).update(population={"big": list(range(99))})
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/classification/classificationresult/")
    assert response.status_code == 200
    listed = "\n".join(q["sql"] for q in queries.captured_queries)
    assert "population" not in listed
    assert "explanation" not in listed
    assert "DISTINCT" not in listed
    changelist = response.context["cl"]
    choices = [c["display"] for c in changelist.filter_specs[2].choices(changelist)]
    assert "Star (4S)" in choices
    assert "Uncoupling KAM (Millman-Wilson)" in choices
    filtered = admin_client.get("/admin/classification/classificationresult/", {"segment": "star"})
    assert [r.pk for r in filtered.context["cl"].result_list] == [star.pk]
