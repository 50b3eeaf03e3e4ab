"""Checking an uploaded scan, and re-encoding it.

The order matters: size, then magic bytes, then the dimensions from the header, and only
then the pixels. Every failure is an ImageRejected with a message for a person.

The web request only checks (image_inspect); re-encoding (image_clean: PNG compression
costs up to ten times the decode) runs in the worker, before the scan is classified
(scans.intake). Every real slice is small enough to decode in full at upload, so a damaged
one is refused there; a larger image is checked from its header and chunk checksums only, and
its full decode waits for the worker — a few of them must not slow every page of the site.
"""

import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from PIL import Image, ImageOps

# Up to this many pixels an upload is decoded in full on the request path (~20 ms). The
# largest slice in the training set has 2.1 megapixels.
FULL_DECODE_MAX_PIXELS = 2048 * 2048

# Magic numbers of the formats we open; everything else is refused whatever its name says.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


class ImageRejected(ValidationError):
    """An upload that is not a PNG or JPEG scan we can safely store."""


@dataclass(frozen=True)
class InspectedImage:
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class CleanImage:
    png: bytes
    sha256: str
    width: int
    height: int


def image_inspect(*, data: bytes, max_bytes: int, max_pixels: int, min_side: int = 1) -> InspectedImage:
    """Validates uploaded bytes as a PNG or JPEG scan we can read, without re-encoding it."""
    _check_bytes(data, max_bytes=max_bytes)
    with _opened(data, max_pixels=max_pixels, min_side=min_side) as image:
        if image.width * image.height <= FULL_DECODE_MAX_PIXELS:
            image.load()
        else:
            # Structure and checksums (PNG's CRCs) without decompressing a pixel.
            image.verify()
        return InspectedImage(sha256=hashlib.sha256(data).hexdigest(), width=image.width, height=image.height)


def image_clean(*, data: bytes, max_bytes: int, max_pixels: int) -> CleanImage:
    """Validates uploaded bytes and returns them re-encoded as a metadata-free PNG."""
    _check_bytes(data, max_bytes=max_bytes)
    image = _decode(data, max_pixels=max_pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return CleanImage(
        png=buffer.getvalue(),
        sha256=hashlib.sha256(data).hexdigest(),
        width=image.width,
        height=image.height,
    )


def _check_bytes(data: bytes, *, max_bytes: int) -> None:
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(f"The file is too large: the limit is {max_bytes // (1024 * 1024)} MB.")
    if not (data.startswith(PNG_SIGNATURE) or data.startswith(JPEG_SIGNATURE)):
        raise ImageRejected(
            "Unsupported file type: only PNG and JPEG images, DICOM files and zips of DICOM files are accepted."
        )


def _decode(data: bytes, *, max_pixels: int) -> Image.Image:
    with _opened(data, max_pixels=max_pixels) as image:
        image.load()
        return _to_storable_mode(ImageOps.exif_transpose(image))


@contextmanager
def _opened(data: bytes, *, max_pixels: int, min_side: int = 1) -> Iterator[Image.Image]:
    """The image with only its header read; whatever goes wrong inside the block becomes an
    ImageRejected."""
    too_large = f"Image too large: the limit is {max_pixels / 1_000_000:g} megapixels."
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice it; we want an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
            # Image.open reads only the header, so these checks run before any pixel is decoded.
            if image.width * image.height > max_pixels:
                raise ImageRejected(too_large)
            if min(image.width, image.height) < min_side:
                raise ImageRejected(
                    f"Image too small ({image.width}×{image.height}): a scan must be at least "
                    f"{min_side} pixels on each side."
                )
            yield image
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(too_large) from None
    except Exception:
        # Decoders of hostile input raise a zoo of types (OSError, SyntaxError, ValueError,
        # struct.error, EOFError …); to the uploader they all mean the same thing.
        raise ImageRejected("The file is not a readable image: it is damaged or truncated.") from None


def _to_storable_mode(image: Image.Image) -> Image.Image:
    """A fresh image in 8-bit grayscale or RGB (what the engine reads) with no metadata:
    EXIF, ICC profiles, text chunks and anything appended to the file are left behind."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _scale_to_l(image)
    elif image.mode in ("1", "L", "LA"):
        image = image.convert("L")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _scale_to_l(image: Image.Image) -> Image.Image:
    """16-bit and float scans are scaled to the full 8-bit range, not clipped."""
    image = image.convert("F")
    lo, hi = image.getextrema()
    scale = 255.0 / ((hi - lo) or 1.0)
    return image.point(lambda v: v * scale - lo * scale).convert("L")
