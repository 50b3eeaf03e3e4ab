"""A photograph uploaded through the page in Chromium, classified by a real worker running the
real engine: the scan ends done with the refusal and its reason on the page — the image, a
next step, no class, no chart, no heat map — and the same in the API."""

from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import app
from tests.conftest import REPO_ROOT, require, require_broker, require_weights
from tests.e2e.test_browser import RESULT_TIMEOUT_MS, browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NOT_MRI_DIR = REPO_ROOT.parent / "shared" / "datasets" / "not-brain-mri"


def _photo() -> Path:
    folder = NOT_MRI_DIR / "photo"
    require(folder.is_dir(), f"the development set of non-MRI images is missing at {NOT_MRI_DIR}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[0]


def test_a_photo_is_refused_with_its_reason_and_no_class(live_server, browser_page, team, owner):  # noqa: F811
    require_weights()
    require_broker()
    photo = _photo()
    patient = PatientFactory(team=team, created_by=owner)
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        page.goto(f"{live_server.url}/upload/?patient={patient.pk}")
        page.get_by_label("Images").set_input_files(str(photo))
        page.get_by_role("button", name="Upload and classify").click()
        page.wait_for_url("**/scans/*/", timeout=60_000)
        page.wait_for_selector("#scan-result[data-status='done']", timeout=RESULT_TIMEOUT_MS)

    result = page.locator("#scan-result")
    assert result.get_attribute("data-final-result") == "refused"
    header = page.locator(".result-header").inner_text()
    assert "Not recognised as a brain MRI slice" in header
    assert "If this is one, check that it is upright (a slice turned on its side is often refused)" in header
    for absent in ("Glioma", "Meningioma", "No tumour", "Pituitary tumour"):
        assert absent not in header, absent
    assert page.locator(".certainty-big, .certainty").count() == 0
    assert page.locator(".label-glioma, .label-meningioma, .label-notumor, .label-pituitary").count() == 0
    assert "Grad-CAM" not in result.inner_text()
    assert page.locator("canvas").count() == 0 and page.locator("img.heatmap").count() == 0
    assert page.locator("img.scan-image").evaluate("i => i.complete && i.naturalWidth > 0")

    scan_id = page.url.rstrip("/").rsplit("/", 1)[1]
    final = page.request.get(f"{live_server.url}/api/v1/scans/{scan_id}/").json()["final_result"]
    assert (final["source"], final["verdict"], final["label"]) == ("model", "refused", None)
    assert not page.problems, page.problems
