from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

# Unnamespaced "login"/"logout": settings.LOGIN_URL and LOGOUT_REDIRECT_URL name them.
dashboard_patterns = [
    path("", views.portfolio, name="portfolio"),
    path("portfolio.csv", views.portfolio_csv, name="portfolio_csv"),
    path("portfolio/revenue/", views.portfolio_revenue_kpi, name="portfolio_revenue"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/more/", views.account_more, name="account_more"),
    path("accounts/<int:pk>/interactions/", views.interaction_create, name="interaction_create"),
    path("accounts/<int:pk>/needs/", views.need_create, name="need_create"),
    path(
        "accounts/<int:pk>/opportunities/",
        views.opportunity_create_view,
        name="opportunity_create",
    ),
    path(
        "accounts/<int:pk>/opportunities/<int:opportunity_pk>/stage/",
        views.opportunity_stage,
        name="opportunity_stage",
    ),
    path("accounts/<int:pk>/objectives/", views.objective_create, name="objective_create"),
    path("accounts/<int:pk>/actions/", views.action_create, name="action_create"),
    path("accounts/<int:pk>/actions/<int:action_pk>/done/", views.action_done, name="action_done"),
    path("accounts/<int:pk>/assessments/", views.assessment_create_view, name="assessment_create"),
    path("accounts/<int:pk>/overrides/", views.override_create_view, name="override_create"),
    path("accounts/<int:pk>/recompute/", views.account_recompute, name="account_recompute"),
    path("matrices/<slug:model>/", views.matrix, name="matrix"),
    path("team/", views.team, name="team"),
    path("recompute/", views.portfolio_recompute, name="portfolio_recompute"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include((dashboard_patterns, "dashboard"))),
]
