from django.contrib import admin, messages
from django.utils.html import format_html

from classification import services
from classification.models import (
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
    SegmentChange,
)


@admin.register(ParameterSet)
class ParameterSetAdmin(admin.ModelAdmin):
    """Parameters are edited as JSON overrides of the defaults; validation explains every problem.

    A set used by a run is read-only: save a change as a new version ("Save as new").
    """

    list_display = ("model", "version", "is_active", "author", "note", "created_at")
    list_filter = ("model", "is_active")
    search_fields = ("note",)
    save_as = True
    readonly_fields = ("created_at", "updated_at")
    autocomplete_fields = ("author",)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_used:
            return (*self.readonly_fields, "model", "version", "parameters")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not obj.author_id:
            obj.author = request.user
        if obj.is_active:
            ParameterSet.objects.filter(model=obj.model, is_active=True).exclude(pk=obj.pk).update(
                is_active=False
            )
        super().save_model(request, obj, form, change)


@admin.register(ClassificationRun)
class ClassificationRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "trigger",
        "scope",
        "reference_date",
        "status",
        "progress",
        "accounts_total",
        "results_count",
        "events_count",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    date_hierarchy = "created_at"
    actions = ["start_recompute"]
    exclude = ("population",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="progress")
    def progress(self, obj):
        return format_html("{} / {} chunks", obj.chunks_done, obj.chunks_total)

    @admin.action(description="Start a recompute of the whole portfolio")
    def start_recompute(self, request, queryset):
        run, created = services.run_request(
            trigger=ClassificationRun.Trigger.MANUAL, requested_by=request.user
        )
        verb = "started" if created else "is already running"
        self.message_user(request, f"Run {run.pk} {verb}.", messages.INFO)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("population")


@admin.register(ClassificationResult)
class ClassificationResultAdmin(admin.ModelAdmin):
    list_display = ("account", "model", "segment", "is_current", "run", "created_at")
    list_filter = ("model", "is_current", "segment")
    search_fields = ("account__customer__name",)
    list_select_related = ("account__customer", "run")
    autocomplete_fields = ("account",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SegmentChange)
class SegmentChangeAdmin(admin.ModelAdmin):
    list_display = ("account", "model", "previous_segment", "segment", "run", "created_at")
    list_filter = ("model",)
    search_fields = ("account__customer__name",)
    list_select_related = ("account__customer", "run")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ClassificationOverride)
class ClassificationOverrideAdmin(admin.ModelAdmin):
    list_display = ("account", "model", "segment", "is_active", "author", "created_at")
    list_filter = ("model", "is_active")
    search_fields = ("account__customer__name", "reason")
    list_select_related = ("account__customer", "author")
    autocomplete_fields = ("account", "author")
