"""Colour a [0, 1] heat map and blend it onto the grayscale scan as a PNG."""

import io

import numpy as np
from PIL import Image

# Overlays are for looking at: a 6000-px export gains nothing from a 6000-px overlay but
# seconds of PNG encoding, so the longer side is capped.
MAX_OVERLAY_SIDE = 1024


def jet(values: np.ndarray) -> np.ndarray:
    """The classic Grad-CAM palette: blue (cold) through green to red (hot)."""
    v = np.clip(values, 0.0, 1.0)
    red = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    green = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    blue = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return np.stack([red, green, blue], axis=-1)


def hot(values: np.ndarray) -> np.ndarray:
    """The origin's saliency palette: black → red → yellow → white."""
    v = np.clip(values, 0.0, 1.0)
    return np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], axis=-1)


# Colour lookup tables indexed by the map quantised to 0–255 (a table lookup is ~10× faster
# than evaluating the palette per pixel).
_LEVELS = np.linspace(0.0, 1.0, 256, dtype=np.float32)
PALETTES = {"jet": jet(_LEVELS), "hot": hot(_LEVELS)}


def overlay_png(gray: np.ndarray, heatmap: np.ndarray, palette: str, alpha: float = 0.45) -> bytes:
    """The scan with the map blended on top; where the map is zero the scan shows through."""
    height, width = gray.shape
    scale = min(1.0, MAX_OVERLAY_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1.0:
        gray = np.asarray(Image.fromarray(gray).resize(size, Image.BILINEAR))
        heatmap = np.asarray(Image.fromarray(heatmap.astype(np.float32), mode="F").resize(size, Image.BILINEAR))
    levels = (np.clip(heatmap, 0.0, 1.0) * 255).astype(np.uint8)
    colours = PALETTES[palette][levels] * 255.0
    weight = (alpha / 255.0) * levels[:, :, None].astype(np.float32)
    blended = gray[:, :, None] + weight * (colours - gray[:, :, None])
    buffer = io.BytesIO()
    # Level 1: these PNGs are written once per scan on the worker; speed beats a few kB.
    Image.fromarray(blended.astype(np.uint8)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
