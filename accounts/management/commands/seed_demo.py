"""`manage.py seed_demo`: fill an empty database with a realistic, deterministic demo portfolio."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.demo import (
    DEFAULT_ACCOUNTS,
    DEFAULT_MONTHS,
    DEFAULT_PASSWORD,
    DEFAULT_SEED,
    DemoSeedError,
    DemoSummary,
    demo_portfolio_create,
)
from accounts.models import Account


def _reference_date(value: str | date | None) -> date:
    if value is None:
        return timezone.localdate()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        message = f"--reference-date must be a date like 2026-03-31, not {value!r}."
        raise CommandError(message) from exc


class Command(BaseCommand):
    help = (
        "Fill an empty database with a demo portfolio: customers and corporate groups, global and "
        "national accounts, managers, transactions and the relationship around each account. The "
        "same --seed always gives the same data. Refuses to run when accounts already exist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts",
            type=int,
            default=DEFAULT_ACCOUNTS,
            help=f"Accounts in total, global and national (default {DEFAULT_ACCOUNTS}).",
        )
        parser.add_argument(
            "--months",
            type=int,
            default=DEFAULT_MONTHS,
            help=(
                f"Months of transactions before the reference date (default {DEFAULT_MONTHS}; "
                "about 50 transactions per account over 24 months)."
            ),
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Random seed (default {DEFAULT_SEED})."
        )
        parser.add_argument(
            "--reference-date",
            default=None,
            help="The day the data runs up to, YYYY-MM-DD (default: today).",
        )
        parser.add_argument(
            "--demo-users",
            action="store_true",
            help="Also create the users admin, lead, gam, nam1 and nam2, with demo portfolios.",
        )
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"Password of the demo users (default {DEFAULT_PASSWORD!r}).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (and succeed) when the database already has accounts.",
        )

    def handle(self, *args, **options) -> None:
        reference = _reference_date(options["reference_date"])
        if options["if_empty"] and Account.objects.exists():
            self.stdout.write("The database already has accounts; no demo data added.")
            return
        try:
            summary = demo_portfolio_create(
                reference_date=reference,
                accounts=options["accounts"],
                months=options["months"],
                seed=options["seed"],
                demo_users=options["demo_users"],
                password=options["password"],
                progress=options["verbosity"] > 0,
            )
        except DemoSeedError as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] > 0:
            self._report(summary)

    def _report(self, summary: DemoSummary) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo portfolio created (seed {summary.seed}, {summary.months} months "
                f"up to {summary.reference_date.isoformat()}):"
            )
        )
        width = max(len(label) for label in summary.counts)
        for label, count in summary.counts.items():
            self.stdout.write(f"  {label:<{width}}  {count:>9,}")
        if summary.usernames:
            self.stdout.write(
                f"Demo users: {', '.join(summary.usernames)}; password: {summary.password}"
            )
