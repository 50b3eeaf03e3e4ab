"""Synthetic scans drawn by the tests: a bright disc ("head") on black, with an optional blob."""

import io

import numpy as np
from PIL import Image


def head(width: int = 256, height: int = 256, blob: tuple[float, float] | None = None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[:height, :width]
    cy, cx, radius = height / 2, width / 2, 0.4 * min(width, height)
    disc = ((x - cx) ** 2 + (y - cy) ** 2) <= radius**2
    gray = np.where(disc, 90 + rng.normal(0, 12, (height, width)), 0)
    if blob is not None:
        bx, by = blob[0] * width, blob[1] * height
        gray = gray + 120 * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * (0.06 * min(width, height)) ** 2))
    return np.clip(gray, 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None, **save) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()
