"""Uploads are rate-limited per user; reading and polling never are."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import token_client
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
