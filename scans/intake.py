"""The worker's first step for an upload: re-encode the image the web request only checked.

The web request stores the uploaded bytes as they came, under INCOMING_FOLDER (private, a
generated name), after a full check (scans.images.image_inspect). Here, before the scan is
classified, they become the metadata-free PNG that everything downstream reads, and the
original is deleted. PNG compression is the expensive part of an upload, so it runs here,
where a slow image delays one scan instead of every page of the site.
"""

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from scans.dicom.render import dicom_clean
from scans.images import ImageRejected, image_clean
from scans.ml.dicom_pixels import is_dicom
from scans.models import Scan
from scans.storage import INCOMING_FOLDER, SCAN_FOLDER, image_delete, image_store

logger = logging.getLogger(__name__)


def scan_image_sanitize(scan_id: int) -> bool:
    """Re-encodes the scan's uploaded image once. False when there is nothing to classify:
    the scan is gone, finished, or its image was refused (the scan then fails with why)."""
    scan = Scan.objects.filter(pk=scan_id).only("image", "status").first()
    if scan is None or scan.status not in (Scan.Status.QUEUED, Scan.Status.PROCESSING):
        return False
    original = scan.image.name
    if not original.startswith(f"{INCOMING_FOLDER}/"):
        return True
    with default_storage.open(original, "rb") as handle:
        data = handle.read()
    try:
        if is_dicom(data):
            # A DICOM slice's pixels-only file (scans.dicom), rendered with its window.
            clean = dicom_clean(data=data)
        else:
            clean = image_clean(
                data=data, max_bytes=settings.SCAN_MAX_UPLOAD_BYTES, max_pixels=settings.SCAN_MAX_PIXELS
            )
    except ImageRejected as error:
        _scan_refuse(scan_id, error.messages[0])
        return False
    name = image_store(png=clean.png, folder=SCAN_FOLDER)
    try:
        with transaction.atomic():
            # Only if no other delivery of this task got there first.
            replaced = Scan.objects.filter(pk=scan_id, image=original).update(
                image=name, width=clean.width, height=clean.height
            )
            if replaced:
                transaction.on_commit(lambda: image_delete(name=original))
    except Exception:
        image_delete(name=name)
        raise
    if not replaced:
        image_delete(name=name)
    return True


def _scan_refuse(scan_id: int, reason: str) -> None:
    with transaction.atomic():
        updated = Scan.objects.filter(pk=scan_id, status__in=(Scan.Status.QUEUED, Scan.Status.PROCESSING)).update(
            status=Scan.Status.FAILED, error=reason, finished_at=timezone.now(), updated_at=timezone.now()
        )
    if updated:
        logger.warning("scan %s failed: %s", scan_id, reason)
