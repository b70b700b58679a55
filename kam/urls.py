from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "KAM administration"
admin.site.site_title = "KAM"
admin.site.index_title = "Key account management"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("kam.api_urls")),
    path("", include("dashboard.urls")),
]
