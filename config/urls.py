"""Top-level URLs. There is deliberately no route for MEDIA_URL: images are served only by
the access-checked views in scans.api.files."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from health.views import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("scans.api.urls")),
    path("notifications/", include("notifications.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("scans.urls")),
]

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
