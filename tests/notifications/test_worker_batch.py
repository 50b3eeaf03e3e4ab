"""A real Celery worker on the configured broker (filesystem here, Redis in CI) runs the real
engine on five scans sent the way the upload page sends them (one request each, one batch
key, then close): the uploader gets exactly one email and one notification."""

import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery_app import app
from notifications.models import Notification
from scans.models import Scan
from tests.conftest import dataset_image, require_broker, require_weights, session_client
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 300
BATCH_SIZE = 5


def test_a_five_scan_batch_ends_with_one_email_and_one_notification(team, owner, mailoutbox):
    require_weights()
    require_broker()
    owner.email = "owner@example.org"
    owner.save()
    patient = PatientFactory(team=team, created_by=owner, display_name="Alan Turing", medical_record_number="MRN-1912")
    client = session_client(owner)
    key = str(uuid.uuid4())
    labels = ("glioma", "meningioma", "notumor", "pituitary", "glioma")

    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        for i, label in enumerate(labels):
            path = dataset_image(label, index=i)
            image = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
            response = client.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image, "batch": key})
            assert response.status_code == 202, response.content
        assert client.post(f"/api/v1/upload-batches/{key}/close/").status_code == 204
        deadline = time.monotonic() + TIMEOUT_S
        while not Notification.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        # Give a wrongly repeated notification the chance to appear before counting.
        time.sleep(2)

    assert Scan.objects.filter(patient=patient, status=Scan.Status.DONE).count() == BATCH_SIZE
    [notification] = Notification.objects.filter(recipient=owner)
    assert notification.message.startswith(f"Your upload of {BATCH_SIZE} scans is finished: {BATCH_SIZE} done")
    [email] = mailoutbox
    assert email.to == ["owner@example.org"]
    assert "Alan" not in email.body and "MRN-1912" not in email.body
