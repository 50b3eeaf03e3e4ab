"""The pipeline with the real engine on real scans from the shared dataset."""

import pytest
from django.core.files.storage import default_storage

from scans import pipeline
from scans.images import image_clean
from scans.ml.classes import CLASS_NAMES
from scans.models import Prediction, Scan
from scans.storage import SCAN_FOLDER, image_store
from tests.conftest import dataset_image, require_weights
from tests.factories import ScanFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def real_scan():
    require_weights()
    data = dataset_image("meningioma").read_bytes()
    clean = image_clean(data=data, max_bytes=20 * 1024 * 1024, max_pixels=40_000_000)
    return ScanFactory(image=image_store(png=clean.png, folder=SCAN_FOLDER), width=clean.width, height=clean.height)


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
