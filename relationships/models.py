"""The relationship around an account: meetings, needs, opportunities, plans, reviews."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account, AccountManager, Contact, KamHistory
from kam.dates import HappenedValidator, PlannedValidator
from kam.db import TimeStampedModel, currency_code_validator


def _choice_check(field: str, choices: type[models.TextChoices], name: str):
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": [c.value for c in choices]}), name=name
    )


def _rating(help_text: str = "") -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=help_text or "1 (low) to 5 (high).",
    )


class InteractionKind(models.TextChoices):
    MEETING = "meeting", "Meeting"
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    VISIT = "visit", "Visit"
    EVENT = "event", "Event"


class Interaction(TimeStampedModel):
    Kind = InteractionKind

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MEETING)
    occurred_at = models.DateTimeField(
        validators=[HappenedValidator("An interaction cannot be in the future.")]
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="interactions")
    summary = models.TextField()
    sentiment = models.SmallIntegerField(
        default=0,
        validators=[MinValueValidator(-2), MaxValueValidator(2)],
        help_text="-2 (very negative) to +2 (very positive).",
    )

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sentiment__gte=-2, sentiment__lte=2), name="interaction_sentiment_range"
            ),
            _choice_check("kind", InteractionKind, "interaction_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["account", "occurred_at"]),
            # The newest first across accounts (the admin's list, the API's interactions): without
            # it every page sorted all interactions (0.3 s at 730,000).
            models.Index(fields=["occurred_at"]),
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.occurred_at).date() if self.occurred_at else "?"
        return f"{self.get_kind_display()} on {when}"


class CustomerNeedPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class CustomerNeedStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    MET = "met", "Met"
    DROPPED = "dropped", "Dropped"


class CustomerNeed(TimeStampedModel):
    Priority = CustomerNeedPriority

    Status = CustomerNeedStatus

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="needs")
    description = models.TextField()
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    identified_on = models.DateField(
        validators=[HappenedValidator("A need cannot be identified in the future.")]
    )

    class Meta:
        ordering = ["-identified_on"]
        constraints = [
            _choice_check("priority", CustomerNeedPriority, "need_priority_valid"),
            _choice_check("status", CustomerNeedStatus, "need_status_valid"),
        ]

    def __str__(self) -> str:
        return self.description[:60]


class OpportunityStage(models.TextChoices):
    IDENTIFIED = "identified", "Identified"
    QUALIFIED = "qualified", "Qualified"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Opportunity(TimeStampedModel):
    Stage = OpportunityStage

    OPEN_STAGES = (Stage.IDENTIFIED, Stage.QUALIFIED, Stage.PROPOSAL, Stage.NEGOTIATION)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    title = models.CharField(max_length=200)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.IDENTIFIED)
    value = models.DecimalField(max_digits=16, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code_validator])
    probability = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(100)], help_text="Percent, 0-100."
    )
    expected_close = models.DateField(null=True, blank=True, validators=[PlannedValidator()])
    owner = models.ForeignKey(
        AccountManager,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    is_joint_work = models.BooleanField("joint work with the customer", default=False)

    history = KamHistory()

    class Meta:
        ordering = ["expected_close", "id"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="opportunity_value_positive"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100),
                name="opportunity_probability_range",
            ),
            _choice_check("stage", OpportunityStage, "opportunity_stage_valid"),
        ]
        indexes = [models.Index(fields=["account", "stage"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES


class AccountPlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class AccountPlan(TimeStampedModel):
    Status = AccountPlanStatus

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plans")
    period_start = models.DateField(validators=[PlannedValidator()])
    period_end = models.DateField(validators=[PlannedValidator()])
    strategy = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)

    history = KamHistory()

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="plan_period_ordered"
            ),
            _choice_check("status", AccountPlanStatus, "plan_status_valid"),
        ]
        indexes = [models.Index(fields=["account", "period_start", "period_end"])]

    def __str__(self) -> str:
        period = f"{self.period_start or '?'} to {self.period_end or '?'}"
        return f"Plan {period} for {self.account}" if self.account_id else f"Plan {period}"

    def clean(self) -> None:
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValidationError({"period_end": "The period cannot end before it starts."})


class PlanObjectiveStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ACHIEVED = "achieved", "Achieved"
    DROPPED = "dropped", "Dropped"


class PlanObjective(TimeStampedModel):
    Status = PlanObjectiveStatus

    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="objectives")
    description = models.TextField()
    metric = models.CharField(max_length=100, blank=True)
    target = models.CharField(max_length=100, blank=True)
    due_on = models.DateField(null=True, blank=True, validators=[PlannedValidator()])
    is_joint_work = models.BooleanField("joint work with the customer", default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    history = KamHistory()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [_choice_check("status", PlanObjectiveStatus, "objective_status_valid")]

    def __str__(self) -> str:
        return self.description[:60]


class PlanActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class PlanAction(TimeStampedModel):
    Status = PlanActionStatus

    objective = models.ForeignKey(PlanObjective, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=250)
    owner = models.ForeignKey(
        AccountManager, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions"
    )
    due_on = models.DateField(validators=[PlannedValidator()])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    done_on = models.DateField(
        null=True,
        blank=True,
        validators=[HappenedValidator("An action cannot be done in the future.")],
    )

    history = KamHistory()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="done", done_on__isnull=False)
                | (~Q(status="done") & Q(done_on__isnull=True)),
                name="action_done_has_date",
            ),
            _choice_check("status", PlanActionStatus, "action_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return self.description

    def clean(self) -> None:
        if self.status == self.Status.DONE and not self.done_on:
            raise ValidationError({"done_on": "A done action needs the date it was done."})
        if self.status != self.Status.DONE and self.done_on:
            raise ValidationError({"done_on": "Only a done action has a done date."})


class ServiceCaseSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ServiceCaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class ServiceCase(TimeStampedModel):
    """Raised by customer service; the hand-off between service and sales."""

    Severity = ServiceCaseSeverity

    Status = ServiceCaseStatus

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="service_cases")
    subject = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(
        validators=[HappenedValidator("A case cannot be opened in the future.")]
    )
    closed_at = models.DateTimeField(
        null=True,
        blank=True,
        validators=[HappenedValidator("A case cannot be closed in the future.")],
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="service_case_dates_ordered",
            ),
            _choice_check("severity", ServiceCaseSeverity, "service_case_severity_valid"),
            _choice_check("status", ServiceCaseStatus, "service_case_status_valid"),
        ]
        indexes = [models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return self.subject

    def clean(self) -> None:
        if self.closed_at and self.opened_at and self.closed_at < self.opened_at:
            raise ValidationError({"closed_at": "A case cannot close before it opened."})


ASSESSMENT_RATINGS = (
    "strategic_fit",
    "openness",
    "satisfaction",
    "customisation",
    "technical_novelty",
    "change_frequency",
)


class AssessmentContractType(models.TextChoices):
    NONE = "none", "None"
    SPOT = "spot", "Spot"
    ANNUAL = "annual", "Annual"
    MULTI_YEAR = "multi_year", "Multi-year"
    STRATEGIC_AGREEMENT = "strategic_agreement", "Strategic agreement"


class AssessmentSupplierStatus(models.TextChoices):
    NONE = "none", "None"
    APPROVED = "approved", "Approved"
    PREFERRED = "preferred", "Preferred"
    SOLE = "sole", "Sole"


class Assessment(TimeStampedModel):
    """A dated review of an account: the qualitative inputs of the classification models."""

    ContractType = AssessmentContractType

    SupplierStatus = AssessmentSupplierStatus

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="assessments")
    assessed_on = models.DateField(
        validators=[HappenedValidator("An assessment cannot be in the future.")]
    )
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assessments",
    )
    contract_type = models.CharField(
        max_length=20, choices=ContractType.choices, default=ContractType.NONE
    )
    supplier_status = models.CharField(
        max_length=10, choices=SupplierStatus.choices, default=SupplierStatus.NONE
    )
    forecast_sharing = models.BooleanField(default=False)
    edi_link = models.BooleanField("EDI / API link", default=False)
    open_book_costing = models.BooleanField(default=False)
    strategic_fit = _rating()
    openness = _rating()
    satisfaction = _rating()
    customisation = _rating("How customised what we supply is, 1-5.")
    technical_novelty = _rating("How technically new what we supply is, 1-5.")
    change_frequency = _rating("How often what we supply changes, 1-5.")
    termination_notice = models.BooleanField(
        default=False, help_text="The customer has given notice on a contract."
    )
    comment = models.TextField(blank=True)

    RATINGS = ASSESSMENT_RATINGS

    history = KamHistory()

    class Meta:
        ordering = ["-assessed_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "assessed_on"], name="assessment_one_per_day"
            ),
            _choice_check(
                "contract_type", AssessmentContractType, "assessment_contract_type_valid"
            ),
            _choice_check(
                "supplier_status", AssessmentSupplierStatus, "assessment_supplier_status_valid"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{r}__isnull": True}) | Q(**{f"{r}__gte": 1, f"{r}__lte": 5}),
                    name=f"assessment_{r}_range",
                )
                for r in ASSESSMENT_RATINGS
            ],
        ]

    def __str__(self) -> str:
        return f"Assessment of {self.account} on {self.assessed_on}"

    @property
    def info_sharing(self) -> int:
        return int(self.forecast_sharing) + int(self.edi_link) + int(self.open_book_costing)


class RelationshipInvestmentSide(models.TextChoices):
    CUSTOMER = "customer", "Customer in us"
    SUPPLIER = "supplier", "We in the customer"


class RelationshipInvestmentKind(models.TextChoices):
    DEDICATED_STAFF = "dedicated_staff", "Dedicated staff"
    TOOLING = "tooling", "Dedicated tooling or plant"
    IT_INTEGRATION = "it_integration", "IT integration"
    CO_LOCATION = "co_location", "Co-location"
    PROCESS = "process", "Process adaptation"
    TRAINING = "training", "Training"
    OTHER = "other", "Other"


class RelationshipInvestment(TimeStampedModel):
    """A relationship-specific investment, by the customer in us or by us in the customer."""

    Side = RelationshipInvestmentSide

    Kind = RelationshipInvestmentKind

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="investments")
    side = models.CharField(max_length=10, choices=Side.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    description = models.CharField(max_length=250, blank=True)
    intensity = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(3)], help_text="1 (light) to 3 (heavy)."
    )
    start_date = models.DateField("from", validators=[PlannedValidator()])
    end_date = models.DateField("until", null=True, blank=True, validators=[PlannedValidator()])

    history = KamHistory()

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(intensity__gte=1, intensity__lte=3), name="investment_intensity_range"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="investment_dates_ordered",
            ),
            _choice_check("side", RelationshipInvestmentSide, "investment_side_valid"),
            _choice_check("kind", RelationshipInvestmentKind, "investment_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_side_display()}: {self.get_kind_display()} ({self.intensity})"

    def clean(self) -> None:
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "'Until' cannot be before 'from'."})
