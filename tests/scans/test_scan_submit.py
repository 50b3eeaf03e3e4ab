import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from scans.duplicates import earlier_copy_of
from scans.models import Scan
from scans.services import scan_submit
from tests.factories import PatientFactory, stored_files
from tests.images import HTML_AS_PNG, png_bytes

pytestmark = pytest.mark.usefixtures("fake_weights")


@pytest.fixture
def patient(team, owner):
    return PatientFactory(team=team, created_by=owner)


def upload(data: bytes, name: str = "scan.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def test_it_stores_the_scan_under_a_generated_name(patient, owner):
    scan = scan_submit(patient=patient, uploaded_by=owner, file=upload(png_bytes(), "../../x.png"))
    assert scan.status == Scan.Status.QUEUED
    assert scan.image.name.startswith("incoming/")
    assert "x.png" not in scan.image.name
    assert scan.original_filename == "x.png"  # Django keeps only the base name
    assert stored_files() == [scan.image.name]


def test_it_runs_the_custom_cnn_when_no_model_is_named(patient, owner):
    scan = scan_submit(patient=patient, uploaded_by=owner, file=upload(png_bytes()))
    assert scan.requested_models == ["custom_cnn"]


@pytest.mark.parametrize("choice", ["xception", "both"])
def test_it_refuses_xception_while_its_weights_are_absent(patient, owner, choice):
    with pytest.raises(ValidationError) as error:
        scan_submit(patient=patient, uploaded_by=owner, file=upload(png_bytes()), model=choice)
    assert error.value.message_dict == {"model": ["Xception is not available: its weights are not installed."]}
    assert not Scan.objects.exists()


def test_it_refuses_an_unknown_model(patient, owner):
    with pytest.raises(ValidationError, match="Unknown model"):
        scan_submit(patient=patient, uploaded_by=owner, file=upload(png_bytes()), model="resnet")


def test_a_bad_file_leaves_no_row_and_no_file(patient, owner):
    with pytest.raises(ValidationError) as error:
        scan_submit(patient=patient, uploaded_by=owner, file=upload(HTML_AS_PNG))
    assert "image" in error.value.message_dict
    assert not Scan.objects.exists()
    assert stored_files() == []


def test_the_same_image_twice_for_one_patient_is_accepted_and_points_to_the_first(patient, owner):
    data = png_bytes()
    first = scan_submit(patient=patient, uploaded_by=owner, file=upload(data))
    again = scan_submit(patient=patient, uploaded_by=owner, file=upload(data, "copy.png"))
    assert again.pk != first.pk
    assert again.sha256 == first.sha256
    assert earlier_copy_of(again) == first
    assert len(stored_files()) == 2  # nothing lost, nothing merged


def test_the_same_image_for_another_patient_is_no_repeat(patient, owner, team):
    data = png_bytes()
    scan_submit(patient=patient, uploaded_by=owner, file=upload(data))
    other = PatientFactory(team=team, created_by=owner)
    assert earlier_copy_of(scan_submit(patient=other, uploaded_by=owner, file=upload(data))) is None
