import ast
import logging
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import default_storage

from scans import pipeline, tasks
from scans.ml import registry
from scans.ml.errors import ImageError, WeightsError
from scans.models import Outcome, Prediction, Scan
from tests.factories import ScanFactory, stored_files
from tests.scans.stub_engine import REFUSED, UNCERTAIN, StubEngine


@pytest.fixture
def engines(monkeypatch):
    made: dict[str, StubEngine] = {}

    def engine(name: str) -> StubEngine:
        return made.setdefault(name, StubEngine(name))

    monkeypatch.setattr(pipeline, "_engine", engine)
    return made


def failing_engine(monkeypatch, error: Exception) -> None:
    monkeypatch.setattr(pipeline, "_engine", lambda name: StubEngine(name, error=error))


@pytest.fixture
def scan(db):
    return ScanFactory()


def test_it_stores_one_prediction_per_requested_model_and_the_task_queues_the_explanation(
    scan, engines, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.explain_scan, "delay", queued.append)
    scan.requested_models = ["custom_cnn", "xception"]
    scan.save()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.classify_scan.run(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.CLASSIFIED
    assert scan.attempts == 1
    assert queued == [scan.pk]
    assert sorted(p.model_name for p in scan.predictions.all()) == ["custom_cnn", "xception"]


def test_a_second_run_stores_nothing_and_queues_no_second_explanation(
    scan, engines, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.explain_scan, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.classify_scan(scan.pk) is True
        tasks.classify_scan.run(scan.pk)
    assert pipeline.classify_scan(scan.pk) is False
    assert queued == []  # the first run was the pipeline's alone: only the task queues


def test_the_pipeline_does_not_import_the_tasks_that_import_it():
    tree = ast.parse(Path(pipeline.__file__).read_text())
    imported = [
        f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert "scans.models.Scan" in imported  # the walk sees the imports
    assert [name for name in imported if name.startswith("scans.tasks")] == []


def test_it_records_the_engine_outputs_with_timings(scan, engines):
    pipeline.classify_scan(scan.pk)
    prediction = scan.predictions.get()
    assert prediction.model_version == "f" * 64
    assert prediction.label == "meningioma"
    assert prediction.probabilities["meningioma"] == pytest.approx(0.8)
    assert prediction.gradcam_stats["quadrant"] == "lower-left"
    assert {"decode", "inference", "gradcam", "saliency", "storage", "total_ms"} <= set(prediction.timings)
    assert prediction.timings["total_ms"] > 0
    assert default_storage.exists(prediction.gradcam.name)
    assert default_storage.exists(prediction.saliency.name)


def test_is_idempotent(scan, engines):
    pipeline.classify_scan(scan.pk)
    pipeline.classify_scan(scan.pk)
    assert Prediction.objects.filter(scan=scan).count() == 1
    assert engines["custom_cnn"].calls == 1
    assert len(stored_files()) == 3  # the scan and one pair of overlays


def test_a_concurrent_run_that_finishes_second_keeps_the_first_result(scan, engines, monkeypatch):
    real_store = pipeline._store_results

    def other_run_commits_first(scan_id, outputs, started):
        Scan.objects.filter(pk=scan_id).update(status=Scan.Status.CLASSIFIED)
        return real_store(scan_id, outputs, started)

    monkeypatch.setattr(pipeline, "_store_results", other_run_commits_first)
    pipeline.classify_scan(scan.pk)
    assert not Prediction.objects.exists()
    assert stored_files() == [scan.image.name]


def test_a_redelivered_task_completes_a_scan_left_processing(scan, engines):
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.PROCESSING, attempts=1)
    pipeline.classify_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.CLASSIFIED
    assert scan.attempts == 2


def test_it_ignores_a_deleted_scan(db, engines):
    pipeline.classify_scan(123456)
    assert not engines


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ImageError("The image could not be decoded."), "The image could not be decoded."),
        (WeightsError("weights/custom_cnn.weights.h5 does not match its card"), "does not match its card"),
        (SoftTimeLimitExceeded(), "took too long"),
        (RuntimeError("boom"), "internal error"),
    ],
)
def test_a_failure_ends_failed_with_a_readable_message(scan, monkeypatch, error, message):
    failing_engine(monkeypatch, error)
    pipeline.classify_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert message in scan.error
    assert not scan.predictions.exists()


def test_a_failed_scan_is_not_retried_by_a_second_delivery(scan, monkeypatch):
    failing_engine(monkeypatch, WeightsError("weights missing"))
    pipeline.classify_scan(scan.pk)
    pipeline.classify_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert scan.attempts == 1


def test_it_gives_up_after_the_attempt_cap(scan, engines, settings):
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.PROCESSING, attempts=settings.SCAN_MAX_ATTEMPTS)
    pipeline.classify_scan(scan.pk)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert "gave up after 3 attempts" in scan.error
    assert not engines


def test_a_refused_image_is_a_result_stored_with_its_reason_not_a_failure(scan, monkeypatch):
    monkeypatch.setattr(pipeline, "_engine", lambda name: StubEngine(name, result=REFUSED))
    pipeline.classify_scan(scan.pk)
    scan.refresh_from_db()
    assert (scan.status, scan.error) == (Scan.Status.CLASSIFIED, "")
    prediction = scan.predictions.get()
    assert prediction.outcome == Outcome.REFUSED
    assert prediction.outcome_reason.startswith("Not recognised as a brain MRI slice: colour image")
    assert prediction.ood_score == pytest.approx(7.5)
    # The raw answer is kept for researchers.
    assert prediction.probabilities["notumor"] == pytest.approx(0.99)


def test_an_uncertain_result_is_stored_as_uncertain_with_its_reason(scan, monkeypatch):
    monkeypatch.setattr(pipeline, "_engine", lambda name: StubEngine(name, result=UNCERTAIN))
    pipeline.classify_scan(scan.pk)
    prediction = scan.predictions.get()
    assert (prediction.outcome, prediction.label) == (Outcome.UNCERTAIN, "glioma")
    assert prediction.outcome_reason.startswith("Uncertain — needs a radiologist's read")


def test_a_classified_result_has_no_reason_and_keeps_its_score(scan, engines):
    pipeline.classify_scan(scan.pk)
    prediction = scan.predictions.get()
    assert (prediction.outcome, prediction.outcome_reason) == (Outcome.CLASSIFIED, "")
    assert prediction.ood_score == pytest.approx(0.9)


def test_the_pipeline_logs_no_patient_identifiers(scan, engines, caplog):
    caplog.set_level(logging.DEBUG)
    pipeline.classify_scan(scan.pk)
    assert f"scan {scan.pk} classified" in caplog.text
    assert scan.patient.medical_record_number not in caplog.text
    assert scan.patient.display_name not in caplog.text


def test_preloading_loads_each_installed_model_once(engines, fake_weights):
    pipeline.engines_preload()
    assert list(engines) == ["custom_cnn"]


def test_preloading_logs_a_bad_weights_file_instead_of_crashing(monkeypatch, fake_weights, caplog):
    def bad(name):
        raise WeightsError("weights/custom_cnn.weights.h5 does not match its card")

    monkeypatch.setattr(pipeline, "_engine", bad)
    pipeline.engines_preload()
    assert "does not match its card" in caplog.text


def test_the_worker_start_report_names_a_corrupted_weights_file(monkeypatch, caplog):
    def corrupted(name):
        raise WeightsError(f"Weights file weights/{name}.weights.h5 does not match its card")

    monkeypatch.setattr(registry, "weights_available", lambda name: name == "custom_cnn")
    monkeypatch.setattr(registry, "verify_weights", corrupted)
    # A worker started earlier in the session may have raised this logger's level.
    caplog.set_level(logging.INFO, logger="scans.pipeline")
    pipeline.weights_report()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["model custom_cnn: Weights file weights/custom_cnn.weights.h5 does not match its card"]
    assert "model xception: weights not installed" in caplog.text


def test_overlays_drawn_before_a_failed_commit_are_deleted(scan, engines, monkeypatch):
    from django import db

    def database_gone(*args, **kwargs):
        raise db.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pipeline, "_store_results", database_gone)
    with pytest.raises(db.OperationalError):
        pipeline.classify_scan(scan.pk)
    assert stored_files() == [scan.image.name]
