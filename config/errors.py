"""Error pages: JSON under /api/ (clients parse it), plain pages elsewhere.

An outage of the database or the broker is not a server error: the request may be sent again
in a moment. It is answered 503 with Retry-After — JSON for the API, a calm page for people —
never 500 (RELIABILITY.md 19).
"""

import sys

import redis.exceptions
from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerError

# What an outage looks like when it reaches a view.
OUTAGE_ERRORS = (db.OperationalError, db.InterfaceError, BrokerError, redis.exceptions.ConnectionError)
RETRY_AFTER_SECONDS = 10


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's own refusals before a view runs (too many fields or files, a bad Host)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while it handles the exception, so the exception is still at hand.
    if isinstance(sys.exception(), OUTAGE_ERRORS):
        return service_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": "The service is briefly unavailable; nothing was lost. Try again shortly."}, status=503
        )
    else:
        # Rendered without the request: no session, user or database is needed to show it.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
