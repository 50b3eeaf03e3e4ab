"""Responses to a logged-in user carry patient data: no browser or proxy may keep them."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class NoStoreForLoggedInMiddleware:
    """Sets `Cache-Control: no-store` on every response to an authenticated request — pages,
    JSON and images alike — so a shared computer's cache or back button shows nothing after
    logout. Static files (no patient data) keep their own caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(settings.STATIC_URL):
            response["Cache-Control"] = "no-store"
        return response
