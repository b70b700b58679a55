"""Recompute the classification of every account that is not lost (or of one account)."""

import contextlib
import datetime as dt
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Account
from classification import services
from classification.models import ClassificationRun, RunStatus

QUEUED_HINT_AFTER = 10  # seconds a followed run may wait for a worker before we say so


class Command(BaseCommand):
    help = (
        "Recompute classification scores under the four models. Without a broker the run happens "
        "in this process; with one, it is queued for the workers and --wait follows its progress "
        "(--in-process runs it here anyway)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, help="Recompute this account id only.")
        parser.add_argument(
            "--wait", action="store_true", help="Wait for the run to finish, showing progress."
        )
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait at most.")
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Run in this process even when a broker is configured (no worker needed).",
        )
        parser.add_argument(
            "--history",
            type=int,
            default=0,
            metavar="MONTHS",
            help="When no run has succeeded yet, first score the end of each of the MONTHS "
            "previous months, so that a new installation (the demo) starts with a history.",
        )

    def handle(
        self, *args, account=None, wait=False, timeout=3600, history=0, in_process=False, **options
    ):
        self.in_process = in_process or settings.CELERY_TASK_ALWAYS_EAGER
        if account is not None:
            target = Account.objects.filter(pk=account).first()
            if target is None:
                raise CommandError(f"There is no account with id {account}.")
            self._report(services.recompute_account_now(account=target))
            return
        if history and not ClassificationRun.objects.filter(status=RunStatus.SUCCEEDED).exists():
            for reference_date in _previous_month_ends(timezone.localdate(), history):
                self._run(reference_date, wait, timeout)
        self._run(None, wait, timeout)

    def _run(self, reference_date: dt.date | None, wait: bool, timeout: int) -> None:
        in_process = self.in_process
        try:
            run, created = services.run_request(
                trigger=ClassificationRun.Trigger.MANUAL,
                reference_date=reference_date,
                dispatch=not in_process,
            )
        except services.BrokerUnavailable as exc:
            raise CommandError(services.QUEUE_UNAVAILABLE) from exc
        if not created:
            self.stdout.write(f"Run {run.pk} is already {run.status}; following it.")
        if in_process and created:
            with tqdm(unit="chunk", desc=f"Run {run.pk}", file=self.stderr) as bar:

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                # A failure is recorded on the run (status, error summary) and reported below.
                with contextlib.suppress(Exception):
                    services.run_execute(run_id=run.pk, on_chunk=progress)
            run.refresh_from_db()
        elif wait or in_process or reference_date is not None:
            run = self._follow(run, timeout)
        self._report(run)

    def _follow(self, run: ClassificationRun, timeout: int) -> ClassificationRun:
        started = time.monotonic()
        hinted = False
        with tqdm(unit="chunk", desc=f"Run {run.pk}", file=self.stderr) as bar:
            while True:
                run.refresh_from_db()
                bar.total = run.chunks_total or None
                bar.update(run.chunks_done - bar.n)
                if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
                    return run
                waited = time.monotonic() - started
                if waited > timeout:
                    raise CommandError(
                        f"Run {run.pk} did not finish within {timeout} s ({run.status}); "
                        f"it stays queued for the workers."
                    )
                if not hinted and run.status == RunStatus.QUEUED and waited > QUEUED_HINT_AFTER:
                    # Without a worker a followed run waits silently for an hour otherwise.
                    bar.write(
                        f"Run {run.pk} is still queued after {QUEUED_HINT_AFTER} s: is a Celery "
                        "worker running? Start one with `celery -A kam worker`, or use "
                        "--in-process. Waiting up to --timeout.",
                        file=self.stderr,
                    )
                    hinted = True
                time.sleep(0.5)

    def _report(self, run: ClassificationRun) -> None:
        summary = (
            f"Run {run.pk} {run.status}: {run.accounts_total} accounts, "
            f"{run.chunks_done}/{run.chunks_total} chunks, {run.results_count} results, "
            f"{run.events_count} segment changes."
        )
        if run.status == RunStatus.FAILED:
            raise CommandError(f"{summary} Error: {run.error_summary}")
        if run.status == RunStatus.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS(summary))
        else:
            self.stdout.write(f"{summary} Follow it with --wait or in the admin.")


def _previous_month_ends(today: dt.date, months: int) -> list[dt.date]:
    """The last day of each of the `months` months before today's, oldest first."""
    ends = []
    end = today.replace(day=1) - dt.timedelta(days=1)
    for _ in range(months):
        ends.append(end)
        end = end.replace(day=1) - dt.timedelta(days=1)
    return ends[::-1]
