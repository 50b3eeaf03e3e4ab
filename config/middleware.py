"""Small security middleware the deployment checklist and RELIABILITY.md ask for."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class ContentSecurityPolicyMiddleware:
    """Adds the site's CSP: scripts only from our own origin, never inline."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class RequestSizeLimitMiddleware:
    """Refuses an oversized request from its Content-Length, before the body is read.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not count uploaded files, so without this a
    client could stream gigabytes into temporary files before the per-file check runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            limit_mb = settings.MAX_REQUEST_BYTES // (1024 * 1024)
            return JsonResponse({"detail": f"Request too large: the limit is {limit_mb} MB."}, status=413)
        return self.get_response(request)
