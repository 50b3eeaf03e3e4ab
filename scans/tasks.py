"""Thin Celery tasks: each takes ids and calls a pipeline step."""

import logging

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from kombu.exceptions import OperationalError

from scans import pipeline

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a worker killed mid-scan leaves the message on the
# broker to be delivered again; the pipeline step is safe to run twice.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def classify_scan(scan_id: int) -> None:
    pipeline.classify_scan(scan_id)


@shared_task
def sweep_stuck_scans() -> None:
    for scan_id in pipeline.stuck_scans_claim():
        enqueue_classification(scan_id)


def enqueue_classification(scan_id: int) -> None:
    """Sends classify_scan to the `ml` queue (see CELERY_TASK_ROUTES).

    Called after the scan's row is committed. If the broker is down the upload still
    succeeds: the scan stays queued and the sweep sends it again.
    """
    try:
        classify_scan.delay(scan_id)
    except OperationalError:
        logger.warning("broker unavailable: scan %s waits for the sweep", scan_id)


@worker_init.connect
def report_weights_on_worker_start(**kwargs) -> None:
    pipeline.weights_report()


@worker_process_init.connect
def load_models_in_each_worker_process(**kwargs) -> None:
    pipeline.engines_preload()
