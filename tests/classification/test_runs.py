"""Classification runs on PostgreSQL, tasks in-process: counts, idempotence, history, events."""

import datetime as dt
from decimal import Decimal
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django_celery_beat.models import PeriodicTask

from accounts.models import Account
from classification import services
from classification.metrics import load_metrics, load_percentile_metrics
from classification.models import (
    ClassificationChunk,
    ClassificationChunkMetrics,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
    RunStatus,
    SegmentChange,
)
from classification.scoring import MODELS, population_stats
from tests.factories import (
    AccountFactory,
    AccountPlanFactory,
    AssessmentFactory,
    ContactFactory,
    GlobalAccountFactory,
    InteractionFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db

REFERENCE = dt.date(2026, 11, 1)


@pytest.fixture
def portfolio():
    """Five scorable accounts with some history and one lost account that is never scored."""
    accounts = []
    for i in range(5):
        account = AccountFactory(wallet_estimate=100_000 * (i + 1))
        for month in range(1, 4 + i):
            TransactionFactory(
                account=account,
                date=dt.date(2026, month, 10),
                quantity=Decimal(10 + i),
                unit_price=Decimal(100),
            )
        contact = ContactFactory(customer=account.customer)
        InteractionFactory(
            account=account, occurred_at=dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC)
        ).contacts.add(contact)
        AssessmentFactory(account=account, assessed_on=dt.date(2026, 6, 1))
        accounts.append(account)
    AccountFactory(status=Account.Status.LOST)
    return accounts


def full_run(**kwargs) -> ClassificationRun:
    run, created = services.run_request(
        trigger=ClassificationRun.Trigger.MANUAL, reference_date=REFERENCE, dispatch=False, **kwargs
    )
    assert created
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def test_a_run_scores_every_account_that_is_not_lost_under_four_models(portfolio, settings):
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 2
    run = full_run()

    assert run.status == RunStatus.SUCCEEDED
    assert (run.accounts_total, run.chunks_total, run.chunks_done) == (5, 3, 3)
    assert run.results_count == 5 * len(MODELS) == ClassificationResult.objects.count()
    assert set(run.parameter_sets.values_list("model", flat=True)) == set(MODELS)
    results = ClassificationResult.objects.filter(run=run)
    assert {r.account_id for r in results} == {a.pk for a in portfolio}
    assert all(r.is_current for r in results.with_current())
    webster = results.get(account=portfolio[0], model="webster")
    assert webster.segment in {"transactional", "repeated", "long_term"}
    assert {"indicator", "raw_value", "points", "weight", "contribution"} <= set(
        webster.explanation[0]
    )


def test_a_second_run_adds_exactly_one_result_set_and_keeps_history(portfolio):
    first = full_run()
    second = full_run()

    assert ClassificationResult.objects.count() == 2 * 5 * len(MODELS)
    assert ClassificationResult.objects.current().filter(run=first).count() == 0
    assert ClassificationResult.objects.current().filter(run=second).count() == 20
    assert second.events_count == 0  # nothing changed, so no segment change is recorded


def test_a_segment_change_between_runs_is_recorded_as_an_event(portfolio):
    full_run()
    account = portfolio[0]
    before = ClassificationResult.objects.current().get(account=account, model="webster")
    AssessmentFactory(account=account, assessed_on=dt.date(2026, 10, 1), supplier_status="sole")
    AccountPlanFactory(account=account)  # preferred or sole with an active plan: partnership
    second = full_run()

    after = ClassificationResult.objects.current().get(account=account, model="webster")
    assert (before.segment, after.segment) == ("long_term", "partnership")
    change = SegmentChange.objects.get(run=second, account=account, model="webster")
    assert (change.previous_segment, change.segment) == (before.segment, after.segment)
    assert second.events_count == SegmentChange.objects.filter(run=second).count()


def test_a_redelivered_chunk_writes_nothing_twice_and_counts_once(portfolio, settings):
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 3
    run, _ = services.run_request(
        trigger=ClassificationRun.Trigger.MANUAL, reference_date=REFERENCE, dispatch=False
    )
    chunks = services.run_prepare(run_id=run.pk)
    assert services.run_prepare(run_id=run.pk) == chunks  # preparing again changes nothing

    assert services.run_score_chunk(run_id=run.pk, chunk_index=0, account_ids=chunks[0]) is False
    assert services.run_score_chunk(run_id=run.pk, chunk_index=0, account_ids=chunks[0]) is False
    assert services.run_score_chunk(run_id=run.pk, chunk_index=1, account_ids=chunks[1]) is True
    services.run_finalize(run_id=run.pk)
    services.run_finalize(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.results_count) == (RunStatus.SUCCEEDED, 2, 20)
    assert ClassificationResult.objects.filter(run=run).count() == 20


def test_only_one_run_at_a_time(portfolio):
    first, created = services.run_request(trigger="manual", dispatch=False)
    second, created_again = services.run_request(trigger="api", dispatch=False)
    assert created
    assert not created_again
    assert second.pk == first.pk
    assert ClassificationRun.objects.count() == 1


def test_a_failing_chunk_fails_the_run_and_its_results_never_become_current(portfolio, monkeypatch):
    full_run()
    current_before = set(ClassificationResult.objects.current().values_list("pk", flat=True))

    def broken_chunk(**kwargs):
        raise OperationalError("connection to the database was lost")

    monkeypatch.setattr(services, "run_score_chunk", broken_chunk)
    run, _ = services.run_request(trigger="manual", reference_date=REFERENCE, dispatch=False)
    with pytest.raises(OperationalError):
        services.run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "connection to the database was lost" in run.error_summary
    assert run.finished_at is not None
    assert (
        set(ClassificationResult.objects.current().values_list("pk", flat=True)) == current_before
    )
    assert services.run_request(trigger="manual", dispatch=False)[1]  # the lock is released


def test_recompute_one_account_touches_only_that_account(portfolio):
    full_run()
    account = portfolio[2]
    run = services.recompute_account_now(account=account)

    assert run.status == RunStatus.SUCCEEDED
    assert run.scope == f"account:{account.pk}"
    assert run.results_count == len(MODELS)
    assert set(
        ClassificationResult.objects.filter(run=run).values_list("account_id", flat=True)
    ) == {account.pk}
    assert ClassificationResult.objects.current().count() == 5 * len(MODELS)
    assert ClassificationResult.objects.current().get(account=account, model="four_s").run == run


def test_capacity_is_applied_across_chunks(portfolio, settings):
    """With capacity 2 and every account strategic, the three weakest get over_capacity."""
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 2
    services.parameter_set_create(model="four_s", parameters={"cutoff": 0, "capacity": 2})
    run = full_run()

    results = ClassificationResult.objects.filter(run=run, model="four_s")
    assert set(results.values_list("segment", flat=True)) == {"strategic"}
    ranked = sorted(results, key=lambda r: (-(round(r.axes["a"] + r.axes["b"], 1)), r.account_id))
    assert ["over_capacity" in r.flags for r in ranked] == [False, False, True, True, True]


def test_parameter_sets_are_versioned_and_used_ones_are_immutable(portfolio):
    run = full_run()
    used = run.parameter_sets.get(model="four_s")
    used.parameters = {"cutoff": 60}
    with pytest.raises(ValidationError, match="cannot change"):
        used.full_clean()

    new = services.parameter_set_create(model="four_s", parameters={"cutoff": 60}, note="stricter")
    assert new.version == used.version + 1
    assert list(ParameterSet.objects.filter(model="four_s", is_active=True)) == [new]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"colour": 1}, "colour"),
        ({"weights": {"a": {"wallet_estimate": 0.9}}}, "weights.a"),
        ({"cutoff": 150}, "cutoff"),
    ],
)
def test_invalid_parameters_are_rejected_with_field_messages(parameters, message):
    with pytest.raises(ValidationError) as exc:
        services.parameter_set_create(model="four_s", parameters=parameters)
    assert any(message in text for text in exc.value.message_dict["parameters"])
    assert not ParameterSet.objects.exists()


def test_admin_add_form_without_a_model_asks_for_the_model_only(admin_client):
    """The parameters cannot be checked before a model is chosen: one clear message, on the
    model field, and nothing saved."""
    response = admin_client.post(
        "/admin/classification/parameterset/add/", {"parameters": "{}", "note": "draft"}
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"model": ["This field is required."]}
    assert not ParameterSet.objects.exists()

    response = admin_client.post(
        "/admin/classification/parameterset/add/",
        {"model": "four_s", "parameters": '{"cutoff": 150}', "note": "draft"},
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["parameters"]
    assert not ParameterSet.objects.exists()


def test_recompute_scores_command_reports_its_counts(portfolio):
    out = StringIO()
    call_command("recompute_scores", "--wait", stdout=out, stderr=StringIO())
    run = ClassificationRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert f"Run {run.pk} succeeded: 5 accounts, 1/1 chunks, 20 results" in out.getvalue()


def test_recompute_scores_command_for_one_account_and_an_unknown_id(portfolio):
    out = StringIO()
    call_command("recompute_scores", "--account", str(portfolio[0].pk), stdout=out, stderr=out)
    assert "succeeded: 1 accounts, 1/1 chunks, 4 results" in out.getvalue()
    with pytest.raises(CommandError, match="no account with id 999999"):
        call_command("recompute_scores", "--account", "999999", stdout=out, stderr=out)


def test_the_nightly_recompute_is_scheduled_in_the_database_at_two():
    # Transactional tests flush migration data, so apply the migration's step again (idempotent).
    migration = import_module("classification.migrations.0002_nightly_schedule")
    migration.create_schedule(django_apps, None)
    migration.create_schedule(django_apps, None)
    task = PeriodicTask.objects.get(task="classification.nightly_recompute")
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("0", "2")


def test_current_classification_of_a_page_of_accounts_is_one_query(
    portfolio, django_assert_num_queries
):
    full_run()
    ids = [a.pk for a in portfolio]
    with django_assert_num_queries(1):
        rows = list(
            ClassificationResult.objects.current()
            .filter(account_id__in=ids)
            .values_list("account_id", "model", "segment")
        )
    assert len(rows) == 20


def test_chunks_record_their_accounts(portfolio, settings):
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 4
    run = full_run()
    chunks = list(ClassificationChunk.objects.filter(run=run).order_by("index"))
    assert [len(c.account_ids) for c in chunks] == [4, 1]
    assert all(c.finished_at for c in chunks)


def test_a_global_account_and_its_national_accounts_share_a_chunk(portfolio, settings):
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 2
    global_account = GlobalAccountFactory()
    nationals = [
        AccountFactory(customer=global_account.customer, country=c, parent=global_account)
        for c in ("FR", "IT", "ES")
    ]
    run = full_run()

    family = {global_account.pk, *(n.pk for n in nationals)}
    holding = [
        c for c in ClassificationChunk.objects.filter(run=run) if family & set(c.account_ids)
    ]
    assert len(holding) == 1
    assert family <= set(holding[0].account_ids)
    assert run.accounts_total == 9


def test_recompute_scores_history_backfills_month_ends_only_on_a_new_installation(portfolio):
    call_command("recompute_scores", "--history", "3", stdout=StringIO(), stderr=StringIO())

    runs = list(ClassificationRun.objects.order_by("pk"))
    today = dt.date.today()
    first_of_month = today.replace(day=1)
    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 4
    assert [run.reference_date for run in runs][-1] == today
    month_ends = [run.reference_date for run in runs[:3]]
    assert month_ends == sorted(month_ends)
    assert month_ends[-1] == first_of_month - dt.timedelta(days=1)
    assert all((end + dt.timedelta(days=1)).day == 1 for end in month_ends)

    call_command("recompute_scores", "--history", "3", stdout=StringIO(), stderr=StringIO())
    assert ClassificationRun.objects.count() == 5


def test_prepare_stages_each_chunks_metrics_and_the_run_clears_them(portfolio, settings):
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 2
    parent = GlobalAccountFactory(wallet_estimate=None)  # its national accounts' figures add up
    for country in ("FR", "IT"):
        national = AccountFactory(customer=parent.customer, country=country, parent=parent)
        TransactionFactory(account=national, date=dt.date(2026, 5, 10))
    run, _ = services.run_request(trigger="manual", reference_date=REFERENCE, dispatch=False)
    chunks = services.run_prepare(run_id=run.pk)

    staged = ClassificationChunkMetrics.objects.filter(run=run)
    assert staged.count() == len(chunks) == 3
    for index, ids in enumerate(chunks):
        # What a chunk reads equals what it would compute on its own, value for value.
        assert services._chunk_metrics(run, index, ids) == load_metrics(
            reference_date=REFERENCE, account_ids=ids
        )
    # The percentiles' pools come from the same metrics as before.
    run.refresh_from_db()
    assert run.population == population_stats(load_percentile_metrics(reference_date=REFERENCE))

    for index, ids in enumerate(chunks):
        services.run_score_chunk(run_id=run.pk, chunk_index=index, account_ids=ids)
    services.run_finalize(run_id=run.pk)
    assert not staged.exists()


def test_staged_metrics_skip_the_wal_and_compression():
    """Written once, read once, lost harmlessly in a crash: UNLOGGED, and stored as is."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relpersistence, a.attstorage FROM pg_class c JOIN pg_attribute a"
            " ON a.attrelid = c.oid WHERE c.relname = %s AND a.attname = 'metrics'",
            [ClassificationChunkMetrics._meta.db_table],
        )
        assert cursor.fetchone() == ("u", "e")


def test_a_chunk_without_staged_metrics_computes_them_and_scores_the_same(portfolio, settings):
    settings.KAM_RECOMPUTE_CHUNK_SIZE = 2
    staged_run = full_run()
    run, _ = services.run_request(trigger="manual", reference_date=REFERENCE, dispatch=False)
    chunks = services.run_prepare(run_id=run.pk)
    ClassificationChunkMetrics.objects.filter(run=run).delete()  # as after a database crash

    for index, ids in enumerate(chunks):
        services.run_score_chunk(run_id=run.pk, chunk_index=index, account_ids=ids)
    services.run_finalize(run_id=run.pk)

    def results(of):
        return sorted(
            ClassificationResult.objects.filter(run=of).values_list(
                "account_id", "model", "segment", "axes", "flags", "explanation"
            )
        )

    assert results(run) == results(staged_run)


def test_a_failed_run_leaves_no_staged_metrics(portfolio):
    run, _ = services.run_request(trigger="manual", reference_date=REFERENCE, dispatch=False)
    services.run_prepare(run_id=run.pk)
    assert ClassificationChunkMetrics.objects.filter(run=run).exists()

    services.run_fail(run_id=run.pk, error="marked failed by hand")  # the admin's action

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert not ClassificationChunkMetrics.objects.filter(run=run).exists()


def test_recompute_scores_in_process_needs_no_worker_even_with_a_broker(portfolio, settings):
    """`make run` with CELERY_BROKER_URL set but no worker yet: the demo history runs here."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    out = StringIO()
    call_command(
        "recompute_scores", "--history", "2", "--in-process", stdout=out, stderr=StringIO()
    )
    runs = list(ClassificationRun.objects.order_by("pk"))
    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 3
    assert out.getvalue().count("succeeded: 5 accounts") == 3


def test_following_a_run_no_worker_takes_says_so_and_gives_up_at_the_timeout(monkeypatch):
    from classification.management.commands import recompute_scores

    monkeypatch.setattr(recompute_scores, "QUEUED_HINT_AFTER", 0)
    run = ClassificationRun.objects.create(trigger="manual", reference_date=REFERENCE)
    command = recompute_scores.Command(stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match=rf"Run {run.pk} did not finish within 1 s \(queued\)"):
        command._follow(run, timeout=1)
    assert "is still queued after 0 s: is a Celery worker running?" in command.stderr.getvalue()
