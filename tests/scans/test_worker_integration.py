"""A real Celery worker on the configured broker (filesystem here, Redis in CI), consuming both
queues, runs the real engine on a real scan uploaded through the API, then the offline
explainer (no Gemini key in tests), and the API reports the result with its explanation."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery_app import app
from scans.ml.classes import CLASS_NAMES
from tests.conftest import dataset_image, require_broker, require_weights, token_client
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 240


def test_a_real_worker_classifies_an_uploaded_scan(team, owner):
    require_weights()
    require_broker()
    path = dataset_image("pituitary")
    patient = PatientFactory(team=team, created_by=owner)
    client = token_client(owner)

    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        image = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
        response = client.post(f"/api/v1/patients/{patient.pk}/scans/", {"image": image}, format="multipart")
        assert response.status_code == 202, response.content
        scan_url = response["Location"]
        deadline = time.monotonic() + TIMEOUT_S
        body = client.get(scan_url).json()
        while body["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.3)
            body = client.get(scan_url).json()

    assert body["status"] == "done", body
    explanation = body["explanation"]
    assert (explanation["provider"], explanation["status"], explanation["is_fallback"]) == ("offline", "done", False)
    assert explanation["content"]["summary"] and explanation["text"].startswith("Summary")
    [prediction] = body["predictions"]
    assert prediction["label"] in CLASS_NAMES
    assert prediction["timings"]["total_ms"] > 0
    for url in (body["image_url"], prediction["gradcam_url"], prediction["saliency_url"]):
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")
