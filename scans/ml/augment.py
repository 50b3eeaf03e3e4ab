"""Training-time augmentation that imitates how the same scan arrives from other pipelines.

Works on the cropped, squared uint8 head image (before resize and normalisation), so each
change is one a real export could make: geometry, brightness, contrast, gamma, local or global
contrast enhancement, blur, sharpening, JPEG re-compression, down-and-up scaling and sensor noise.
"""

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

# For the model card: what augment() does, in words.
DESCRIPTION = (
    "flips, ±12° rotation, ±12% scale, shifts, brightness, contrast, gamma, CLAHE (30 %), blur, sharpening, "
    "down-and-up scaling, JPEG quality 20–90, noise, smooth bias field"
)


def description(equalize: float = 0.0) -> str:
    """DESCRIPTION with the global equalisation share, when a recipe uses it."""
    return DESCRIPTION + (f", global histogram equalisation ({equalize:.0%})" if equalize else "")


def equalised(gray: np.ndarray) -> np.ndarray:
    """A uint8 image with global histogram equalisation, as some export tools apply."""
    return np.asarray(ImageOps.equalize(Image.fromarray(gray)), dtype=np.uint8)


def augment(
    square: np.ndarray,
    rng: np.random.Generator,
    clahe: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    equalize: float = 0.0,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """A randomly altered copy of a uint8 square; `clahe` is the same square CLAHE-equalised.

    `equalize`: the share of the others given global histogram equalisation, as some export
    tools apply; it also turns the near-black background's noise into a grey speckle. At 0 no
    random number is drawn for it, so older recipes augment exactly as before.
    With a `mask` (uint8, same side), returns (image, mask) with the same geometry applied to both.
    """
    if clahe is not None and rng.random() < 0.3:
        square = clahe
    elif equalize and rng.random() < equalize:
        square = equalised(square)
    transform = _geometry(square.shape[0], rng)
    image = transform(Image.fromarray(square), Image.BILINEAR)
    if rng.random() < 0.5:
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.5:
        image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.4, 1.7))
    if rng.random() < 0.3:
        gamma = rng.uniform(0.65, 1.5)
        image = image.point(lambda v: 255.0 * (v / 255.0) ** gamma)
    if rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.6)))
    elif rng.random() < 0.15:
        image = ImageEnhance.Sharpness(image).enhance(rng.uniform(1.5, 3.0))
    if rng.random() < 0.25:
        side = image.size[0]
        small = int(side * rng.uniform(0.4, 0.9))
        image = image.resize((small, small), Image.BILINEAR).resize((side, side), Image.BILINEAR)
    if rng.random() < 0.3:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(20, 90)))
        image = Image.open(buffer)
    out = np.asarray(image, dtype=np.uint8)
    if rng.random() < 0.15:
        noise = rng.normal(0.0, rng.uniform(2.0, 8.0), out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = _bias_field(out, rng)
    if mask is None:
        return out
    return out, np.asarray(transform(Image.fromarray(mask), Image.NEAREST), dtype=np.uint8)


def _bias_field(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative intensity drift across the slice, as coil inhomogeneity makes."""
    side = image.shape[0]
    coarse = Image.fromarray(rng.uniform(0.75, 1.25, (3, 3)).astype(np.float32), mode="F")
    field = np.asarray(coarse.resize((side, side), Image.BICUBIC), dtype=np.float32)
    return np.clip(image * field, 0, 255).astype(np.uint8)


def _geometry(side: int, rng: np.random.Generator):
    """A random flip + rotation + scale + shift, as a function (image, resample) → image."""
    flip = rng.random() < 0.5
    angle = np.deg2rad(rng.uniform(-12, 12))
    scale = rng.uniform(0.88, 1.12)
    shift_x, shift_y = rng.uniform(-0.06, 0.06, size=2) * side
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    centre = side / 2
    # PIL maps output to input coordinates: rotate and scale about the centre, then shift.
    matrix = (
        cos,
        sin,
        centre - cos * centre - sin * centre + shift_x,
        -sin,
        cos,
        centre + sin * centre - cos * centre + shift_y,
    )

    def apply(image: Image.Image, resample) -> Image.Image:
        if flip:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return image.transform(image.size, Image.AFFINE, matrix, resample=resample)

    return apply
