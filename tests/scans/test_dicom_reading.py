"""The web request's look at a DICOM file (scans.dicom.reading): slices, the allow-list, the
orientation, and nothing but a rejection on any bytes."""

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.uid import ExplicitVRBigEndian

from scans.dicom.attributes import technical_attributes, uid_key
from scans.dicom.reading import DicomRejected, slices_of
from scans.dicom.render import dicom_clean
from scans.images import ImageRejected
from scans.ml.dicom_pixels import decode_dicom
from tests.dicom_files import FORBIDDEN, SERIES_UID, SYNTAXES, compressed, dicom_bytes, mr_dataset, ramp

LIMITS = {"max_pixels": 16_000_000, "min_side": 32, "max_slices": 100}


def slices(data: bytes, decode_check: bool = True):
    return slices_of(data, decode_check=decode_check, **LIMITS)


@pytest.mark.parametrize(
    ("cosines", "orientation"),
    [
        ([1, 0, 0, 0, 1, 0], "axial"),
        ([0, 1, 0, 0, 0, -1], "sagittal"),
        ([1, 0, 0, 0, 0, -1], "coronal"),
        ([1, 0, 0, 0, 0.94, -0.34], "axial"),  # tilted 20°, within the 25° tolerance
        ([1, 0, 0, 0, 0.707, -0.707], "oblique"),  # 45°
    ],
)
def test_the_orientation_comes_from_the_slice_normal(cosines, orientation):
    ds = mr_dataset(ramp(), ImageOrientationPatient=cosines)
    assert technical_attributes(ds)["orientation"] == orientation


def test_the_kept_attributes_are_the_allow_list_and_no_identifier():
    (item,) = slices(dicom_bytes(mr_dataset(ramp())))
    kept = repr(item.attributes)
    for value in [*FORBIDDEN.values(), SERIES_UID]:
        assert value not in kept
    assert item.attributes["series_key"] == uid_key(SERIES_UID)
    assert len(item.attributes["series_key"]) == 32


def test_the_pixels_only_file_renders_exactly_like_the_original():
    for data in (dicom_bytes(mr_dataset(ramp())), compressed(mr_dataset(ramp()), SYNTAXES["rle"])):
        (item,) = slices(data)
        assert np.array_equal(decode_dicom(item.payload), decode_dicom(data))
        for value in FORBIDDEN.values():
            assert value.encode() not in item.payload


def test_a_big_endian_file_is_rewritten_little_endian_with_the_same_pixels():
    ds = mr_dataset(ramp())
    original = decode_dicom(dicom_bytes(ds))
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds.PixelData = ramp().astype(">u2").tobytes()
    (item,) = slices(dicom_bytes(ds))
    assert np.array_equal(decode_dicom(item.payload), original)


def test_each_frame_becomes_a_slice_with_only_its_own_pixels():
    frames = np.stack([np.full((64, 64), value, dtype=np.uint16) for value in (0, 1000, 2000)])
    items = slices(dicom_bytes(mr_dataset(frames, WindowCenter=1000, WindowWidth=2001)))
    assert [item.attributes["frame"] for item in items] == [0, 1, 2]
    assert [int(decode_dicom(item.payload)[0, 0]) for item in items] == [0, 128, 255]


def test_a_file_with_more_frames_than_the_limit_is_refused():
    frames = np.zeros((5, 64, 64), dtype=np.uint16)
    with pytest.raises(DicomRejected, match="5 frames: the limit is 4"):
        slices_of(dicom_bytes(mr_dataset(frames)), decode_check=False, max_pixels=16_000_000, min_side=32, max_slices=4)


def test_an_image_over_the_pixel_limit_is_refused_from_its_header():
    ds = mr_dataset(ramp())
    ds.Rows, ds.Columns = 5000, 5000  # the header lies; no pixel is read
    with pytest.raises(DicomRejected, match="Image too large"):
        slices(dicom_bytes(ds))


def test_the_study_date_and_patient_id_are_read_but_only_held_in_memory():
    (item,) = slices(dicom_bytes(mr_dataset(ramp())))
    assert str(item.study_date) == "2024-03-05"
    assert item.patient_id == FORBIDDEN["PatientID"]
    assert "PID" not in repr(item)


GOOD = dicom_bytes(mr_dataset(ramp(), WindowCenter=1000, WindowWidth=2000))
GOOD_RLE = compressed(mr_dataset(ramp()), SYNTAXES["rle"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=1024))
def test_any_bytes_after_the_preamble_give_slices_or_a_rejection(body):
    with contextlib.suppress(DicomRejected):
        slices(b"\0" * 128 + b"DICM" + body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    compressed_file=st.booleans(),
    position=st.integers(min_value=132, max_value=len(GOOD_RLE) - 1),
    value=st.integers(min_value=0, max_value=255),
)
def test_a_damaged_real_file_gives_slices_or_a_rejection_and_renders_or_is_rejected(compressed_file, position, value):
    good = GOOD_RLE if compressed_file else GOOD
    damaged = good[:position] + bytes([value]) + good[position + 1 :]
    try:
        items = slices(damaged, decode_check=False)
    except DicomRejected:
        return
    for item in items:
        with contextlib.suppress(ImageRejected):
            dicom_clean(data=item.payload)
