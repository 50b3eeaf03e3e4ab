"""The same image uploaded twice for one patient: which earlier scan it repeats (scans.duplicates).
The upload itself is tested in test_scan_submit.py, the page and API in pages/ and api/."""

import pytest

from scans.duplicates import earlier_copy_of, with_earlier_copy
from scans.models import Exam, Scan
from tests.factories import PatientFactory, ScanFactory

pytestmark = pytest.mark.django_db

SAME = "a" * 64


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


def test_a_repeat_points_to_the_first_upload_of_the_image(patient):
    first = ScanFactory(patient=patient, sha256=SAME)
    ScanFactory(patient=patient, sha256=SAME)
    third = ScanFactory(patient=patient, sha256=SAME)
    assert earlier_copy_of(third) == first


def test_the_first_upload_repeats_nothing(patient):
    first = ScanFactory(patient=patient, sha256=SAME)
    ScanFactory(patient=patient, sha256=SAME)
    assert earlier_copy_of(first) is None


def test_another_image_of_the_patient_is_no_repeat(patient):
    ScanFactory(patient=patient, sha256=SAME)
    assert earlier_copy_of(ScanFactory(patient=patient, sha256="b" * 64)) is None


def test_the_same_image_for_another_patient_is_no_repeat(patient, team, owner):
    ScanFactory(patient=PatientFactory(team=team, created_by=owner), sha256=SAME)
    assert earlier_copy_of(ScanFactory(patient=patient, sha256=SAME)) is None


def test_slices_of_one_dicom_file_share_its_digest_without_being_repeats(patient, owner):
    exam = Exam.objects.create(patient=patient, uploaded_by=owner, series_key="k")
    ScanFactory(patient=patient, sha256=SAME, exam=exam, dicom={"frame": 0})
    second_frame = ScanFactory(patient=patient, sha256=SAME, exam=exam, dicom={"frame": 1})
    assert earlier_copy_of(second_frame) is None
    assert with_earlier_copy(Scan.objects.filter(pk=second_frame.pk)).get().earlier_copy_id is None


def test_the_list_annotation_finds_what_the_single_lookup_finds(patient):
    first = ScanFactory(patient=patient, sha256=SAME)
    repeat = ScanFactory(patient=patient, sha256=SAME)
    other = ScanFactory(patient=patient)
    found = {scan.pk: scan.earlier_copy_id for scan in with_earlier_copy(Scan.objects.all())}
    assert found == {first.pk: None, repeat.pk: first.pk, other.pk: None}


def test_the_lookup_has_an_index_on_patient_and_digest():
    assert ["patient", "sha256"] in [index.fields for index in Scan._meta.indexes]
