from django.contrib import admin
from django.urls import include, path

from kam.health import healthz

admin.site.site_header = "KAM administration"
admin.site.site_title = "KAM"
admin.site.index_title = "Key account management"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("kam.api_urls")),
    path("", include("dashboard.urls")),
]
