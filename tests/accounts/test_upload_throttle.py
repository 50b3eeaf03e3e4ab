"""Uploads are rate-limited per user; reading and polling never are."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import require, token_client
from tests.factories import PatientFactory, UserFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit(settings):
    cache.clear()
    settings.UPLOAD_RATE_LIMIT = "3/hour"
    yield
    cache.clear()


def upload(client, patient):
    image = SimpleUploadedFile("scan.png", png_bytes(), content_type="image/png")
    return client.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image}, format="multipart")


def test_uploads_over_the_limit_answer_429(limit, owner, team, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    api = token_client(owner)
    statuses = [upload(api, patient).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]


def test_the_limit_is_per_user(limit, owner, team, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    for _ in range(3):
        upload(token_client(owner), patient)
    teammate = UserFactory(username="teammate-2", teams=[team])
    assert upload(token_client(teammate), patient).status_code == 202


def test_reading_and_polling_are_never_throttled(limit, owner, team):
    patient = PatientFactory(team=team, created_by=owner)
    api = token_client(owner)
    assert {api.get(f"/api/v1/patients/{patient.pk}/scans/").status_code for _ in range(10)} == {200}


def test_a_form_with_more_than_twenty_files_is_refused(client, owner, team, settings):
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 20
    patient = PatientFactory(team=team, created_by=owner)
    client.force_login(owner)
    files = [SimpleUploadedFile(f"{i}.png", png_bytes(), content_type="image/png") for i in range(21)]
    response = client.post("/upload/", {"patient": patient.pk, "images": files})
    assert response.status_code == 400


REDIS_CACHE = "redis://127.0.0.1:6379/14"


@pytest.fixture
def shared_cache(settings):
    """The upload limit counted in Redis, as CACHE_URL=redis://… sets it for several web processes."""
    import environ
    import redis

    try:
        redis.Redis.from_url(REDIS_CACHE, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        require(False, f"Redis at {REDIS_CACHE} is unreachable ({error})")
    settings.CACHES = {"default": environ.Env.cache_url_config(REDIS_CACHE)}
    settings.UPLOAD_RATE_LIMIT = "2/hour"
    cache.clear()
    yield redis.Redis.from_url(REDIS_CACHE)
    cache.clear()


def test_with_a_shared_cache_every_web_process_sees_one_count(shared_cache, owner, team, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    assert [upload(token_client(owner), patient).status_code for _ in range(2)] == [202, 202]
    # Another process reads the same count from Redis: emptying it there lets the user upload again.
    assert shared_cache.keys("*throttle_upload*")
    assert upload(token_client(owner), patient).status_code == 429
    shared_cache.flushdb()
    assert upload(token_client(owner), patient).status_code == 202
