"""`make run` serves no debug page: Django's debug 404 and 500 pages list the URL conf,
settings and source code to anyone who asks."""

import re
import subprocess
import sys

from tests.conftest import REPO_ROOT

REQUEST_AN_UNKNOWN_PAGE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
response = Client().get("/no-such-page/", HTTP_HOST="127.0.0.1")
print(settings.DEBUG, response.status_code, b"Using the URLconf" in response.content)
"""


def _make_run_debug_default() -> str:
    """The DJANGO_DEBUG that bin/run-local exports for `make run` (its non-dev branch)."""
    script = (REPO_ROOT / "bin" / "run-local").read_text()
    run_branch = script.split("else", 1)[1].split("fi", 1)[0]
    return re.search(r'export DJANGO_DEBUG="\$\{DJANGO_DEBUG:-(\w+)\}"', run_branch).group(1)


def test_make_run_turns_debug_off(tmp_path):
    debug = _make_run_debug_default()
    done = subprocess.run(
        [sys.executable, "-c", REQUEST_AN_UNKNOWN_PAGE],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": debug,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "BROKER_DIR": str(tmp_path / "broker"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "404", "False"]
