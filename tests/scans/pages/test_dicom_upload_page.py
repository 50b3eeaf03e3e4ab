"""The upload page takes DICOM too: the file input offers it, and the form that works without
JavaScript turns a zipped series into its slices, or says why not."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from scans.models import Exam, Scan
from tests.dicom_files import SAGITTAL, dicom_bytes, mr_dataset, ramp, zipped
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner, medical_record_number="MRN-1")


@pytest.fixture
def logged_in(client, owner, fake_weights):
    client.force_login(owner)
    return client


def series_zip(count: int = 3) -> SimpleUploadedFile:
    files = {
        f"S1/IM{i}": dicom_bytes(mr_dataset(ramp(), InstanceNumber=i, ImagePositionPatient=[0, 0, i]))
        for i in range(count)
    }
    return SimpleUploadedFile("series.zip", zipped(files), content_type="application/zip")


def post(client, patient, file, **fields):
    data = {"patient": patient.pk, "model": "custom_cnn", "images": [file], **fields}
    return client.post("/upload/", data)


def test_the_file_input_offers_dicom_and_zips(logged_in, patient):
    body = logged_in.get("/upload/").content.decode()
    assert ".dcm" in body and ".zip" in body
    assert 'name="identifiers_differ_ok"' in body


def test_a_zipped_series_without_javascript_becomes_one_exam_and_opens_the_patient(logged_in, patient):
    response = post(logged_in, patient, series_zip(), identifiers_differ_ok="on")
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert Exam.objects.get().scans.count() == 3


def test_a_series_of_another_patient_is_refused_with_the_reason(logged_in, patient):
    body = post(logged_in, patient, series_zip()).content.decode()
    assert "Patient ID is not this patient" in body
    assert not Scan.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.IDENTIFIERS_OVERRIDE).exists()


def test_letting_a_series_of_another_patient_through_is_recorded_in_the_audit_trail(logged_in, owner, patient):
    post(logged_in, patient, series_zip(), identifiers_differ_ok="on")
    exam = Exam.objects.get()
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.IDENTIFIERS_OVERRIDE)
    assert (event.actor, event.object_id, event.patient_id) == (owner, str(exam.pk), patient.pk)


def test_the_scan_page_shows_the_acquisition_and_warns_about_a_sagittal_slice_with_burned_in_text(logged_in, patient):
    ds = mr_dataset(ramp(), ImageOrientationPatient=SAGITTAL, BurnedInAnnotation="YES")
    file = SimpleUploadedFile("IM0001", dicom_bytes(ds), content_type="application/dicom")
    post(logged_in, patient, file, identifiers_differ_ok="on")
    body = logged_in.get(f"/scans/{Scan.objects.get().pk}/").content.decode()
    assert "<dt>Orientation</dt><dd>sagittal</dd>" in body
    assert "1.5 T" in body and "5.0 mm" in body and "0.5 × 0.5 mm" in body
    assert "AX T1 POST (series 3, image 1)" in body
    assert "This slice is sagittal." in body
    assert "Burned In Annotation = YES" in body


def test_a_png_scan_page_has_no_acquisition_section(logged_in, patient):
    from tests.factories import ScanFactory

    scan = ScanFactory(patient=patient)
    assert "Acquisition (from the DICOM header)" not in logged_in.get(f"/scans/{scan.pk}/").content.decode()


def test_the_exam_page_shows_the_series_in_order_with_its_summary(logged_in, patient):
    post(logged_in, patient, series_zip(3), identifiers_differ_ok="on")
    exam = Exam.objects.get()
    response = logged_in.get(f"/exams/{exam.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "3 slices" in body and "AX T1 POST" in body
    assert "0 of 3 slices with a result; the others are being classified" in body
    assert 'data-pending="3"' in body
    assert "Uploaded although the files' Patient ID differs" in body
    slices = sorted(exam.scans.all(), key=lambda s: s.dicom["slice_position_mm"])
    positions = [body.index(f"/api/v1/scans/{scan.pk}/image/") for scan in slices]
    assert positions == sorted(positions)
    assert 'src="/static/js/exam.js"' in body


def test_the_exam_page_of_another_team_is_a_404(client, other_team, patient, logged_in):
    from tests.factories import UserFactory

    post(logged_in, patient, series_zip(2), identifiers_differ_ok="on")
    client.force_login(UserFactory(teams=[other_team]))
    assert client.get(f"/exams/{Exam.objects.get().pk}/").status_code == 404


def test_reading_an_exam_is_in_the_audit_trail(logged_in, patient, owner):
    from audit.models import AuditEvent

    post(logged_in, patient, series_zip(2), identifiers_differ_ok="on")
    exam = Exam.objects.get()
    logged_in.get(f"/exams/{exam.pk}/")
    assert AuditEvent.objects.filter(
        actor=owner, action="view", object_type="exam", object_id=str(exam.pk), patient_id=patient.pk
    ).exists()


def test_the_exam_page_warns_about_burned_in_text(logged_in, patient):
    files = {f"IM{i}": dicom_bytes(mr_dataset(ramp(), InstanceNumber=i, BurnedInAnnotation="YES")) for i in range(2)}
    post(logged_in, patient, SimpleUploadedFile("s.zip", zipped(files)), identifiers_differ_ok="on")
    body = logged_in.get(f"/exams/{Exam.objects.get().pk}/").content.decode()
    assert "2 slices of this series say text is burned into the pixels" in body
