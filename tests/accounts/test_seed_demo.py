"""`manage.py seed_demo`: a deterministic demo portfolio that keeps every model rule."""

import hashlib
import time
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Max, Min
from django.test import RequestFactory

from accounts.currency import RateBook
from accounts.demo import DEFAULT_PASSWORD
from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    Contact,
    Customer,
    ExchangeRate,
    Level,
    ProductLine,
    Transaction,
)
from accounts.selectors import accounts_visible_to
from relationships.models import (
    AccountPlan,
    Assessment,
    CustomerNeed,
    Interaction,
    Opportunity,
    PlanAction,
    PlanObjective,
    RelationshipInvestment,
    ServiceCase,
)
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

REFERENCE = date(2026, 5, 14)
OPTIONS = {
    "accounts": 60,
    "months": 24,
    "seed": 7,
    "demo_users": True,
    "reference_date": REFERENCE.isoformat(),
}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", **{**OPTIONS, **options}, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def portfolio() -> str:
    return seed()


def manager(username: str) -> AccountManager:
    return AccountManager.objects.select_related("user", "reports_to__user").get(
        user__username=username
    )


def test_counts_are_in_the_expected_ranges(portfolio):
    assert Account.objects.count() == 60
    assert Account.objects.filter(level=Level.GLOBAL).count() >= 2
    assert Account.objects.filter(parent__isnull=False).count() >= 6
    assert 50 <= Customer.objects.count() <= 60
    assert Customer.objects.filter(parent__isnull=False).count() >= 4
    assert Contact.objects.count() >= 2 * Customer.objects.count()
    assert 60 * 50 * 0.6 <= Transaction.objects.count() <= 60 * 50 * 1.6
    per_account = Account.objects.annotate(n=Count("transactions")).aggregate(
        low=Min("n"), high=Max("n")
    )
    assert per_account["low"] == 0
    assert per_account["high"] >= 150
    assert ProductLine.objects.count() == 8
    # Monthly from the month before the period (April 2024) to May 2026, for five currencies.
    assert ExchangeRate.objects.count() == 5 * 26
    assert set(ExchangeRate.objects.values_list("currency", flat=True)) == {
        "USD",
        "GBP",
        "JPY",
        "PLN",
        "SEK",
    }
    assert set(Account.objects.values_list("status", flat=True)) == {
        "active",
        "prospect",
        "dormant",
        "lost",
    }
    assert Account.objects.filter(is_key_account=True).exists()
    assert Account.objects.filter(wallet_estimate__isnull=False).count() >= 40
    assert set(Transaction.objects.values_list("kind", flat=True)) == set(Transaction.Kind.values)
    assert set(Opportunity.objects.values_list("stage", flat=True)) == set(Opportunity.Stage.values)
    for model in (
        CustomerNeed,
        AccountPlan,
        PlanObjective,
        PlanAction,
        ServiceCase,
        RelationshipInvestment,
        AccountTeamMember,
        Interaction,
    ):
        assert model.objects.exists(), model
    assessments = Account.objects.annotate(n=Count("assessments")).values_list("n", flat=True)
    assert set(assessments) <= {1, 2, 3}
    assert "transactions" in portfolio
    assert f"password: {DEFAULT_PASSWORD}" in portfolio


def test_every_account_keeps_the_level_and_group_rules(portfolio):
    accounts = Account.objects.select_related(
        "owner", "customer__parent", "parent__customer__parent"
    )
    for account in accounts:
        account.full_clean()
        assert account.owner.level == account.level
        if account.level == Level.NATIONAL:
            assert account.country
        else:
            assert account.country == ""
            assert account.parent_id is None
        if account.parent_id:
            assert account.parent.level == Level.GLOBAL
            assert account.parent.customer.group_root() == account.customer.group_root()
    for profile in AccountManager.objects.select_related("reports_to"):
        profile.full_clean()  # no cycles; a global manager reports to a global manager
        if profile.level == Level.GLOBAL and profile.reports_to:
            assert profile.reports_to.level == Level.GLOBAL


def test_transactions_are_consistent_and_converted_at_the_day_rate(portfolio):
    book = RateBook.load()
    rows = Transaction.objects.values_list(
        "quantity", "unit_price", "amount", "currency", "date", "amount_base"
    )
    for quantity, price, amount, currency, day, amount_base in rows:
        assert amount == Transaction.compute_amount(quantity, price)
        assert amount_base == book.to_base(amount, currency, day)
    first, last = Transaction.objects.aggregate(first=Min("date"), last=Max("date")).values()
    assert REFERENCE - timedelta(days=731) <= first
    assert last <= REFERENCE
    assert ExchangeRate.objects.aggregate(first=Min("valid_from"))["first"] <= first

    # One foreign-currency row, checked against the stored rate in force on its date.
    row = Transaction.objects.filter(currency="GBP").order_by("date", "external_reference").last()
    rate = (
        ExchangeRate.objects.filter(currency="GBP", valid_from__lte=row.date)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    assert row.amount_base == (row.amount * rate).quantize(Decimal("0.01"))
    assert row.amount_base != row.amount

    assert not Transaction.objects.exclude(source_system="demo").exists()
    total = Transaction.objects.count()
    assert Transaction.objects.values("external_reference").distinct().count() == total
    assert Transaction.objects.filter(unit_cost__isnull=False).count() > total * 0.7
    sale_orders = Transaction.objects.filter(kind="sale").values("order_reference").distinct()
    assert 1 < sale_orders.count() < Transaction.objects.filter(kind="sale").count()


def test_relationship_rows_keep_their_rules(portfolio):
    for action in PlanAction.objects.all():
        action.clean()
        assert (action.status == "done") == (action.done_on is not None)
        if action.done_on:
            assert action.done_on <= REFERENCE
    assert PlanAction.objects.filter(status="open", due_on__lt=REFERENCE).exists()
    for case in ServiceCase.objects.all():
        assert case.closed_at is None or case.closed_at >= case.opened_at
        assert case.opened_at.tzinfo is not None
    assert ServiceCase.objects.filter(
        status__in=["open", "in_progress"], severity__in=["high", "critical"]
    ).exists()
    assert AccountPlan.objects.filter(
        period_start__lte=REFERENCE, period_end__gte=REFERENCE, status="active"
    ).exists()
    assert AccountPlan.objects.filter(period_end__lt=REFERENCE).exists()
    assert PlanObjective.objects.filter(is_joint_work=True).exists()
    assert Opportunity.objects.filter(is_joint_work=True).exists()
    for member in AccountTeamMember.objects.all():
        member.clean()
        assert member.start_date <= REFERENCE
    recent = Interaction.objects.filter(occurred_at__date__gte=REFERENCE - timedelta(days=365))
    assert recent.values("account").distinct().count() >= 40
    assert Interaction.contacts.through.objects.exists()
    assert not Interaction.objects.filter(occurred_at__date__gt=REFERENCE).exists()
    for side in ("customer", "supplier"):
        intensities = RelationshipInvestment.objects.filter(side=side).values_list(
            "intensity", flat=True
        )
        assert set(intensities) == {1, 2, 3}
    for rating in Assessment.RATINGS:
        assert not Assessment.objects.filter(**{f"{rating}__isnull": True}).exists()
    assert Assessment.objects.filter(termination_notice=True).exists()
    assert set(Assessment.objects.values_list("contract_type", flat=True)) >= {
        "none",
        "spot",
        "annual",
    }


def test_some_accounts_drop_their_supplier_status(portfolio):
    drops = 0
    for account in Account.objects.prefetch_related("assessments"):
        history = sorted(account.assessments.all(), key=lambda a: a.assessed_on, reverse=True)
        if len(history) >= 2:
            latest, before = history[0].supplier_status, history[1].supplier_status
            drops += before in ("preferred", "sole") and latest in ("none", "approved")
    assert drops >= 1


def test_demo_users_have_their_roles_and_the_password_works(portfolio):
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    lead, gam = manager("lead"), manager("gam")
    assert (lead.role, lead.level, lead.country) == ("sales_lead", "national", "DE")
    assert (gam.role, gam.level) == ("account_manager", "global")
    assert gam.reports_to is None or gam.reports_to.level == Level.GLOBAL
    for username, country in (("nam1", "DE"), ("nam2", "FR")):
        nam = manager(username)
        assert (nam.level, nam.country, nam.role) == ("national", country, "account_manager")
        assert nam.reports_to == lead
    for username in ("admin", "lead", "gam", "nam1", "nam2"):
        assert can_log_in(username, DEFAULT_PASSWORD)
        assert not can_log_in(username, "wrong")


def can_log_in(username: str, password: str) -> bool:
    """Django's authentication as the login form calls it (with a request, as axes requires)."""
    request = RequestFactory().post("/login/")
    return authenticate(request, username=username, password=password) is not None


def test_custom_password_is_used():
    seed(accounts=20, password="another-secret-1")
    assert can_log_in("nam1", "another-secret-1")
    assert not can_log_in("nam1", DEFAULT_PASSWORD)


def test_gam_leads_a_global_account_run_by_nam1_and_nam2(portfolio):
    gam, nam1, nam2 = manager("gam"), manager("nam1"), manager("nam2")
    matrix = [
        account
        for account in Account.objects.filter(owner=gam, level=Level.GLOBAL)
        if {nam1.pk, nam2.pk} <= set(account.national_accounts.values_list("owner", flat=True))
    ]
    assert matrix, "gam owns no global account with national accounts of nam1 and nam2"
    team = set(matrix[0].team_members.values_list("manager__user__username", "role"))
    assert {("gam", "global_lead"), ("nam1", "national_lead"), ("nam2", "national_lead")} <= team
    for nam in (nam1, nam2):
        own = Account.objects.filter(owner=nam, parent__isnull=True)
        assert own.count() >= 3, f"{nam.user.username} has too few accounts of their own"
        assert set(accounts_visible_to(nam.user)) >= set(Account.objects.filter(owner=nam))
    assert set(accounts_visible_to(gam.user)) >= set(matrix[0].national_accounts.all())


def test_lead_sees_every_account_of_nam1_and_nam2(portfolio):
    lead = get_user_model().objects.get(username="lead")
    visible = set(accounts_visible_to(lead).values_list("pk", flat=True))
    theirs = set(
        Account.objects.filter(owner__user__username__in=["nam1", "nam2"]).values_list(
            "pk", flat=True
        )
    )
    assert len(theirs) >= 8
    assert theirs <= visible


def digest() -> str:
    """A hash of the data without primary keys, timestamps or password salts."""
    acc = "customer__name", "level", "country"
    projections = {
        get_user_model(): ("username", "first_name", "last_name", "email", "is_superuser"),
        AccountManager: ("user__username", "level", "country", "region", "role",
                         "reports_to__user__username"),
        Customer: ("name", "legal_name", "industry", "country", "employees", "website",
                   "parent__name"),
        Contact: ("customer__name", "name", "title", "email", "phone", "function", "seniority",
                  "is_active"),
        Account: (*acc, "parent__customer__name", "status", "is_key_account",
                  "owner__user__username", "opened_on", "currency", "wallet_estimate"),
        AccountTeamMember: (*(f"account__{f}" for f in acc), "manager__user__username", "role",
                            "start_date", "end_date"),
        ProductLine: ("code", "name"),
        ExchangeRate: ("currency", "valid_from", "rate"),
        Transaction: (*(f"account__{f}" for f in acc), "kind", "date", "product_line__code",
                      "product_code", "description", "quantity", "unit_price", "unit_cost",
                      "amount", "currency", "amount_base", "order_reference", "source_system",
                      "external_reference"),
        Interaction: (*(f"account__{f}" for f in acc), "kind", "occurred_at",
                      "author__username", "summary", "sentiment"),
        Interaction.contacts.through: ("interaction__occurred_at", "interaction__summary",
                                       "contact__email", "contact__name"),
        CustomerNeed: (*(f"account__{f}" for f in acc), "description", "priority", "status",
                       "identified_on"),
        Opportunity: (*(f"account__{f}" for f in acc), "title", "stage", "value", "currency",
                      "probability", "expected_close", "owner__user__username", "is_joint_work"),
        AccountPlan: (*(f"account__{f}" for f in acc), "period_start", "period_end", "strategy",
                      "status"),
        PlanObjective: ("plan__account__customer__name", "plan__period_start", "description",
                        "metric", "target", "due_on", "is_joint_work", "status"),
        PlanAction: ("objective__plan__account__customer__name", "objective__description",
                     "description", "owner__user__username", "due_on", "status", "done_on"),
        ServiceCase: (*(f"account__{f}" for f in acc), "subject", "severity", "status",
                      "opened_at", "closed_at"),
        Assessment: (*(f"account__{f}" for f in acc), "assessed_on", "assessor__username",
                     "contract_type", "supplier_status", "forecast_sharing", "edi_link",
                     "open_book_costing", *Assessment.RATINGS, "termination_notice", "comment"),
        RelationshipInvestment: (*(f"account__{f}" for f in acc), "side", "kind", "description",
                                 "intensity", "start_date", "end_date"),
    }  # fmt: skip
    hasher = hashlib.sha256()
    for model, fields in projections.items():
        rows = sorted(repr(row) for row in model.objects.values_list(*fields))
        hasher.update(f"{model._meta.label}:{len(rows)}\n".encode())
        for row in rows:
            hasher.update(row.encode())
    return hasher.hexdigest()


def seeded_digest(**options) -> str:
    """Seed a fresh (empty) database, hash it, and roll it all back."""
    with transaction.atomic():
        seed(**options)
        result = digest()
        transaction.set_rollback(True)
    assert not Account.objects.exists()
    return result


def test_the_same_seed_gives_the_same_data():
    first = seeded_digest()
    assert seeded_digest() == first
    assert seeded_digest(seed=8) != first


def test_refuses_to_run_when_accounts_exist(portfolio):
    with pytest.raises(CommandError, match=r"already has 60 accounts.*empty database"):
        seed()


def test_refuses_to_run_over_accounts_it_did_not_make():
    AccountFactory()
    with pytest.raises(CommandError, match="already has 1 accounts"):
        seed(demo_users=False)
    assert Account.objects.count() == 1


def test_if_empty_leaves_a_populated_database_alone():
    AccountFactory()
    out = StringIO()
    call_command("seed_demo", "--if-empty", "--demo-users", stdout=out)
    assert "already has accounts" in out.getvalue()
    assert Account.objects.count() == 1


def test_rejects_options_it_cannot_honour():
    with pytest.raises(CommandError, match="at least 10 accounts"):
        seed(accounts=5)
    with pytest.raises(CommandError, match="reference-date"):
        seed(reference_date="14/05/2026")
    with pytest.raises(CommandError, match="--months"):
        seed(months=0)
    assert not Account.objects.exists()


def test_runs_without_demo_users_and_with_few_accounts():
    seed(accounts=3, demo_users=False, months=6)
    assert Account.objects.count() == 3
    assert not get_user_model().objects.filter(username__in=["admin", "lead"]).exists()
    assert Transaction.objects.filter(date__lt=REFERENCE - timedelta(days=190)).count() == 0


def test_slow_builds_2000_accounts_on_postgresql(capsys):
    """Deselect with `-k "not slow"`. Prints the time; the time is not asserted."""
    started = time.perf_counter()
    seed(accounts=2000, demo_users=True, seed=42)
    elapsed = time.perf_counter() - started
    transactions = Transaction.objects.count()
    with capsys.disabled():
        print(f"\nseed_demo --accounts 2000: {elapsed:.1f}s, {transactions:,} transactions")
    assert Account.objects.count() == 2000
    assert 80_000 <= transactions <= 130_000
    lead = get_user_model().objects.get(username="lead")
    nams = Account.objects.filter(owner__user__username__in=["nam1", "nam2"])
    assert set(nams) <= set(accounts_visible_to(lead))
