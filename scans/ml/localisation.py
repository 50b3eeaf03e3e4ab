"""Does a heat map point at the tumour? The pointing game and the map's energy inside the mask.

A hit is a map whose maximum, at the scan's own resolution, lies inside the tumour mask or
within POINTING_TOLERANCE_PX of it (the dataset's masks README, after Zhang et al. 2018).
The energy share is the fraction of the map's total weight that falls inside the mask.
Pure NumPy + SciPy: the maps come from whichever backend drew them.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt

POINTING_TOLERANCE_PX = 15


def read_mask(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L")) > 0


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray, tolerance: float = POINTING_TOLERANCE_PX) -> bool:
    """True when the map's peak lies within `tolerance` pixels of the mask."""
    if heatmap.shape != mask.shape:
        raise ValueError(f"heat map {heatmap.shape} and mask {mask.shape} differ in size")
    if not mask.any() or not np.isfinite(heatmap).all() or heatmap.max() <= 0:
        return False
    peak = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return bool(distance_transform_edt(~mask)[peak] <= tolerance)


def energy_inside(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """The share of the map's weight that lies on the tumour (0 for an empty map)."""
    total = float(heatmap.sum())
    return float(heatmap[mask].sum()) / total if total > 0 else 0.0


def summarise(hits: list[bool], energies: list[float], classes: list[str]) -> dict:
    """Totals and per-class figures for one kind of map."""
    hits_array, energy_array, class_array = np.array(hits, bool), np.array(energies, float), np.array(classes)
    per_class = {
        name: {
            "pointing_game": float(hits_array[class_array == name].mean()),
            "energy_inside": float(energy_array[class_array == name].mean()),
            "images": int((class_array == name).sum()),
        }
        for name in sorted(set(classes))
    }
    return {
        "pointing_game": float(hits_array.mean()) if hits else 0.0,
        "energy_inside": float(energy_array.mean()) if energies else 0.0,
        "images": len(hits),
        "per_class": per_class,
    }


def localisation_report(items, maps_for) -> dict:
    """Pointing game and energy share of each kind of map over (image path, mask path, class) items.

    `maps_for(image_bytes)` returns {map name: heat map at the scan's own size}.
    """
    hits: dict[str, list[bool]] = {}
    energies: dict[str, list[float]] = {}
    classes = []
    for image_path, mask_path, class_name in items:
        mask = read_mask(mask_path)
        for name, heatmap in maps_for(Path(image_path).read_bytes()).items():
            if heatmap.shape != mask.shape:
                continue
            hits.setdefault(name, []).append(pointing_hit(heatmap, mask))
            energies.setdefault(name, []).append(energy_inside(heatmap, mask))
        classes.append(class_name)
    return {name: summarise(hits[name], energies[name], classes[: len(hits[name])]) for name in hits}


def engine_localisation(engine, images: list[tuple[Path, str]]) -> dict | None:
    """The report for a serving engine (scans.ml.inference.Engine) over (image, class) pairs:
    each map drawn exactly as the portal draws it, for the class the engine calls. Only the
    images with a tumour mask count; None when none has one."""
    from scans.ml.tumour_masks import mask_path_for

    def maps_for(data: bytes) -> dict:
        maps = engine.explain_maps(data, engine.predict(data))
        return {"gradcam": maps.gradcam.raw, "saliency": maps.saliency.raw}

    items = [(path, mask_path_for(path), name) for path, name in images if mask_path_for(path).is_file()]
    return localisation_report(items, maps_for) if items else None
