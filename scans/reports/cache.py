"""Rendered reports in private storage, named by what they show (reports/<kind>-<id>-<fingerprint>.pdf).

A request reads a report that is there; a missing one is rendered by the worker (tasks), so
no request waits for WeasyPrint. An older version of the same report is deleted when a new
one is stored."""

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

REPORT_FOLDER = "reports"


def report_name(*, kind: str, object_id: int, fingerprint: str) -> str:
    return f"{REPORT_FOLDER}/{kind}-{object_id}-{fingerprint}.pdf"


def report_exists(name: str) -> bool:
    return default_storage.exists(name)


def report_store(*, name: str, pdf: bytes, kind: str, object_id: int) -> None:
    if default_storage.exists(name):
        return  # another worker rendered the same version first
    saved = default_storage.save(name, ContentFile(pdf))
    if saved != name:
        # Lost a race for the name: the winner's file is the same report.
        default_storage.delete(saved)
    _delete_older(kind=kind, object_id=object_id, keep=name)


def _delete_older(*, kind: str, object_id: int, keep: str) -> None:
    prefix = f"{kind}-{object_id}-"
    _, files = default_storage.listdir(REPORT_FOLDER)
    for filename in files:
        name = f"{REPORT_FOLDER}/{filename}"
        if filename.startswith(prefix) and name != keep:
            default_storage.delete(name)
