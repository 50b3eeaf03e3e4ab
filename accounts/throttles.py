"""Uploads per user are rate-limited; nothing else in the API is (a client polling a scan
every 0.3 s must never see 429)."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle

THROTTLED_ROUTES = {"patient-scans"}  # POST /api/v1/patients/<id>/scans/


class UploadRateThrottle(UserRateThrottle):
    """UPLOAD_RATE_LIMIT uploads per user (e.g. "600/hour"), counted in Django's cache: per web
    process with the default local-memory cache, across processes with a shared one."""

    scope = "upload"

    def get_rate(self) -> str | None:
        # Read at each request, not at import, so the setting (and a test) decides.
        return settings.UPLOAD_RATE_LIMIT

    def allow_request(self, request, view) -> bool:
        route = getattr(request.resolver_match, "url_name", None)
        if request.method != "POST" or route not in THROTTLED_ROUTES:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
