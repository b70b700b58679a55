"""Admin for customers, contacts, managers, accounts, product lines, rates and transactions.

Also home of the base classes every KAM admin uses (relationships/admin.py imports them):
- `KamAdmin`: CSV export, read-only timestamps, a page size, FK/M2M choices that follow the
  related admin's queryset (so a manager can only pick accounts they can see).
- `PortfolioScopedAdmin`: rows that belong to an account follow the portfolio visibility selector,
  the one place that decides who sees what; a superuser sees everything.
- `KamHistoryAdmin`: the audit trail's history pages, scoped and read-only (mix it in first).
"""

import logging

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    Contact,
    Customer,
    ExchangeRate,
    ProductLine,
    Transaction,
)
from accounts.selectors import contacts_visible_to, visible_through_account
from accounts.services import transaction_convert
from kam.admin_csv import CsvExportMixin
from relationships.models import AccountPlan

logger = logging.getLogger(__name__)
TIMESTAMPS = ("created_at", "updated_at")
HISTORY_FIELDSET = ("History", {"fields": TIMESTAMPS, "classes": ("collapse",)})


class VisibleChoicesMixin:
    """FK and M2M choices come from the related KAM admin's queryset, so they share its scoping.

    The autocomplete view already searches that queryset; this makes the submitted value validate
    against it too (and brings its select_related, so rendering a choice costs no extra query).
    """

    def _related_queryset(self, db_field, request: HttpRequest) -> QuerySet | None:
        model = db_field.related_model
        if not self.admin_site.is_registered(model):
            return None
        related_admin = self.admin_site.get_model_admin(model)
        return related_admin.get_queryset(request) if isinstance(related_admin, KamAdmin) else None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self._related_queryset(db_field, request)
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            queryset = self._related_queryset(db_field, request)
            if queryset is not None:
                kwargs["queryset"] = queryset
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class FieldValueFilter(admin.SimpleListFilter):
    """A list filter on the field named `parameter_name`, its choices given by `lookups`:
    unlike Django's default filter, no DISTINCT over the whole table on every page (which cost
    0.1-0.4 s each on the bench's 5,000,000 transactions and 380,000 results)."""

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class KamAdmin(CsvExportMixin, VisibleChoicesMixin, admin.ModelAdmin):
    list_per_page = 50
    # Relations that __str__ follows: applied everywhere (autocomplete, choices, change page).
    str_select_related: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The changelist ignores list_select_related once the queryset has a select_related,
        # so both are applied here.
        listed = self.list_select_related
        related = (*self.str_select_related, *(listed if isinstance(listed, list | tuple) else ()))
        queryset = super().get_queryset(request)
        return queryset.select_related(*related) if related else queryset

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        stamps = tuple(f.name for f in self.model._meta.fields if f.name in TIMESTAMPS)
        return tuple(dict.fromkeys((*readonly, *stamps)))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets and obj is not None:
            return [*fieldsets, HISTORY_FIELDSET]
        return fieldsets


class PortfolioScopedAdmin(KamAdmin):
    """Rows reached through an account: visible when the account is in the user's portfolio."""

    account_path = "account"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return visible_through_account(
            super().get_queryset(request), request.user, self.account_path
        )


class KamHistoryAdmin(SimpleHistoryAdmin):
    """The audit trail's "History" page, scoped like the change page: put it first in the bases
    (`class XAdmin(KamHistoryAdmin, PortfolioScopedAdmin)`).

    simple-history would show the trail of an object outside the caller's queryset (it falls back
    to the history when the object is not found) and would save a "revert" POSTed to a version's
    page, bypassing the services. Here the object must be in `get_queryset` (a deleted object's
    trail is for administrators only), and versions are read-only."""

    history_list_display = ("history_change_reason",)

    def _check_history_access(self, request: HttpRequest, object_id: str) -> None:
        object_id = unquote(object_id)
        if self.get_object(request, object_id) is not None:
            return
        if request.user.is_superuser:
            try:
                self.model._meta.pk.to_python(object_id)
            except ValidationError:
                raise Http404 from None
            return
        raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._check_history_access(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied("Versions are read-only; change the object itself.")
        self._check_history_access(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None) -> bool:
        return True


class KamTabularInline(VisibleChoicesMixin, admin.TabularInline):
    extra = 0


# --- Customers and contacts ----------------------------------------------------------------------


class ContactInline(KamTabularInline):
    model = Contact
    fields = ("name", "title", "email", "phone", "function", "seniority", "is_active")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return _contacts_scoped(super().get_queryset(request), request.user)


class CustomerAccountInline(KamTabularInline):
    """The customer's accounts, for overview; accounts are edited on their own page."""

    model = Account
    fields = ("level", "country", "status", "is_key_account", "owner")
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    verbose_name_plural = "accounts"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("owner__user").visible_to(request.user)


@admin.register(Customer)
class CustomerAdmin(KamHistoryAdmin, KamAdmin):
    list_display = ("name", "legal_name", "industry", "country", "parent", "employees")
    list_filter = ("country", "industry")
    search_fields = ("name", "legal_name", "industry")
    autocomplete_fields = ("parent",)
    list_select_related = ("parent",)
    inlines = (ContactInline, CustomerAccountInline)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


def _contacts_scoped(queryset: QuerySet, user) -> QuerySet:
    if getattr(user, "is_superuser", False):
        return queryset
    return queryset.filter(pk__in=contacts_visible_to(user).values("pk"))


@admin.register(Contact)
class ContactAdmin(KamAdmin):
    list_display = (
        "name",
        "customer",
        "title",
        "function",
        "seniority",
        "email",
        "phone",
        "is_active",
    )
    list_filter = ("function", "seniority", "is_active")
    search_fields = ("name", "email", "title", "customer__name")
    autocomplete_fields = ("customer",)
    list_select_related = ("customer",)
    str_select_related = ("customer",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return _contacts_scoped(super().get_queryset(request), request.user)


# --- Managers ------------------------------------------------------------------------------------


class ReportInline(KamTabularInline):
    """Who reports to this manager; read-only, the hierarchy is edited on each report."""

    model = AccountManager
    fk_name = "reports_to"
    fields = ("user", "level", "country", "region", "role")
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    verbose_name = "direct report"
    verbose_name_plural = "direct reports"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user")


@admin.register(AccountManager)
class AccountManagerAdmin(KamAdmin):
    list_display = ("__str__", "user", "level", "country", "region", "role", "reports_to")
    list_filter = ("level", "role", "country")
    search_fields = (
        "user__username",
        "user__first_name",
        "user__last_name",
        "user__email",
        "region",
    )
    autocomplete_fields = ("user", "reports_to")
    list_select_related = ("user", "reports_to__user")
    str_select_related = ("user",)
    inlines = (ReportInline,)


# --- Accounts ------------------------------------------------------------------------------------


class AccountTeamMemberInline(KamTabularInline):
    model = AccountTeamMember
    fields = ("manager", "role", "start_date", "end_date")
    autocomplete_fields = ("manager",)


class AccountPlanInline(KamTabularInline):
    model = AccountPlan
    fields = ("period_start", "period_end", "status")
    show_change_link = True


@admin.register(Account)
class AccountAdmin(KamHistoryAdmin, KamAdmin):
    list_display = (
        "customer",
        "level",
        "country",
        "status",
        "is_key_account",
        "owner",
        "parent",
        "currency",
        "wallet_estimate",
        "opened_on",
    )
    list_filter = ("level", "status", "is_key_account", "country", "currency")
    search_fields = (
        "customer__name",
        "customer__legal_name",
        "country",
        "owner__user__username",
        "owner__user__first_name",
        "owner__user__last_name",
    )
    autocomplete_fields = ("customer", "parent", "owner")
    list_select_related = ("customer", "owner__user", "parent__customer")
    str_select_related = ("customer",)
    inlines = (AccountTeamMemberInline, AccountPlanInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).visible_to(request.user)


class CurrentMembershipFilter(admin.SimpleListFilter):
    title = "current"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return (("yes", "Current"), ("no", "Ended"))

    def queryset(self, request, queryset):
        current = Q(end_date__isnull=True) | Q(end_date__gte=timezone.localdate())
        if self.value() == "yes":
            return queryset.filter(current)
        if self.value() == "no":
            return queryset.exclude(current)
        return queryset


@admin.register(AccountTeamMember)
class AccountTeamMemberAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    list_display = ("account", "manager", "role", "start_date", "end_date")
    list_filter = ("role", CurrentMembershipFilter)
    search_fields = (
        "account__customer__name",
        "manager__user__username",
        "manager__user__first_name",
        "manager__user__last_name",
    )
    autocomplete_fields = ("account", "manager")
    list_select_related = ("account__customer", "manager__user")
    str_select_related = ("account__customer", "manager__user")


# --- Reference data ------------------------------------------------------------------------------


@admin.register(ProductLine)
class ProductLineAdmin(KamAdmin):
    list_display = ("code", "name", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(KamAdmin):
    list_display = ("currency", "valid_from", "rate")
    list_filter = ("currency",)
    search_fields = ("currency",)
    date_hierarchy = "valid_from"


# --- Transactions --------------------------------------------------------------------------------


class TransactionAdminForm(forms.ModelForm):
    """Fills in the amount when left empty and converts it at the rate in force on the date."""

    class Meta:
        model = Transaction
        fields = (
            "account",
            "kind",
            "date",
            "product_line",
            "product_code",
            "description",
            "quantity",
            "unit_price",
            "unit_cost",
            "amount",
            "currency",
            "order_reference",
            "source_system",
            "external_reference",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "amount" in self.fields:
            self.fields["amount"].required = False
            self.fields["amount"].help_text = "Leave empty to use quantity x unit price."

    def clean(self) -> dict:
        cleaned = super().clean()
        quantity, unit_price = cleaned.get("quantity"), cleaned.get("unit_price")
        if cleaned.get("amount") is None and quantity is not None and unit_price is not None:
            cleaned["amount"] = Transaction.compute_amount(quantity, unit_price)
        if all(cleaned.get(name) is not None for name in ("amount", "currency", "date")):
            self.instance.amount = cleaned["amount"]
            self.instance.currency = cleaned["currency"]
            self.instance.date = cleaned["date"]
            transaction_convert(txn=self.instance)  # a missing rate: an error on `currency`
        return cleaned


class TransactionCurrencyFilter(FieldValueFilter):
    """The base currency and every currency with a rate: a transaction can be in no other (its
    amount is converted when it is saved). Django's default filter reads the distinct currencies
    of every transaction on each page (300 ms at 5,000,000)."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        rated = ExchangeRate.objects.order_by().values_list("currency", flat=True).distinct()
        return [(code, code) for code in sorted({settings.KAM_BASE_CURRENCY, *rated})]


class SourceSystemFilter(FieldValueFilter):
    """The source systems of the transactions the user sees. For an administrator that is every
    transaction, a DISTINCT over all of them (300 ms at 5,000,000), so theirs is read at most
    every ten minutes: a system first imported since then is listed after that, and
    `?source_system=` filters by any. A manager's, over their portfolio only, is read each time."""

    title = "source system"
    parameter_name = "source_system"
    CACHE_KEY, CACHE_SECONDS = "kam:admin:transaction-source-systems", 600

    def lookups(self, request, model_admin):
        def in_use() -> list[str]:
            rows = model_admin.get_queryset(request).order_by("source_system").distinct()
            return list(rows.values_list("source_system", flat=True))

        if not request.user.is_superuser:
            return [(system, system) for system in in_use()]
        try:
            systems = cache.get_or_set(self.CACHE_KEY, in_use, self.CACHE_SECONDS)
        except Exception as exc:  # any cache backend error: read them now, the page still shows
            logger.warning("source systems read without the cache: %s", exc)
            systems = in_use()
        return [(system, system) for system in systems]


@admin.register(Transaction)
class TransactionAdmin(KamHistoryAdmin, PortfolioScopedAdmin):
    """Managers create transactions; only administrators correct or delete them."""

    form = TransactionAdminForm
    list_display = (
        "date",
        "kind",
        "account",
        "product_line",
        "quantity",
        "unit_price",
        "amount",
        "currency",
        "amount_base",
        "order_reference",
    )
    # No date_hierarchy: its year and month links take a DISTINCT over every transaction (0.4 s
    # at 5,000,000); the date filter's ranges need no query.
    list_filter = (
        "kind",
        ("date", admin.DateFieldListFilter),
        TransactionCurrencyFilter,
        SourceSystemFilter,
        "product_line",
    )
    search_fields = (
        "order_reference",
        "external_reference",
        "product_code",
        "description",
        "account__customer__name",
    )
    autocomplete_fields = ("account", "product_line")
    list_select_related = ("account__customer", "product_line")
    readonly_fields = ("amount_base",)
    show_full_result_count = False
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "account",
                    "kind",
                    "date",
                    "product_line",
                    "product_code",
                    "description",
                    "order_reference",
                )
            },
        ),
        (
            "Amounts",
            {
                "fields": (
                    ("quantity", "unit_price", "unit_cost"),
                    ("amount", "currency"),
                    "amount_base",
                )
            },
        ),
        (
            "Import",
            {
                "fields": ("source_system", "external_reference"),
                "classes": ("collapse",),
            },
        ),
    )

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)
