"""A zip of a DICOM series or study (a PACS export), opened within bounds.

Nothing is extracted to disk: each member is read into memory, up to the limits, and judged
by its content. The bounds are checked from the central directory first and again while
reading, because a zip's declared sizes can lie (a zip bomb). Unsafe names (`../`, absolute
paths) and archives inside the archive refuse the whole zip: a PACS never writes them, an
attacker does. DICOMDIR and files that are not DICOM (a README, .DS_Store) are skipped.
"""

import io
import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from scans.ml.dicom_pixels import is_dicom

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
# Archive formats we refuse to open inside the archive.
ARCHIVE_MAGICS = (ZIP_MAGIC, EMPTY_ZIP_MAGIC, b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!")
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar")
# DICOMDIR's SOP class (Media Storage Directory Storage): an index of the files, no image.
DICOMDIR_NAME = "DICOMDIR"


class ArchiveRejected(ValidationError):
    """A zip we will not open, as a whole."""


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC) or data.startswith(EMPTY_ZIP_MAGIC)


def dicom_members(data: bytes, *, max_files: int, max_total_bytes: int, skipped: list[str]) -> Iterator[Member]:
    """The DICOM files in a zip, one at a time (so that one member at most is held in memory);
    the names of members that are not DICOM are appended to `skipped`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except Exception:
        # zipfile raises BadZipFile, OSError, ValueError, EOFError … for a damaged directory.
        raise ArchiveRejected("The zip file is damaged or truncated.") from None
    if len(infos) > max_files:
        raise ArchiveRejected(f"The zip holds {len(infos)} files: the limit is {max_files}.")
    if sum(info.file_size for info in infos) > max_total_bytes:
        raise ArchiveRejected(_too_large(max_total_bytes))
    for info in infos:
        _check_name(info.filename)
        if info.filename.lower().endswith(ARCHIVE_SUFFIXES):
            raise ArchiveRejected(_nested(info.filename))
    budget = max_total_bytes
    for info in infos:
        content = _read(archive, info, budget)
        if len(content) > budget:
            raise ArchiveRejected(_too_large(max_total_bytes))
        budget -= len(content)
        if content.startswith(ARCHIVE_MAGICS):
            raise ArchiveRejected(_nested(info.filename))
        if posixpath.basename(info.filename).upper() == DICOMDIR_NAME or not is_dicom(content):
            skipped.append(_base(info.filename))  # folder names of an export may name the patient
            continue
        yield Member(info.filename, content)


def _nested(name: str) -> str:
    return f"The zip holds another archive ({_base(name)}): zip the DICOM files alone."


def _check_name(name: str) -> None:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":") or ".." in normal.split("/"):
        raise ArchiveRejected("The zip holds a file with an unsafe path (absolute or with '..'): it was not opened.")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The member's bytes, at most one byte over the budget left, whatever its header declares."""
    try:
        if info.flag_bits & 0x1:
            raise ArchiveRejected("The zip is encrypted: export the series without a password.")
        with archive.open(info) as handle:
            content = handle.read(budget + 1)
    except ArchiveRejected:
        raise
    except Exception:
        # A bad CRC, a corrupt deflate stream (zlib.error), an unsupported method …
        raise ArchiveRejected(f"The zip file is damaged: {_base(info.filename)} cannot be read.") from None
    return content


def _too_large(limit: int) -> str:
    return f"The zip unpacks to more than {limit // (1024 * 1024)} MB: upload the series in parts."


def _base(name: str) -> str:
    return posixpath.basename(name.replace("\\", "/"))[:80]
