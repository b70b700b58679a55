"""Admin for the relationship around an account: meetings, needs, opportunities, plans, reviews.

Every row here belongs to an account, so every admin is portfolio-scoped (see accounts/admin.py).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.utils.text import Truncator

from accounts.admin import (
    FieldValueFilter,
    KamHistoryAdmin,
    KamTabularInline,
    PortfolioScopedAdmin,
)
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

ACCOUNT_SEARCH = ("account__customer__name", "account__customer__legal_name")
COMPACT_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 50})}}


def _short(text: str) -> str:
    return Truncator(text).chars(80)


class SentimentFilter(FieldValueFilter):
    """The five sentiments (-2 to +2, a database check), without reading the distinct ones."""

    title = "sentiment"
    parameter_name = "sentiment"

    def lookups(self, request, model_admin):
        return [(str(value), f"{value:+d}" if value else "0") for value in range(-2, 3)]

    def queryset(self, request, queryset):
        if self.value() and self.value() not in {str(value) for value in range(-2, 3)}:
            raise IncorrectLookupParameters(f"Unknown sentiment {self.value()!r}")  # "?e=1"
        return super().queryset(request, queryset)


@admin.register(Interaction)
class InteractionAdmin(PortfolioScopedAdmin):
    list_display = ("occurred_at", "kind", "account", "author", "sentiment", "summary_short")
    # Static choices, no date_hierarchy: on a few hundred thousand interactions the default
    # sentiment filter and the date links each read every row on every page.
    list_filter = ("kind", SentimentFilter, ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("summary", *ACCOUNT_SEARCH, "author__username", "author__last_name")
    autocomplete_fields = ("account", "author", "contacts")
    list_select_related = ("account__customer", "author")
    show_full_result_count = False

    @admin.display(description="summary")
    def summary_short(self, obj: Interaction) -> str:
        return _short(obj.summary)


@admin.register(CustomerNeed)
class CustomerNeedAdmin(PortfolioScopedAdmin):
    list_display = ("description_short", "account", "priority", "status", "identified_on")
    list_filter = ("priority", "status")
    search_fields = ("description", *ACCOUNT_SEARCH)
    autocomplete_fields = ("account",)
    list_select_related = ("account__customer",)

    @admin.display(description="need", ordering="description")
    def description_short(self, obj: CustomerNeed) -> str:
        return _short(obj.description)


@admin.register(Opportunity)
class OpportunityAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    list_display = (
        "title",
        "account",
        "stage",
        "value",
        "currency",
        "probability",
        "expected_close",
        "owner",
        "is_joint_work",
    )
    list_filter = ("stage", "is_joint_work", "currency")
    search_fields = ("title", *ACCOUNT_SEARCH)
    autocomplete_fields = ("account", "owner")
    list_select_related = ("account__customer", "owner__user")


class PlanObjectiveInline(KamTabularInline):
    model = PlanObjective
    fields = ("description", "metric", "target", "due_on", "is_joint_work", "status")
    formfield_overrides = COMPACT_TEXT
    show_change_link = True


@admin.register(AccountPlan)
class AccountPlanAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    list_display = ("__str__", "account", "period_start", "period_end", "status")
    list_filter = ("status",)
    date_hierarchy = "period_start"
    search_fields = ("strategy", *ACCOUNT_SEARCH)
    autocomplete_fields = ("account",)
    list_select_related = ("account__customer",)
    inlines = (PlanObjectiveInline,)


class PlanActionInline(KamTabularInline):
    model = PlanAction
    fields = ("description", "owner", "due_on", "status", "done_on")
    autocomplete_fields = ("owner",)


@admin.register(PlanObjective)
class PlanObjectiveAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    account_path = "plan__account"
    list_display = ("description_short", "account", "plan", "due_on", "status", "is_joint_work")
    list_filter = ("status", "is_joint_work")
    search_fields = ("description", "metric", "plan__account__customer__name")
    autocomplete_fields = ("plan",)
    list_select_related = ("plan__account__customer",)
    inlines = (PlanActionInline,)

    @admin.display(description="objective", ordering="description")
    def description_short(self, obj: PlanObjective) -> str:
        return _short(obj.description)

    @admin.display(description="account", ordering="plan__account__customer__name")
    def account(self, obj: PlanObjective):
        return obj.plan.account


@admin.register(PlanAction)
class PlanActionAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    account_path = "objective__plan__account"
    list_display = ("description", "account", "objective", "owner", "due_on", "status", "done_on")
    list_filter = ("status",)
    search_fields = ("description", "objective__plan__account__customer__name")
    autocomplete_fields = ("objective", "owner")
    list_select_related = ("objective__plan__account__customer", "owner__user")

    @admin.display(description="account", ordering="objective__plan__account__customer__name")
    def account(self, obj: PlanAction):
        return obj.objective.plan.account


@admin.register(ServiceCase)
class ServiceCaseAdmin(PortfolioScopedAdmin):
    list_display = ("subject", "account", "severity", "status", "opened_at", "closed_at")
    list_filter = ("severity", "status")
    date_hierarchy = "opened_at"
    search_fields = ("subject", *ACCOUNT_SEARCH)
    autocomplete_fields = ("account",)
    list_select_related = ("account__customer",)


@admin.register(Assessment)
class AssessmentAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    list_display = (
        "account",
        "assessed_on",
        "contract_type",
        "supplier_status",
        "info_sharing",
        *Assessment.RATINGS,
        "termination_notice",
        "assessor",
    )
    list_filter = ("contract_type", "supplier_status", "termination_notice")
    date_hierarchy = "assessed_on"
    search_fields = ("comment", *ACCOUNT_SEARCH)
    autocomplete_fields = ("account", "assessor")
    list_select_related = ("account__customer", "assessor")
    str_select_related = ("account__customer",)
    fieldsets = (
        (None, {"fields": ("account", "assessed_on", "assessor")}),
        ("Contract", {"fields": ("contract_type", "supplier_status", "termination_notice")}),
        ("Information sharing", {"fields": ("forecast_sharing", "edi_link", "open_book_costing")}),
        ("Ratings, 1 (low) to 5 (high)", {"fields": Assessment.RATINGS}),
        (None, {"fields": ("comment",)}),
    )

    @admin.display(description="info sharing (0-3)")
    def info_sharing(self, obj: Assessment) -> int:
        return obj.info_sharing


@admin.register(RelationshipInvestment)
class RelationshipInvestmentAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    list_display = ("account", "side", "kind", "intensity", "start_date", "end_date")
    list_filter = ("side", "kind", "intensity")
    search_fields = ("description", *ACCOUNT_SEARCH)
    autocomplete_fields = ("account",)
    list_select_related = ("account__customer",)
