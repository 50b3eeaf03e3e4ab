"""Turn uploaded bytes into the array a model sees — the one path shared by training and serving.

decode_scan() reads any PNG/JPEG safely into 8-bit grayscale; model_input() crops the head,
pads it square, resizes and normalises intensities. Both training and serving call exactly
these two functions, so they cannot drift apart.
"""

import io
import warnings

import numpy as np
from PIL import Image
from scipy.ndimage import binary_fill_holes, distance_transform_edt

from scans.ml.errors import ImageError

MAX_PIXELS = 40_000_000
MIN_SIDE = 32
ACCEPTED_FORMATS = {"PNG", "JPEG", "MPO"}  # MPO: a JPEG with extra frames, as some cameras save

# Intensities are stretched between these percentiles of the head region, which makes the
# input nearly invariant to the brightness and contrast an export pipeline happened to use.
LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.0


def decode_scan(data: bytes) -> np.ndarray:
    """Decode PNG/JPEG bytes into a 2-D uint8 grayscale array, or raise ImageError."""
    if not data:
        raise ImageError("The file is empty (0 bytes): choose a PNG or JPEG scan.")
    with warnings.catch_warnings():
        # Pillow warns before it raises DecompressionBombError; the size check below is ours.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError(f"The image is too large (the limit is {MAX_PIXELS // 1_000_000} megapixels).") from None
        except (OSError, ValueError):
            raise ImageError("Not a readable image: upload a PNG or JPEG scan.") from None
        _check_header(image)
        try:
            image.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ImageError(f"The image is truncated or corrupt ({reason}).") from None
        return _to_gray(image)


def _check_header(image: Image.Image) -> None:
    if image.format not in ACCEPTED_FORMATS:
        raise ImageError(f"{image.format or 'This'} files are not accepted: upload a PNG or JPEG scan.")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"The image is too large ({width}×{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels)."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"The image is too small ({width}×{height}); a scan needs at least {MIN_SIDE} px a side.")
    if image.format == "PNG" and getattr(image, "n_frames", 1) > 1:
        raise ImageError("Animated PNGs are not accepted: export a single still slice.")
    if image.mode == "CMYK":
        raise ImageError("CMYK (print) JPEGs are not accepted: export the scan as grayscale or RGB.")


def _to_gray(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Medical exports often use the full 16-bit range; stretch it rather than truncate.
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
        return scaled.astype(np.uint8)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def background_level(gray: np.ndarray) -> float:
    """The intensity of the empty frame around the head (black in most exports, grey in some)."""
    border = max(1, min(gray.shape) // 32)
    frame = np.concatenate(
        [gray[:border].ravel(), gray[-border:].ravel(), gray[:, :border].ravel(), gray[:, -border:].ravel()]
    )
    return float(np.median(frame))


def head_box(gray: np.ndarray) -> tuple[int, int, int, int]:
    """The bounding box (top, left, bottom, right) of the head, with a small margin."""
    small = gray[::4, ::4] if min(gray.shape) >= 128 else gray
    step = gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1]
    threshold = _head_threshold(small)
    rows = np.flatnonzero((small > threshold).mean(axis=1) > 0.02)
    cols = np.flatnonzero((small > threshold).mean(axis=0) > 0.02)
    height, width = gray.shape
    if rows.size == 0 or cols.size == 0:
        return 0, 0, height, width
    top, bottom = int(rows[0] * step[0]), int((rows[-1] + 1) * step[0])
    left, right = int(cols[0] * step[1]), int((cols[-1] + 1) * step[1])
    if (bottom - top) < height * 0.25 or (right - left) < width * 0.25:
        return 0, 0, height, width
    margin = int(0.03 * max(height, width))
    return max(0, top - margin), max(0, left - margin), min(height, bottom + margin), min(width, right + margin)


def _head_threshold(gray: np.ndarray) -> float:
    """Between the background's own level and the image's bright end, so dim, contrast-reduced
    or grey-backed exports find the same head as the originals."""
    background = background_level(gray)
    return background + max(8.0, 0.12 * (float(np.percentile(gray, 99)) - background))


def head_depth(gray: np.ndarray) -> np.ndarray:
    """How deep inside the head each pixel lies: 0 outside it and on its outline, rising to 1
    at its deepest point (distance to the outline over the largest such distance). The head is
    what head_box finds, holes filled; measured on every 4th pixel of images of 128 px and more."""
    step = 4 if min(gray.shape) >= 128 else 1
    small = gray[::step, ::step]
    distance = distance_transform_edt(binary_fill_holes(small > _head_threshold(small)))
    deepest = distance.max()
    depth = distance / deepest if deepest > 0 else distance
    full = np.repeat(np.repeat(depth, step, axis=0), step, axis=1)
    return full[: gray.shape[0], : gray.shape[1]].astype(np.float32)


def crop_square(gray: np.ndarray, crop: bool = True) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Crop to the head and pad to a square; returns the square and the box in the original."""
    top, left, bottom, right = head_box(gray) if crop else (0, 0, *gray.shape)
    region = gray[top:bottom, left:right]
    side = max(region.shape)
    square = np.zeros((side, side), dtype=gray.dtype)
    offset_y, offset_x = (side - region.shape[0]) // 2, (side - region.shape[1]) // 2
    square[offset_y : offset_y + region.shape[0], offset_x : offset_x + region.shape[1]] = region
    # The square's footprint in original coordinates (may extend past the image edges).
    return square, (top - offset_y, left - offset_x, top - offset_y + side, left - offset_x + side)


def resize(gray: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(gray).resize((size, size), Image.BILINEAR), dtype=np.uint8)


def normalize(gray: np.ndarray) -> np.ndarray:
    """Stretch intensities between robust percentiles of the non-background pixels to [0, 1]."""
    values = gray.astype(np.float32)
    background = background_level(gray)
    foreground = values[values > background + 8]
    if foreground.size < 64:
        foreground = values.ravel()
    low, high = np.percentile(foreground, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if high - low < 1.0:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def model_input(gray: np.ndarray, size: int, crop: bool = True) -> np.ndarray:
    """A (size, size, 3) float32 array in [0, 1] for a model whose input is size×size×3."""
    square, _ = crop_square(gray, crop)
    channel = normalize(resize(square, size))
    return np.repeat(channel[:, :, None], 3, axis=2).astype(np.float32)


def input_box(gray: np.ndarray, crop: bool = True) -> tuple[int, int, int, int]:
    """Where the model's input square lies in the original image (top, left, bottom, right)."""
    return crop_square(gray, crop)[1]
