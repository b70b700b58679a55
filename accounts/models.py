"""Customers, the people we meet there, our account managers, accounts and their transactions."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from kam.dates import EarliestDateValidator
from kam.db import TimeStampedModel, country_code_validator, currency_code_validator


class KamHistory(HistoricalRecords):
    """The audit trail of a model: every save and delete, by whom (the request's user, or the one
    a service names) and why. `updated_at` is left out: `history_date` says when. A change made
    outside any request by nobody in particular (a task, a command) gives "system" as reason.

    Besides simple-history's options (`user_db_constraint`, `no_db_index`), `history_date_index`
    False leaves `history_date` without an index: a history written in bulk (transactions, by the
    import) keeps only the indexes its readers use, since each one costs every row written."""

    def __init__(self, *, history_date_index: bool = True, **kwargs) -> None:
        kwargs.setdefault("excluded_fields", ["updated_at"])
        self.history_date_index = history_date_index
        super().__init__(**kwargs)

    def get_extra_fields(self, model, fields):
        extra = super().get_extra_fields(model, fields)
        if not self.history_date_index:
            extra["history_date"].db_index = False
        return extra

    def get_change_reason_for_object(self, instance, history_type, using):
        reason = super().get_change_reason_for_object(instance, history_type, using)
        if not reason and self.get_history_user(instance) is None:
            return "system"
        return reason


# Half a cent of rounding, plus room for SQLite, which checks the constraint in floating point.
AMOUNT_TOLERANCE = Decimal("0.006")


class Level(models.TextChoices):
    NATIONAL = "national", "National"
    GLOBAL = "global", "Global"


class Customer(TimeStampedModel):
    """A buying organisation; `parent` groups the companies of one corporate group."""

    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=250, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, validators=[country_code_validator])
    employees = models.PositiveIntegerField(null=True, blank=True)
    website = models.URLField(blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subsidiaries",
        help_text="The corporate group this customer belongs to.",
    )

    history = KamHistory()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="customer_country_iso2"
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="customer_not_own_parent"),
        ]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name

    def group_root(self) -> "Customer":
        """The top of the corporate group (walks up `parent`; groups are shallow)."""
        node, seen = self, {self.pk}
        while node.parent_id and node.parent_id not in seen:
            seen.add(node.parent_id)
            node = node.parent
        return node

    def clean(self) -> None:
        if self.pk and self.parent_id:
            node, seen = self.parent, set()
            while node is not None and node.pk not in seen:
                if node.pk == self.pk:
                    raise ValidationError({"parent": "A customer cannot be inside its own group."})
                seen.add(node.pk)
                node = node.parent


class ContactFunction(models.TextChoices):
    PROCUREMENT = "procurement", "Procurement"
    OPERATIONS = "operations", "Operations"
    RND = "rnd", "R&D"
    QUALITY = "quality", "Quality"
    FINANCE = "finance", "Finance"
    LOGISTICS = "logistics", "Logistics"
    MARKETING = "marketing", "Marketing"
    IT = "it", "IT"
    EXECUTIVE = "executive", "Executive"
    OTHER = "other", "Other"


class ContactSeniority(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    MANAGEMENT = "management", "Management"
    SENIOR = "senior", "Senior"
    EXECUTIVE = "executive", "Executive"


class Contact(TimeStampedModel):
    Function = ContactFunction

    Seniority = ContactSeniority

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    function = models.CharField(max_length=20, choices=Function.choices, default=Function.OTHER)
    seniority = models.CharField(
        max_length=20, choices=Seniority.choices, default=Seniority.OPERATIONAL
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(function__in=[c.value for c in ContactFunction]),
                name="contact_function_valid",
            ),
            models.CheckConstraint(
                condition=Q(seniority__in=[c.value for c in ContactSeniority]),
                name="contact_seniority_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer})" if self.customer_id else self.name


class AccountManagerRole(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    SALES_LEAD = "sales_lead", "Sales lead"


class AccountManager(TimeStampedModel):
    """The manager profile of a user: level, place in the reporting hierarchy, role."""

    Role = AccountManagerRole

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manager"
    )
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.NATIONAL)
    country = models.CharField(
        max_length=2, blank=True, validators=[country_code_validator], help_text="National level."
    )
    region = models.CharField(max_length=100, blank=True, help_text="Global level, e.g. EMEA.")
    reports_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ACCOUNT_MANAGER)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level="global") | ~Q(country=""), name="manager_national_has_country"
            ),
            models.CheckConstraint(
                condition=~Q(reports_to=F("id")), name="manager_not_own_superior"
            ),
            models.CheckConstraint(
                condition=Q(level__in=[c.value for c in Level]), name="manager_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(role__in=[c.value for c in AccountManagerRole]),
                name="manager_role_valid",
            ),
        ]

    def __str__(self) -> str:
        full = self.user.get_full_name() if self.user_id else ""
        return full or (self.user.username if self.user_id else f"Manager {self.pk}")

    @property
    def is_sales_lead(self) -> bool:
        return self.role == self.Role.SALES_LEAD

    def clean(self) -> None:
        errors = {}
        if self.level == Level.NATIONAL and not self.country:
            errors["country"] = "A national manager needs a country."
        boss = self.reports_to
        if boss is not None:
            if self.level == Level.GLOBAL and boss.level != Level.GLOBAL:
                errors["reports_to"] = "A global manager reports to a global manager or to nobody."
            seen = set()
            while boss is not None and boss.pk not in seen:
                if self.pk and boss.pk == self.pk:
                    errors["reports_to"] = "This would make a cycle in the reporting hierarchy."
                    break
                seen.add(boss.pk)
                boss = boss.reports_to
        if errors:
            raise ValidationError(errors)


class AccountQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AccountQuerySet":
        from accounts.selectors import account_visibility_filter

        return self.filter(account_visibility_filter(user))


class AccountStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ACTIVE = "active", "Active"
    DORMANT = "dormant", "Dormant"
    LOST = "lost", "Lost"


class Account(TimeStampedModel):
    """Our relationship with one customer at one level (national or global)."""

    Status = AccountStatus

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.NATIONAL)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[country_code_validator],
        help_text="Required for a national account; empty for a global one.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="national_accounts",
        help_text="The global account this national account belongs to.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    is_key_account = models.BooleanField("key account", default=False)
    owner = models.ForeignKey(
        AccountManager, on_delete=models.PROTECT, related_name="owned_accounts"
    )
    opened_on = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_code_validator])
    wallet_estimate = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="The customer's yearly spend in our categories, in the base currency.",
    )

    objects = AccountQuerySet.as_manager()

    history = KamHistory()

    class Meta:
        ordering = ["customer__name", "level", "country"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "level", "country"], name="account_unique_customer_level"
            ),
            models.CheckConstraint(
                condition=Q(level="global", country="")
                | Q(level="national", country__regex=r"^[A-Z]{2}$"),
                name="account_country_matches_level",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | Q(level="national"),
                name="account_only_national_has_parent",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[c.value for c in AccountStatus]),
                name="account_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(wallet_estimate__isnull=True) | Q(wallet_estimate__gte=0),
                name="account_wallet_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["level", "status"]),
        ]

    def __str__(self) -> str:
        where = self.country or "global"
        name = self.customer.name if self.customer_id else "?"
        return f"{name} ({where})"

    def clean(self) -> None:
        errors = {}
        if self.level == Level.NATIONAL and not self.country:
            errors["country"] = "A national account needs a country."
        if self.level == Level.GLOBAL and self.country:
            errors["country"] = "A global account has no country."
        if self.owner_id and self.owner.level != self.level:
            errors["owner"] = f"The owner must be a {self.get_level_display().lower()} manager."
        if self.parent_id:
            parent = self.parent
            if self.level != Level.NATIONAL:
                errors["parent"] = "Only a national account can belong to a global account."
            elif parent.level != Level.GLOBAL:
                errors["parent"] = "The parent must be a global account."
            elif self.customer_id and (
                parent.customer.group_root().pk != self.customer.group_root().pk
            ):
                errors["parent"] = "The global account must be of the same customer group."
        if errors:
            raise ValidationError(errors)


class AccountTeamMemberRole(models.TextChoices):
    GLOBAL_LEAD = "global_lead", "Global lead"
    NATIONAL_LEAD = "national_lead", "National lead"
    SUPPORT = "support", "Support"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"


class AccountTeamMember(TimeStampedModel):
    """The matrix: who works on an account, in which role, from when until when."""

    Role = AccountTeamMemberRole

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team_members")
    manager = models.ForeignKey(
        AccountManager, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    start_date = models.DateField("from")
    end_date = models.DateField("until", null=True, blank=True)

    history = KamHistory()

    class Meta:
        ordering = ["account", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "manager", "role", "start_date"], name="team_member_unique"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="team_member_dates_ordered",
            ),
        ]
        indexes = [models.Index(fields=["manager", "end_date"])]

    def __str__(self) -> str:
        return f"{self.manager} - {self.get_role_display()} on {self.account}"

    def clean(self) -> None:
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "'Until' cannot be before 'from'."})


class ProductLine(TimeStampedModel):
    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ExchangeRate(TimeStampedModel):
    """`rate` converts one unit of `currency` into the base currency from `valid_from` on."""

    currency = models.CharField(max_length=3, validators=[currency_code_validator])
    valid_from = models.DateField()
    rate = models.DecimalField(
        max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("0.00000001"))]
    )

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="rate_unique_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} from {self.valid_from}"


class TransactionKind(models.TextChoices):
    SALE = "sale", "Sale"
    PURCHASE = "purchase", "Purchase from the customer"
    RETURN = "return", "Return"
    CREDIT_NOTE = "credit_note", "Credit note"


class Transaction(TimeStampedModel):
    """A sale to, or purchase from, the customer. Amounts are positive; the kind gives the sign."""

    Kind = TransactionKind

    # Its own index stays although (account, date) starts with it: without it PostgreSQL reads
    # the portfolio summary's revenue by a sequential scan (343 ms vs 97 ms at 5M rows, issue 6).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SALE)
    # A lower bound only. The bulk import (accounts/imports) checks its rows without it.
    date = models.DateField(validators=[EarliestDateValidator()])
    product_line = models.ForeignKey(
        ProductLine, null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    product_code = models.CharField(max_length=50, blank=True)
    description = models.CharField(max_length=250, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    unit_price = models.DecimalField(
        max_digits=16, decimal_places=4, validators=[MinValueValidator(0)]
    )
    unit_cost = models.DecimalField(
        max_digits=16, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, help_text="quantity x unit price")
    currency = models.CharField(max_length=3, validators=[currency_code_validator])
    amount_base = models.DecimalField(
        "amount in base currency", max_digits=18, decimal_places=2, editable=False
    )
    order_reference = models.CharField(max_length=100, blank=True)
    source_system = models.CharField(max_length=50, default="kam")
    external_reference = models.CharField(
        max_length=100, blank=True, help_text="Unique per source system: re-imports create nothing."
    )

    # Written in bulk by the import (one historical row per row imported), so the historical
    # table keeps only the indexes its readers use: id (an object's versions: the admin, the
    # trail's previous versions), account (the account's trail, GET .../history/) and history
    # user (a deleted user's rows are set to NULL by that key). Nothing reads it by date or
    # product line. No database constraint on the user: the importing user exists, and the
    # per-row check at commit cost a third of the import's constraint checks (issue 6); Django
    # still sets the rows' user to NULL when a user is deleted through the ORM.
    history = KamHistory(
        user_db_constraint=False, no_db_index=["product_line"], history_date_index=False
    )

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "external_reference"],
                condition=~Q(external_reference=""),
                name="transaction_unique_external_ref",
                violation_error_message="A transaction with this external reference already "
                "exists for this source system.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="transaction_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="transaction_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(unit_cost__isnull=True) | Q(unit_cost__gte=0),
                name="transaction_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=F("quantity") * F("unit_price") - AMOUNT_TOLERANCE)
                & Q(amount__lte=F("quantity") * F("unit_price") + AMOUNT_TOLERANCE),
                name="transaction_amount_is_quantity_times_price",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[c.value for c in TransactionKind]),
                name="transaction_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "date"]),
            models.Index(fields=["date", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} on {self.date}"

    @staticmethod
    def compute_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
        return (quantity * unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def clean(self) -> None:
        errors = {}
        if self.quantity is not None and self.quantity <= 0:
            errors["quantity"] = "Quantity must be greater than zero; use a return or credit note."
        # Same test as the database constraint: within half a cent of the exact product.
        if (
            self.quantity is not None
            and self.unit_price is not None
            and self.amount is not None
            and abs(self.amount - self.quantity * self.unit_price) > AMOUNT_TOLERANCE
        ):
            expected = self.compute_amount(self.quantity, self.unit_price)
            errors["amount"] = f"Amount must equal quantity x unit price ({expected})."
        if errors:
            raise ValidationError(errors)
