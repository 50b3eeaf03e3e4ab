"""The worker's steps. Each takes an id, locks the row, and returns early when there is
nothing left to do, so running a step twice is harmless.

`scans.ml.inference` (TensorFlow) is imported inside the functions that need it: this module
is imported by the web process too (through scans.tasks), which must never load TensorFlow.
The Gemini SDK is likewise imported by scans.explain only when Gemini is called.
"""

import io
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django import db
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from scans.dicom.gate import modality_gated
from scans.explain import Outcome, PredictionFacts, RegionStats, ScanFacts, explain, offline_fallback
from scans.explain_settings import explain_config
from scans.ml import registry
from scans.ml.errors import ImageError, WeightsError
from scans.models import Explanation, Prediction, Scan
from scans.storage import OVERLAY_FOLDER, image_delete, image_store

logger = logging.getLogger(__name__)

UNFINISHED = (Scan.Status.QUEUED, Scan.Status.PROCESSING)
# What "the database is briefly away" looks like from inside a step: the task retries it.
DATABASE_AWAY = (db.OperationalError, db.InterfaceError)


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
    outcome: str
    outcome_reason: str
    ood_score: float | None
    timings: dict = field(default_factory=dict)


def classify_scan(scan_id: int, *, resent: bool = False) -> bool:
    """Runs every requested model on the scan and stores the predictions, once. True when this
    run committed them: the explanation comes next, and the caller (scans.tasks) queues it.

    An image the engine does not recognise as a brain MRI slice is a result, not a failure:
    its prediction is stored with outcome `refused` and the reason, and the scan goes on to
    `done` like any other; only an unreadable image or a broken model fails the scan.

    `resent`: the message came from the sweep, not from the upload or a redelivery.
    """
    started = time.perf_counter()
    scan = _claim(scan_id, resent=resent)
    if scan is None:
        return False
    outputs: list[_ModelOutput] = []
    try:
        with default_storage.open(scan.image.name, "rb") as handle:
            data = handle.read()
        for name in scan.requested_models:
            outputs.append(modality_gated(_run_model(name, data), scan))
    except (ImageError, WeightsError) as error:
        _fail(scan_id, str(error), outputs)
        return False
    except SoftTimeLimitExceeded:
        _fail(scan_id, "Classification took too long and was stopped.", outputs)
        return False
    except Exception:
        logger.exception("scan %s: classification failed", scan_id)
        _fail(scan_id, "Classification failed because of an internal error.", outputs)
        return False
    try:
        stored = _store_results(scan_id, outputs, started)
    except Exception:
        # The commit failed (the database went away): no row names these overlays. The task
        # retries and draws new ones.
        _discard(outputs)
        raise
    return stored


# The engine's statistics for a heat map with no hot area (scans.ml.regions): what a
# prediction stored without statistics is explained as, instead of losing its explanation.
NO_HOT_AREA = {
    "hot_fraction": 0.0,
    "centroid": {"x": 0.5, "y": 0.5},
    "peak": {"x": 0.5, "y": 0.5},
    "bbox": {"x0": 0.5, "y0": 0.5, "x1": 0.5, "y1": 0.5},
    "quadrant": "central",
    "side": "midline",
    "vertical": "middle",
    "depth": "deep",
    "head_centroid": {"x": 0.5, "y": 0.5},
}


def explain_scan(scan_id: int) -> None:
    """Writes the scan's one explanation (Gemini's or the offline explainer's) and finishes
    the scan, once. Whatever goes wrong here, the scan ends `done` and its predictions stay;
    only a database blip is raised, for the task to retry (ExplanationWriter)."""
    ExplanationWriter(scan_id).step()


@dataclass
class ExplanationWriter:
    """One delivery of explain_scan, whose `step` the task retries after a database blip
    (scans.tasks.run_retrying). The claim and the written explanation are kept between tries:
    a retry that claimed afresh would find this delivery's own pending row and leave, and the
    scan would wait `classified` until the row went stale (EXPLAIN_TIME_LIMIT, minutes); one
    that wrote afresh would pay for a second Gemini call.

    `delivery`: the task's id, which the broker keeps when it delivers the same message again
    (a worker process killed mid-step, or the message handed back after a long database
    outage); that delivery takes its own pending row over at once instead of waiting for it
    to go stale. Empty: no delivery to recognise (a direct call)."""

    scan_id: int
    delivery: str = ""
    explanation_id: int | None = None
    written: tuple[Outcome | None, str] | None = None

    def step(self) -> None:
        if self.explanation_id is None:
            self.explanation_id = _explanation_claim(self.scan_id, self.delivery)
            if self.explanation_id is None:
                return
        if self.written is None:
            self.written = _explanation_outcome(self.scan_id)
        _explanation_store(self.scan_id, self.explanation_id, *self.written)


def _explanation_claim(scan_id: int, delivery: str) -> int | None:
    """The id of a pending Explanation this delivery may write, or None when there is nothing to do.

    The pending row is the claim: a second delivery while the first is still running finds it
    and leaves, so one scan costs at most one Gemini call. A pending row older than the task's
    hard time limit was left by a worker that died, and is replaced. A row claimed by this very
    delivery is taken over: the broker delivers a message again only once its first run has
    ended (acks_late, and a visibility timeout above the hard time limit).
    """
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None or scan.status != Scan.Status.CLASSIFIED:
            # Deleted, already done, or sent back to the queue by a re-run.
            return None
        existing = Explanation.objects.filter(scan=scan).first()
        if existing is not None:
            if existing.status != Explanation.Status.PENDING:
                return None
            if delivery and existing.claimed_by == delivery:
                return existing.pk
            if existing.created_at > timezone.now() - timedelta(seconds=settings.EXPLAIN_TIME_LIMIT):
                return None
            existing.delete()
        config = explain_config()
        provider, model = (
            (Explanation.Provider.GEMINI, config.model) if config.uses_gemini else (Explanation.Provider.OFFLINE, "")
        )
        explanation = Explanation.objects.create(scan=scan, provider=provider, model=model, claimed_by=delivery)
        # Touched so that the sweep (stuck_scans_claim) counts a stuck explanation from now.
        scan.save(update_fields=["updated_at"])
    return explanation.pk


def _explanation_outcome(scan_id: int) -> tuple[Outcome | None, str]:
    """The explanation, or (None, why) when not even the offline explainer could write one."""
    facts = None
    try:
        facts = _scan_facts(scan_id)
        return explain(facts, explain_config()), ""
    except DATABASE_AWAY:
        # Reading the facts met a database blip: not a reason to give the explanation up.
        # The task tries again (explain() itself never touches the database).
        raise
    except SoftTimeLimitExceeded:
        reason = "the explanation took too long and was stopped"
    except Exception as error:
        logger.exception("scan %s: explanation failed", scan_id)
        reason = f"internal error ({type(error).__name__})"
    if facts is None:
        return None, reason
    return _offline_fallback(facts, reason), reason


def _scan_facts(scan_id: int) -> ScanFacts:
    """What the explanation may use, from the stored rows and images only: pixels, model ids,
    labels, probabilities and heat-map statistics — no patient details, no file names."""
    scan = Scan.objects.get(pk=scan_id)
    return ScanFacts(
        scan_png=_read_file(scan.image.name),
        predictions=[
            PredictionFacts(
                model=p.model_name,
                display_name=_model_display_name(p.model_name),
                label=p.label,
                probabilities=p.probabilities,
                regions=RegionStats.from_stats(p.gradcam_stats or NO_HOT_AREA),
                overlay_png=_read_file(p.gradcam.name),
                outcome=p.outcome,
                outcome_reason=p.outcome_reason,
            )
            for p in scan.predictions.order_by("model_name")
        ],
    )


def _model_display_name(name: str) -> str:
    # The architecture's name, not the card's: the card is read from disk and may be missing.
    facts = registry.ARCHITECTURE_FACTS.get(name)
    return facts.display_name if facts else name


def _read_file(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _offline_fallback(facts: ScanFacts, reason: str) -> Outcome | None:
    try:
        return offline_fallback(facts, reason)
    except Exception:
        logger.exception("offline explainer failed")
        return None


def _explanation_store(scan_id: int, explanation_id: int, outcome: Outcome | None, reason: str) -> None:
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if outcome is None:
            fields = {"status": Explanation.Status.FAILED, "provider": Explanation.Provider.OFFLINE, "error": reason}
        else:
            fields = {
                "status": Explanation.Status.DONE,
                "provider": outcome.provider,
                "model": outcome.model or "",
                "prompt_version": outcome.prompt_version,
                "content": outcome.content,
                "text": outcome.text,
                "is_fallback": outcome.is_fallback,
                "error": outcome.reason or "",
                "latency_ms": outcome.latency_ms,
                "attempts": outcome.attempts,
            }
        written = Explanation.objects.filter(pk=explanation_id, status=Explanation.Status.PENDING).update(**fields)
        if scan is None or not written or scan.status != Scan.Status.CLASSIFIED:
            # Our claim was taken over or the scan was re-run meanwhile: that run finishes it.
            return
        scan.status = Scan.Status.DONE
        scan.finished_at = timezone.now()
        scan.save(update_fields=["status", "finished_at", "updated_at"])
    provider = outcome.provider if outcome else "none"
    logger.info("scan %s explained (%s)%s", scan_id, provider, f": {reason}" if reason else "")


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


def _claim(scan_id: int, *, resent: bool = False) -> Scan | None:
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None or scan.status not in UNFINISHED:
            # Deleted, or another run already finished it.
            return None
        if resent and scan.status == Scan.Status.PROCESSING and not _claim_is_stale(scan):
            # The sweep re-sent a scan that was only waiting in the queue; its own message
            # arrived first and a live run holds it.
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


def _claim_is_stale(scan: Scan) -> bool:
    return scan.started_at is None or scan.started_at < timezone.now() - settings.SCAN_CLAIM_STALE_AFTER


def _engine(name: str):
    """The engine for one model, loaded once per worker process by scans.ml itself."""
    from scans.ml.inference import get_engine

    return get_engine(name)


def _run_model(name: str, data: bytes) -> _ModelOutput:
    engine = _engine(name)
    result = engine.predict(data)
    # Heat maps are drawn for refused and uncertain results too: staff may open the raw
    # answer, and the pages decide what to show.
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
        outcome=result.outcome,
        outcome_reason=result.reason[:300],
        ood_score=result.ood_score,
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
                outcome=out.outcome,
                outcome_reason=out.outcome_reason,
                ood_score=out.ood_score,
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
