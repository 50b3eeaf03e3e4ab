"""/healthz: can this process reach the database and the broker, and are the weights intact?

Weights are checked through scans.ml.registry, which hashes files without importing
TensorFlow. A hash is remembered per (path, size, mtime), so polling the endpoint does not
re-read a large file each time.
"""

import os

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery_app import app as celery_app
from scans.ml import registry
from scans.ml.errors import WeightsError

_verified: dict[tuple, str] = {}


def database_check() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def broker_check() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
    return "ok"


def weights_check(name: str) -> str:
    """ "ok", "not installed" (fine for an optional model) or raises WeightsError."""
    if not registry.weights_available(name):
        return "not installed"
    path = registry.get_spec(name).weights_path
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = registry.verify_weights(name)
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    healthy = True
    for component, check in (("database", database_check), ("broker", broker_check)):
        try:
            checks[component] = check()
        except Exception as error:
            # Any failure of a dependency means "unhealthy", whatever its type.
            checks[component] = f"error: {type(error).__name__}"
            healthy = False
    for name in registry.MODEL_NAMES:
        try:
            checks[f"weights:{name}"] = weights_check(name)
        except WeightsError as error:
            checks[f"weights:{name}"] = f"error: {error}"
            healthy = False
    # The default model must be able to run; the others are optional extras.
    if checks[f"weights:{registry.DEFAULT_MODEL}"] != "ok":
        healthy = False
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
