import pytest

from scans.ml.classes import CLASS_NAMES
from scans.models import Explanation
from tests.conftest import token_client
from tests.factories import PatientFactory, PredictionFactory, ScanFactory


@pytest.fixture
def prediction(team, owner):
    return PredictionFactory(scan__patient=PatientFactory(team=team, created_by=owner))


def detail(client, scan_id):
    return client.get(f"/api/v1/scans/{scan_id}/")


def test_it_shows_status_predictions_and_urls(owner_api, prediction):
    body = detail(owner_api, prediction.scan_id).json()
    assert {"id", "patient", "status", "error", "created_at", "predictions", "explanation"} <= set(body)
    assert body["status"] == "done"
    [shown] = body["predictions"]
    assert shown["model"] == "custom_cnn"
    assert shown["model_version"] == prediction.model_version
    assert shown["label"] == "glioma"
    assert set(shown["probabilities"]) == set(CLASS_NAMES)
    assert shown["timings"]["total_ms"] == 50.0
    assert shown["gradcam_url"].startswith("http://testserver/api/v1/scans/")
    assert shown["saliency_url"].endswith("/predictions/custom_cnn/saliency/")


def test_the_explanation_is_null_until_written(owner_api, prediction):
    assert detail(owner_api, prediction.scan_id).json()["explanation"] is None
    Explanation.objects.create(scan=prediction.scan, provider="offline", status="done", text="Hot area lower left.")
    explanation = detail(owner_api, prediction.scan_id).json()["explanation"]
    assert explanation["provider"] == "offline"
    assert explanation["text"] == "Hot area lower left."


def test_a_failed_scan_shows_its_error(owner_api, team, owner):
    scan = ScanFactory(patient=PatientFactory(team=team, created_by=owner), status="failed", error="Weights missing.")
    body = detail(owner_api, scan.pk).json()
    assert (body["status"], body["error"]) == ("failed", "Weights missing.")


def test_another_teams_scan_looks_like_a_missing_one(outsider, prediction):
    client = token_client(outsider)
    assert detail(client, prediction.scan_id).json() == detail(client, 999999).json()


def test_polling_every_few_hundred_ms_is_never_throttled(owner_api, prediction):
    statuses = {detail(owner_api, prediction.scan_id).status_code for _ in range(60)}
    assert statuses == {200}


def test_reading_a_scan_takes_a_constant_number_of_queries(owner_api, prediction, django_assert_max_num_queries):
    PredictionFactory(scan=prediction.scan, model_name="xception")
    with django_assert_max_num_queries(8):
        detail(owner_api, prediction.scan_id)
