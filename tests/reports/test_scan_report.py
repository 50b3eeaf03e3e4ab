"""The PDF of one scan: what it says, for each kind of result, and that it never waits on a request."""

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from scans.models import Explanation, Scan
from scans.reports import loading, pdf
from tests.conftest import session_client, token_client
from tests.factories import PatientFactory, PredictionFactory, ReviewFactory, ScanFactory
from tests.reports.helpers import fetch_report, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, display_name="Ada Lovelace", medical_record_number="MRN-4242")


def done_scan(patient, **prediction):
    scan = ScanFactory(patient=patient, status=Scan.Status.DONE, original_filename="axial-t1.png")
    PredictionFactory(scan=scan, **prediction)
    return scan


def explained(scan, summary: str = "The highlighted area lies in the lower left.") -> Explanation:
    return Explanation.objects.create(
        scan=scan,
        provider=Explanation.Provider.OFFLINE,
        status=Explanation.Status.DONE,
        content={"summary": summary},
        text=f"Summary: {summary}",
    )


def text_of(scan) -> str:
    return pdf_text(pdf.scan_report_pdf(loading.scan_for_report(scan.pk)))


def test_it_holds_the_patient_the_result_the_model_and_the_disclaimer(patient):
    scan = done_scan(patient, label="meningioma", confidence=0.87)
    explained(scan)

    text = text_of(scan)

    for expected in (
        "Ada Lovelace",
        "MRN-4242",
        f"scan {scan.pk}",
        "Meningioma",
        "87 %",
        "Model result — not reviewed yet",
        "Custom CNN",
        "a" * 12,
        "/models/custom_cnn/",
        "offline explainer",
    ):
        assert expected.lower() in text.lower(), expected
    assert "not a medical device" in text


def test_every_page_carries_the_disclaimer(patient):
    scan = done_scan(patient)
    explained(scan, summary="A long explanation. " * 400)

    pages = pdf_text(pdf.scan_report_pdf(loading.scan_for_report(scan.pk))).split("Page ")

    assert text_of(scan).count("not a medical device") >= 2
    assert len(pages) >= 2


def test_a_reviewed_scan_shows_the_reviewers_result_and_what_the_model_said(patient, staff_reviewer):
    scan = done_scan(patient, label="glioma", confidence=0.7)
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="pituitary")

    text = text_of(scan)

    assert "Final result — reviewed" in text
    assert "Pituitary tumour" in text
    assert "model said Glioma (70 %)" in text
    assert "reviewer" in text and staff_reviewer.username in text


def test_a_refused_scan_shows_the_reason_and_no_class_or_probabilities(patient):
    scan = done_scan(patient, refused=True)

    text = text_of(scan)

    assert "Not recognised as a brain MRI slice — no result" in text
    assert "colour photograph" in text
    assert "No tumour" not in text
    assert "probabilities" not in text


def test_an_uncertain_scan_shows_its_probabilities_under_uncertain_without_a_class(patient):
    scan = done_scan(patient, uncertain=True)

    text = text_of(scan)

    assert "Uncertain — needs a radiologist's read" in text
    assert "Uncertain — the model's probabilities" in text
    assert "55 %" in text and "40 %" in text
    assert "called Glioma" not in text


def test_certainty_is_never_printed_as_a_hundred_percent(patient):
    scan = done_scan(patient, label="notumor", confidence=0.99996)

    text = text_of(scan)

    assert "> 99 %" in text
    assert "100 %" not in text and "100.0 %" not in text


def test_the_page_queues_the_report_then_serves_it_and_audits_the_download(patient, owner, monkeypatch):
    scan = done_scan(patient)
    client = session_client(owner)

    data = fetch_report(client, f"/scans/{scan.pk}/report.pdf", kind="scan", object_id=scan.pk, monkeypatch=monkeypatch)

    assert "Ada Lovelace" in pdf_text(data)
    assert (
        AuditEvent.objects.filter(actor=owner, action="export", object_type="scan", object_id=str(scan.pk)).count() == 1
    )


def test_the_api_serves_it_with_a_token(patient, owner, monkeypatch):
    scan = done_scan(patient)

    data = fetch_report(
        token_client(owner),
        f"/api/v1/scans/{scan.pk}/report.pdf",
        kind="scan",
        object_id=scan.pk,
        monkeypatch=monkeypatch,
    )

    assert data.startswith(b"%PDF")


def test_a_review_makes_a_new_report_and_the_old_one_is_deleted(patient, owner, staff_reviewer, monkeypatch):
    from django.core.files.storage import default_storage

    scan = done_scan(patient, label="glioma")
    client = session_client(owner)
    fetch_report(client, f"/scans/{scan.pk}/report.pdf", kind="scan", object_id=scan.pk, monkeypatch=monkeypatch)
    ReviewFactory(scan=scan, reviewer=staff_reviewer, verdict="corrected", corrected_label="meningioma")
    Scan.objects.filter(pk=scan.pk).update(updated_at=timezone.now())

    data = fetch_report(client, f"/scans/{scan.pk}/report.pdf", kind="scan", object_id=scan.pk, monkeypatch=monkeypatch)

    assert "Final result — reviewed" in pdf_text(data)
    assert len(default_storage.listdir("reports")[1]) == 1


def test_rendering_a_report_leaves_truncated_uploads_refused_in_the_same_process(patient):
    # WeasyPrint switches Pillow's process-wide LOAD_TRUNCATED_IMAGES on when imported; a
    # worker that rendered a report must still refuse a truncated upload.
    from scans.images import ImageRejected, image_inspect
    from tests.scans.test_images import png_bytes

    scan = done_scan(patient)
    explained(scan)
    assert "not a medical device" in text_of(scan)
    with pytest.raises(ImageRejected, match="damaged or truncated"):
        image_inspect(data=png_bytes(256, 256)[:-30], max_bytes=10**6, max_pixels=10**6, min_side=64)
