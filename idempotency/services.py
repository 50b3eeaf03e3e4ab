"""Uploads made at most once per (user, Idempotency-Key)."""

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from idempotency.models import IdempotencyKey
from scans.models import Patient, Scan
from scans.storage import image_delete

# Printable ASCII without spaces, as clients generate them (UUIDs, ULIDs, hashes).
KEY_PATTERN = re.compile(r"[!-~]{1,128}")


def submit_once(*, user, key: str, patient: Patient, submit: Callable[[], Scan]) -> tuple[Scan, bool]:
    """(scan, created): the scan an earlier request with this key made, or `submit()`'s.

    Without a key every call submits. Two requests racing with one key both get the scan of
    whichever committed first; the other's row and file are thrown away.
    """
    if not key:
        return submit(), True
    if not KEY_PATTERN.fullmatch(key):
        raise ValidationError({"idempotency_key": "Idempotency-Key must be 1–128 printable characters, no spaces."})
    earlier = _earlier(user, key, patient)
    if earlier is not None:
        return earlier, False
    scan = None
    try:
        with transaction.atomic():
            scan = submit()
            IdempotencyKey.objects.create(user=user, key=key, scan=scan)
    except IntegrityError:
        if scan is None:
            raise
        # Another request with this key committed first; ours was rolled back with its task.
        image_delete(name=scan.image.name)
        earlier = _earlier(user, key, patient)
        if earlier is None:
            raise
        return earlier, False
    except Exception:
        # The scan's row was rolled back: its file must not stay behind.
        if scan is not None:
            image_delete(name=scan.image.name)
        raise
    return scan, True


def _earlier(user, key: str, patient: Patient) -> Scan | None:
    found = IdempotencyKey.objects.filter(user=user, key=key).select_related("scan").first()
    if found is None:
        return None
    if found.scan.patient_id != patient.pk:
        raise ValidationError(
            {"idempotency_key": "This Idempotency-Key was already used for another patient's upload."}
        )
    return found.scan
