"""API views of the classification: runs, one account's scores and recompute, parameter sets,
overrides. Reads are scoped to the caller's portfolio; writes call classification.services."""

from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.filters import KamFilterSet
from accounts.api.views import KamViewSet
from accounts.selectors import accounts_visible_to, visible_through_account
from classification import services
from classification.api.serializers import (
    AccountRecomputeApiSerializer,
    AccountScoresApiSerializer,
    ClassificationOverrideApiSerializer,
    ClassificationRunApiSerializer,
    ClassificationRunRequestApiSerializer,
    ParameterSetApiSerializer,
)
from classification.models import (
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
)
from classification.selectors import account_result_history
from kam.api_common import IsAdminOrReadOnly, TaskQueueUnavailable, is_admin, is_sales_lead
from kam.api_schema import ErrorDetailSerializer


def runs_visible_to(user):
    """Portfolio runs for everyone; a one-account run only for those who see the account.

    Without their population statistics: megabytes of JSON per run at 100,000 accounts, which
    no answer shows (the runs list read them all and spent 100 ms on nothing)."""
    runs = ClassificationRun.objects.defer("population")
    if is_admin(user):
        return runs
    scopes = accounts_visible_to(user).annotate(
        scope=Concat(Value("account:"), Cast("pk", CharField()), output_field=CharField())
    )
    return runs.filter(Q(scope=services.PORTFOLIO) | Q(scope__in=scopes.values("scope")))


class ClassificationRunApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = ClassificationRun
        fields = ("status", "trigger", "scope", "reference_date")


class ClassificationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, KamViewSet
):
    """Classification runs. `POST` starts a recompute of the whole population (admins and
    sales leads): 202 with the new run, or 200 with the one already queued or running."""

    serializer_class = ClassificationRunApiSerializer
    filterset_class = ClassificationRunApiFilter
    search_fields = ("scope", "error_summary")
    ordering_fields = ("created_at", "reference_date", "status", "finished_at")

    def get_queryset(self):
        return runs_visible_to(self.request.user)

    @extend_schema(
        request=ClassificationRunRequestApiSerializer,
        responses={
            202: OpenApiResponse(ClassificationRunApiSerializer, description="A new run."),
            200: OpenApiResponse(
                ClassificationRunApiSerializer, description="The run already queued or running."
            ),
            503: OpenApiResponse(
                ErrorDetailSerializer,
                description="The task queue (Redis) is unavailable: no run was started (the "
                "attempt is recorded as a failed run); try again shortly.",
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        if not (is_admin(request.user) or is_sales_lead(request.user)):
            raise exceptions.PermissionDenied(
                "Only an admin or a sales lead may recompute the whole population."
            )
        body = ClassificationRunRequestApiSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run, created = services.run_request(
                trigger=ClassificationRun.Trigger.API,
                requested_by=request.user,
                reference_date=body.validated_data.get("reference_date"),
            )
        except services.BrokerUnavailable:
            raise TaskQueueUnavailable() from None
        run.refresh_from_db()  # without a broker the run has already executed
        data = self.get_serializer(run).data
        return Response(
            data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
            headers={"Location": str(data["url"])},  # a Hyperlink is no plain str
        )


def _visible_account(request, pk: int):
    return get_object_or_404(accounts_visible_to(request.user), pk=pk)


def _current_results(account_id: int):
    return (
        ClassificationResult.objects.current()
        .with_current()
        .filter(account_id=account_id)
        .select_related("run", "parameter_set")
        .defer("run__population")  # as account_result_history: never a run's statistics per result
        .order_by("model")
    )


class AccountScoresApi(APIView):
    """Why an account sits where it does: each model's current result with every indicator's
    contribution, the active overrides, and the history of earlier results."""

    @extend_schema(responses=AccountScoresApiSerializer, summary="An account's scores")
    def get(self, request, pk: int):
        account = _visible_account(request, pk)
        history = account_result_history(account_id=account.pk).not_current().with_current()
        overrides = ClassificationOverride.objects.filter(account=account, is_active=True)
        data = {
            "account": account.pk,
            "current": _current_results(account.pk),
            "overrides": overrides,
            "history": history,
        }
        return Response(AccountScoresApiSerializer(data).data)


class AccountRecomputeApi(APIView):
    """Recompute one account now, synchronously (one chunk of one account)."""

    @extend_schema(
        request=None, responses=AccountRecomputeApiSerializer, summary="Recompute one account"
    )
    def post(self, request, pk: int):
        account = _visible_account(request, pk)
        run = services.recompute_account_now(account=account, requested_by=request.user)
        data = {"run": run, "current": _current_results(account.pk)}
        body = AccountRecomputeApiSerializer(data, context={"request": request}).data
        return Response(body, headers={"Location": str(body["run"]["url"])})


class ParameterSetApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = ParameterSet
        fields = ("model", "is_active")


class ParameterSetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, KamViewSet
):
    """Versioned scoring parameters. Read by everyone; an admin's `POST` saves a new version
    (a used version never changes) and, unless `activate` is false, makes it the active one."""

    queryset = ParameterSet.objects.all()
    serializer_class = ParameterSetApiSerializer
    permission_classes = [IsAdminOrReadOnly]
    filterset_class = ParameterSetApiFilter
    search_fields = ("note",)
    ordering_fields = ("model", "version", "created_at")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.parameter_set_create(
            model=data["model"],
            parameters=data.get("parameters") or {},
            note=data.get("note", ""),
            activate=data.get("activate", True),
            author=self.request.user,
        )


class ClassificationOverrideApiFilter(KamFilterSet):
    class Meta(KamFilterSet.Meta):
        model = ClassificationOverride
        fields = ("account", "model", "is_active")


class ClassificationOverrideViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, KamViewSet
):
    """Hand-set segments on visible accounts; a new one replaces the active one (kept as
    history)."""

    serializer_class = ClassificationOverrideApiSerializer
    filterset_class = ClassificationOverrideApiFilter
    search_fields = ("reason", "segment")
    ordering_fields = ("created_at", "model")

    def get_queryset(self):
        return visible_through_account(ClassificationOverride.objects.all(), self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.override_create(
            **serializer.validated_data, author=self.request.user
        )
