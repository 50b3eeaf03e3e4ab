"""A Keras weights file carried back from the GPU machine as float16 parts, each under 16 MiB.

The device returns at most 8 files of at most 16 MiB. Xception's 20.9 M weights take 42 MB
in float16, so the arrays of a `.weights.h5` file, keyed by their HDF5 path, go into one
uncompressed .npz whose bytes are cut into parts; `manifest.json` names the parts with their
sha256 and the whole's, so reading refuses a partial or mixed set instead of loading it.
Needs only NumPy and h5py: it runs under JAX there and under TensorFlow here.
"""

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

PART_BYTES = 15 * 2**20  # under the device's 16 MiB per file, with room
MANIFEST = "manifest.json"
# A new set is written before the old one is deleted, so a run killed mid-export still returns
# a whole set: at most two sets, the manifest and the log may lie in $OUT at once (8 files max).
MAX_PARTS = 3


def _datasets(handle: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}

    def visit(name: str, item) -> None:
        if isinstance(item, h5py.Dataset):
            found[name] = item

    handle.visititems(visit)
    return found


def weights_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 weights file, by its path inside the file."""
    with h5py.File(path, "r") as handle:
        return {name: dataset[()] for name, dataset in _datasets(handle).items()}


def to_float16(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float arrays as float16 where float16 holds every value; the rest unchanged.

    An array with a value beyond float16's range (±65504; a large BatchNorm variance, say)
    stays float32 rather than turning into infinity.
    """
    converted = {}
    for name, array in arrays.items():
        if np.issubdtype(array.dtype, np.floating):
            with np.errstate(over="ignore"):  # the overflow is looked for just below
                half = array.astype(np.float16)
            overflows = np.isfinite(array) & ~np.isfinite(half)
            converted[name] = array if overflows.any() else half
        else:
            converted[name] = array
    return converted


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    partial = path.with_name(f".partial-{path.name}")
    partial.write_bytes(data)
    os.replace(partial, path)


def write_parts(weights_file: Path, out_dir: Path, tag: str, meta: dict) -> dict:
    """Export `weights_file` to `out_dir` as `<tag>.partN` files plus the manifest; returns the manifest.

    Parts of an earlier export are deleted only once the new manifest is in place.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **to_float16(weights_arrays(weights_file)))
    data = buffer.getvalue()
    chunks = [data[start : start + PART_BYTES] for start in range(0, len(data), PART_BYTES)]
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"{weights_file} needs {len(chunks)} parts; the device returns room for {MAX_PARTS}.")
    parts = []
    for index, chunk in enumerate(chunks):
        name = f"{tag}.part{index}"
        _atomic_write(out_dir / name, chunk)
        parts.append({"file": name, "bytes": len(chunk), "sha256": _sha256(chunk)})
    previous = read_manifest(out_dir) if (out_dir / MANIFEST).is_file() else None
    manifest = {**meta, "parts": parts, "bytes": len(data), "sha256": _sha256(data)}
    _atomic_write(out_dir / MANIFEST, json.dumps(manifest, indent=1).encode())
    if previous:
        for stale in {p["file"] for p in previous["parts"]} - {p["file"] for p in parts}:
            (out_dir / stale).unlink(missing_ok=True)
    return manifest


def update_manifest(out_dir: Path, meta: dict) -> dict:
    """Rewrite the manifest's other fields (history, progress), keeping the parts it names."""
    manifest = read_manifest(out_dir)
    keep = {key: manifest[key] for key in ("parts", "bytes", "sha256")}
    manifest = {**meta, **keep}
    _atomic_write(Path(out_dir) / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def read_manifest(out_dir: Path) -> dict:
    path = Path(out_dir) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing: the GPU run exported no weights (see its train.log).") from None


def read_parts(out_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the manifest; ValueError when a part is missing, truncated or from another export."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    chunks = []
    for part in manifest["parts"]:
        path = out_dir / part["file"]
        if not path.is_file():
            raise ValueError(f"{path} is missing: the manifest names {len(manifest['parts'])} parts.")
        chunk = path.read_bytes()
        if len(chunk) != part["bytes"] or _sha256(chunk) != part["sha256"]:
            raise ValueError(f"{path} is not the part the manifest names (size or sha256 differs).")
        chunks.append(chunk)
    data = b"".join(chunks)
    if _sha256(data) != manifest["sha256"]:
        raise ValueError(f"the parts in {out_dir} do not join into the exported file (sha256 differs).")
    with np.load(io.BytesIO(data)) as archive:
        return {name: archive[name] for name in archive.files}, manifest


def write_weights_file(arrays: dict[str, np.ndarray], template: Path, dest: Path) -> None:
    """A weights file shaped like `template` (saved here by the same architecture) holding `arrays`.

    Every dataset of the template must be in `arrays` with its shape, and nothing else may be:
    a mismatch means another architecture or input size, and is an error, not a partial load.
    """
    with h5py.File(template, "r") as handle:
        expected = {name: dataset.shape for name, dataset in _datasets(handle).items()}
    missing = sorted(set(expected) - set(arrays))
    unexpected = sorted(set(arrays) - set(expected))
    reshaped = sorted(name for name in set(expected) & set(arrays) if arrays[name].shape != expected[name])
    if missing or unexpected or reshaped:
        raise ValueError(
            "the exported weights do not fit this architecture: "
            f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]}), "
            f"{len(reshaped)} of another shape (e.g. {reshaped[:2]})"
        )
    partial = dest.with_name(f".partial-{dest.name}")
    shutil.copyfile(template, partial)
    with h5py.File(partial, "r+") as handle:
        for name, array in arrays.items():
            dataset = handle[name]
            dataset[...] = array.astype(dataset.dtype)
    os.replace(partial, dest)
