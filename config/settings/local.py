"""Settings for `make run` on a developer's machine (the embedded default)."""

from .base import *  # noqa: F403
from .base import MIDDLEWARE, env

# Off unless asked for: `make dev` sets DJANGO_DEBUG=true; anything else run with these settings
# (make run, a manage.py command, a stray runserver) shows no debug page.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-only-insecure-key-never-used-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# Static files through the app server, as in production (whitenoise), from STATIC_ROOT after
# `collectstatic` (make run does it); with DEBUG, straight from the source folders.
# https://whitenoise.readthedocs.io/en/stable/django.html
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
