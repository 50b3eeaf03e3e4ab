"""Upload batches: which scans were uploaded together, and the one notification when they are
all finished.

Each upload path records its new scans with `batch_record`, after the upload's transaction.
A worker that finishes a scan calls `scan_finished`; closing a batch checks too; whichever
comes last sends the notification, and the row lock plus `notified_at` make it exactly once.
A batch nobody closes (the browser went away mid-upload) is closed by `batches_sweep` once
it has been idle for UPLOAD_BATCH_IDLE_CLOSE.
"""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from notifications.emails import batch_email_send
from notifications.models import Notification, UploadBatch
from scans.final_result import with_final_result
from scans.models import Outcome, Scan

logger = logging.getLogger(__name__)

FINISHED = (Scan.Status.DONE, Scan.Status.FAILED)


def batch_record(*, uploaded_by: User, scans: Iterable[Scan], key: uuid.UUID | None = None) -> UploadBatch | None:
    """Puts newly uploaded scans into their batch.

    Without a key the upload is the whole batch (a form with several files, a DICOM zip, one
    API request) and it closes at once. With a key (the upload page sends its files one by
    one, each naming the same key) the batch stays open until `batch_close`."""
    scans = list(scans)
    if not scans:
        return None
    if key is None:
        batch = UploadBatch.objects.create(uploaded_by=uploaded_by)
        batch.scans.add(*scans)
        batch_close(batch=batch)
        return batch
    batch = _open_batch(uploaded_by=uploaded_by, key=key)
    batch.scans.add(*scans)
    UploadBatch.objects.filter(pk=batch.pk).update(last_added_at=timezone.now())
    return batch


def _open_batch(*, uploaded_by: User, key: uuid.UUID) -> UploadBatch:
    try:
        with transaction.atomic():
            batch, _ = UploadBatch.objects.get_or_create(uploaded_by=uploaded_by, key=key)
    except IntegrityError:
        # Two files of one batch arrived at once: the other request created it.
        batch = UploadBatch.objects.get(uploaded_by=uploaded_by, key=key)
    if batch.notified_at is not None:
        # A client that reuses a finished batch's key starts a new batch, told apart by a new key.
        batch = UploadBatch.objects.create(uploaded_by=uploaded_by)
    return batch


def batch_close(*, batch: UploadBatch) -> None:
    """No scan will join the batch any more: it is finished once its scans are."""
    UploadBatch.objects.filter(pk=batch.pk, closed_at__isnull=True).update(closed_at=timezone.now())
    batch_finish_if_done(batch_id=batch.pk)


def batch_close_by_key(*, uploaded_by: User, key: uuid.UUID) -> bool:
    """The upload page's "every file is sent"; False when the user has no batch of that key."""
    batch = UploadBatch.objects.filter(uploaded_by=uploaded_by, key=key).order_by("-pk").first()
    if batch is None:
        return False
    batch_close(batch=batch)
    return True


def scan_finished(*, scan_id: int) -> None:
    """Called by the worker after each step of a scan: the batch may be finished now."""
    waiting = UploadBatch.objects.filter(scans=scan_id, closed_at__isnull=False, notified_at__isnull=True)
    for batch_id in waiting.values_list("pk", flat=True):
        batch_finish_if_done(batch_id=batch_id)


def batches_sweep() -> None:
    """Closes batches idle too long and finishes every closed one whose scans all ended
    (a scan the scan sweep failed never passes through scan_finished)."""
    idle_since = timezone.now() - settings.UPLOAD_BATCH_IDLE_CLOSE
    UploadBatch.objects.filter(closed_at__isnull=True, last_added_at__lt=idle_since).update(closed_at=timezone.now())
    waiting = UploadBatch.objects.filter(closed_at__isnull=False, notified_at__isnull=True)
    for batch_id in waiting.values_list("pk", flat=True):
        batch_finish_if_done(batch_id=batch_id)


@dataclass(frozen=True)
class BatchCounts:
    total: int
    done: int
    failed: int
    uncertain: int
    refused: int

    @property
    def finished(self) -> bool:
        return self.done + self.failed == self.total


def batch_finish_if_done(*, batch_id: int) -> Notification | None:
    """The batch's notification (and email), once: when it is closed and all its scans ended."""
    with transaction.atomic():
        batch = (
            UploadBatch.objects.select_for_update()
            .select_related("uploaded_by")
            .filter(pk=batch_id, closed_at__isnull=False, notified_at__isnull=True)
            .first()
        )
        if batch is None:
            return None
        counts = _counts(batch)
        if not counts.finished:
            return None
        batch.notified_at = timezone.now()
        batch.save(update_fields=["notified_at"])
        if counts.total == 0:
            return None
        notification = Notification.objects.create(
            recipient=batch.uploaded_by, batch=batch, message=batch_message(counts), link=_link(batch)
        )
        if _wants_email(batch.uploaded_by):
            transaction.on_commit(lambda: batch_email_send(notification=notification, counts=counts))
    logger.info("upload batch %s finished: %s of %s scans done", batch.pk, counts.done, counts.total)
    return notification


def _counts(batch: UploadBatch) -> BatchCounts:
    scans = with_final_result(Scan.objects.filter(upload_batches=batch))
    # The final result decides what "uncertain" or "refused" means (a reviewer may have settled it).
    totals = scans.order_by().aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(status=Scan.Status.DONE)),
        failed=Count("pk", filter=Q(status=Scan.Status.FAILED)),
        uncertain=Count("pk", filter=Q(status=Scan.Status.DONE, final_key=Outcome.UNCERTAIN)),
        refused=Count("pk", filter=Q(status=Scan.Status.DONE, final_key=Outcome.REFUSED)),
    )
    return BatchCounts(**totals)


def batch_message(counts: BatchCounts) -> str:
    """Counts only: this text goes into email, which must carry no patient identifier."""
    scans = "1 scan" if counts.total == 1 else f"{counts.total} scans"
    parts = [f"{counts.done} done"]
    needs_read = []
    if counts.uncertain:
        needs_read.append(f"{counts.uncertain} uncertain")
    if counts.refused:
        needs_read.append(f"{counts.refused} not recognised as brain MRI")
    if needs_read:
        parts[0] += f" ({', '.join(needs_read)})"
    if counts.failed:
        parts.append(f"{counts.failed} failed")
    return f"Your upload of {scans} is finished: {', '.join(parts)}."


def _link(batch: UploadBatch) -> str:
    patients = list(batch.scans.order_by().values_list("patient_id", flat=True).distinct()[:2])
    if len(patients) == 1:
        return reverse("scans:patient-detail", kwargs={"patient_id": patients[0]})
    return reverse("scans:scan-list")


def _wants_email(user: User) -> bool:
    if not user.email:
        return False
    preference = getattr(user, "notification_preference", None)
    return preference is None or preference.email_when_batch_done
