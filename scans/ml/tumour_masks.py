"""The tumour masks of the training data, as the auxiliary "where is the tumour" loss uses them.

The dataset ships a mask per figshare image (<data>/../masks/<class>/<stem>.png); training
crops it like its image, moves it with the image's augmentation, and scores the network's
per-cell tumour map against it. Serving never needs a mask.
"""

from pathlib import Path

import keras
import numpy as np

from scans.ml.dataset import MASKS_MANIFEST


def mask_path_for(image_path: Path) -> Path:
    """Where the dataset keeps an image's tumour mask (it may not have one)."""
    masks = image_path.parent.parent / MASKS_MANIFEST.parent
    return masks / image_path.parent.name / f"{image_path.stem}.png"


def crop_to_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The part of `image` inside `box` (which may reach past its edges), zero-padded."""
    top, left, bottom, right = box
    out = np.zeros((bottom - top, right - left), dtype=image.dtype)
    src_top, src_left = max(top, 0), max(left, 0)
    src_bottom, src_right = min(bottom, image.shape[0]), min(right, image.shape[1])
    out[src_top - top : src_bottom - top, src_left - left : src_right - left] = image[
        src_top:src_bottom, src_left:src_right
    ]
    return out


def masked_binary_crossentropy(y_true, y_pred):
    """Cross-entropy over the cells whose target is known (≥ 0); -1 marks an image without a mask."""
    ops = keras.ops
    known = ops.cast(y_true >= 0, y_pred.dtype)
    target = ops.clip(y_true, 0.0, 1.0)
    pred = ops.clip(y_pred, 1e-6, 1.0 - 1e-6)
    loss = -(target * ops.log(pred) + (1.0 - target) * ops.log(1.0 - pred))
    return ops.sum(loss * known) / ops.maximum(ops.sum(known), 1.0)


def cell_targets(mask: np.ndarray | None, size: int, cells: int) -> np.ndarray:
    """A (cells, cells, 1) map: 1 where any tumour pixel falls in the cell, -1 everywhere when unknown."""
    from PIL import Image

    if mask is None:
        return np.full((cells, cells, 1), -1.0, dtype=np.float32)
    area = np.asarray(Image.fromarray(mask).resize((cells, cells), Image.BOX), dtype=np.float32)
    return (area > 0).astype(np.float32)[:, :, None]
