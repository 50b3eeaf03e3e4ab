"""The worker's first step for a DICOM slice: its pixels-only file becomes the windowed PNG."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import encapsulate, generate_frames

from scans import intake
from scans.ml.dicom_pixels import decode_dicom
from scans.models import Scan
from scans.uploads import dicom_upload_submit
from tests.dicom_files import SYNTAXES, compressed, dicom_bytes, mr_dataset, ramp, zipped
from tests.factories import PatientFactory, stored_files

pytestmark = pytest.mark.usefixtures("fake_weights")


@pytest.fixture
def submit(team, owner):
    def submit(data: bytes) -> list[Scan]:
        patient = PatientFactory(team=team, created_by=owner)
        upload = dicom_upload_submit(
            patient=patient, uploaded_by=owner, file=SimpleUploadedFile("x", data), identifiers_differ_ok=True
        )
        return upload.scans

    return submit


def png_of(scan: Scan) -> np.ndarray:
    scan.refresh_from_db()
    with default_storage.open(scan.image.name, "rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())))


def test_the_worker_renders_the_slice_with_its_window_and_deletes_the_pixels_file(
    submit, django_capture_on_commit_callbacks
):
    original = dicom_bytes(mr_dataset(ramp(), WindowCenter=1000, WindowWidth=1000))
    (scan,) = submit(original)
    waiting = scan.image.name
    assert waiting.startswith("incoming/")
    with django_capture_on_commit_callbacks(execute=True):
        assert intake.scan_image_sanitize(scan.pk) is True
    assert np.array_equal(png_of(scan), decode_dicom(original))
    assert (scan.width, scan.height) == (64, 64)
    assert stored_files() == [scan.image.name]
    assert not default_storage.exists(waiting)


def test_each_frame_of_a_multi_frame_file_is_rendered_on_its_own(submit, django_capture_on_commit_callbacks):
    frames = np.stack([ramp(), 4095 - ramp()])
    scans = submit(dicom_bytes(mr_dataset(frames)))
    with django_capture_on_commit_callbacks(execute=True):
        for scan in scans:
            intake.scan_image_sanitize(scan.pk)
    first, second = (png_of(scan).astype(int) for scan in scans)
    assert first[0, 0] < 10 and second[0, 0] > 245


def test_a_slice_whose_compressed_pixels_are_damaged_fails_with_the_reason(submit):
    """Inside a zip only headers are checked at upload; the worker finds the damage."""
    ds = mr_dataset(ramp())
    data = compressed(ds, SYNTAXES["jpeg2000"])
    broken = dcmread(io.BytesIO(data))
    stream = next(generate_frames(broken.PixelData, number_of_frames=1))
    broken.PixelData = encapsulate([stream[: len(stream) // 3]])
    (scan,) = submit(zipped({"IM1": dicom_bytes(broken)}))
    assert intake.scan_image_sanitize(scan.pk) is False
    scan.refresh_from_db()
    assert scan.status == Scan.Status.FAILED
    assert scan.error.startswith("The DICOM pixels could not be decoded (JPEG 2000")
