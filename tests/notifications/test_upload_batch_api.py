"""The upload page's files go to the API one by one with one batch key; closing the batch is
the uploader's alone."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notifications.models import UploadBatch
from tests.conftest import token_client
from tests.factories import PatientFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


def upload(client, patient, **fields):
    image = SimpleUploadedFile("slice.png", png_bytes(), content_type="image/png")
    return client.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image, **fields}, format="multipart")


def test_files_with_one_key_make_one_open_batch_until_it_is_closed(team, owner, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    client = token_client(owner)
    key = uuid.uuid4()

    for _ in range(3):
        assert upload(client, patient, batch=str(key)).status_code == 202

    batch = UploadBatch.objects.get(key=key)
    assert batch.scans.count() == 3 and batch.closed_at is None
    assert client.post(f"/api/v1/upload-batches/{key}/close/").status_code == 204
    batch.refresh_from_db()
    assert batch.closed_at is not None


def test_an_upload_without_a_key_is_a_batch_of_its_own_closed_at_once(team, owner, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)

    upload(token_client(owner), patient)

    batch = UploadBatch.objects.get()
    assert batch.scans.count() == 1 and batch.closed_at is not None


def test_another_users_batch_key_is_a_404(team, owner, teammate, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)
    key = uuid.uuid4()
    upload(token_client(owner), patient, batch=str(key))

    response = token_client(teammate).post(f"/api/v1/upload-batches/{key}/close/")

    assert response.status_code == 404
    assert UploadBatch.objects.get(key=key).closed_at is None


def test_a_malformed_key_is_a_400(team, owner, fake_weights):
    patient = PatientFactory(team=team, created_by=owner)

    response = upload(token_client(owner), patient, batch="not-a-uuid")

    assert response.status_code == 400
    assert "batch" in response.json()
