"""The batch sweep, run by beat (CELERY_BEAT_SCHEDULE): closes abandoned batches and sends
what a missed `scan_finished` would have sent."""

import logging

from celery import shared_task
from django import db

from notifications.batches import batches_sweep

logger = logging.getLogger(__name__)


@shared_task
def sweep_upload_batches() -> None:
    try:
        batches_sweep()
    except (db.OperationalError, db.InterfaceError) as error:
        # The next sweep runs a minute later; nothing is lost by skipping this one.
        logger.warning("upload batch sweep skipped: %s", type(error).__name__)
