"""The allow-list: the only DICOM attributes we keep, and how each is read.

De-identification by design means we copy what we name here and nothing else: names, ids,
dates of birth, addresses, institution, physicians, accession numbers and the UIDs never
leave the request that parsed them. Study and Series Instance UIDs survive only as a salted
hash (HMAC with the site's secret key), enough to group the slices of one series and useless
to look anyone up.
"""

import hashlib
import hmac
import math

import numpy as np
from django.conf import settings

# A slice whose normal is within this angle of an axis is labelled with that axis' plane.
OBLIQUE_DEGREES = 25.0
TEXT_LIMIT = 64


def technical_attributes(ds, *, frame: int = 0) -> dict:
    """The allow-listed attributes of one slice (a frame of `ds`), as JSON-ready values."""
    orientation, normal = slice_orientation(ds)
    kept = {
        "modality": _text(ds.get("Modality")).upper(),
        "series_description": _text(ds.get("SeriesDescription")),
        "body_part": _text(ds.get("BodyPartExamined")).upper(),
        "orientation": orientation,
        "field_strength_t": _number(ds.get("MagneticFieldStrength")),
        "slice_thickness_mm": _number(ds.get("SliceThickness")),
        "pixel_spacing_mm": _numbers(ds.get("PixelSpacing"), 2),
        "repetition_time_ms": _number(ds.get("RepetitionTime")),
        "echo_time_ms": _number(ds.get("EchoTime")),
        "series_number": _integer(ds.get("SeriesNumber")),
        "instance_number": _integer(ds.get("InstanceNumber")),
        "slice_position_mm": _slice_position(ds, normal),
        "rows": _integer(ds.get("Rows")),
        "columns": _integer(ds.get("Columns")),
        "bits_stored": _integer(ds.get("BitsStored")),
        "photometric": _text(ds.get("PhotometricInterpretation")).upper(),
        "transfer_syntax": _syntax_name(ds),
        "frames": _integer(ds.get("NumberOfFrames")) or 1,
        "frame": frame,
        "burned_in_annotation": _text(ds.get("BurnedInAnnotation")).upper() == "YES",
        "study_key": uid_key(ds.get("StudyInstanceUID")),
        "series_key": uid_key(ds.get("SeriesInstanceUID")),
    }
    return {key: value for key, value in kept.items() if value not in (None, "", [])}


def uid_key(uid) -> str:
    """A salted hash of a UID: equal for equal UIDs on this site, meaningless elsewhere."""
    if not uid:
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"dicom-uid:" + str(uid).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def slice_orientation(ds) -> tuple[str, np.ndarray | None]:
    """axial, sagittal, coronal or oblique, from Image Orientation (Patient); "" when absent."""
    cosines = _numbers(ds.get("ImageOrientationPatient"), 6)
    if cosines is None:
        return "", None
    row, column = np.array(cosines[:3]), np.array(cosines[3:])
    normal = np.cross(row, column)
    length = float(np.linalg.norm(normal))
    if length < 1e-6:
        return "", None
    normal = normal / length
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < math.cos(math.radians(OBLIQUE_DEGREES)):
        return "oblique", normal
    return ("sagittal", "coronal", "axial")[axis], normal


def _slice_position(ds, normal: np.ndarray | None) -> float | None:
    """Where the slice lies along its normal: what sorts a series from one end to the other."""
    position = _numbers(ds.get("ImagePositionPatient"), 3)
    if position is None or normal is None:
        return None
    return round(float(np.dot(np.array(position), normal)), 3)


def _text(value) -> str:
    if value is None:
        return ""
    text = str(value).replace("\x00", "").strip()
    return "".join(ch for ch in text if ch.isprintable())[:TEXT_LIMIT]


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | bytes) and hasattr(value, "__len__"):
        value = value[0] if len(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 4) if math.isfinite(number) else None


def _numbers(value, count: int) -> list[float] | None:
    if value is None or isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != count:
        return None
    numbers = [_number(v) for v in value]
    return None if any(n is None for n in numbers) else numbers


def _integer(value) -> int | None:
    number = _number(value)
    return int(number) if number is not None and abs(number) < 2**31 else None


def _syntax_name(ds) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return _text(getattr(uid, "name", None) or uid)
