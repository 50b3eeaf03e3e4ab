"""Reading a class-per-folder dataset and splitting it without leaking duplicates.

The shared dataset holds exact duplicates (same bytes) and near-duplicates (the same slice
re-encoded or resized). Images are grouped by a perceptual hash and every group lands on one
side of the split, so validation accuracy is not flattered by images the model trained on.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from scans.ml.classes import CLASS_NAMES

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
# A 256-bit difference hash; two images this close are treated as the same slice. Measured on
# the shared dataset: 16 bits merges re-encodes and resizes without chaining distinct slices
# into giant groups (30 bits already builds one group of 339 images).
HASH_SIDE = 16
NEAR_DUPLICATE_BITS = 16


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


def list_samples(data_dir: Path) -> list[Sample]:
    """Every image under DATA_DIR/<class>/, in a stable order; a missing class is an error."""
    data_dir = Path(data_dir)
    missing = [name for name in CLASS_NAMES if not (data_dir / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{data_dir} must hold one folder per class ({', '.join(CLASS_NAMES)}); missing: {', '.join(missing)}"
        )
    return [
        Sample(path, label)
        for label, name in enumerate(CLASS_NAMES)
        for path in sorted((data_dir / name).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]


def difference_hash(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        small = np.asarray(image.convert("L").resize((HASH_SIDE + 1, HASH_SIDE), Image.BILINEAR), dtype=np.int16)
    return np.packbits((small[:, 1:] > small[:, :-1]).ravel())


def duplicate_groups(paths: list[Path]) -> np.ndarray:
    """A group id per path: exact copies and near-duplicates share one."""
    parent = list(range(len(paths)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    first_by_digest: dict[str, int] = {}
    for i, path in enumerate(paths):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        union(i, first_by_digest.setdefault(digest, i))

    hashes = np.array([difference_hash(p) for p in paths])
    for i in range(len(paths) - 1):
        distance = np.bitwise_count(hashes[i + 1 :] ^ hashes[i]).sum(axis=1)
        for j in np.flatnonzero(distance <= NEAR_DUPLICATE_BITS):
            union(i, i + 1 + int(j))
    return np.array([find(i) for i in range(len(paths))])


def stratified_group_split(
    samples: list[Sample], groups: np.ndarray, validation_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices (train, validation): whole groups per side, each class split in proportion."""
    rng = np.random.default_rng(seed)
    labels = np.array([s.label for s in samples])
    train, validation = [], []
    chosen: set[int] = set()  # one set for all classes keeps a mixed-label group on one side
    for label in range(len(CLASS_NAMES)):
        class_groups = np.unique(groups[labels == label])
        rng.shuffle(class_groups)
        target = validation_fraction * np.sum(labels == label)
        taken = 0
        for group in class_groups:
            if taken >= target:
                break
            if int(group) in chosen:
                continue
            chosen.add(int(group))
            taken += int(np.sum(groups == group))
    for i, group in enumerate(groups):
        (validation if int(group) in chosen else train).append(i)
    return train, validation
