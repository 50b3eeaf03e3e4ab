"""A small synthetic dataset in the shared dataset's layout: Training/<class>/ and masks/ with MANIFEST.tsv."""

import csv

import numpy as np

from tests.ml.images import encode, head

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")
# (width, height, mode): large RGB JPEGs like most of the dataset, a small grayscale one.
SHAPES = ((512, 512, "RGB"), (600, 400, "RGB"), (200, 180, None), (512, 512, "L"))
# Where each class's blob sits, so a model can learn something in a few steps.
BLOBS = {"glioma": (0.35, 0.4), "meningioma": (0.7, 0.3), "notumor": None, "pituitary": (0.5, 0.65)}


def tumour_mask(width, height):
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4 : height // 2, width // 2 : 3 * width // 4] = 255
    return mask


def write_dataset(root):
    """Four images a class; tumour classes have masks and patient ids, and the last mask of each
    does not fit its image (as a broken export's might not)."""
    rows = []
    for label, name in enumerate(CLASSES):
        (root / "Training" / name).mkdir(parents=True)
        for i, (width, height, mode) in enumerate(SHAPES):
            image = head(width, height, BLOBS[name], seed=label * 10 + i)
            file = f"{name}/{name[:2]}_{i}.jpg"
            (root / "Training" / file).write_bytes(encode(image, "JPEG", mode=mode, quality=95))
            if name != "notumor":
                mask_size = (width, height) if i < 3 else (64, 64)
                (root / "masks" / name).mkdir(parents=True, exist_ok=True)
                (root / "masks" / name / f"{name[:2]}_{i}.png").write_bytes(encode(tumour_mask(*mask_size)))
                rows.append({"file": file, "mask_file": f"{name}/{name[:2]}_{i}.png", "pid": f"P{label}{i // 2}"})
    with open(root / "masks" / "MANIFEST.tsv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "mask_file", "pid"], delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return root
