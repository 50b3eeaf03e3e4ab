"""Thin Celery tasks: each takes ids and calls a pipeline step.

A database or broker outage never loses a task: the step is retried in the same process
with back-off, and after that the message goes back to the queue (Reject), never
acknowledged as done. Every step is safe to run twice, so a retry is always harmless.
"""

import logging
import time
from collections.abc import Callable

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import celeryd_after_setup, worker_init, worker_process_init
from django import db
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

from health.checks import queue_backlogs
from notifications.batches import scan_finished
from scans import intake, pipeline, sweep
from scans.explain_settings import gemini_mode

logger = logging.getLogger(__name__)

# What "the database or the broker is briefly away" looks like from inside a task.
TRANSIENT_ERRORS = (*pipeline.DATABASE_AWAY, OperationalError)
# Back-off between tries: 1, 2, 4, 8, 8 … seconds, waiting at most this long in one
# delivery (well below every soft time limit), then the message goes back to the queue.
RETRY_BACKOFF_CAP = 8.0
RETRY_BUDGET_SECONDS = 30.0


def run_retrying(step: Callable[[], None], *, what: str) -> None:
    """Runs a step; on a transient error waits and tries again, then rejects the message."""
    waited, delay = 0.0, 1.0
    while True:
        try:
            step()
            return
        except TRANSIENT_ERRORS as error:
            _drop_broken_connections()
            if waited + delay > RETRY_BUDGET_SECONDS:
                logger.warning("%s: %s; handing it back to the queue", what, type(error).__name__)
                raise Reject(reason=f"{what}: {error}", requeue=True) from error
            logger.warning("%s: %s; trying again in %.0f s", what, type(error).__name__, delay)
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, RETRY_BACKOFF_CAP)


def _drop_broken_connections() -> None:
    """A connection that failed is broken for good: the next try must open a new one."""
    if not db.connection.in_atomic_block:
        db.close_old_connections()


# acks_late + reject_on_worker_lost: a worker killed mid-scan leaves the message on the
# broker to be delivered again; the pipeline step is safe to run twice. `resent` marks a
# message sent by the sweep (see pipeline._claim).
@shared_task(acks_late=True, reject_on_worker_lost=True)
def classify_scan(scan_id: int, resent: bool = False) -> None:
    def step() -> None:
        if intake.scan_image_sanitize(scan_id) and pipeline.classify_scan(scan_id, resent=resent):
            # The predictions are committed; the scan stays `classified` until its explanation is written.
            transaction.on_commit(lambda: enqueue_explanation(scan_id))

    run_retrying(step, what=f"scan {scan_id}")
    _tell_upload_batch(scan_id)


# rate_limit protects the Gemini quota (per worker process). Offline explanations spend no
# quota, and a rate limit would then only hold the worker's prefetched classifications
# behind its token bucket (measured: upload → classified 2.0 s instead of 0.4 s). The soft
# time limit lies above the whole Gemini budget, so the budget ends a slow call and the
# fallback is still written.
@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    rate_limit=settings.GEMINI_RATE_LIMIT if gemini_mode().effective != "off" else None,
    soft_time_limit=settings.EXPLAIN_SOFT_TIME_LIMIT,
    time_limit=settings.EXPLAIN_TIME_LIMIT,
)
def explain_scan(self, scan_id: int) -> None:
    writer = pipeline.ExplanationWriter(scan_id, delivery=self.request.id or "")
    run_retrying(writer.step, what=f"explanation of scan {scan_id}")
    _tell_upload_batch(scan_id)


def _tell_upload_batch(scan_id: int) -> None:
    """The scan may have been the last of its upload batch: its uploader is notified, once.
    Nothing is lost if this fails: the batch sweep (notifications.tasks) sends it later."""
    try:
        scan_finished(scan_id=scan_id)
    except Exception:
        logger.exception("upload batch check after scan %s failed; the batch sweep will catch up", scan_id)


@shared_task
def sweep_stuck_scans() -> None:
    # A sweep that meets an outage just ends: the next one runs SCAN_SWEEP_SECONDS later.
    backlog = queue_backlogs()
    try:
        stuck_scans = sweep.stuck_scans_claim(waiting_in_queue=backlog.get("ml"))
        stuck_explanations = sweep.stuck_explanations_claim(waiting_in_queue=backlog.get("default"))
    except TRANSIENT_ERRORS as error:
        _drop_broken_connections()
        logger.warning("sweep skipped: %s", type(error).__name__)
        return
    for scan_id in stuck_scans:
        enqueue_classification(scan_id, resent=True)
    for scan_id in stuck_explanations:
        enqueue_explanation(scan_id)


# The slices of a DICOM series wait behind single uploads, so that a 300-slice series does
# not hold up everyone else's scans. On Redis a lower number is served first and a message
# without a priority counts as 0; the embedded filesystem broker ignores priorities (FIFO).
SERIES_PRIORITY = 6


def enqueue_classification(scan_id: int, *, resent: bool = False, series: bool = False) -> None:
    """Sends classify_scan to the `ml` queue (see CELERY_TASK_ROUTES).

    Called after the scan's row is committed. If the broker is down the upload still
    succeeds: the scan stays queued and the sweep sends it again. `series`: one slice of an
    upload that made many (scans.dicom), sent at SERIES_PRIORITY.
    """
    try:
        if resent:
            classify_scan.delay(scan_id, resent=True)
        elif series:
            classify_scan.apply_async((scan_id,), priority=SERIES_PRIORITY)
        else:
            classify_scan.delay(scan_id)
    except OperationalError:
        logger.warning("broker unavailable: scan %s waits for the sweep", scan_id)


def enqueue_explanation(scan_id: int) -> None:
    """Sends explain_scan to the `default` queue, after the predictions are committed.

    If the broker is down the scan stays classified, with its predictions, until the sweep
    sends it again.
    """
    try:
        explain_scan.delay(scan_id)
    except OperationalError:
        logger.warning("broker unavailable: the explanation of scan %s waits for the sweep", scan_id)


# Which queues this worker consumes, learnt before its pool processes start: only a worker
# that serves `ml` loads TensorFlow and the models (a `default` worker writes explanations,
# which never need them).
_serves_ml = {"value": True}


@celeryd_after_setup.connect
def note_the_queues_this_worker_serves(sender, instance, **kwargs) -> None:
    queues = instance.app.amqp.queues.consume_from or instance.app.amqp.queues
    _serves_ml["value"] = "ml" in queues


@worker_init.connect
def report_weights_on_worker_start(**kwargs) -> None:
    pipeline.weights_report()


@worker_process_init.connect
def load_models_in_each_worker_process(**kwargs) -> None:
    if _serves_ml["value"]:
        pipeline.engines_preload()
