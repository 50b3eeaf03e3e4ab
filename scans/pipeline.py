"""The worker's steps. Each takes an id, locks the row, and returns early when there is
nothing left to do, so running a step twice is harmless.

`scans.ml.inference` (TensorFlow) is imported inside the functions that need it: this module
is imported by the web process too (through scans.tasks), which must never load TensorFlow.
"""

import io
import logging
import time
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from scans.ml import registry
from scans.ml.errors import ImageError, WeightsError
from scans.models import Prediction, Scan
from scans.storage import OVERLAY_FOLDER, image_delete, image_store

logger = logging.getLogger(__name__)

UNFINISHED = (Scan.Status.QUEUED, Scan.Status.PROCESSING)


@dataclass
class _ModelOutput:
    model_name: str
    model_version: str
    label: str
    confidence: float
    probabilities: dict
    gradcam: str
    saliency: str
    gradcam_stats: dict
    saliency_stats: dict
    timings: dict = field(default_factory=dict)


def classify_scan(scan_id: int) -> None:
    """Runs every requested model on the scan and stores the predictions, once."""
    started = time.perf_counter()
    scan = _claim(scan_id)
    if scan is None:
        return
    outputs: list[_ModelOutput] = []
    try:
        with default_storage.open(scan.image.name, "rb") as handle:
            data = handle.read()
        for name in scan.requested_models:
            outputs.append(_run_model(name, data))
    except (ImageError, WeightsError) as error:
        _fail(scan_id, str(error), outputs)
        return
    except SoftTimeLimitExceeded:
        _fail(scan_id, "Classification took too long and was stopped.", outputs)
        return
    except Exception:
        logger.exception("scan %s: classification failed", scan_id)
        _fail(scan_id, "Classification failed because of an internal error.", outputs)
        return
    if _store_results(scan_id, outputs, started):
        classification_committed(scan_id)


def classification_committed(scan_id: int) -> None:
    """What follows `classified`. The explanations issue queues explain_scan here; until it
    lands, a classified scan is done at once."""
    Scan.objects.filter(pk=scan_id, status=Scan.Status.CLASSIFIED).update(
        status=Scan.Status.DONE, finished_at=timezone.now(), updated_at=timezone.now()
    )


def stuck_scans_claim() -> list[int]:
    """Ids of scans left queued or processing for too long (worker killed, broker flushed).

    Each is touched so that the next sweep leaves it alone while its new task waits; the
    attempt cap in _claim ends a scan that keeps getting stuck.
    """
    cutoff = timezone.now() - settings.SCAN_STUCK_AFTER
    with transaction.atomic():
        ids = list(
            Scan.objects.select_for_update()
            .filter(status__in=UNFINISHED, updated_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        Scan.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    if ids:
        logger.warning("re-queueing %d stuck scans: %s", len(ids), ids)
    return ids


def weights_report() -> None:
    """Logs, at worker start, which models can run and which weights are bad or missing."""
    for name in registry.MODEL_NAMES:
        if not registry.weights_available(name):
            logger.warning("model %s: weights not installed; requests for it are refused", name)
            continue
        try:
            logger.info("model %s: weights verified, sha256 %s", name, registry.verify_weights(name))
        except WeightsError as error:
            logger.error("model %s: %s", name, error)


def engines_preload() -> None:
    """Loads every installed model when a worker process starts and runs one synthetic
    scan through it, so that the first real scan is as fast as the rest (TensorFlow traces
    its functions on first use). A bad weights file is logged here and fails scans later
    with the same readable reason."""
    for name in registry.MODEL_NAMES:
        if not registry.weights_available(name):
            continue
        try:
            engine = _engine(name)
            engine.explain_maps(_WARM_UP_SCAN, engine.predict(_WARM_UP_SCAN))
        except WeightsError as error:
            logger.error("model %s: %s", name, error)
        except ImageError:
            # The engine may refuse a synthetic scan; the model is loaded all the same.
            pass


def _warm_up_scan() -> bytes:
    """A grey disc on black, roughly the shape of an axial slice."""
    image = Image.new("L", (256, 256))
    ImageDraw.Draw(image).ellipse((32, 24, 224, 232), fill=110)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


_WARM_UP_SCAN = _warm_up_scan()


def _claim(scan_id: int) -> Scan | None:
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None or scan.status not in UNFINISHED:
            # Deleted, or another run already finished it.
            return None
        if scan.attempts >= settings.SCAN_MAX_ATTEMPTS:
            scan.status = Scan.Status.FAILED
            scan.error = f"Classification gave up after {scan.attempts} attempts."
            scan.finished_at = timezone.now()
            scan.save(update_fields=["status", "error", "finished_at", "updated_at"])
            return None
        scan.status = Scan.Status.PROCESSING
        scan.attempts += 1
        scan.error = ""
        scan.started_at = timezone.now()
        scan.save(update_fields=["status", "attempts", "error", "started_at", "updated_at"])
    return scan


def _engine(name: str):
    """The engine for one model, loaded once per worker process by scans.ml itself."""
    from scans.ml.inference import get_engine

    return get_engine(name)


def _run_model(name: str, data: bytes) -> _ModelOutput:
    engine = _engine(name)
    result = engine.predict(data)
    if result.refusal:
        raise ImageError(result.refusal)
    maps = engine.explain_maps(data, result)
    stored_at = time.perf_counter()
    gradcam = image_store(png=maps.gradcam.overlay_png, folder=OVERLAY_FOLDER)
    saliency = image_store(png=maps.saliency.overlay_png, folder=OVERLAY_FOLDER)
    storage_ms = (time.perf_counter() - stored_at) * 1000
    return _ModelOutput(
        model_name=engine.name,
        model_version=engine.version,
        label=result.label,
        confidence=float(result.confidence),
        probabilities={label: float(p) for label, p in result.probabilities.items()},
        gradcam=gradcam,
        saliency=saliency,
        gradcam_stats=maps.gradcam.stats,
        saliency_stats=maps.saliency.stats,
        timings={**result.timings, **maps.timings, "storage": storage_ms},
    )


def _store_results(scan_id: int, outputs: list[_ModelOutput], started: float) -> bool:
    with transaction.atomic():
        scan = Scan.objects.select_for_update().get(pk=scan_id)
        if scan.status != Scan.Status.PROCESSING:
            # A concurrent run of the same task committed first: keep its results, not ours.
            _discard(outputs)
            return False
        total_ms = round((time.perf_counter() - started) * 1000, 1)
        Prediction.objects.bulk_create(
            Prediction(
                scan=scan,
                model_name=out.model_name,
                model_version=out.model_version,
                label=out.label,
                confidence=out.confidence,
                probabilities=out.probabilities,
                gradcam=out.gradcam,
                saliency=out.saliency,
                gradcam_stats=out.gradcam_stats,
                saliency_stats=out.saliency_stats,
                timings={**{k: round(v, 1) for k, v in out.timings.items()}, "total_ms": total_ms},
            )
            for out in outputs
        )
        scan.status = Scan.Status.CLASSIFIED
        scan.save(update_fields=["status", "updated_at"])
    logger.info("scan %s classified in %.0f ms", scan_id, total_ms)
    return True


def _fail(scan_id: int, message: str, outputs: list[_ModelOutput]) -> None:
    _discard(outputs)
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None or scan.status not in UNFINISHED:
            return
        scan.status = Scan.Status.FAILED
        scan.error = message
        scan.finished_at = timezone.now()
        scan.save(update_fields=["status", "error", "finished_at", "updated_at"])
    logger.warning("scan %s failed: %s", scan_id, message)


def _discard(outputs: list[_ModelOutput]) -> None:
    for out in outputs:
        image_delete(name=out.gradcam)
        image_delete(name=out.saliency)
