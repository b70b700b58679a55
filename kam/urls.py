from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "KAM administration"
admin.site.site_title = "KAM"
admin.site.index_title = "Key account management"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
]
