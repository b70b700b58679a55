"""django-filter sets of the relationship API."""

import django_filters

from accounts.api.filters import KamFilterSet
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


class InteractionApiFilter(KamFilterSet):
    occurred = django_filters.DateTimeFromToRangeFilter(
        field_name="occurred_at", label="`occurred_after` / `occurred_before`"
    )

    class Meta(KamFilterSet.Meta):
        model = Interaction
        fields = ("account", "kind", "author", "sentiment")


class NeedApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = CustomerNeed
        fields = ("account", "priority", "status")


class OpportunityApiFilter(KamFilterSet):
    is_open = django_filters.BooleanFilter(method="filter_open")
    expected_close = django_filters.DateFromToRangeFilter()

    class Meta(KamFilterSet.Meta):
        model = Opportunity
        fields = ("account", "stage", "owner", "currency", "is_joint_work")

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        lookup = {"stage__in": Opportunity.OPEN_STAGES}
        return queryset.filter(**lookup) if value else queryset.exclude(**lookup)


class PlanApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = AccountPlan
        fields = ("account", "status")


class PlanObjectiveApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = PlanObjective
        fields = ("plan", "status", "is_joint_work")


class PlanActionApiFilter(KamFilterSet):
    due_on = django_filters.DateFromToRangeFilter()

    class Meta(KamFilterSet.Meta):
        model = PlanAction
        fields = ("objective", "owner", "status")


class AssessmentApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = Assessment
        fields = ("account", "contract_type", "supplier_status")


class InvestmentApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = RelationshipInvestment
        fields = ("account", "side", "kind")


class ServiceCaseApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = ServiceCase
        fields = ("account", "severity", "status")
