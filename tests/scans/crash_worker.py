"""A Celery app module for `celery -A tests.scans.crash_worker worker`, started by
test_worker_crash: the same app and pipeline, with a stub engine whose first call kills
its own worker process, as the kernel's OOM killer or a power cut would."""

import os
import signal

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

from django.conf import settings  # noqa: E402

from config.celery_app import app  # noqa: E402
from scans import pipeline  # noqa: E402
from tests.scans.stub_engine import StubEngine  # noqa: E402

settings.MEDIA_ROOT = os.environ["CRASH_MEDIA_ROOT"]
MARKER = os.environ["CRASH_MARKER"]


class CrashOnceEngine(StubEngine):
    def predict(self, image_bytes: bytes):
        if not os.path.exists(MARKER):
            open(MARKER, "w").close()  # noqa: SIM115
            os.kill(os.getpid(), signal.SIGKILL)
        return super().predict(image_bytes)


pipeline._engine = CrashOnceEngine
# Warming up would spend the one crash before any scan arrives.
pipeline.engines_preload = lambda: None

__all__ = ["app"]
