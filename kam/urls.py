from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_GET

from kam.health import healthz

admin.site.site_header = "KAM administration"
admin.site.site_title = "KAM"
admin.site.index_title = "Key account management"


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages without a <link rel="icon"> (the admin, the API).
    Resolved per request: the hashed static name exists only once collectstatic has run."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/", include("kam.api_urls")),
    path("", include("dashboard.urls")),
]
