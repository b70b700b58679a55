from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

# Unnamespaced "login"/"logout": settings.LOGIN_URL and LOGOUT_REDIRECT_URL name them.
dashboard_patterns = [
    path("", views.portfolio, name="portfolio"),
    path("portfolio.csv", views.portfolio_csv, name="portfolio_csv"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/interactions/", views.interaction_create, name="interaction_create"),
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
