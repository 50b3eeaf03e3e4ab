"""A DICOM series in the case history, in Chromium: one row with its summary that links to
the exam page, on a desktop and on a 390 px phone without horizontal scroll."""

import pytest

from scans.models import Exam
from tests.e2e.test_browser import browser_page  # noqa: F401  (the fixture)
from tests.e2e.test_pages import _log_in
from tests.factories import PatientFactory, PredictionFactory, ScanFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _series(patient) -> Exam:
    exam = Exam.objects.create(
        patient=patient,
        uploaded_by=patient.created_by,
        series_key="k",
        modality="MR",
        orientation="coronal",
        series_description="T1 COR POST GADOLINIUM 3D MPRAGE",
        identifiers_differ=True,
    )
    for index, label in enumerate(["notumor", "notumor", "glioma", "meningioma", "notumor"]):
        scan = ScanFactory(patient=patient, exam=exam, dicom={"slice_position_mm": 5.0 * index})
        PredictionFactory(scan=scan, label=label, confidence=0.6 + 0.05 * index)
    ScanFactory(patient=patient, exam=exam, dicom={"slice_position_mm": 30.0})
    return exam


@pytest.mark.parametrize("width", [1280, 390])
def test_a_series_is_one_row_that_opens_the_exam_and_fits_a_phone(
    live_server,
    browser_page,  # noqa: F811
    team,
    owner,
    tmp_path,
    width,
):
    patient = PatientFactory(team=team, created_by=owner)
    PredictionFactory(scan__patient=patient, label="pituitary")
    exam = _series(patient)
    PredictionFactory(scan__patient=patient, label="notumor")
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    _log_in(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    assert page.locator(".timeline-item").count() == 3
    row = page.locator(".timeline-exam")
    assert "6 slices · coronal · T1 COR POST GADOLINIUM 3D MPRAGE" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.screenshot(path=str(tmp_path / f"history-{width}.png"), full_page=True)
    row.get_by_role("link", name=f"Exam {exam.pk}", exact=True).click()
    page.wait_for_url(f"**/exams/{exam.pk}/")
    assert page.problems == []
