"""The worker's first step re-encodes what the upload request only checked."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from scans import intake
from scans.models import Scan
from scans.services import scan_submit
from tests.factories import PatientFactory, stored_files
from tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.usefixtures("fake_weights")


@pytest.fixture
def uploaded(team, owner, private_media):
    def upload(data: bytes) -> Scan:
        patient = PatientFactory(team=team, created_by=owner)
        return scan_submit(patient=patient, uploaded_by=owner, file=SimpleUploadedFile("a.jpg", data))

    return upload


def stored_image(scan: Scan) -> bytes:
    scan.refresh_from_db()
    with default_storage.open(scan.image.name, "rb") as handle:
        return handle.read()


def test_the_upload_request_stores_the_bytes_as_they_came(uploaded):
    data = jpeg_bytes() + b"<script>payload</script>"
    scan = uploaded(data)
    assert scan.image.name.startswith("incoming/")
    assert stored_image(scan) == data


def test_the_worker_replaces_them_with_a_clean_png_and_deletes_the_original(uploaded, django_capture_on_commit_callbacks):
    scan = uploaded(jpeg_bytes() + b"<script>payload</script>")
    original = scan.image.name
    with django_capture_on_commit_callbacks(execute=True):
        assert intake.scan_image_sanitize(scan.pk) is True
    clean = stored_image(scan)
    assert scan.image.name.startswith("scans/")
    assert Image.open(io.BytesIO(clean)).format == "PNG"
    assert b"payload" not in clean
    assert stored_files() == [scan.image.name]
    assert not default_storage.exists(original)


def test_running_it_twice_is_harmless(uploaded, django_capture_on_commit_callbacks):
    scan = uploaded(png_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        intake.scan_image_sanitize(scan.pk)
        intake.scan_image_sanitize(scan.pk)
    scan.refresh_from_db()
    assert stored_files() == [scan.image.name]


def test_an_image_the_worker_cannot_read_fails_the_scan_with_the_reason(uploaded):
    scan = uploaded(png_bytes())
    with default_storage.open(scan.image.name, "wb") as handle:
        handle.write(png_bytes()[:60])
    assert intake.scan_image_sanitize(scan.pk) is False
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert "damaged or truncated" in scan.error


def test_a_finished_scan_is_left_alone(uploaded):
    scan = uploaded(png_bytes())
    Scan.objects.filter(pk=scan.pk).update(status=Scan.Status.DONE)
    assert intake.scan_image_sanitize(scan.pk) is False
    assert stored_image(scan)  # untouched
