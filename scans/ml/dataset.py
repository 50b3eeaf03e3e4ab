"""Reading a class-per-folder dataset and splitting it without leaking the same slice or patient.

The shared dataset holds exact duplicates (same bytes), near-duplicates (the same slice
re-encoded or resized), left–right mirrored copies of one slice, and — for its figshare part —
many slices of one patient. Every image is grouped with all of those, and each group lands on
one side of the split, so validation scores only slices and patients the model never saw.
"""

import csv
import hashlib
import re
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
# Mirrored copies: a 64 px grayscale thumbnail correlates with the mirror of its twin at
# ≥ 0.97 (the dataset README's measure, at 128 px, finds ~2,600 such pairs).
MIRROR_SIDE = 64
MIRROR_CORRELATION = 0.97
# Patient ids of the figshare images live beside the images: <data>/../masks/MANIFEST.tsv.
MASKS_MANIFEST = Path("..") / "masks" / "MANIFEST.tsv"


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


def _thumbnail(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        small = np.asarray(image.convert("L").resize((MIRROR_SIDE, MIRROR_SIDE), Image.BILINEAR), dtype=np.float32)
    return small


def mirror_pairs(paths: list[Path]) -> list[tuple[int, int]]:
    """Pairs (i, j) where image j is (nearly) image i flipped left–right."""
    thumbs = np.stack([_thumbnail(p) for p in paths])

    def standardised(batch: np.ndarray) -> np.ndarray:
        flat = batch.reshape(len(batch), -1)
        flat = flat - flat.mean(axis=1, keepdims=True)
        return flat / (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-6)

    plain, mirrored = standardised(thumbs), standardised(thumbs[:, :, ::-1])
    pairs = []
    for start in range(0, len(paths), 512):
        correlation = mirrored[start : start + 512] @ plain.T
        for i, j in zip(*np.nonzero(correlation >= MIRROR_CORRELATION)):
            if start + i != j:
                pairs.append((start + int(i), int(j)))
    return pairs


def patient_ids(data_dir: Path, paths: list[Path]) -> list[str | None]:
    """The patient id of each image where the dataset ships one (figshare part), else None.

    Ids that differ only by a trailing letter are one family (another series of the same
    person, per the masks README), so the letter is dropped.
    """
    manifest = Path(data_dir) / MASKS_MANIFEST
    if not manifest.is_file():
        return [None] * len(paths)
    with open(manifest, newline="") as handle:
        by_file = {
            row["file"]: re.sub(r"(?<=\d)[A-Z]$", "", row["pid"]) for row in csv.DictReader(handle, delimiter="\t")
        }
    return [by_file.get(f"{p.parent.name}/{p.name}") for p in paths]


def duplicate_groups(paths: list[Path], data_dir: Path | None = None) -> np.ndarray:
    """A group id per path: exact copies, near-duplicates, mirrored copies and (when the
    dataset names them) all slices of one patient share one."""
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
    for i, j in mirror_pairs(paths):
        union(i, j)
    if data_dir is not None:
        first_by_patient: dict[str, int] = {}
        for i, patient in enumerate(patient_ids(data_dir, paths)):
            if patient is not None:
                union(i, first_by_patient.setdefault(patient, i))
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
