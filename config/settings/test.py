"""Settings for the test suite: fast hashing, media and broker folders in temporary dirs."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_URL, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-insecure-key")
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests never touch the developer's var/: conftest also points MEDIA_ROOT at each test's tmp_path.
_TMP = Path(tempfile.mkdtemp(prefix="mri-portal-test-"))
MEDIA_ROOT = _TMP / "media"
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = _TMP / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
    }
