"""The worker's step for a DICOM slice: its pixels-only file becomes the PNG every later step
reads, through the engine's one pixel path (scans.ml.dicom_pixels)."""

import hashlib
import io

from PIL import Image

from scans.images import CleanImage, ImageRejected
from scans.ml.dicom_pixels import decode_dicom
from scans.ml.errors import ImageError


def dicom_clean(*, data: bytes) -> CleanImage:
    """The slice rendered to an 8-bit PNG (window applied), or ImageRejected saying why not."""
    try:
        pixels = decode_dicom(data)
    except ImageError as error:
        raise ImageRejected(str(error)) from None
    image = Image.fromarray(pixels)  # uint8: L for (rows, columns), RGB for (rows, columns, 3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return CleanImage(
        png=buffer.getvalue(), sha256=hashlib.sha256(data).hexdigest(), width=image.width, height=image.height
    )
