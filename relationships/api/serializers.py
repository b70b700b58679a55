"""Serializers of the relationship API. Writes go through relationships.services."""

from rest_framework import serializers

from accounts.selectors import (
    accounts_visible_to,
    contacts_visible_to,
    managers_visible_to,
    visible_through_account,
)
from kam.api_common import ScopedPrimaryKeyRelatedField
from relationships import services
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

TIMESTAMPS = ("created_at", "updated_at")


def plans_visible_to(user):
    return visible_through_account(AccountPlan.objects.all(), user)


def objectives_visible_to(user):
    return visible_through_account(PlanObjective.objects.all(), user, "plan__account")


class ServiceSerializer(serializers.ModelSerializer):
    """Creates and updates through `create_service` / `update_service`. The parent (account,
    plan or objective) is fixed once created: an update ignores it."""

    create_service = None
    update_service = None
    instance_kwarg = ""
    parent_field = "account"

    def create(self, validated_data):
        return type(self).create_service(**validated_data)

    def update(self, instance, validated_data):
        validated_data.pop(self.parent_field, None)
        return type(self).update_service(**{self.instance_kwarg: instance}, **validated_data)


class InteractionApiSerializer(ServiceSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    contacts = ScopedPrimaryKeyRelatedField(scope=contacts_visible_to, many=True, required=False)
    create_service = services.interaction_create
    update_service = services.interaction_update
    instance_kwarg = "interaction"

    class Meta:
        model = Interaction
        fields = (
            "id",
            "account",
            "kind",
            "occurred_at",
            "author",
            "contacts",
            "summary",
            "sentiment",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", "author", *TIMESTAMPS)


class NeedApiSerializer(ServiceSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    create_service = services.customer_need_create
    update_service = services.customer_need_update
    instance_kwarg = "need"

    class Meta:
        model = CustomerNeed
        fields = (
            "id",
            "account",
            "description",
            "priority",
            "status",
            "identified_on",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)
        extra_kwargs = {"identified_on": {"required": False}}


class OpportunityApiSerializer(ServiceSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    owner = ScopedPrimaryKeyRelatedField(scope=managers_visible_to, allow_null=True, required=False)
    create_service = services.opportunity_create
    update_service = services.opportunity_update
    instance_kwarg = "opportunity"

    class Meta:
        model = Opportunity
        fields = (
            "id",
            "account",
            "title",
            "stage",
            "value",
            "currency",
            "probability",
            "expected_close",
            "owner",
            "is_joint_work",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)


class OpportunityStageMoveApiSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Opportunity.Stage.choices)


class PlanActionApiSerializer(ServiceSerializer):
    objective = ScopedPrimaryKeyRelatedField(scope=objectives_visible_to)
    owner = ScopedPrimaryKeyRelatedField(scope=managers_visible_to, allow_null=True, required=False)
    create_service = services.plan_action_create
    update_service = services.plan_action_update
    instance_kwarg = "action"
    parent_field = "objective"

    class Meta:
        model = PlanAction
        fields = (
            "id",
            "objective",
            "description",
            "owner",
            "due_on",
            "status",
            "done_on",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)


class PlanActionDoneApiSerializer(serializers.Serializer):
    done_on = serializers.DateField(required=False, help_text="Today unless given.")


class PlanObjectiveApiSerializer(ServiceSerializer):
    plan = ScopedPrimaryKeyRelatedField(scope=plans_visible_to)
    actions = PlanActionApiSerializer(many=True, read_only=True)
    create_service = services.plan_objective_create
    update_service = services.plan_objective_update
    instance_kwarg = "objective"
    parent_field = "plan"

    class Meta:
        model = PlanObjective
        fields = (
            "id",
            "plan",
            "description",
            "metric",
            "target",
            "due_on",
            "is_joint_work",
            "status",
            "actions",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", "actions", *TIMESTAMPS)


class PlanApiSerializer(ServiceSerializer):
    """A plan with its objectives and their actions (read-only here: write them through
    plan-objectives and plan-actions)."""

    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    objectives = PlanObjectiveApiSerializer(many=True, read_only=True)
    create_service = services.account_plan_create
    update_service = services.account_plan_update
    instance_kwarg = "plan"

    class Meta:
        model = AccountPlan
        fields = (
            "id",
            "account",
            "period_start",
            "period_end",
            "strategy",
            "status",
            "objectives",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", "objectives", *TIMESTAMPS)


class AssessmentApiSerializer(ServiceSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    info_sharing = serializers.IntegerField(read_only=True)
    create_service = services.assessment_create
    update_service = services.assessment_update
    instance_kwarg = "assessment"

    class Meta:
        model = Assessment
        fields = (
            "id",
            "account",
            "assessed_on",
            "assessor",
            "contract_type",
            "supplier_status",
            "forecast_sharing",
            "edi_link",
            "open_book_costing",
            *Assessment.RATINGS,
            "termination_notice",
            "comment",
            "info_sharing",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", "assessor", "info_sharing", *TIMESTAMPS)
        extra_kwargs = {"assessed_on": {"required": False}}
        validators = []  # one per account and day: checked by the model on save


class InvestmentApiSerializer(ServiceSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    create_service = services.relationship_investment_create
    update_service = services.relationship_investment_update
    instance_kwarg = "investment"

    class Meta:
        model = RelationshipInvestment
        fields = (
            "id",
            "account",
            "side",
            "kind",
            "description",
            "intensity",
            "start_date",
            "end_date",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)


class ServiceCaseApiSerializer(ServiceSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    create_service = services.service_case_create
    update_service = services.service_case_update
    instance_kwarg = "case"

    class Meta:
        model = ServiceCase
        fields = (
            "id",
            "account",
            "subject",
            "severity",
            "status",
            "opened_at",
            "closed_at",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)
        extra_kwargs = {"opened_at": {"required": False}}


class PortfolioAccountCountsSerializer(serializers.Serializer):
    by_level = serializers.DictField(child=serializers.IntegerField())
    by_status = serializers.DictField(child=serializers.IntegerField())
    key_accounts = serializers.IntegerField()
    total = serializers.IntegerField()


class PortfolioSummaryApiSerializer(serializers.Serializer):
    """Key figures of the caller's visible portfolio, amounts in the base currency."""

    reference_date = serializers.DateField()
    currency = serializers.CharField()
    revenue_12m = serializers.DecimalField(max_digits=20, decimal_places=2)
    revenue_prev_12m = serializers.DecimalField(max_digits=20, decimal_places=2)
    revenue_change = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True, help_text="0.1 is +10 %."
    )
    accounts = PortfolioAccountCountsSerializer()
    segments = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="{model: {segment: number of accounts}} over the current results.",
    )
    open_opportunities_value = serializers.DecimalField(max_digits=20, decimal_places=2)
    unconverted_currencies = serializers.ListField(child=serializers.CharField())
    overdue_actions = serializers.IntegerField()
