"""The one function that stores an image: private storage, generated name, PNG bytes."""

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

SCAN_FOLDER = "scans"
OVERLAY_FOLDER = "overlays"
# Uploads as they came, checked but not yet re-encoded (scans.intake).
INCOMING_FOLDER = "incoming"


def image_store(*, png: bytes, folder: str) -> str:
    """Saves PNG bytes under `folder/<uuid4>.png` and returns the storage name.

    The name never comes from the user, so a file called `../../x.png` cannot choose where it
    lands; the storage location is outside every URL the site serves.
    """
    return default_storage.save(f"{folder}/{uuid.uuid4().hex}.png", ContentFile(png))


def upload_store(*, data: bytes) -> str:
    """Saves an upload's checked bytes under `incoming/<uuid4>` until the worker re-encodes it."""
    return default_storage.save(f"{INCOMING_FOLDER}/{uuid.uuid4().hex}", ContentFile(data))


def image_delete(*, name: str) -> None:
    if name:
        default_storage.delete(name)
