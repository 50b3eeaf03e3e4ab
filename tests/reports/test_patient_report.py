"""The PDF of a patient's case history: the timeline with each final result, the trend chart
drawn on the server, and the same honest wording as the pages."""

from datetime import date

import pytest

from audit.models import AuditEvent
from scans.models import Scan
from scans.reports import pdf
from scans.reports.chart import trend_chart_png
from scans.selectors import patient_chart_points
from scans.templatetags.portal import RESULT_DISPLAY
from tests.conftest import session_client
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory
from tests.reports.helpers import fetch_report, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    patient = PatientFactory(team=team, created_by=owner, display_name="Marie Curie", medical_record_number="MRN-1867")
    for day, label in ((date(2026, 1, 5), "glioma"), (date(2026, 4, 5), "meningioma")):
        PredictionFactory(scan=ScanFactory(patient=patient, status=Scan.Status.DONE, acquisition_date=day), label=label)
    return patient


def test_it_lists_every_scan_with_its_final_result_and_the_trend_chart(patient, staff_reviewer):
    refused = ScanFactory(patient=patient, status=Scan.Status.DONE)
    PredictionFactory(scan=refused, refused=True)
    reviewed = ScanFactory(patient=patient, status=Scan.Status.DONE)
    PredictionFactory(scan=reviewed, label="glioma", confidence=0.64)
    ReviewFactory(scan=reviewed, reviewer=staff_reviewer, verdict="corrected", corrected_label="pituitary")

    text = pdf_text(pdf.patient_report_pdf(patient))

    for expected in (
        "Marie Curie",
        "MRN-1867",
        "2026-01-05",
        "2026-04-05",
        "Glioma",
        "Meningioma",
        "Not recognised as brain MRI — no result",
        "Pituitary tumour",
        "model said Glioma",
        staff_reviewer.username,
        "Trend",
        "not a medical device",
    ):
        assert expected in text, expected
    assert "100 %" not in text and "100.0 %" not in text


def test_the_trend_chart_is_a_png_drawn_on_the_server(patient):
    png = trend_chart_png(patient_chart_points(patient=patient), names=RESULT_DISPLAY)

    assert png.startswith(b"\x89PNG")


def test_the_page_serves_it_once_rendered_and_audits_it(patient, owner, monkeypatch):
    data = fetch_report(
        session_client(owner),
        f"/patients/{patient.pk}/report.pdf",
        kind="patient",
        object_id=patient.pk,
        monkeypatch=monkeypatch,
    )

    assert "Marie Curie" in pdf_text(data)
    assert AuditEvent.objects.filter(actor=owner, action="export", patient_id=patient.pk).count() == 1


def test_the_waiting_page_refreshes_itself_and_says_what_it_waits_for(patient, owner, monkeypatch):
    from scans.reports.tasks import render_report

    monkeypatch.setattr(render_report, "delay", lambda *args: None)

    response = session_client(owner).get(f"/patients/{patient.pk}/report.pdf")

    assert response.status_code == 202
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="2; url=?reloads=1">' in page
    assert "Preparing the PDF report" in page
    assert not AuditEvent.objects.filter(action="export").exists()


def test_the_waiting_page_gives_up_after_a_minute_instead_of_reloading_forever(patient, owner, monkeypatch):
    from scans.reports.tasks import render_report

    monkeypatch.setattr(render_report, "delay", lambda *args: None)

    response = session_client(owner).get(f"/patients/{patient.pk}/report.pdf?reloads=30")

    assert response.status_code == 503
    page = response.content.decode()
    assert "http-equiv" not in page
    assert "is not ready" in page
