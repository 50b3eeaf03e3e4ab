"""A real case in Chromium: a real worker runs the real engine on real slices of one patient
acquired on three dates (and one upload without a date), a reviewer changes one result, and
the case history draws them on a time axis with the reviewer's result; the scan page shows
the real heat maps. With README_SCREENSHOTS=<folder> it also writes the README's pictures."""

import os
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from config.celery_app import app
from scans.models import Scan
from scans.services import scan_review
from tests.conftest import dataset_image, require_broker, require_weights, session_client
from tests.e2e.test_browser import browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 240
# (class folder, image index, acquisition date or None)
SLICES = [
    ("glioma", 10, "2024-03-11"),
    ("glioma", 11, "2024-03-11"),
    ("glioma", 12, "2024-09-02"),
    ("glioma", 13, "2025-02-14"),
    ("meningioma", 20, None),
]


def _small_png(page, path: Path, **options) -> None:
    """A screenshot reduced to a 256-colour palette: small enough for the README."""
    from PIL import Image

    page.screenshot(path=str(path), **options)
    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)


def _top(page, selector: str) -> dict:
    """The page from its top down to the element `selector` starts."""
    bottom = page.evaluate(f"() => document.querySelector('{selector}').getBoundingClientRect().top + window.scrollY")
    return {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": bottom}


def test_a_real_case_history_on_a_time_axis(live_server, browser_page, team, owner, staff_reviewer):  # noqa: F811
    require_weights()
    require_broker()
    patient = PatientFactory(team=team, created_by=owner, display_name="Demo Patient", medical_record_number="MRN-0042")
    api = session_client(owner)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        for folder, index, acquired in SLICES:
            path = dataset_image(folder, index)
            image = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
            data = {"image": image, **({"acquisition_date": acquired} if acquired else {})}
            response = api.post(f"/api/v1/patients/{patient.pk}/scans/", data, format="multipart")
            assert response.status_code == 202, response.content
        deadline = time.monotonic() + TIMEOUT_S
        while Scan.objects.exclude(status__in=("done", "failed")).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    scans = list(Scan.objects.filter(patient=patient).order_by("pk"))
    assert [s.status for s in scans] == ["done"] * len(SLICES), [s.error for s in scans]

    # The reviewer reads the undated slice as a glioma, whatever the model said.
    undated = scans[-1]
    model_label = undated.predictions.get().label
    verdict = {"verdict": "agree"} if model_label == "glioma" else {"verdict": "corrected", "corrected_label": "glioma"}
    scan_review(scan=undated, reviewer=staff_reviewer, **verdict)

    page = browser_page
    page.set_viewport_size({"width": 1100, "height": 900})
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('history-chart'))")
    chart = page.evaluate(
        """() => Chart.getChart(document.getElementById('history-chart')).data.datasets
            .flatMap(d => d.data.map(p => [p.point.x.slice(0, 10), p.point.dated, p.point.scans.length]))"""
    )
    dated = sorted(point for point in chart if point[1])
    # Two slices of 2024-03-11 are one exam (one point while both got the same result).
    assert dated[0][0] == "2024-03-11" and sum(p[2] for p in dated if p[0] == "2024-03-11") == 2
    assert [p for p in chart if not p[1]], "the undated upload is drawn, flagged as undated"
    assert page.locator(".timeline-item").first.locator(".label").inner_text() == "Glioma"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    folder = os.environ.get("README_SCREENSHOTS")
    if folder:
        _small_png(page, Path(folder) / "screenshot-history.png", full_page=True)
    page.goto(f"{live_server.url}/scans/{scans[2].pk}/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.heatmap')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.locator(".result-header .label").first.inner_text() in ("Glioma", "Uncertain")
    if folder:
        # The top of the page: result, image with its heat map, probabilities.
        _small_png(page, Path(folder) / "screenshot-scan.png", full_page=True, clip=_top(page, "#explanation"))
    assert not page.problems, page.problems
