"""Shared fixtures: the people of the access grid, API clients, private media per test, and
`require`, the one place that decides whether a missing resource skips or fails a test."""

import os
from pathlib import Path

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import TeamFactory, UserFactory

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASET_DIR = REPO_ROOT.parent / "shared" / "datasets" / "brain-tumor-mri"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skips the calling test when `condition` is false — except under CI=true, where a
    missing dataset, weights file or service is a failure: CI must run every test."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def team(db):
    return TeamFactory(name="Neuro A")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Neuro B")


@pytest.fixture
def owner(team):
    return UserFactory(username="owner", teams=[team])


@pytest.fixture
def teammate(team):
    return UserFactory(username="teammate", teams=[team])


@pytest.fixture
def outsider(other_team):
    return UserFactory(username="outsider", teams=[other_team])


@pytest.fixture
def staff_reviewer(team):
    """A staff reviewer of the owner's team: sees what the team sees."""
    return UserFactory(username="reviewer", role=User.Role.REVIEWER, is_staff=True, teams=[team])


@pytest.fixture
def outside_superuser(other_team):
    """Staff flags without membership grant nothing: this one sees other teams as 404."""
    return UserFactory(username="superuser", is_staff=True, is_superuser=True, teams=[other_team])


@pytest.fixture
def api_client():
    return APIClient()


def token_client(user: User) -> APIClient:
    client = APIClient()
    _, token = AuthToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def session_client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def owner_api(owner):
    return token_client(owner)


@pytest.fixture
def fake_weights(monkeypatch):
    """The custom CNN counts as installed and Xception as absent, whatever weights/ holds,
    for tests of the web side that never run the engine."""
    from scans.ml import registry

    monkeypatch.setattr(registry, "weights_available", lambda name: name == "custom_cnn")


def dataset_image(label: str = "glioma", index: int = 0) -> Path:
    """A real scan from the shared dataset (never copied into the repository)."""
    folder = DATASET_DIR / "Training" / label
    require(folder.is_dir(), f"the shared dataset is missing at {DATASET_DIR}")
    return sorted(folder.iterdir())[index]


def require_weights(name: str = "custom_cnn") -> None:
    from scans.ml import registry

    require(registry.weights_available(name), f"the {name} weights are not installed in weights/")


def require_broker() -> None:
    from config.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
    except Exception as error:
        require(False, f"the broker at {app.conf.broker_url} is unreachable ({error})")
