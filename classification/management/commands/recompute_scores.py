"""Recompute the classification of every key account (or one) under the four models."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Account
from classification import services
from classification.models import ClassificationRun, RunStatus


class Command(BaseCommand):
    help = "Recompute classification scores; with --wait, follow the run's progress to the end."

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, help="Recompute this account id only.")
        parser.add_argument(
            "--wait", action="store_true", help="Wait for the run to finish, showing progress."
        )
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait at most.")

    def handle(self, *args, account=None, wait=False, timeout=3600, **options):
        target = None
        if account is not None:
            target = Account.objects.filter(pk=account).first()
            if target is None:
                raise CommandError(f"There is no account with id {account}.")
        if target is not None:
            run = services.recompute_account_now(account=target)
        else:
            run, created = services.run_request(trigger=ClassificationRun.Trigger.MANUAL)
            if not created:
                self.stdout.write(f"Run {run.pk} is already {run.status}; following it.")
            elif settings.CELERY_TASK_ALWAYS_EAGER:
                pass  # the on-commit dispatch ran it in this process
        if wait or settings.CELERY_TASK_ALWAYS_EAGER or target is not None:
            run = self._follow(run, timeout)
        self._report(run)

    def _follow(self, run: ClassificationRun, timeout: int) -> ClassificationRun:
        deadline = time.monotonic() + timeout
        with tqdm(total=run.chunks_total or 1, unit="chunk", desc=f"Run {run.pk}") as bar:
            while True:
                run.refresh_from_db()
                bar.total = max(run.chunks_total, 1)
                bar.n = run.chunks_done if run.chunks_total else 0
                bar.refresh()
                if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
                    return run
                if time.monotonic() > deadline:
                    raise CommandError(f"Run {run.pk} did not finish within {timeout} s.")
                time.sleep(0.5)

    def _report(self, run: ClassificationRun) -> None:
        summary = (
            f"Run {run.pk} {run.status}: {run.accounts_total} accounts, "
            f"{run.chunks_done}/{run.chunks_total} chunks, {run.results_count} results, "
            f"{run.events_count} segment changes."
        )
        if run.status == RunStatus.FAILED:
            raise CommandError(f"{summary} Error: {run.error_summary}")
        self.stdout.write(self.style.SUCCESS(summary) if run.status == "succeeded" else summary)
