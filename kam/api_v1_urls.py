"""/api/v1/: the REST resources (namespace "api-v1")."""

from django.urls import include, path, re_path
from rest_framework import exceptions
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    schema,
)
from rest_framework.routers import DefaultRouter

from accounts.api import views as accounts
from accounts.api.imports import TransactionImportApi
from classification.api import views as classification
from relationships.api import views as relationships

app_name = "api-v1"


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
@schema(None)  # the catch-all is no operation; it was listed as `/api/v1/./` (from `^.*/$`)
def api_not_found(request):
    raise exceptions.NotFound()


router = DefaultRouter()
router.register("customers", accounts.CustomerViewSet, basename="customer")
router.register("contacts", accounts.ContactViewSet, basename="contact")
router.register("managers", accounts.ManagerViewSet, basename="manager")
router.register("accounts", accounts.AccountViewSet, basename="account")
router.register("team-members", accounts.TeamMemberViewSet, basename="team-member")
router.register("transactions", accounts.TransactionViewSet, basename="transaction")
router.register("exchange-rates", accounts.ExchangeRateViewSet, basename="exchange-rate")
router.register("product-lines", accounts.ProductLineViewSet, basename="product-line")
router.register("interactions", relationships.InteractionViewSet, basename="interaction")
router.register("needs", relationships.NeedViewSet, basename="need")
router.register("opportunities", relationships.OpportunityViewSet, basename="opportunity")
router.register("plans", relationships.PlanViewSet, basename="plan")
router.register("plan-objectives", relationships.PlanObjectiveViewSet, basename="plan-objective")
router.register("plan-actions", relationships.PlanActionViewSet, basename="plan-action")
router.register("assessments", relationships.AssessmentViewSet, basename="assessment")
router.register("investments", relationships.InvestmentViewSet, basename="investment")
router.register("service-cases", relationships.ServiceCaseViewSet, basename="service-case")
router.register(
    "classification/runs", classification.ClassificationRunViewSet, basename="classification-run"
)
router.register(
    "classification/parameter-sets",
    classification.ParameterSetViewSet,
    basename="parameter-set",
)
router.register(
    "classification/overrides",
    classification.ClassificationOverrideViewSet,
    basename="classification-override",
)


urlpatterns = [
    path("auth/token/", accounts.AuthTokenApi.as_view(), name="auth-token"),
    path(
        "portfolio/summary/", relationships.PortfolioSummaryApi.as_view(), name="portfolio-summary"
    ),
    path(
        "accounts/<int:pk>/scores/",
        classification.AccountScoresApi.as_view(),
        name="account-scores",
    ),
    path(
        "accounts/<int:pk>/history/", accounts.AccountHistoryApi.as_view(), name="account-history"
    ),
    path(
        "accounts/<int:pk>/recompute/",
        classification.AccountRecomputeApi.as_view(),
        name="account-recompute",
    ),
    # Before the router, so "import" is not read as a transaction id.
    path("transactions/import/", TransactionImportApi.as_view(), name="transaction-import"),
    path("", include(router.urls)),
    # Last: any other path under /api/v1/ (an id that is not a number, like /accounts/1.5/)
    # answers a JSON 404 like the rest of the API, not Django's HTML page. Only paths that end
    # with a slash, so a missing slash is still redirected by APPEND_SLASH.
    re_path(r"^.*/$", api_not_found, name="not-found"),
]
