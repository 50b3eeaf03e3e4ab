"""DICOM through the upload page in Chromium, classified by a real worker running the real
engine: a zipped series becomes one exam whose every slice ends done, with its acquisition on
the scan page; a CT slice ends refused with "CT, not MRI" and no class."""

import numpy as np
import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import app
from scans.models import Exam
from tests.conftest import dataset_image, require_broker, require_weights
from tests.dicom_files import brain_pixels, dicom_bytes, mr_dataset, zipped
from tests.e2e.test_browser import RESULT_TIMEOUT_MS, browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _slice(index: int, **attributes) -> bytes:
    pixels = brain_pixels(dataset_image("glioma", index), dtype=np.uint16)
    return dicom_bytes(
        mr_dataset(pixels, InstanceNumber=index + 1, ImagePositionPatient=[0, 0, 5 * index], **attributes)
    )


def _upload(page, url: str, patient, path, tick_identifiers: bool = True) -> None:
    page.goto(f"{url}/upload/?patient={patient.pk}")
    page.get_by_label("Images").set_input_files(str(path))
    if tick_identifiers:
        page.get_by_label("The file's identifiers differ from this patient's, upload anyway").check()
    page.get_by_role("button", name="Upload and classify").click()


def test_a_zipped_series_becomes_one_exam_whose_slices_the_browser_walks(
    live_server,
    browser_page,  # noqa: F811
    team,
    owner,
    tmp_path,
):
    require_weights()
    require_broker()
    series = tmp_path / "series.zip"
    series.write_bytes(zipped({f"S1/IM{i}": _slice(i) for i in range(3)}))
    patient = PatientFactory(team=team, created_by=owner)
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        _upload(page, live_server.url, patient, series)
        page.wait_for_url("**/exams/*/", timeout=60_000)
        # The page refreshes itself until every slice has a result.
        page.wait_for_selector("#exam-summary[data-pending='0']", timeout=RESULT_TIMEOUT_MS)

    exam = Exam.objects.get()
    assert [(s.status, s.dicom["instance_number"]) for s in exam.scans.order_by("pk")] == [
        ("done", 1),
        ("done", 2),
        ("done", 3),
    ]
    assert "3 of 3 slices with a result" in page.locator("#exam-progress").inner_text()
    position = page.locator("#slice-position")
    assert position.inner_text() == "Slice 1 of 3"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert position.inner_text() == "Slice 3 of 3"
    assert page.url.endswith("#slice-3")
    assert page.locator(".slice[data-index='3']").is_visible()
    assert page.locator(".slice[data-index='3'] .slice-image").evaluate("i => i.complete && i.naturalWidth > 0")
    page.keyboard.press("ArrowLeft")
    assert position.inner_text() == "Slice 2 of 3"
    page.locator(".thumbnail[data-go='1']").click()
    assert position.inner_text() == "Slice 1 of 3"
    # Heat maps exist only for slices the model classified: these glioma slices are.
    classified = page.locator(".slice:has(.slice-heatmap)").first.get_attribute("data-index")
    page.locator(f".thumbnail[data-go='{classified}']").click()
    page.get_by_label("Heat map (Grad-CAM)").check()
    # Loaded lazily: visible once the image has arrived.
    page.locator(f".slice[data-index='{classified}'] .slice-heatmap").wait_for(state="visible", timeout=10_000)
    assert not page.locator(f".slice[data-index='{classified}'] .slice-image").is_visible()
    page.goto(f"{live_server.url}/scans/{exam.scans.order_by('pk').first().pk}/")
    acquisition = page.locator(".scan-dicom").inner_text()
    assert "axial" in acquisition and "AX T1 POST (series 3, image 1)" in acquisition
    assert not page.problems, page.problems


def test_a_ct_slice_is_refused_with_its_modality_and_no_class(live_server, browser_page, team, owner, tmp_path):  # noqa: F811
    require_weights()
    require_broker()
    ct = tmp_path / "IM0001"
    ct.write_bytes(_slice(0, Modality="CT"))
    patient = PatientFactory(team=team, created_by=owner)
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["ml", "default"], shutdown_timeout=30):
        _upload(page, live_server.url, patient, ct)
        page.wait_for_url("**/scans/*/", timeout=60_000)
        page.wait_for_selector("#scan-result[data-status='done']", timeout=RESULT_TIMEOUT_MS)

    assert page.locator("#scan-result").get_attribute("data-final-result") == "refused"
    header = page.locator(".result-header").inner_text()
    assert "CT, not MRI" in header
    for absent in ("Glioma", "Meningioma", "No tumour", "Pituitary tumour"):
        assert absent not in header, absent
    assert not page.problems, page.problems


def test_the_files_of_one_series_dropped_together_open_their_exam(
    live_server,
    browser_page,  # noqa: F811
    team,
    owner,
    tmp_path,
):
    paths = []
    for index in range(2):
        path = tmp_path / f"IM{index}"
        path.write_bytes(_slice(index))
        paths.append(str(path))
    patient = PatientFactory(team=team, created_by=owner)
    page = browser_page
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/upload/?patient={patient.pk}")
    page.get_by_label("Images").set_input_files(paths)
    page.get_by_label("The file's identifiers differ from this patient's, upload anyway").check()
    page.get_by_role("button", name="Upload and classify").click()
    page.wait_for_url("**/exams/*/", timeout=60_000)
    assert page.url.endswith(f"/exams/{Exam.objects.get().pk}/")
    assert page.locator("#slice-position").inner_text() == "Slice 1 of 2"
    assert not page.problems, page.problems
