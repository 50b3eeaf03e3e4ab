"""The PDF of one exam (a DICOM series): the patient, the series, its slices per final result,
the most suspicious slices first with their images, and the same cache, audit and access rules
as a scan's report."""

import pytest

from audit.models import AuditEvent
from scans.models import Exam, Scan
from scans.reports import loading, pdf
from scans.reports.tasks import render_report
from tests.conftest import session_client, token_client
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory
from tests.reports.helpers import fetch_report, pdf_text

pytestmark = pytest.mark.django_db

FACTS = {
    "modality": "MR",
    "orientation": "axial",
    "series_description": "AX T1 POST",
    "series_number": 7,
    "field_strength_t": 1.5,
    "slice_thickness_mm": 5.0,
    "pixel_spacing_mm": [0.45, 0.45],
    "transfer_syntax": "Explicit VR Little Endian",
    "bits_stored": 12,
    "photometric": "MONOCHROME2",
}


@pytest.fixture
def exam(team, owner):
    patient = PatientFactory(team=team, created_by=owner, display_name="Ada Lovelace", medical_record_number="MRN-4242")
    return Exam.objects.create(
        patient=patient,
        uploaded_by=owner,
        series_key="k",
        modality="MR",
        orientation="axial",
        series_description="AX T1 POST",
    )


def slice_(exam, position: float, **prediction) -> Scan:
    scan = ScanFactory(
        patient=exam.patient,
        exam=exam,
        status=Scan.Status.DONE,
        dicom={**FACTS, "slice_position_mm": position, "instance_number": int(position)},
    )
    PredictionFactory(scan=scan, **prediction)
    return scan


def text_of(exam) -> str:
    return pdf_text(pdf.exam_report_pdf(Exam.objects.select_related("patient__team").get(pk=exam.pk)))


def test_it_holds_the_patient_the_series_the_counts_the_model_and_the_disclaimer(exam):
    slice_(exam, 1.0, label="notumor", confidence=0.95)
    slice_(exam, 2.0, label="notumor", confidence=0.9)
    slice_(exam, 3.0, label="glioma", confidence=0.8)

    text = text_of(exam)

    for expected in (
        "Ada Lovelace",
        "MRN-4242",
        f"exam {exam.pk}",
        "AX T1 POST",
        "axial",
        "1.5 T",
        "5.0 mm",
        "0.45 × 0.45 mm",
        "12-bit MONOCHROME2",
        "3 of 3 slices with a result",
        "No tumour 2",
        "Glioma 1",
        "Custom CNN",
        "a" * 12,
        "/models/custom_cnn/",
        "not a medical device",
    ):
        assert expected.lower() in text.lower(), expected


def test_the_most_suspicious_slice_comes_first(exam):
    slice_(exam, 1.0, label="notumor", confidence=0.95)
    slice_(exam, 2.0, label="meningioma", confidence=0.6)
    slice_(exam, 3.0, label="glioma", confidence=0.9)

    listed = text_of(exam).split("Slices, most suspicious first")[1]

    assert listed.index("Slice 3 of 3") < listed.index("Slice 2 of 3") < listed.index("Slice 1 of 3")


def test_a_reviewed_slice_shows_the_reviewers_result_and_what_the_model_said(exam, staff_reviewer):
    scan = slice_(exam, 1.0, label="glioma", confidence=0.7)
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="pituitary")

    text = text_of(exam)

    assert "Pituitary tumour" in text
    assert "model said Glioma (70 %)" in text
    assert "Set by reviewer reviewer" in text


def test_refused_and_uncertain_slices_read_as_on_the_pages_with_no_class_called(exam):
    slice_(exam, 1.0, refused=True)
    slice_(exam, 2.0, uncertain=True)

    text = text_of(exam)

    assert "Not recognised as brain MRI — no result" in text
    assert "colour photograph" in text
    assert "Uncertain — needs a radiologist's read" in text
    assert "No class is called" in text
    assert "leading class Glioma, not called" in text
    assert "Glioma ·" not in text and "Glioma 1" not in text


def test_a_series_still_being_classified_says_the_report_is_not_complete(exam):
    slice_(exam, 1.0, label="notumor", confidence=0.95)
    ScanFactory(patient=exam.patient, exam=exam, status=Scan.Status.PROCESSING, dicom={"slice_position_mm": 2.0})

    text = text_of(exam)

    assert "1 of 2 slices with a result" in text
    assert "still being classified, so this report is not complete" in text


def test_every_page_carries_the_disclaimer(exam):
    for position in range(12):
        slice_(exam, float(position), label="glioma", confidence=0.8)

    data = pdf.exam_report_pdf(Exam.objects.select_related("patient__team").get(pk=exam.pk))
    pages = pdf_text(data).split("Page ")

    assert len(pages) >= 3  # two pages or more, each with its footer
    assert pdf_text(data).count("not a medical device") == len(pages) - 1


@pytest.mark.parametrize("url", ["/exams/{exam}/report.pdf", "/api/v1/exams/{exam}/report.pdf"])
def test_the_page_and_the_api_queue_it_then_serve_it_and_audit_the_export(url, exam, owner, monkeypatch):
    slice_(exam, 1.0, label="glioma", confidence=0.8)
    client = token_client(owner) if url.startswith("/api/") else session_client(owner)

    data = fetch_report(client, url.format(exam=exam.pk), kind="exam", object_id=exam.pk, monkeypatch=monkeypatch)

    assert "Ada Lovelace" in pdf_text(data)
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert (event.object_type, event.object_id, event.patient_id) == ("exam", str(exam.pk), exam.patient_id)


def test_a_review_changes_the_fingerprint_so_a_stale_report_is_never_served(exam, staff_reviewer):
    scan = slice_(exam, 1.0, label="glioma", confidence=0.8)
    before = loading.exam_fingerprint(exam)

    ReviewFactory(scan=scan, reviewer=staff_reviewer)

    assert loading.exam_fingerprint(exam) != before


def test_the_exam_page_offers_the_download(exam, owner):
    slice_(exam, 1.0)

    page = session_client(owner).get(f"/exams/{exam.pk}/")

    assert f'href="/exams/{exam.pk}/report.pdf"'.encode() in page.content


@pytest.mark.parametrize("url", ["/exams/{exam}/report.pdf", "/api/v1/exams/{exam}/report.pdf"])
def test_another_teams_exam_report_is_a_404(url, exam, outsider, outside_superuser):
    slice_(exam, 1.0)

    for person in (outsider, outside_superuser):
        client = token_client(person) if url.startswith("/api/") else session_client(person)
        assert client.get(url.format(exam=exam.pk)).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_the_report_holds_no_other_teams_data(exam, other_team, outsider, owner, monkeypatch):
    slice_(exam, 1.0, label="glioma", confidence=0.8)
    theirs = PatientFactory(
        team=other_team, created_by=outsider, display_name="Other Team Patient", medical_record_number="MRN-OTHER"
    )
    their_exam = Exam.objects.create(patient=theirs, uploaded_by=outsider, series_key="k", series_description="THEIRS")
    slice_(their_exam, 1.0, label="meningioma", confidence=0.9)
    monkeypatch.setattr(render_report, "delay", lambda *args: render_report(*args))

    response = session_client(owner).get(f"/exams/{exam.pk}/report.pdf")

    text = pdf_text(b"".join(response.streaming_content))
    assert "Ada Lovelace" in text
    assert "Other Team Patient" not in text and "MRN-OTHER" not in text and "THEIRS" not in text
    assert "Meningioma" not in text
