"""/healthz (liveness: can this web process reach the database and the broker, and are the
weights intact?) and /readyz (readiness: is somebody consuming each queue, and how much waits
in it?). Both answer 200 or 503 with the reasons, never 500, and touch nothing heavy."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from health import checks
from scans.ml import registry
from scans.ml.errors import WeightsError

RETRY_AFTER_SECONDS = 10


def _liveness() -> tuple[dict[str, str], bool]:
    results: dict[str, str] = {}
    healthy = True
    for component, check in (("database", checks.database_check), ("broker", checks.broker_check)):
        try:
            results[component] = check()
        except Exception as error:
            # Any failure of a dependency means "unhealthy", whatever its type.
            results[component] = f"error: {type(error).__name__}"
            healthy = False
    for name in registry.MODEL_NAMES:
        try:
            results[f"weights:{name}"] = checks.weights_check(name)
        except WeightsError as error:
            results[f"weights:{name}"] = f"error: {error}"
            healthy = False
    # The default model must be able to run; the others are optional extras.
    if results[f"weights:{registry.DEFAULT_MODEL}"] != "ok":
        healthy = False
    return results, healthy


def _answer(body: dict, healthy: bool) -> JsonResponse:
    response = JsonResponse({"status": "ok" if healthy else "error", **body}, status=200 if healthy else 503)
    if not healthy:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    results, healthy = _liveness()
    return _answer({"checks": results}, healthy)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when live and an `ml` worker has written a heartbeat within the last minute."""
    results, healthy = _liveness()
    queues = {}
    if results["database"] == "ok":
        try:
            queues = {name: status.as_dict() for name, status in checks.queues_status().items()}
        except Exception as error:
            results["queues"] = f"error: {type(error).__name__}"
            healthy = False
    required = queues.get(checks.REQUIRED_QUEUE)
    if required is None or not required["workers"]:
        results[f"workers:{checks.REQUIRED_QUEUE}"] = "error: no worker seen in the last minute"
        healthy = False
    return _answer({"checks": results, "queues": queues}, healthy)
