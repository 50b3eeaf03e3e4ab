"""DICOM pixels into the 8-bit image the model's preprocessing expects — the engine's one path.

A DICOM slice is not a picture: its stored values become intensities through the modality
LUT (Rescale Slope/Intercept), and a person sees them through a window (the file's VOI LUT or
its first Window Center/Width). We do the same, in that order, so the 8-bit slice looks like
the one a radiologist sees on the workstation; a file without a window gets a robust
percentile window. MONOCHROME1 (bright is low) is inverted; colour (RGB, YBR) is returned as
RGB, which scans.ml.ood then judges as it judges a colour PNG.

The compressed transfer syntaxes decode through the pylibjpeg plugins, so no system library
is needed. Every failure is an ImageError with a message for a person. Nothing here imports
Django.
"""

import io

import numpy as np

from scans.ml.errors import ImageError

# "DICM" after the 128-byte preamble: how a DICOM file (Part 10) announces itself.
DICOM_MAGIC_OFFSET = 128
DICOM_MAGIC = b"DICM"

# Without a window in the file: the values between these percentiles fill the 8-bit range,
# so a few very bright voxels (vessels, fat, artefacts) do not darken the whole slice.
LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.5


def is_dicom(data: bytes) -> bool:
    return data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == DICOM_MAGIC


def read_dataset(data: bytes, *, stop_before_pixels: bool = False):
    """The parsed dataset of DICOM Part 10 bytes, or ImageError."""
    import pydicom
    from pydicom import config
    from pydicom.errors import InvalidDicomError

    # pydicom's warnings about malformed values quote them ("Invalid value for VR DA:
    # '1923-04-17'"): a patient's identifiers must never reach a log, so nothing is validated.
    config.settings.reading_validation_mode = config.IGNORE
    if not is_dicom(data):
        raise ImageError("Not a DICOM file: it has no DICM preamble.")
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels)
    except InvalidDicomError:
        raise ImageError("Not a readable DICOM file.") from None
    except Exception as exc:
        # Hostile or truncated headers raise many types (EOFError, struct.error, ValueError …).
        raise ImageError(f"The DICOM file is damaged or truncated ({type(exc).__name__}).") from None


def frame_count(ds) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        raise ImageError("The DICOM file's Number of Frames is not a number.") from None


def decode_dicom(data: bytes, *, frame: int = 0) -> np.ndarray:
    """One frame of DICOM bytes as a uint8 array: (rows, columns) gray or (rows, columns, 3) RGB."""
    return dataset_to_uint8(read_dataset(data), frame=frame)


def dataset_to_uint8(ds, *, frame: int = 0) -> np.ndarray:
    """One frame of a dataset, rendered the way a viewer shows it by default, in 8 bits."""
    try:
        return _render(ds, frame)
    except ImageError:
        raise
    except Exception as exc:
        # Attributes that contradict the pixels (a text slope, a LUT of the wrong length …).
        raise ImageError(f"The DICOM file's pixel attributes are inconsistent ({type(exc).__name__}).") from None


def _render(ds, frame: int) -> np.ndarray:
    stored = frame_pixels(ds, frame=frame)
    if int(ds.get("SamplesPerPixel", 1) or 1) == 3:
        return _colour_to_uint8(stored)
    values = modality_values(stored, ds)
    scaled = voi_window(values, ds)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        scaled = 1.0 - scaled
    return np.round(scaled * 255.0).astype(np.uint8)


def frame_pixels(ds, *, frame: int = 0) -> np.ndarray:
    """The stored values of one frame, decoded; ImageError when they cannot be."""
    if "PixelData" not in ds:
        raise ImageError("The DICOM file has no image (no Pixel Data): it may be a report or a structure set.")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None:
        raise ImageError("The DICOM file does not say how its pixels are encoded (no Transfer Syntax UID).")
    if not decoder_available(syntax):
        raise ImageError(f"The DICOM file's pixel encoding ({_syntax_name(syntax)}) cannot be decoded.")
    count = frame_count(ds)
    if not 0 <= frame < count:
        raise ImageError(f"The DICOM file has {count} frame(s); frame {frame + 1} does not exist.")
    from pydicom.pixels import pixel_array

    try:
        # as_rgb: YBR (as in most JPEG-compressed colour files) becomes RGB.
        array = pixel_array(ds, index=frame if count > 1 else None, as_rgb=True)
    except Exception as exc:
        raise ImageError(_undecodable(syntax, exc)) from None
    except BaseException as exc:
        # The Rust decoders (pylibjpeg-rle) panic on some damaged streams, and pyo3 raises a
        # panic as a BaseException; it means no more than any other decoding failure.
        if type(exc).__name__ != "PanicException":
            raise
        raise ImageError(_undecodable(syntax, exc)) from None
    return array


def _undecodable(syntax, exc: BaseException) -> str:
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return f"The DICOM pixels could not be decoded ({_syntax_name(syntax)}: {reason})."


def decoder_available(syntax) -> bool:
    """Whether an installed plugin decodes this transfer syntax (pylibjpeg covers the JPEG
    family and RLE; MPEG and HTJ2K video-like syntaxes have none)."""
    from pydicom.pixels import get_decoder

    try:
        return get_decoder(syntax).is_available
    except (NotImplementedError, ValueError):
        return False


def modality_values(stored: np.ndarray, ds) -> np.ndarray:
    """Stored values → modality values: the Modality LUT when the file has one, else
    Rescale Slope and Intercept (1 and 0 when absent)."""
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        return apply_modality_lut(stored, ds).astype(np.float64)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return stored.astype(np.float64) * slope + intercept


def voi_window(values: np.ndarray, ds) -> np.ndarray:
    """Modality values → [0, 1]: the file's VOI LUT, else its first window, else percentiles."""
    if "VOILUTSequence" in ds:
        return _voi_lut(values, ds)
    window = first_window(ds)
    if window is not None:
        center, width = window
        function = str(ds.get("VOILUTFunction", "LINEAR")).strip().upper() or "LINEAR"
        return window_linear(values, center, width, exact=function == "LINEAR_EXACT", sigmoid=function == "SIGMOID")
    return percentile_window(values)


def first_window(ds) -> tuple[float, float] | None:
    """The file's first Window Center/Width (they are multi-valued when the modality offers
    several presets), or None when absent or unusable."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    center = center[0] if _is_multi(center) else center
    width = width[0] if _is_multi(width) else width
    try:
        center, width = float(center), float(width)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(center) or not np.isfinite(width) or width < 1:
        return None
    return center, width


def window_linear(values: np.ndarray, center: float, width: float, *, exact=False, sigmoid=False) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2: the window's formulas, with the output range [0, 1]."""
    if sigmoid:
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if exact:
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if width == 1:
        return (values > center - 0.5).astype(np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)


def percentile_window(values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if high <= low:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values, dtype=np.float64)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def _voi_lut(values: np.ndarray, ds) -> np.ndarray:
    item = ds.VOILUTSequence[0]
    try:
        first_mapped = int(item.LUTDescriptor[1])
        lut = np.asarray(_lut_values(item), dtype=np.float64)
    except Exception:
        raise ImageError("The DICOM file's VOI LUT is damaged.") from None
    if lut.size == 0:
        raise ImageError("The DICOM file's VOI LUT is empty.")
    positions = np.clip(np.round(values).astype(np.int64) - first_mapped, 0, lut.size - 1)
    mapped = lut[positions]
    low, high = float(lut.min()), float(lut.max())
    return (mapped - low) / (high - low) if high > low else np.zeros_like(mapped)


def _lut_values(item) -> np.ndarray:
    data = item.LUTData
    if isinstance(data, bytes):
        bits = int(item.LUTDescriptor[2])
        return np.frombuffer(data, dtype=np.uint16 if bits > 8 else np.uint8)
    return np.atleast_1d(np.asarray(data))


def _colour_to_uint8(stored: np.ndarray) -> np.ndarray:
    if stored.dtype == np.uint8:
        return stored
    peak = float(stored.max()) or 1.0
    return np.round(stored.astype(np.float64) / peak * 255.0).astype(np.uint8)


def _is_multi(value) -> bool:
    return not isinstance(value, str | bytes) and hasattr(value, "__len__") and hasattr(value, "__getitem__")


def _syntax_name(uid) -> str:
    return getattr(uid, "name", None) or str(uid)


def dicom_to_png(data: bytes) -> tuple[bytes, str]:
    """A single-slice DICOM as PNG bytes (what Engine.predict reads), and its Modality."""
    from PIL import Image

    ds = read_dataset(data)
    if frame_count(ds) > 1:
        raise ImageError(
            f"A multi-frame DICOM ({frame_count(ds)} frames): upload it through the portal, which splits the frames."
        )
    buffer = io.BytesIO()
    Image.fromarray(dataset_to_uint8(ds)).save(buffer, format="PNG")
    return buffer.getvalue(), str(ds.get("Modality", "") or "").strip().upper()
