"""API views of customers, contacts, managers, accounts, team members, transactions and the
reference data. Thin: querysets come from the visibility selectors, writes from services."""

from django.contrib.auth import authenticate
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import (
    exceptions,
    generics,
    mixins,
    permissions,
    serializers,
    status,
    viewsets,
)
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import filters
from accounts.api.auth import LoginLockedOut, api_token_issue
from accounts.api.pagination import ValuesPagination
from accounts.api.serializers import (
    ACCOUNT_LIST_COLUMNS,
    AccountApiSerializer,
    AccountCreateApiSerializer,
    AccountHistoryEntryApiSerializer,
    AccountHistoryQueryApiSerializer,
    ContactApiSerializer,
    CustomerApiSerializer,
    ExchangeRateApiSerializer,
    ManagerApiSerializer,
    ProductLineApiSerializer,
    TeamMemberApiSerializer,
    TransactionApiSerializer,
    account_list_data,
)
from accounts.history import account_history, account_history_entries
from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    ExchangeRate,
    ProductLine,
    Transaction,
)
from accounts.selectors import (
    accounts_visible_to,
    contacts_visible_to,
    customers_visible_to,
    manager_leads_account_owner,
    managers_visible_to,
    visible_through_account,
)
from classification.selectors import current_classifications
from kam.api_common import (
    IsAdminForCorrections,
    IsAdminOrReadOnly,
    is_admin,
    is_sales_lead,
)
from kam.api_schema import ErrorDetailSerializer

# --- auth -----------------------------------------------------------------------------------


class AuthTokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, attrs):
        # axes counts failures on Django's request (DRF's wraps it) and marks a lockout there.
        request = self.context["request"]._request
        user = authenticate(request=request, username=attrs["username"], password=attrs["password"])
        if getattr(request, "axes_locked_out", False):
            raise LoginLockedOut(request)
        if user is None:
            raise serializers.ValidationError(
                {"password": "Unable to log in with this username and password."}
            )
        attrs["user"] = user
        return attrs


class AuthTokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class AuthTokenApi(APIView):
    """`POST` username and password for a token (the same one until it expires or is revoked,
    then a new one); `DELETE` revokes the caller's token. Repeated failures lock the username
    out from the caller's address (429)."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    @extend_schema(
        request=AuthTokenRequestSerializer,
        responses={
            200: AuthTokenResponseSerializer,
            429: OpenApiResponse(
                ErrorDetailSerializer,
                description=(
                    "Too many failed logins for this username from this address: locked out "
                    "until the time in the message (seconds in `Retry-After`); or throttled."
                ),
            ),
        },
        auth=[],
        summary="Get an API token",
        description=(
            "The same token until it expires (`KAM_API_TOKEN_TTL_HOURS` after it was issued; "
            'then requests with it answer 401 "Token has expired.") or is revoked; then a '
            "new one."
        ),
    )
    def post(self, request):
        serializer = AuthTokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token = api_token_issue(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None}, summary="Revoke the caller's token")
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- shared ---------------------------------------------------------------------------------


class KamViewSet(viewsets.GenericViewSet):
    """Search and ordering on every list; `ordering` falls back to the model's order."""

    ordering_fields = "__all__"


# --- customers, contacts, managers -----------------------------------------------------------


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    KamViewSet,
):
    """Customers the caller has a visible account with; admins create and edit them."""

    serializer_class = CustomerApiSerializer
    permission_classes = [IsAdminOrReadOnly]
    filterset_class = filters.CustomerApiFilter
    search_fields = ("name", "legal_name", "industry")
    ordering_fields = ("name", "country", "industry", "created_at")

    def get_queryset(self):
        return customers_visible_to(self.request.user)


class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    KamViewSet,
):
    serializer_class = ContactApiSerializer
    filterset_class = filters.ContactApiFilter
    search_fields = ("name", "title", "email")
    ordering_fields = ("name", "function", "seniority", "created_at")

    def get_queryset(self):
        return contacts_visible_to(self.request.user)


class ManagerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KamViewSet):
    """Managers the caller works with, each with the ids of their direct reports."""

    serializer_class = ManagerApiSerializer
    filterset_class = filters.ManagerApiFilter
    search_fields = ("user__username", "user__first_name", "user__last_name", "region")
    ordering_fields = ("user__username", "level", "country", "role")

    def get_queryset(self):
        return (
            managers_visible_to(self.request.user)
            .select_related("user")
            .prefetch_related(Prefetch("reports", AccountManager.objects.only("id", "reports_to")))
        )


# --- accounts -------------------------------------------------------------------------------

GUARDED_ACCOUNT_FIELDS = ("owner", "is_key_account")


class AccountListPagination(ValuesPagination):
    """The list reads its page as `.values()` rows (see `AccountViewSet.list`)."""

    columns = tuple(ACCOUNT_LIST_COLUMNS.values())


@extend_schema_view(
    create=extend_schema(request=AccountCreateApiSerializer, responses={201: AccountApiSerializer})
)
class AccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    KamViewSet,
):
    """Accounts in the caller's portfolio, each with its current classification under the four
    models. Only admins create accounts; the owner and the key-account flag change only by a
    sales lead over the owner's subtree, or an admin."""

    filterset_class = filters.AccountApiFilter
    pagination_class = AccountListPagination
    search_fields = ("customer__name", "customer__legal_name", "country")
    ordering_fields = (
        "customer__name",
        "level",
        "country",
        "status",
        "is_key_account",
        "opened_on",
        "wallet_estimate",
        "created_at",
    )

    def get_queryset(self):
        return accounts_visible_to(self.request.user).select_related("customer")

    def get_serializer_class(self):
        return AccountCreateApiSerializer if self.action == "create" else AccountApiSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["classifications"] = getattr(self, "_classifications", {})
        return context

    def _load_classifications(self, accounts) -> None:
        """One load for the whole page (two queries), never one per account."""
        self._classifications = current_classifications(account_ids=[a.pk for a in accounts])

    def list(self, request, *args, **kwargs):
        """Read-only, so the page is read with `.values()` and built without model instances
        or a ModelSerializer (`account_list_data`: the same JSON)."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else queryset.values(*ACCOUNT_LIST_COLUMNS.values())
        classifications = current_classifications(account_ids=[row["id"] for row in rows])
        data = account_list_data(rows, classifications)
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request, *args, **kwargs):
        account = self.get_object()
        self._load_classifications([account])
        return Response(self.get_serializer(account).data)

    def create(self, request, *args, **kwargs):
        if not is_admin(request.user):
            raise exceptions.PermissionDenied("Only an administrator may open an account.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = serializer.save()
        self._load_classifications([account])
        return Response(
            AccountApiSerializer(account, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def perform_update(self, serializer):
        account = serializer.instance
        changed = [
            name
            for name in GUARDED_ACCOUNT_FIELDS
            if name in serializer.validated_data
            and serializer.validated_data[name] != getattr(account, name)
        ]
        user = self.request.user
        if changed:
            if not manager_leads_account_owner(user, account.owner_id):
                raise exceptions.PermissionDenied(
                    "Only a sales lead over this account's owner, or an admin, may change "
                    + " or ".join(changed).replace("_", " ")
                    + "."
                )
            new_owner = serializer.validated_data.get("owner")
            if new_owner is not None and not manager_leads_account_owner(user, new_owner.pk):
                raise exceptions.ValidationError({"owner": ["Choose a manager of your team."]})
        serializer.save()
        self._load_classifications([account])


class TeamMemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    KamViewSet,
):
    """The account matrix. Changing a team is for a sales lead over the account's owner, or an
    admin."""

    serializer_class = TeamMemberApiSerializer
    filterset_class = filters.TeamMemberApiFilter
    search_fields = (
        "manager__user__username",
        "manager__user__first_name",
        "manager__user__last_name",
        "account__customer__name",
    )
    ordering_fields = ("account", "role", "start_date", "end_date")

    def get_queryset(self):
        return visible_through_account(AccountTeamMember.objects.all(), self.request.user)

    def _check_lead(self, account) -> None:
        if not manager_leads_account_owner(self.request.user, account.owner_id):
            raise exceptions.PermissionDenied(
                "Only a sales lead over this account's owner, or an admin, may change its team."
            )

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method not in permissions.SAFE_METHODS and not (
            is_admin(request.user) or is_sales_lead(request.user)
        ):
            raise exceptions.PermissionDenied(
                "Only a sales lead or an admin may change an account team."
            )

    def perform_create(self, serializer):
        self._check_lead(serializer.validated_data["account"])
        serializer.save()

    def perform_update(self, serializer):
        self._check_lead(serializer.instance.account)
        if "account" in serializer.validated_data:
            self._check_lead(serializer.validated_data["account"])
        serializer.save()

    def perform_destroy(self, instance):
        self._check_lead(instance.account)
        instance.delete()


# --- transactions ---------------------------------------------------------------------------


class TransactionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    KamViewSet,
):
    """Managers record transactions on their accounts (converted into the base currency at the
    day's rate); only admins correct or delete one, everyone else issues a credit note."""

    serializer_class = TransactionApiSerializer
    permission_classes = [IsAdminForCorrections]
    filterset_class = filters.TransactionApiFilter
    search_fields = ("description", "product_code", "order_reference", "external_reference")
    ordering_fields = ("date", "amount", "amount_base", "quantity", "kind", "created_at")

    def get_queryset(self):
        return visible_through_account(Transaction.objects.all(), self.request.user)


# --- reference data -------------------------------------------------------------------------


class ExchangeRateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    KamViewSet,
):
    """Rates into the base currency; read by everyone, written by admins."""

    queryset = ExchangeRate.objects.all()
    serializer_class = ExchangeRateApiSerializer
    permission_classes = [IsAdminOrReadOnly]
    filterset_class = filters.ExchangeRateApiFilter
    search_fields = ("currency",)
    ordering_fields = ("currency", "valid_from", "rate")


class ProductLineViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    KamViewSet,
):
    queryset = ProductLine.objects.all()
    serializer_class = ProductLineApiSerializer
    permission_classes = [IsAdminOrReadOnly]
    filterset_class = filters.ProductLineApiFilter
    search_fields = ("code", "name")
    ordering_fields = ("code", "name")


# --- audit trail ----------------------------------------------------------------------------


@extend_schema(
    parameters=[AccountHistoryQueryApiSerializer],
    summary="An account's audit trail",
)
class AccountHistoryApi(generics.ListAPIView):
    """Who changed what and when: the account, its customer, team, transactions, opportunities,
    plans (objectives, actions), assessments, investments and overrides, newest first."""

    serializer_class = AccountHistoryEntryApiSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no account
            return Account.history.none()
        self.account = get_object_or_404(
            accounts_visible_to(self.request.user), pk=self.kwargs["pk"]
        )
        query = AccountHistoryQueryApiSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return account_history(account=self.account, **query.validated_data)

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(self.get_queryset())
        entries = account_history_entries(account=self.account, rows=rows)
        return self.get_paginated_response(self.get_serializer(entries, many=True).data)
