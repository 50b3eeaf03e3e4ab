"""The one function that stores an image: private storage, generated name, PNG bytes."""

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

SCAN_FOLDER = "scans"
OVERLAY_FOLDER = "overlays"


def image_store(*, png: bytes, folder: str) -> str:
    """Saves PNG bytes under `folder/<uuid4>.png` and returns the storage name.

    The name never comes from the user, so a file called `../../x.png` cannot choose where it
    lands; the storage location is outside every URL the site serves.
    """
    return default_storage.save(f"{folder}/{uuid.uuid4().hex}.png", ContentFile(png))


def image_delete(*, name: str) -> None:
    if name:
        default_storage.delete(name)
