"""API views of the relationship around an account, and the portfolio summary. Every queryset
follows its account's visibility; writes go through relationships.services."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.views import KamViewSet
from accounts.selectors import visible_through_account
from relationships import services
from relationships.api import filters
from relationships.api.serializers import (
    AssessmentApiSerializer,
    InteractionApiSerializer,
    InvestmentApiSerializer,
    NeedApiSerializer,
    OpportunityApiSerializer,
    OpportunityStageMoveApiSerializer,
    PlanActionApiSerializer,
    PlanActionDoneApiSerializer,
    PlanApiSerializer,
    PlanObjectiveApiSerializer,
    PortfolioSummaryApiSerializer,
    ServiceCaseApiSerializer,
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
from relationships.selectors import portfolio_summary


class AccountScopedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    KamViewSet,
):
    """Rows of `base_queryset` whose account (via `account_path`) the caller sees."""

    base_queryset = None
    account_path = "account"

    def get_queryset(self):
        return visible_through_account(
            self.base_queryset.all(), self.request.user, self.account_path
        )


class InteractionViewSet(AccountScopedViewSet):
    base_queryset = Interaction.objects.prefetch_related("contacts")
    serializer_class = InteractionApiSerializer
    filterset_class = filters.InteractionApiFilter
    search_fields = ("summary",)
    ordering_fields = ("occurred_at", "kind", "sentiment", "created_at")

    def perform_create(self, serializer):
        serializer.save(author=self.request.user)


class NeedViewSet(AccountScopedViewSet):
    base_queryset = CustomerNeed.objects.all()
    serializer_class = NeedApiSerializer
    filterset_class = filters.NeedApiFilter
    search_fields = ("description",)
    ordering_fields = ("identified_on", "priority", "status", "created_at")


class OpportunityViewSet(AccountScopedViewSet):
    base_queryset = Opportunity.objects.all()
    serializer_class = OpportunityApiSerializer
    filterset_class = filters.OpportunityApiFilter
    search_fields = ("title",)
    ordering_fields = ("expected_close", "value", "probability", "stage", "created_at")

    @extend_schema(request=OpportunityStageMoveApiSerializer, responses=OpportunityApiSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the opportunity to another stage (won sets 100 %, lost 0 %)."""
        opportunity = self.get_object()
        body = OpportunityStageMoveApiSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        opportunity = services.opportunity_stage_move(
            opportunity=opportunity, stage=body.validated_data["stage"]
        )
        return Response(OpportunityApiSerializer(opportunity).data)


class PlanViewSet(AccountScopedViewSet):
    base_queryset = AccountPlan.objects.prefetch_related(
        Prefetch(
            "objectives",
            PlanObjective.objects.prefetch_related(Prefetch("actions", PlanAction.objects.all())),
        )
    )
    serializer_class = PlanApiSerializer
    filterset_class = filters.PlanApiFilter
    search_fields = ("strategy",)
    ordering_fields = ("period_start", "period_end", "status", "created_at")


class PlanObjectiveViewSet(AccountScopedViewSet):
    base_queryset = PlanObjective.objects.prefetch_related("actions")
    account_path = "plan__account"
    serializer_class = PlanObjectiveApiSerializer
    filterset_class = filters.PlanObjectiveApiFilter
    search_fields = ("description", "metric", "target")
    ordering_fields = ("due_on", "status", "created_at")

    @extend_schema(request=None, responses=PlanObjectiveApiSerializer)
    @action(detail=True, methods=["post"])
    def achieve(self, request, pk=None):
        """Mark the objective achieved."""
        objective = services.plan_objective_mark_achieved(objective=self.get_object())
        return Response(PlanObjectiveApiSerializer(objective).data)


class PlanActionViewSet(AccountScopedViewSet):
    base_queryset = PlanAction.objects.all()
    account_path = "objective__plan__account"
    serializer_class = PlanActionApiSerializer
    filterset_class = filters.PlanActionApiFilter
    search_fields = ("description",)
    ordering_fields = ("due_on", "status", "done_on", "created_at")

    @extend_schema(request=PlanActionDoneApiSerializer, responses=PlanActionApiSerializer)
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        """Mark the action done (today, unless `done_on` is given)."""
        plan_action = self.get_object()
        body = PlanActionDoneApiSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan_action = services.plan_action_mark_done(
            action=plan_action, done_on=body.validated_data.get("done_on")
        )
        return Response(PlanActionApiSerializer(plan_action).data)


class AssessmentViewSet(AccountScopedViewSet):
    base_queryset = Assessment.objects.all()
    serializer_class = AssessmentApiSerializer
    filterset_class = filters.AssessmentApiFilter
    search_fields = ("comment",)
    ordering_fields = ("assessed_on", "created_at")

    def perform_create(self, serializer):
        serializer.save(assessor=self.request.user)


class InvestmentViewSet(AccountScopedViewSet):
    base_queryset = RelationshipInvestment.objects.all()
    serializer_class = InvestmentApiSerializer
    filterset_class = filters.InvestmentApiFilter
    search_fields = ("description",)
    ordering_fields = ("start_date", "end_date", "intensity", "created_at")


class ServiceCaseViewSet(AccountScopedViewSet):
    base_queryset = ServiceCase.objects.all()
    serializer_class = ServiceCaseApiSerializer
    filterset_class = filters.ServiceCaseApiFilter
    search_fields = ("subject",)
    ordering_fields = ("opened_at", "closed_at", "severity", "status")


class PortfolioSummaryApi(APIView):
    """Revenue (12 months vs the 12 before), account counts by level, status and segment, open
    opportunities value and overdue plan actions, over the caller's visible portfolio."""

    @extend_schema(responses=PortfolioSummaryApiSerializer, summary="Portfolio key figures")
    def get(self, request):
        summary = portfolio_summary(user=request.user)
        return Response(PortfolioSummaryApiSerializer(summary).data)
