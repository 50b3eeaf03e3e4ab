"""Build what a GPU machine needs for the one-shot Xception run: `make gpu-payload` (gpu/README.md).

The device call carries the repository plus named ignored paths, 64 MiB in all, and the machine
can fetch nothing. So the payload is: the training images re-encoded to ≤ 300 px grayscale JPEG
with their tumour masks resized exactly like them, in the dataset's own layout (Training/<class>/,
masks/<class>/ and masks/MANIFEST.tsv) so scans.ml reads it unchanged, in one tar.gz; the
duplicate/mirror/patient groups of the original images (groups.json); the wheels the GPU image
lacks; and payload.json, which records what is inside and the split it reproduces.
"""

import argparse
import csv
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from scans.ml.dataset import MASKS_MANIFEST, duplicate_groups, list_samples, stratified_group_split
from scans.ml.preprocess import decode_scan

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "brain-tumor-mri"
DEFAULT_OUT = REPO_ROOT / "gpu" / "payload"
DEFAULT_STAGING = REPO_ROOT / "var" / "gpu-staging"

# (longest side in px, JPEG quality), best first: the build takes the first whose estimated size
# fits beside the repository. Training caches the head square at 256 px
# (scans.ml.training.CACHE_SIDE), so shrinking to 256 costs little; quality drops only after.
# Measured on 300 of the dataset's images, scaled to all 5,712: 300/75 52.9 MiB, 280/75 48.2,
# 256/75 43.1, 300/65 45.2.
ENCODINGS = ((300, 75), (280, 75), (256, 75), (256, 65), (224, 60))
MAX_SIDE, JPEG_QUALITY = ENCODINGS[0]
# How many images estimate an encoding's size, and what the masks, groups.json and the
# archive's own headers are allowed besides (measured: 1.7 MiB, 0.2 MiB and a little).
ESTIMATE_IMAGES = 150
OTHER_PAYLOAD_BYTES = 3 * 2**20
DATA_ARCHIVE = "data.tar.gz"
DATASET_FOLDER = "brain-tumor-mri"
WHEELS_FOLDER = "wheels"
PAYLOAD_JSON = "payload.json"
GROUPS_JSON = "groups.json"

TRANSFER_LIMIT = 64 * 2**20
# Room for files the tree gains between this build and the run (a card, a test, a note).
TRANSFER_MARGIN = 2 * 2**20

# keras's dependencies that the GPU image's package list (device notes, KINDS.md) lacks; it has
# numpy, h5py, rich, absl-py, ml-dtypes and packaging. Versions: what this project's venv
# resolved together with keras.
KERAS_COMPANIONS = ("namex==0.1.0", "optree==0.20.0")
GPU_PYTHON = "3.12"
GPU_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def shrunk_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The size with the longer side at most `max_side`, aspect kept; smaller images stay as they are."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_gray(gray: Image.Image, max_side: int, quality: int) -> tuple[bytes, tuple[int, int]]:
    """A grayscale image shrunk to `max_side` as JPEG (optimised, progressive: smaller, same pixels)."""
    size = shrunk_size(*gray.size, max_side)
    if size != gray.size:
        gray = gray.resize(size, Image.LANCZOS)
    buffer = io.BytesIO()
    gray.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    return buffer.getvalue(), size


def reencode_image(
    data: bytes, max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY
) -> tuple[bytes, tuple[int, int], tuple[int, int]]:
    """The scan decoded as training decodes it (scans.ml.preprocess), shrunk, as grayscale JPEG;
    with its original and its new size (width, height)."""
    gray = Image.fromarray(decode_scan(data))
    encoded, size = encode_gray(gray, max_side, quality)
    return encoded, gray.size, size


def choose_encoding(samples: list, available_bytes: float, log=print) -> tuple[int, int]:
    """The best of ENCODINGS whose size, estimated on a spread of the images, fits the bytes available."""
    probe = samples[:: max(1, len(samples) // ESTIMATE_IMAGES)]
    grays = [Image.fromarray(decode_scan(s.path.read_bytes())) for s in probe]
    for max_side, quality in ENCODINGS:
        estimate = sum(len(encode_gray(g, max_side, quality)[0]) for g in grays) * len(samples) / len(probe)
        if estimate <= available_bytes:
            log(f"{max_side} px at quality {quality}: about {estimate / 2**20:.1f} MiB of images")
            return max_side, quality
        log(f"{max_side} px at quality {quality}: about {estimate / 2**20:.1f} MiB, over the budget")
    raise SystemExit(
        f"even the smallest encoding leaves the images over the {available_bytes / 2**20:.1f} MiB "
        "the repository and the wheels leave: trim the repository."
    )


def resize_mask(data: bytes, image_size: tuple[int, int], new_size: tuple[int, int]) -> bytes:
    """A tumour mask brought to its image's new size, nearest-neighbour so it stays 0/255 and lines up.

    A mask that did not fit its original image stays as it is: training ignores a mask whose size
    differs from its image's, and must ignore it here too.
    """
    with Image.open(io.BytesIO(data)) as mask:
        if mask.size != image_size:
            return data
        resized = mask.convert("L").resize(new_size, Image.NEAREST)
    buffer = io.BytesIO()
    resized.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def relative_name(training_dir: Path, path: Path) -> str:
    return path.relative_to(training_dir).as_posix()


def chosen_samples(training_dir: Path, per_class: int | None) -> list:
    """Every image, or the first `per_class` of each class (small payloads for rehearsals and tests)."""
    samples = list_samples(training_dir)
    if per_class is None:
        return samples
    counts: dict[int, int] = {}
    kept = []
    for sample in samples:
        counts[sample.label] = counts.get(sample.label, 0) + 1
        if counts[sample.label] <= per_class:
            kept.append(sample)
    return kept


def stage(
    source: Path, staging: Path, samples: list, max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY, log=print
) -> dict:
    """Write the re-encoded dataset under staging/brain-tumor-mri/; returns what it holds."""
    training_dir = source / "Training"
    root = staging / DATASET_FOLDER
    if root.exists():
        shutil.rmtree(root)
    sizes: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
    log(f"re-encoding {len(samples)} images to ≤ {max_side} px grayscale JPEG (quality {quality})…")
    for sample in samples:
        name = relative_name(training_dir, sample.path)
        data, original_size, new_size = reencode_image(sample.path.read_bytes(), max_side, quality)
        sizes[name] = (original_size, new_size)
        target = root / "Training" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    manifest = training_dir / MASKS_MANIFEST
    masks = 0
    if manifest.is_file():
        with open(manifest, newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            fields, rows = reader.fieldnames, [row for row in reader if row["file"] in sizes]
        # Beside Training/, where scans.ml.dataset looks (MASKS_MANIFEST).
        masks_root = root / MASKS_MANIFEST.parent.name
        masks_root.mkdir(parents=True, exist_ok=True)
        log(f"resizing {len(rows)} tumour masks like their images…")
        for row in rows:
            target = masks_root / row["mask_file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            original = (manifest.parent / row["mask_file"]).read_bytes()
            target.write_bytes(resize_mask(original, *sizes[row["file"]]))
        with open(masks_root / MASKS_MANIFEST.name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        masks = len(rows)
    per_class_counts = Counter(name.split("/")[0] for name in sizes)
    return {"images": len(sizes), "masks": masks, "per_class": dict(per_class_counts), "names": sorted(sizes)}


def original_groups(training_dir: Path, names: set[str]) -> dict[str, int]:
    """scans.ml.dataset's group of each chosen image, computed on the original files.

    The run must not regroup the re-encoded copies: shrinking and re-compressing moves the
    near-duplicate and mirror measures, and measured on the whole dataset, 730 groups became
    731 and 831 images changed side of the split. So the groups travel in groups.json.
    """
    samples = [s for s in list_samples(training_dir) if relative_name(training_dir, s.path) in names]
    groups = duplicate_groups([s.path for s in samples], training_dir)
    return {relative_name(training_dir, s.path): int(g) for s, g in zip(samples, groups)}


def split_with_groups(training_dir: Path, groups: dict[str, int]) -> dict:
    """The split train() makes of those images in training_dir that have a group (default recipe)."""
    from scans.ml.training import Recipe

    recipe = Recipe()
    samples = [s for s in list_samples(training_dir) if relative_name(training_dir, s.path) in groups]
    ids = np.array([groups[relative_name(training_dir, s.path)] for s in samples])
    train, validation = stratified_group_split(samples, ids, recipe.validation_fraction, recipe.split_rng_seed)
    return {
        "train": len(train),
        "validation": len(validation),
        "groups": int(len(np.unique(ids))),
        "validation_files": sorted(relative_name(training_dir, samples[i].path) for i in validation),
    }


def pack(staging: Path, archive: Path) -> None:
    """A reproducible tar.gz of staging/brain-tumor-mri (sorted, no owners or times): same data, same bytes.

    Gzip, although JPEGs hardly shrink: a plain tar pads each of ~10,000 small files to 512-byte
    blocks, about 7 MB of zeros.
    """
    root = staging / DATASET_FOLDER
    with (
        open(archive, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in [root, *sorted(root.rglob("*"))]:
            info = tar.gettarinfo(str(path), arcname=path.relative_to(staging).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_dir():
                tar.addfile(info)
            else:
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)


def keras_pin(requirements: Path = REPO_ROOT / "requirements.txt") -> str:
    """requirements.txt's keras pin: the GPU runs the very version that serves the weights here."""
    for line in requirements.read_text().splitlines():
        if line.strip().startswith("keras=="):
            return line.strip()
    raise ValueError(f"{requirements} pins no keras version (keras==X.Y.Z).")


def download_wheels(folder: Path) -> list[str]:
    """Fetch keras and the companions the GPU image lacks, as wheels for its Python 3.12 on x86-64."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", GPU_PYTHON, "--implementation", "cp", "--dest", str(folder)]
    for platform_tag in GPU_PLATFORMS:
        command += ["--platform", platform_tag]
    subprocess.run([*command, keras_pin(), *KERAS_COMPANIONS], check=True)  # noqa: S603 (our own fixed arguments)
    return sorted(p.name for p in folder.glob("*.whl"))


def tree_bytes(repo_root: Path = REPO_ROOT) -> int:
    """What every device call sends besides carried paths: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(  # noqa: S603
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=repo_root,
        check=True,
        capture_output=True,
    ).stdout
    paths = (repo_root / name for name in listed.decode().split("\0") if name)
    return sum(p.stat().st_size for p in paths if p.is_file())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def check_budget(payload_bytes: int, repository_bytes: int, limit: int = TRANSFER_LIMIT) -> None:
    """Refuse a payload that would not travel: the device refuses the whole call, and a lent GPU is rare."""
    total = payload_bytes + repository_bytes
    if total > limit - TRANSFER_MARGIN:
        raise SystemExit(
            f"payload {payload_bytes / 2**20:.1f} MiB + repository {repository_bytes / 2**20:.1f} MiB = "
            f"{total / 2**20:.1f} MiB: over the device's {limit / 2**20:.0f} MiB less a "
            f"{TRANSFER_MARGIN / 2**20:.0f} MiB margin. Add a smaller encoding to ENCODINGS, or trim the repository."
        )


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clear_payload(out: Path) -> None:
    """Empty the payload folder of an earlier build, refusing a folder that holds anything else."""
    ours = {DATA_ARCHIVE, GROUPS_JSON, PAYLOAD_JSON, WHEELS_FOLDER}
    if not out.exists():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign:
        raise SystemExit(f"{out} holds files no payload build wrote ({', '.join(foreign[:3])}): choose another --out.")
    for name in ours:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def build(
    source: Path = DEFAULT_SOURCE,
    out: Path = DEFAULT_OUT,
    staging: Path = DEFAULT_STAGING,
    per_class: int | None = None,
    wheels: bool = True,
    repository_bytes: int | None = None,
    log=print,
) -> dict:
    """Fetch the wheels, choose the encoding that fits, stage, group, pack, check the size;
    write and return payload.json."""
    started = time.monotonic()
    clear_payload(out)
    out.mkdir(parents=True, exist_ok=True)
    repository_bytes = tree_bytes() if repository_bytes is None else repository_bytes
    wheel_names = download_wheels(out / WHEELS_FOLDER) if wheels else []
    samples = chosen_samples(source / "Training", per_class)
    available = TRANSFER_LIMIT - TRANSFER_MARGIN - repository_bytes - folder_bytes(out) - OTHER_PAYLOAD_BYTES
    max_side, quality = choose_encoding(samples, available, log)
    staged = stage(source, staging, samples, max_side, quality, log)
    log("grouping the original images (duplicates, mirrored copies, patients)…")
    groups = original_groups(source / "Training", set(staged.pop("names")))
    (out / GROUPS_JSON).write_text(json.dumps(groups, separators=(",", ":")) + "\n")
    original = split_with_groups(source / "Training", groups)
    if split_with_groups(staging / DATASET_FOLDER / "Training", groups) != original:
        raise SystemExit("the re-encoded images list in another order than the originals: their split would differ.")
    archive = out / DATA_ARCHIVE
    pack(staging, archive)
    validation_files = original.pop("validation_files")
    payload = {
        "dataset": staged,
        "max_side": max_side,
        "jpeg_quality": quality,
        "archive": {"file": DATA_ARCHIVE, "bytes": archive.stat().st_size, "sha256": sha256_of(archive)},
        "split": {
            **original,
            "validation_files_sha256": hashlib.sha256("\n".join(validation_files).encode()).hexdigest(),
        },
        "wheels": wheel_names,
        "keras": keras_pin().split("==")[1],
        "source": str(source),
        "per_class": per_class,
    }
    (out / PAYLOAD_JSON).write_text(json.dumps(payload, indent=1) + "\n")
    payload_bytes = folder_bytes(out)
    check_budget(payload_bytes, repository_bytes)
    log(
        f"payload {out}: {payload_bytes / 2**20:.1f} MiB ({staged['images']} images at ≤ {max_side} px, quality "
        f"{quality}; {staged['masks']} masks; archive {payload['archive']['bytes'] / 2**20:.1f} MiB; wheels "
        f"{', '.join(wheel_names) or 'none'}); repository {repository_bytes / 2**20:.1f} MiB; together "
        f"{(payload_bytes + repository_bytes) / 2**20:.1f} of {TRANSFER_LIMIT / 2**20:.0f} MiB; "
        f"split {original['train']} train / {original['validation']} validation ({original['groups']} groups) "
        f"as on the originals; {time.monotonic() - started:.0f} s"
    )
    return payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="holds Training/ and masks/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the folder a device call carries")
    parser.add_argument("--staging", type=Path, default=DEFAULT_STAGING, help="the re-encoded files, unpacked")
    parser.add_argument("--per-class", type=int, help="only the first N images of each class (rehearsals)")
    parser.add_argument("--no-wheels", action="store_true", help="skip fetching wheels (no PyPI access)")
    args = parser.parse_args(argv)
    build(args.source, args.out, args.staging, args.per_class, wheels=not args.no_wheels)


if __name__ == "__main__":
    main()
