"""The upload page takes DICOM too: the file input offers it, and the form that works without
JavaScript turns a zipped series into its slices, or says why not."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from scans.models import Exam, Scan
from tests.dicom_files import dicom_bytes, mr_dataset, ramp, zipped
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
