"""One slice's pixels as a new DICOM file that holds nothing else.

What the worker needs to render a slice is the pixel data and the attributes that say how to
read it (the Image Pixel module, the modality LUT or rescale, the window). We build a fresh
dataset from exactly those, with new random UIDs, one frame per file; everything else in the
upload — names, ids, dates, private tags, overlays, the preamble — is never copied. This is
what waits under incoming/ until the worker has rendered it, then is deleted.
"""

import io

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from scans.ml.errors import ImageError

# Values that tell how stored values become a picture; nothing in them names a person.
PIXEL_KEYWORDS = (
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
)
# LUT items are rebuilt from these alone: an item may also carry free text (LUT Explanation).
LUT_KEYWORDS = ("LUTDescriptor", "LUTData", "ModalityLUTType")
STANDARD_UID_ROOT = "1.2.840.10008."


def pixels_only(ds, *, frame: int, frames: int) -> bytes:
    """Part 10 bytes of a new dataset: frame `frame` of `ds` and how to read it, nothing more."""
    syntax = ds.file_meta.TransferSyntaxUID
    pixel_data = _frame_bytes(ds, frame=frame, frames=frames)
    if syntax == ExplicitVRBigEndian:
        pixel_data, syntax = _to_little_endian(ds, pixel_data), ExplicitVRLittleEndian
    elif not syntax.is_compressed:
        syntax = ExplicitVRLittleEndian

    out = Dataset()
    out.file_meta = FileMetaDataset()
    out.file_meta.TransferSyntaxUID = syntax
    sop_class = str(ds.get("SOPClassUID", ""))
    out.SOPClassUID = sop_class if sop_class.startswith(STANDARD_UID_ROOT) else SecondaryCaptureImageStorage
    out.SOPInstanceUID = generate_uid()
    out.file_meta.MediaStorageSOPClassUID = out.SOPClassUID
    out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    for keyword in PIXEL_KEYWORDS:
        if keyword in ds:
            out[keyword] = ds[keyword]
    for keyword in ("ModalityLUTSequence", "VOILUTSequence"):
        if keyword in ds and len(ds[keyword].value):
            setattr(out, keyword, [_lut_item(ds[keyword].value[0])])
    if syntax.is_compressed:
        out.add_new(0x7FE00010, "OB", encapsulate([pixel_data]))
        out["PixelData"].is_undefined_length = True
    else:
        out.add_new(0x7FE00010, "OW" if int(ds.BitsAllocated) > 8 else "OB", pixel_data)
    out.preamble = b"\x00" * 128
    buffer = io.BytesIO()
    out.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _frame_bytes(ds, *, frame: int, frames: int) -> bytes:
    data = ds.PixelData
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        if frames == 1:
            return next(generate_frames(data, number_of_frames=1))
        for index, fragment in enumerate(generate_frames(data, number_of_frames=frames)):
            if index == frame:
                return fragment
        raise ImageError(f"The DICOM file's compressed pixel data holds fewer than its {frames} frames.")
    size = frame_size(ds)
    start = frame * size
    if len(data) < start + size:
        raise ImageError("The DICOM file is truncated: its pixel data is shorter than its rows and columns say.")
    return data[start : start + size]


def frame_size(ds) -> int:
    """Bytes of one uncompressed frame."""
    bits = int(ds.BitsAllocated)
    if bits not in (8, 16, 32):
        raise ImageError(f"{bits}-bit pixels are not an image we can read.")
    return int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1) * bits // 8


def _to_little_endian(ds, pixel_data: bytes) -> bytes:
    bits = int(ds.BitsAllocated)
    if bits == 8:
        return pixel_data
    return np.frombuffer(pixel_data, dtype=f">u{bits // 8}").byteswap().tobytes()


def _lut_item(item) -> Dataset:
    rebuilt = Dataset()
    for keyword in LUT_KEYWORDS:
        if keyword in item:
            rebuilt[keyword] = item[keyword]
    return rebuilt
