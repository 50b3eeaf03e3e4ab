"""Zips of a DICOM series, opened within bounds and judged by content (scans.dicom.archive)."""

import contextlib
import io
import struct
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scans.dicom.archive import ArchiveRejected, dicom_members
from tests.dicom_files import dicom_bytes, mr_dataset, ramp, zipped

LIMITS = {"max_files": 10, "max_total_bytes": 1024 * 1024}
DICOM = dicom_bytes(mr_dataset(ramp()))


def members(data: bytes, **limits):
    skipped: list[str] = []
    found = list(dicom_members(data, skipped=skipped, **{**LIMITS, **limits}))
    return [m.name for m in found], skipped


def test_dicom_members_are_found_by_content_and_the_rest_skipped():
    data = zipped({"a/IM1": DICOM, "a/b/image.dcm": DICOM, "DICOMDIR": DICOM, "notes.txt": b"hello", ".DS_Store": b""})
    assert members(data) == (["a/IM1", "a/b/image.dcm"], ["DICOMDIR", "notes.txt", ".DS_Store"])


def test_a_member_whose_header_understates_its_size_is_stopped_at_the_limit():
    """A zip bomb that lies in its directory: the declared size is small, the stream is not."""
    data = bytearray(zipped({"IM1": b"\0" * 128 + b"DICM" + b"\0" * (4 * 1024 * 1024)}))
    directory = data.rfind(b"PK\x01\x02")
    # Uncompressed size in the central directory (offset 24) and the local header (offset 22).
    struct.pack_into("<I", data, directory + 24, 1000)
    struct.pack_into("<I", data, 22, 1000)
    with pytest.raises(ArchiveRejected):
        members(bytes(data))


def test_an_encrypted_zip_is_refused_with_the_reason():
    data = bytearray(zipped({"IM1": DICOM}))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(header)
        flag_offset = 6 if header == b"PK\x03\x04" else 8
        struct.pack_into("<H", data, at + flag_offset, 1)
    with pytest.raises(ArchiveRejected, match="encrypted"):
        members(bytes(data))


@pytest.mark.parametrize("name", ["/etc/passwd", "C:/x.dcm", "a/../../x.dcm", "..\\x.dcm"])
def test_unsafe_names_refuse_the_whole_zip(name):
    with pytest.raises(ArchiveRejected, match="unsafe path"):
        members(zipped({"ok/IM1": DICOM, name: DICOM}))


@pytest.mark.parametrize("name", ["inner.zip", "series.tar.gz", "IM2"])
def test_an_archive_inside_the_archive_is_refused(name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("IM1", DICOM)
    with pytest.raises(ArchiveRejected, match="another archive"):
        members(zipped({"IM1": DICOM, name: buffer.getvalue()}))


GOOD = zipped({"IM1": DICOM, "IM2": DICOM})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0, max_value=len(GOOD) - 1), value=st.integers(min_value=0, max_value=255))
def test_a_damaged_zip_gives_members_or_a_rejection(position, value):
    damaged = GOOD[:position] + bytes([value]) + GOOD[position + 1 :]
    with contextlib.suppress(ArchiveRejected):
        members(damaged)
