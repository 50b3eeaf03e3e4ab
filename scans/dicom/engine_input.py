"""What the `classify` command hands the engine for a file that may be a DICOM."""

from scans.dicom.gate import modality_refusal
from scans.ml.dicom_pixels import dicom_to_png, is_dicom


def engine_input(data: bytes) -> tuple[bytes, str]:
    """(bytes for Engine.predict, the modality gate's refusal or ""): a DICOM becomes the PNG
    of its slice, rendered with its window; a PNG or JPEG passes through untouched."""
    if not is_dicom(data):
        return data, ""
    png, modality = dicom_to_png(data)
    return png, modality_refusal({"modality": modality})
