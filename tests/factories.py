"""One factory per model, with minimal valid defaults."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

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
from classification.models import ClassificationCurrent, ClassificationResult, ClassificationRun
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


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AdminUserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class AccountManagerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountManager

    user = factory.SubFactory(UserFactory)
    level = Level.NATIONAL
    country = "DE"
    role = AccountManager.Role.ACCOUNT_MANAGER


class GlobalManagerFactory(AccountManagerFactory):
    level = Level.GLOBAL
    country = ""
    region = "EMEA"


class SalesLeadFactory(AccountManagerFactory):
    role = AccountManager.Role.SALES_LEAD


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    country = "DE"
    industry = "Manufacturing"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    function = Contact.Function.PROCUREMENT
    seniority = Contact.Seniority.MANAGEMENT


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    customer = factory.SubFactory(CustomerFactory)
    level = Level.NATIONAL
    country = "DE"
    status = Account.Status.ACTIVE
    owner = factory.SubFactory(AccountManagerFactory)
    currency = "EUR"
    opened_on = dt.date(2020, 1, 1)


class GlobalAccountFactory(AccountFactory):
    level = Level.GLOBAL
    country = ""
    owner = factory.SubFactory(GlobalManagerFactory)


class AccountTeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountTeamMember

    account = factory.SubFactory(AccountFactory)
    manager = factory.SubFactory(AccountManagerFactory)
    role = AccountTeamMember.Role.SUPPORT
    start_date = dt.date(2024, 1, 1)


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PL{n:03d}")
    name = factory.LazyAttribute(lambda p: f"Line {p.code}")


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate
        django_get_or_create = ("currency", "valid_from")

    currency = "USD"
    valid_from = dt.date(2020, 1, 1)
    rate = Decimal("0.9")


class TransactionFactory(factory.django.DjangoModelFactory):
    """Amounts follow quantity x price; `amount_base` assumes the base currency unless given."""

    class Meta:
        model = Transaction

    account = factory.SubFactory(AccountFactory)
    kind = Transaction.Kind.SALE
    date = dt.date(2026, 6, 1)
    quantity = Decimal("10")
    unit_price = Decimal("100")
    amount = factory.LazyAttribute(lambda t: Transaction.compute_amount(t.quantity, t.unit_price))
    currency = "EUR"
    amount_base = factory.LazyAttribute(lambda t: t.amount)
    order_reference = factory.Sequence(lambda n: f"SO-{n:06d}")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    account = factory.SubFactory(AccountFactory)
    kind = Interaction.Kind.MEETING
    occurred_at = factory.LazyFunction(timezone.now)
    summary = "Quarterly review"


class CustomerNeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerNeed

    account = factory.SubFactory(AccountFactory)
    description = "Shorter lead times"
    identified_on = dt.date(2026, 1, 15)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Opportunity {n}")
    value = Decimal("50000")
    currency = "EUR"
    probability = 30


class AccountPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountPlan

    account = factory.SubFactory(AccountFactory)
    period_start = dt.date(2026, 1, 1)
    period_end = dt.date(2026, 12, 31)
    strategy = "Grow share of wallet"
    status = AccountPlan.Status.ACTIVE


class PlanObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanObjective

    plan = factory.SubFactory(AccountPlanFactory)
    description = "Win the second plant"


class PlanActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanAction

    objective = factory.SubFactory(PlanObjectiveFactory)
    description = "Site visit"
    due_on = dt.date(2026, 3, 1)


class ServiceCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCase

    account = factory.SubFactory(AccountFactory)
    subject = "Late delivery"
    opened_at = factory.LazyFunction(timezone.now)


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    account = factory.SubFactory(AccountFactory)
    assessed_on = dt.date(2026, 1, 10)
    contract_type = Assessment.ContractType.ANNUAL
    supplier_status = Assessment.SupplierStatus.APPROVED
    strategic_fit = 3
    openness = 3
    satisfaction = 3
    customisation = 3
    technical_novelty = 3
    change_frequency = 3


class RelationshipInvestmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelationshipInvestment

    account = factory.SubFactory(AccountFactory)
    side = RelationshipInvestment.Side.SUPPLIER
    intensity = 2
    start_date = dt.date(2025, 1, 1)


class ClassificationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClassificationRun

    trigger = ClassificationRun.Trigger.MANUAL
    reference_date = dt.date(2026, 11, 1)
    status = ClassificationRun.Status.SUCCEEDED


class ClassificationResultFactory(factory.django.DjangoModelFactory):
    """`current=True` also makes the result its account's current one under its model."""

    class Meta:
        model = ClassificationResult
        skip_postgeneration_save = True

    run = factory.SubFactory(ClassificationRunFactory)
    account = factory.SubFactory(AccountFactory)
    model = "four_s"
    segment = "star"

    @factory.post_generation
    def current(obj, create, extracted, **kwargs):
        if create and extracted:
            make_current(obj)


def make_current(*results: ClassificationResult) -> None:
    """Make these stored results (one per account and model) current, as a run's finalize does."""
    ClassificationCurrent.objects.bulk_create(
        [
            ClassificationCurrent(
                account_id=r.account_id,
                model=r.model,
                result_id=r.pk,
                segment=r.segment,
                flags=r.flags,
            )
            for r in results
        ],
        update_conflicts=True,
        unique_fields=["account", "model"],
        update_fields=["result", "segment", "flags"],
    )
