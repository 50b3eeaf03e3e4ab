"""The web process must never import TensorFlow (it would cost seconds and gigabytes), nor
the Gemini SDK, which only the worker's explain_scan needs."""

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

PROBE = """
import sys, django
django.setup()
import config.urls, config.wsgi, scans.api.views, scans.api.files, scans.services, scans.tasks, health.views
from django.test import Client
Client().get("/healthz")
heavy = sorted(m for m in ("tensorflow", "keras", "scans.ml.inference", "google.genai") if m in sys.modules)
print(",".join(heavy) or "clean")
"""


def test_importing_the_web_side_does_not_import_tensorflow():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "clean"


def test_production_settings_pass_the_deploy_checklist():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 64 + "-not-a-real-secret-but-long-and-random-enough",
        "DJANGO_ALLOWED_HOSTS": "portal.example.org",
        "DATABASE_URL": "postgres://portal@db.invalid:5432/portal",
        "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DATABASE_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
