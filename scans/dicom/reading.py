"""The web request's look at one DICOM file: headers, limits, and the slices it makes.

Only headers are judged here, plus one decoded frame when asked (a single uploaded file,
where a full decode is as cheap as it is for a PNG). Each frame becomes a Slice: the
allow-listed attributes, the modality gate's verdict, and the pixels-only file the worker
will render. The parsed dataset, with whatever identifiers it holds, lives only in memory.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError

from scans.dicom.attributes import technical_attributes
from scans.dicom.deidentify import frame_size, pixels_only
from scans.dicom.gate import modality_refusal, slice_warnings
from scans.ml import dicom_pixels
from scans.ml.errors import ImageError


class DicomRejected(ValidationError):
    """A DICOM upload (or a file inside a zip) that cannot become a slice."""


@dataclass
class Slice:
    payload: bytes = field(repr=False)  # the pixels-only DICOM the worker renders
    attributes: dict
    width: int
    height: int
    source_sha256: str
    study_date: date | None = None
    # Compared with the patient's record number, then forgotten: never stored.
    patient_id: str = field(default="", repr=False)

    @property
    def label(self) -> str:
        """A name for the slice that says nothing about the patient."""
        parts = [f"DICOM series {self.attributes.get('series_number', '?')}"]
        parts.append(f"image {self.attributes.get('instance_number', '?')}")
        if self.attributes.get("frames", 1) > 1:
            parts.append(f"frame {self.attributes['frame'] + 1}")
        return ", ".join(parts)


def slices_of(data: bytes, *, max_pixels: int, min_side: int, max_slices: int, decode_check: bool) -> list[Slice]:
    """The slices one DICOM file makes, or DicomRejected saying why it makes none."""
    try:
        ds = dicom_pixels.read_dataset(data)
        _check_header(ds, max_pixels=max_pixels, min_side=min_side)
        frames = dicom_pixels.frame_count(ds)
        if frames > max_slices:
            raise ImageError(f"The DICOM file has {frames} frames: the limit is {max_slices} slices per upload.")
        if decode_check:
            dicom_pixels.frame_pixels(ds, frame=0)
        sha256 = hashlib.sha256(data).hexdigest()
        return [_slice(ds, frame, frames, sha256) for frame in range(frames)]
    except ImageError as error:
        raise DicomRejected(str(error)) from None
    except Exception as error:
        # A header whose values contradict each other (text where a number belongs, a frame
        # count the pixel data does not hold …): pydicom raises a zoo of types for them.
        raise DicomRejected(f"The DICOM file's header is inconsistent ({type(error).__name__}).") from None


def _check_header(ds, *, max_pixels: int, min_side: int) -> None:
    if "PixelData" not in ds:
        raise ImageError("The DICOM file has no image (no Pixel Data): it may be a report or a structure set.")
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    if rows * columns > max_pixels:
        raise ImageError(f"Image too large: the limit is {max_pixels / 1_000_000:g} megapixels.")
    if min(rows, columns) < min_side:
        raise ImageError(f"Image too small ({columns}×{rows}): a scan must be at least {min_side} pixels on each side.")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise ImageError("The DICOM file does not say how its pixels are encoded (no Transfer Syntax UID).")
    if not dicom_pixels.decoder_available(syntax):
        raise ImageError(f"The DICOM file's pixel encoding ({getattr(syntax, 'name', syntax)}) cannot be decoded.")
    if not syntax.is_compressed:
        needed = frame_size(ds) * dicom_pixels.frame_count(ds)
        if len(ds.PixelData) < needed:
            raise ImageError("The DICOM file is truncated: its pixel data is shorter than its rows and columns say.")


def _slice(ds, frame: int, frames: int, sha256: str) -> Slice:
    attributes = technical_attributes(ds, frame=frame)
    refusal = modality_refusal(attributes)
    if refusal:
        attributes["refusal"] = refusal
    warnings = slice_warnings(attributes)
    if warnings:
        attributes["warnings"] = warnings
    return Slice(
        payload=pixels_only(ds, frame=frame, frames=frames),
        attributes=attributes,
        width=int(ds.Columns),
        height=int(ds.Rows),
        source_sha256=sha256,
        study_date=_date(ds.get("StudyDate")),
        patient_id=str(ds.get("PatientID", "") or "").strip(),
    )


def _date(value) -> date | None:
    text = str(value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
