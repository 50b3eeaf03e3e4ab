"""The pipeline with the real engine on real scans from the shared dataset."""

import pytest
from django.core.files.storage import default_storage

from scans import pipeline
from scans.images import image_clean
from scans.ml.classes import CLASS_NAMES
from scans.models import Prediction, Scan
from scans.storage import SCAN_FOLDER, image_store
from tests.conftest import DATASET_DIR, dataset_image, require, require_weights
from tests.factories import ScanFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


NOT_BRAIN_MRI = DATASET_DIR.parent / "not-brain-mri"


def stored_scan(data: bytes) -> Scan:
    clean = image_clean(data=data, max_bytes=20 * 1024 * 1024, max_pixels=40_000_000)
    return ScanFactory(image=image_store(png=clean.png, folder=SCAN_FOLDER), width=clean.width, height=clean.height)


@pytest.fixture
def real_scan():
    require_weights()
    return stored_scan(dataset_image("meningioma").read_bytes())


@pytest.fixture
def chest_xray_scan():
    require_weights()
    require(NOT_BRAIN_MRI.is_dir(), f"the non-MRI development set is missing at {NOT_BRAIN_MRI}")
    return stored_scan(sorted((NOT_BRAIN_MRI / "chest_xray").iterdir())[0].read_bytes())


def test_a_chest_x_ray_ends_done_refused_with_its_reason(chest_xray_scan):
    pipeline.classify_scan(chest_xray_scan.pk)
    pipeline.explain_scan(chest_xray_scan.pk)
    chest_xray_scan.refresh_from_db()
    assert (chest_xray_scan.status, chest_xray_scan.error) == (Scan.Status.DONE, "")
    prediction = chest_xray_scan.predictions.get()
    assert prediction.outcome == "refused" and prediction.ood_score > 1
    assert prediction.outcome_reason.startswith("Not recognised as a brain MRI slice")
    assert chest_xray_scan.explanation.content["summary"].startswith(prediction.outcome_reason)


def test_the_real_engine_produces_a_complete_prediction(real_scan):
    pipeline.classify_scan(real_scan.pk)
    real_scan.refresh_from_db()
    assert real_scan.status == Scan.Status.CLASSIFIED, real_scan.error
    prediction = real_scan.predictions.get()
    assert prediction.label in CLASS_NAMES
    assert set(prediction.probabilities) == set(CLASS_NAMES)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert prediction.confidence == pytest.approx(prediction.probabilities[prediction.label])
    assert len(prediction.model_version) == 64
    for name in (prediction.gradcam.name, prediction.saliency.name):
        with default_storage.open(name, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert {"decode", "inference", "gradcam", "saliency", "storage", "total_ms"} <= set(prediction.timings)
    assert prediction.gradcam_stats["quadrant"]
    assert prediction.outcome == "classified" and prediction.outcome_reason == ""
    assert prediction.ood_score > 0


def test_is_idempotent_with_the_real_engine(real_scan):
    pipeline.classify_scan(real_scan.pk)
    pipeline.classify_scan(real_scan.pk)
    assert Prediction.objects.filter(scan=real_scan).count() == 1


def test_the_real_engine_output_is_explained_offline(real_scan):
    """The stored scan and Grad-CAM overlay are metadata-free PNGs that scans.explain accepts."""
    pipeline.classify_scan(real_scan.pk)
    pipeline.explain_scan(real_scan.pk)
    real_scan.refresh_from_db()
    assert real_scan.status == Scan.Status.DONE
    explanation = real_scan.explanation
    assert (explanation.provider, explanation.status, explanation.is_fallback) == ("offline", "done", False)
    assert explanation.content["summary"]
