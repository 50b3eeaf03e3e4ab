"""Settings for the test suite: fast hashing, media and broker folders in temporary dirs."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_URL, DATABASES, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-insecure-key")
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A developer's own key must never make the suite call Gemini: tests that want Gemini point
# these at the local fake server (tests/explain/fake_gemini.py).
GEMINI_API_KEY = ""
GEMINI_BASE_URL = ""
# The suite uploads hundreds of files as the same few user ids, in one process: no upload rate
# limit except in the tests of the limit itself.
UPLOAD_RATE_LIMIT = None

# Tests never touch the developer's var/: conftest also points MEDIA_ROOT at each test's tmp_path.
# A worker started by a test in another process is handed TEST_TMP_DIR to share this folder.
TEST_TMP_DIR = Path(os.environ.get("TEST_TMP_DIR") or tempfile.mkdtemp(prefix="mri-portal-test-"))
MEDIA_ROOT = TEST_TMP_DIR / "media"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's default in-memory database, so that a worker process can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_TMP_DIR / "test.sqlite3")}
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = TEST_TMP_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
    }
