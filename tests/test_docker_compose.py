"""Docker cannot run here, so this reads docker-compose.yml and the Dockerfile and checks that
every command, module, queue, URL and setting they use exists in the project."""

import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PORTAL = {name: s for name, s in SERVICES.items() if s.get("build")}
# Read by libraries from the environment rather than by our settings.
LIBRARY_VARIABLES = {"DJANGO_SETTINGS_MODULE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def _settings_variables() -> set[str]:
    text = "".join(p.read_text() for p in (REPO_ROOT / "config" / "settings").glob("*.py"))
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', text))


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _module_file(dotted: str) -> Path:
    return REPO_ROOT / (dotted.replace(".", "/") + ".py")


def test_it_has_every_role_of_the_architecture():
    assert {"postgres", "redis", "minio", "web", "worker-ml", "worker-default", "beat", "migrate"} <= set(SERVICES)


def test_every_portal_role_is_one_image_built_from_the_dockerfile():
    assert {s["image"] for s in PORTAL.values()} == {"mri-portal:latest"}
    assert {s["build"] for s in PORTAL.values()} == {"."}
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (REPO_ROOT / copied).exists(), copied


def test_the_programs_it_runs_are_pinned_requirements():
    pinned = {
        line.split("==")[0].split("[")[0].lower()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    programs = {_command(s)[0] for s in PORTAL.values()}
    assert programs == {"python", "gunicorn", "celery"}
    assert {"gunicorn", "celery", "whitenoise", "django-storages", "psycopg"} <= pinned


def test_web_serves_the_wsgi_application_with_gunicorn():
    command = _command(SERVICES["web"])
    module, attribute = command[1].split(":")
    assert command[0] == "gunicorn"
    assert f"{attribute} = " in _module_file(module).read_text()


def test_the_workers_use_the_celery_app_and_existing_queues():
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE} | {r["queue"] for r in settings.CELERY_TASK_ROUTES.values()}
    consumed = set()
    for name in ("worker-ml", "worker-default", "beat"):
        command = _command(SERVICES[name])
        assert _module_file(_option(command, "-A")).is_file()
        if "worker" in command:
            consumed |= set(_option(command, "--queues").split(","))
    assert consumed == queues == {"ml", "default"}
    assert _option(_command(SERVICES["worker-ml"]), "--concurrency") == "1"
    assert settings.CELERY_BEAT_SCHEDULE


def test_manage_py_commands_exist():
    for service in PORTAL.values():
        command = _command(service)
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in get_commands()


def test_the_web_health_check_calls_healthz():
    test = " ".join(SERVICES["web"]["healthcheck"]["test"])
    url = re.search(r"http://localhost:8000(/\S*?)'", test).group(1)
    assert url == "/healthz"
    assert resolve(url).func.__name__ == "healthz"


@pytest.mark.parametrize("name", sorted(PORTAL))
def test_every_environment_variable_is_read_by_the_settings(name):
    environment = PORTAL[name]["environment"]
    unknown = set(environment) - _settings_variables() - LIBRARY_VARIABLES
    assert not unknown
    module = environment["DJANGO_SETTINGS_MODULE"]
    assert _module_file(module).is_file()


def test_media_goes_to_the_minio_bucket_through_django_storages():
    environment = SERVICES["web"]["environment"]
    assert environment["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    bucket_job = " ".join(SERVICES["minio-bucket"]["command"])
    assert f"local/{environment['AWS_STORAGE_BUCKET_NAME']}" in bucket_job
    assert "storages.backends.s3.S3Storage" in (REPO_ROOT / "config/settings/production.py").read_text()


def test_dependencies_wait_for_health_and_volumes_are_declared():
    for service in SERVICES.values():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], dependency
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])}
    assert used == set(COMPOSE["volumes"])


def test_static_files_are_collected_in_the_image_and_served_by_whitenoise():
    assert "collectstatic --noinput" in (REPO_ROOT / "Dockerfile").read_text()
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in (REPO_ROOT / "config/settings/production.py").read_text()
