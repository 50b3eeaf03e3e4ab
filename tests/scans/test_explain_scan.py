"""The explain_scan step: one explanation per classified scan (Gemini's through the local fake
server, or the offline explainer's), the scan finished either way, the classification untouched."""

import base64
import json
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django import db
from django.conf import settings as django_settings
from django.utils import timezone

from config.celery_app import app
from scans import pipeline, tasks
from scans.models import Explanation, Prediction, Scan
from tests.explain.fake_gemini import FakeGemini, error, ok
from tests.factories import PatientFactory, PredictionFactory, ScanFactory

pytestmark = pytest.mark.django_db

GEMINI_CONTENT = {
    "summary": "The model favours a glioma; a radiologist must confirm.",
    "regions": ["Custom CNN: hot area in the left hemisphere."],
    "supporting_findings": ["Off the midline, where gliomas arise."],
    "caveats": ["A heat map is not a lesion outline."],
}

GRADCAM_STATS = {
    "hot_fraction": 0.12,
    "centroid": {"x": 0.3, "y": 0.6},
    "peak": {"x": 0.29, "y": 0.58},
    "bbox": {"x0": 0.2, "y0": 0.5, "x1": 0.4, "y1": 0.7},
    "quadrant": "lower-left",
    "side": "left",
    "vertical": "middle",
}


@pytest.fixture
def scan():
    patient = PatientFactory(
        medical_record_number="MRN-7741-XQ", display_name="Ada Lovelace", birth_year=1957, notes="Seen by Dr Quill"
    )
    scan = ScanFactory(patient=patient, status=Scan.Status.CLASSIFIED, original_filename="lovelace_ada_t1.png")
    PredictionFactory(scan=scan, gradcam_stats=GRADCAM_STATS)
    return scan


@pytest.fixture
def gemini(settings, monkeypatch):
    """Gemini configured and pointed at the local fake server, with tiny back-off."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    fake = FakeGemini()
    fake.start()
    settings.GEMINI_API_KEY = "test-key-123"
    settings.GEMINI_BASE_URL = fake.base_url
    settings.GEMINI_TIMEOUT_SECONDS = 7
    settings.GEMINI_MAX_ATTEMPTS = 3
    settings.GEMINI_BACKOFF_SECONDS = 0.01
    settings.GEMINI_BACKOFF_CAP_SECONDS = 0.02
    settings.GEMINI_BUDGET_SECONDS = 10
    yield fake
    fake.stop()


def predictions_of(scan) -> list[tuple]:
    return list(Prediction.objects.filter(scan=scan).values_list("pk", "label", "confidence", "probabilities"))


def test_without_a_key_it_writes_an_offline_explanation_and_finishes(scan):
    pipeline.explain_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    assert scan.finished_at is not None
    explanation = scan.explanation
    assert (explanation.provider, explanation.status, explanation.is_fallback) == ("offline", "done", False)
    assert explanation.error == "no Gemini API key is configured"
    assert explanation.prompt_version == "offline-v3"
    assert set(explanation.content) == {"summary", "regions", "supporting_findings", "caveats"}
    assert "Custom CNN" in explanation.text
    assert explanation.attempts == 0


def test_with_gemini_it_stores_geminis_explanation(scan, gemini):
    gemini.reply_with(ok(GEMINI_CONTENT, model_version="gemini-test-flash-001"))
    pipeline.explain_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    explanation = scan.explanation
    assert (explanation.provider, explanation.model, explanation.status) == ("gemini", "gemini-test-flash-001", "done")
    assert explanation.content == GEMINI_CONTENT
    assert explanation.text.startswith("Summary\nThe model favours a glioma")
    assert (explanation.is_fallback, explanation.error, explanation.attempts) == (False, "", 1)
    assert explanation.latency_ms is not None
    assert gemini.requests[0].path.endswith("models/gemini-flash-latest:generateContent")


def test_an_outage_falls_back_offline_with_the_reason_and_keeps_the_predictions(scan, gemini):
    before = predictions_of(scan)
    gemini.reply_with(error(503, "UNAVAILABLE"))
    pipeline.explain_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    explanation = scan.explanation
    assert (explanation.provider, explanation.is_fallback, explanation.attempts) == ("offline", True, 3)
    assert "503" in explanation.error and "after 3 attempts" in explanation.error
    assert explanation.content["summary"]
    assert len(gemini.requests) == 3
    assert predictions_of(scan) == before


def test_is_idempotent(scan, gemini):
    gemini.reply_with(ok(GEMINI_CONTENT))
    tasks.explain_scan(scan.pk)
    tasks.explain_scan(scan.pk)
    assert Explanation.objects.filter(scan=scan).count() == 1
    assert len(gemini.requests) == 1
    assert Scan.objects.get(pk=scan.pk).status == Scan.Status.DONE


def test_the_request_to_gemini_carries_the_images_and_no_patient_identifiers(scan, gemini):
    gemini.reply_with(ok(GEMINI_CONTENT))
    pipeline.explain_scan(scan.pk)
    [request] = gemini.requests
    raw = request.raw
    for identifier in ("MRN-7741-XQ", "Ada Lovelace", "Lovelace", "1957", "Dr Quill", "lovelace_ada_t1"):
        assert identifier.lower().encode() not in raw.lower()
    assert b"test-key-123" in raw  # the key is a header, as the SDK sends it: the capture is whole
    with scan.image.open("rb") as handle:
        assert base64.urlsafe_b64encode(handle.read()) in raw
    overlay = scan.predictions.get().gradcam
    with overlay.open("rb") as handle:
        assert base64.urlsafe_b64encode(handle.read()) in raw


def test_text_privacy_sends_numbers_and_no_pixels(scan, gemini, settings):
    settings.GEMINI_PRIVACY = "text"
    gemini.reply_with(ok(GEMINI_CONTENT))
    pipeline.explain_scan(scan.pk)
    [request] = gemini.requests
    parts = request.json()["contents"][0]["parts"]
    assert [set(part) for part in parts] == [{"text"}]
    assert '"predicted_class": "glioma"' in parts[0]["text"]
    assert Explanation.objects.get(scan=scan).provider == "gemini"


def test_privacy_off_never_calls_gemini(scan, gemini, settings):
    settings.GEMINI_PRIVACY = "off"
    pipeline.explain_scan(scan.pk)
    assert gemini.requests == []
    explanation = Explanation.objects.get(scan=scan)
    assert (explanation.provider, explanation.is_fallback) == ("offline", False)
    assert "privacy" in explanation.error


def test_a_prediction_without_region_statistics_is_still_explained(scan):
    Prediction.objects.filter(scan=scan).update(gradcam_stats={})
    pipeline.explain_scan(scan.pk)
    explanation = Explanation.objects.get(scan=scan)
    assert explanation.status == "done"
    assert "no distinct hot area" in explanation.text


def test_both_models_get_one_explanation(scan, gemini):
    PredictionFactory(scan=scan, model_name="xception", label="meningioma", gradcam_stats=GRADCAM_STATS)
    gemini.reply_with(ok(GEMINI_CONTENT))
    pipeline.explain_scan(scan.pk)
    prompt = gemini.requests[0].json()["contents"][0]["parts"][0]["text"]
    assert '"model": "custom_cnn"' in prompt and '"model": "xception"' in prompt
    assert len(gemini.requests[0].json()["contents"][0]["parts"]) == 4  # prompt, scan, two overlays


@pytest.mark.parametrize(
    ("error_raised", "reason"),
    [
        (RuntimeError("boom"), "internal error (RuntimeError)"),
        (SoftTimeLimitExceeded(), "took too long"),
    ],
)
def test_an_unexpected_failure_writes_an_offline_fallback_and_finishes(scan, monkeypatch, error_raised, reason):
    def explain_fails(facts, config):
        raise error_raised

    monkeypatch.setattr(pipeline, "explain", explain_fails)
    before = predictions_of(scan)
    pipeline.explain_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    explanation = scan.explanation
    assert (explanation.provider, explanation.status, explanation.is_fallback) == ("offline", "done", True)
    assert reason in explanation.error
    assert predictions_of(scan) == before


def test_when_no_explanation_can_be_written_the_scan_still_finishes(scan):
    with scan.predictions.get().gradcam.open("wb") as handle:
        handle.write(b"not a png")
    pipeline.explain_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    explanation = scan.explanation
    assert (explanation.status, explanation.error) == ("failed", "internal error (ValueError)")


@pytest.mark.parametrize("status", [Scan.Status.QUEUED, Scan.Status.PROCESSING, Scan.Status.DONE, Scan.Status.FAILED])
def test_it_leaves_a_scan_that_is_not_classified_alone(scan, status):
    Scan.objects.filter(pk=scan.pk).update(status=status)
    pipeline.explain_scan(scan.pk)
    assert not Explanation.objects.filter(scan=scan).exists()
    assert Scan.objects.get(pk=scan.pk).status == status


def test_it_ignores_a_deleted_scan(db):
    pipeline.explain_scan(123456)
    assert not Explanation.objects.exists()


def test_a_run_in_progress_is_not_duplicated(scan, gemini):
    Explanation.objects.create(scan=scan, provider="gemini")
    pipeline.explain_scan(scan.pk)
    assert gemini.requests == []
    assert Scan.objects.get(pk=scan.pk).status == Scan.Status.CLASSIFIED


def test_a_claim_left_by_a_dead_worker_is_taken_over(scan):
    claim = Explanation.objects.create(scan=scan, provider="gemini")
    long_ago = timezone.now() - timedelta(seconds=django_settings.EXPLAIN_TIME_LIMIT + 1)
    Explanation.objects.filter(pk=claim.pk).update(created_at=long_ago)
    pipeline.explain_scan(scan.pk)
    explanation = Explanation.objects.get(scan=scan)
    assert explanation.pk != claim.pk and explanation.status == "done"
    assert Scan.objects.get(pk=scan.pk).status == Scan.Status.DONE


def test_the_same_message_delivered_again_takes_its_own_claim_over_at_once(scan, gemini):
    # A worker process killed mid-step, or a message handed back after a long database outage,
    # comes back with its task id: it waited for its own claim to go stale (minutes) before.
    gemini.reply_with(ok(GEMINI_CONTENT))
    claim = Explanation.objects.create(scan=scan, provider="gemini", claimed_by="delivery-1")
    tasks.explain_scan.apply(args=[scan.pk], task_id="delivery-2")
    assert gemini.requests == [] and Scan.objects.get(pk=scan.pk).status == Scan.Status.CLASSIFIED
    tasks.explain_scan.apply(args=[scan.pk], task_id="delivery-1")
    explanation = Explanation.objects.get(scan=scan)
    assert (explanation.pk, explanation.status, explanation.provider) == (claim.pk, "done", "gemini")
    assert len(gemini.requests) == 1
    assert Scan.objects.get(pk=scan.pk).status == Scan.Status.DONE


def test_a_delivery_claims_in_its_own_name(scan):
    tasks.explain_scan.apply(args=[scan.pk], task_id="delivery-3")
    assert Explanation.objects.get(scan=scan).claimed_by == "delivery-3"


def test_the_sweep_requeues_explanations_that_were_lost(scan, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.explain_scan, "delay", sent.append)
    monkeypatch.setattr(tasks.classify_scan, "delay", lambda scan_id: None)
    fresh = ScanFactory(status=Scan.Status.CLASSIFIED)
    long_ago = timezone.now() - django_settings.SCAN_RESEND_AFTER - timedelta(seconds=1)
    Scan.objects.exclude(pk=fresh.pk).update(updated_at=long_ago)
    tasks.sweep_stuck_scans()
    tasks.sweep_stuck_scans()
    assert sent == [scan.pk]


def test_the_task_runs_on_the_default_queue_with_a_time_limit_above_the_budget():
    assert app.amqp.router.route({}, tasks.explain_scan.name)["queue"].name == "default"
    # The test settings configure no key: nothing to protect, so no rate limit.
    assert tasks.explain_scan.rate_limit is None
    assert django_settings.GEMINI_BUDGET_SECONDS < tasks.explain_scan.soft_time_limit < tasks.explain_scan.time_limit


def test_the_explanation_logs_no_patient_identifiers(scan, gemini, caplog):
    gemini.reply_with(error(400, "INVALID_ARGUMENT"))
    pipeline.explain_scan(scan.pk)
    assert f"scan {scan.pk} explained" in caplog.text
    for identifier in ("MRN-7741-XQ", "Ada Lovelace", "Dr Quill", "lovelace_ada_t1"):
        assert identifier not in caplog.text
    assert json.dumps(Explanation.objects.get(scan=scan).content).find("Lovelace") == -1


class DatabaseAway:
    """Fails the first `times` queries that contain `sql_fragment` the way PostgreSQL fails
    them when it stops: a real OperationalError from the database layer, before the query runs."""

    def __init__(self, sql_fragment: str, times: int = 1):
        self.sql_fragment, self.left = sql_fragment, times

    def __call__(self, execute, sql, params, many, context):
        if self.left and self.sql_fragment in sql:
            self.left -= 1
            raise db.OperationalError("terminating connection due to administrator command")
        return execute(sql, params, many, context)


@pytest.mark.parametrize(
    "failing_query",
    [
        'UPDATE "scans_explanation"',  # storing it: the claim and Gemini's text are kept
        'FROM "scans_prediction"',  # reading the facts: retried, not written off as failed
    ],
)
def test_a_database_blip_mid_explanation_is_retried_to_the_end(scan, gemini, monkeypatch, failing_query):
    # The claim (the pending row) is this delivery's own: a retry that claimed afresh found it
    # and left, and the scan waited `classified` for minutes (make chaos, PostgreSQL down).
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    gemini.reply_with(ok(GEMINI_CONTENT))
    with db.connection.execute_wrapper(DatabaseAway(failing_query)):
        tasks.explain_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.DONE
    assert (scan.explanation.status, scan.explanation.provider) == ("done", "gemini")
    assert len(gemini.requests) == 1
