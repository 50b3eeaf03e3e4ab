"""A worker process killed in the middle of a scan: the broker delivers the task again
(acks_late + reject_on_worker_lost) and the scan completes exactly once."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from scans import tasks
from scans.models import Scan
from tests.conftest import REPO_ROOT, require_broker
from tests.factories import ScanFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_worker_killed_mid_scan_still_completes_it_exactly_once(tmp_path, private_media):
    require_broker()
    scan = ScanFactory()
    marker = tmp_path / "crashed"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TEST_TMP_DIR": str(settings.TEST_TMP_DIR),
        "CRASH_MEDIA_ROOT": str(private_media),
        "CRASH_MARKER": str(marker),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.scans.crash_worker",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "--queues",
        "ml,default",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "--loglevel",
        "INFO",
    ]
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            tasks.classify_scan.delay(scan.pk)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                scan.refresh_from_db()
                if scan.status in (Scan.Status.DONE, Scan.Status.FAILED):
                    break
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    worker_log = log.read_text()
    assert marker.exists(), worker_log
    assert "WorkerLostError" in worker_log or "signal 9" in worker_log, worker_log
    assert scan.status == Scan.Status.DONE, worker_log
    assert scan.attempts == 2
    assert scan.predictions.count() == 1
