"""The stuck-scan sweep's reads: which scans and explanations lost their message.

A periodic task (scans.tasks.sweep_stuck_scans) sends these again. Thresholds come from the
task time limits (settings SCAN_CLAIM_STALE_AFTER, SCAN_RESEND_AFTER), so a claim older than
the hard limit is dead; rows are claimed with SKIP LOCKED so sweeps on many machines at once
neither wait on nor repeat each other.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scans.models import Scan

logger = logging.getLogger(__name__)


def stuck_scans_claim(*, waiting_in_queue: int | None = None) -> list[int]:
    """Ids of scans whose classification message is probably lost: `processing` under a claim
    older than the hard time limit (its worker died), or `queued` for longer than
    SCAN_RESEND_AFTER (Redis restarted empty, or was down at upload).

    `waiting_in_queue`, the `ml` queue's backlog when the broker could tell: a queued scan
    may just be waiting its turn behind a long series, so only as many of the oldest are sent
    again as there are queued scans without a message.
    """
    now = timezone.now()
    dead = Scan.objects.filter(status=Scan.Status.PROCESSING, updated_at__lt=now - settings.SCAN_CLAIM_STALE_AFTER)
    waiting = Scan.objects.filter(status=Scan.Status.QUEUED, updated_at__lt=now - settings.SCAN_RESEND_AFTER)
    missing = _missing(Scan.Status.QUEUED, waiting_in_queue)
    return _resend_claim(dead, "claimed scans") + _resend_claim(waiting, "queued scans", limit=missing)


def stuck_explanations_claim(*, waiting_in_queue: int | None = None) -> list[int]:
    """Ids of scans left `classified` for longer than SCAN_RESEND_AFTER: their explain_scan
    was lost (broker flushed, or a worker died on the embedded broker, which never
    redelivers). A second message for an explanation still being written is harmless: it
    finds the pending row and leaves. `waiting_in_queue`: the `default` queue's backlog."""
    cutoff = timezone.now() - settings.SCAN_RESEND_AFTER
    stuck = Scan.objects.filter(status=Scan.Status.CLASSIFIED, updated_at__lt=cutoff)
    return _resend_claim(stuck, "explanations", limit=_missing(Scan.Status.CLASSIFIED, waiting_in_queue))


def _missing(status: str, waiting_in_queue: int | None) -> int | None:
    """How many scans in `status` have no message in the queue; None: unknown, send them all."""
    if waiting_in_queue is None:
        return None
    return max(Scan.objects.filter(status=status).count() - waiting_in_queue, 0)


# One sweep re-sends at most this many; the next sweep, seconds later, takes the rest.
SWEEP_BATCH = 500


def _resend_claim(stuck, what: str, limit: int | None = None) -> list[int]:
    """Touches and returns the stuck rows, so that the next sweep leaves them alone while their
    new messages wait. SKIP LOCKED lets sweeps on many machines run at once without waiting
    on, or re-sending, each other's rows; the attempt cap in _claim ends a scan that keeps
    getting stuck."""
    batch = SWEEP_BATCH if limit is None else min(limit, SWEEP_BATCH)
    if batch == 0:
        return []
    with transaction.atomic():
        ids = list(stuck.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:batch])
        Scan.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    if ids:
        logger.warning("re-sending %d stuck %s: %s", len(ids), what, ids)
    return ids
