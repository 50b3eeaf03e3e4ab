"""Refuse what is not a brain MRI slice, and abstain when the model is unsure.

Every prediction passes three gates, in this order, before its label may be shown:

1. Input checks, cheap and readable: a colour photograph, an image with almost no dark
   background, or an absurd aspect ratio is not an axial MRI slice. Their limits are set
   from the training slices themselves (with a margin), never from examples of non-MRI.
2. A learned score on the network's own features: the Mahalanobis distance of pooled
   intermediate features to the nearest class mean under one shared covariance (Lee et al.
   2018), computed for a few layers, each divided by its median over the training images,
   and the largest kept. Intermediate layers separate modalities far better than the last
   pooled layer, which has learned to ignore everything but the tumour classes.
3. Abstention: a calibrated confidence under the threshold chosen on validation is
   "uncertain — needs a radiologist's read".

The fitted statistics (class means, precisions, scales, limits) are part of the model: a
.ood.npz file beside the weights, whose sha256 the card records and the registry checks.
`fit_for_model` writes it; it uses only Keras and NumPy, so it runs under any backend.
Nothing here imports Django.
"""

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from scans.ml.classes import CLASS_NAMES

CLASSIFIED, UNCERTAIN, REFUSED = "classified", "uncertain", "refused"
OUTCOMES = (CLASSIFIED, UNCERTAIN, REFUSED)
FORMAT_VERSION = 1

# The layers whose pooled features are scored: the second, third and fourth stages, each
# averaged over a 2×2 grid. Chosen among a handful of layer and pooling options by AUROC on
# the non-MRI development set as a whole (the model card lists them); no limit is fitted to it.
FEATURE_VIEWS: tuple[tuple[str, str], ...] = (("s2_relu2", "grid2"), ("s3_relu2", "grid2"), ("s4_relu1", "grid2"))


# A pixel counts as coloured when its channels differ by more than this (of 255): JPEG noise
# on a grey image stays far below it.
CHROMA_LEVEL = 24
# A pixel counts as dark within this share of the image's range above its darkest level
# (0.5th to 99th percentile), so a grey-backed export has its background counted too.
DARK_LEVEL = 0.1
THUMBNAIL_SIDE = 128
RIDGE = 1e-3
BATCH = 64

REFUSED_PREFIX = "Not recognised as a brain MRI slice"
UNCERTAIN_PREFIX = "Uncertain — needs a radiologist's read"


@dataclass(frozen=True)
class InputStats:
    colour_fraction: float
    dark_fraction: float
    aspect_ratio: float


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str
    ood_score: float | None


def colour_fraction(data: bytes) -> float:
    """The share of pixels whose channels differ visibly: 0 for a grey image of any format."""
    with Image.open(io.BytesIO(data)) as image:
        if image.mode not in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
            return 0.0
        image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG: decode at reduced size
        small = image.convert("RGB")
        small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        pixels = np.asarray(small, dtype=np.int16)
    chroma = pixels.max(axis=2) - pixels.min(axis=2)
    return float((chroma > CHROMA_LEVEL).mean())


def gray_stats(gray: np.ndarray) -> tuple[float, float]:
    """(dark fraction, aspect ratio ≥ 1) of a decoded grayscale image."""
    step = max(1, min(gray.shape) // 256)
    small = gray[::step, ::step].astype(np.float32)
    low, high = np.percentile(small, [0.5, 99.0])
    dark = float((small <= low + DARK_LEVEL * (high - low)).mean())
    height, width = gray.shape
    return dark, max(height, width) / min(height, width)


def input_stats(data: bytes | None, gray: np.ndarray) -> InputStats:
    dark, aspect = gray_stats(gray)
    return InputStats(colour_fraction(data) if data else 0.0, dark, aspect)


# --- the learned score -------------------------------------------------------------------


def _pool(tensor, how: str):
    """ "mean": one average per channel; "gridN": an average per channel in each cell of an
    N×N grid, which keeps where in the slice a pattern lies (an axial brain slice has a
    layout that a chest X-ray or a head CT does not share). Plain slicing, so every Keras
    backend pools the same way."""
    from keras import ops

    if how == "mean":
        return ops.mean(tensor, axis=(1, 2))
    if how.startswith("grid"):
        cells = int(how[4:])
        height, width = tensor.shape[1], tensor.shape[2]
        rows = [round(i * height / cells) for i in range(cells + 1)]
        cols = [round(i * width / cells) for i in range(cells + 1)]
        pooled = [
            ops.mean(tensor[:, rows[r] : rows[r + 1], cols[c] : cols[c + 1], :], axis=(1, 2))
            for r in range(cells)
            for c in range(cells)
        ]
        return ops.concatenate(pooled, axis=-1)
    raise ValueError(f"unknown pooling {how!r}")


def views_for(model) -> list[tuple[str, str]]:
    """FEATURE_VIEWS of a single network; every member's FEATURE_VIEWS in an ensemble."""
    from scans.ml.ensemble import member_prefixes

    prefixes = member_prefixes(model) or [""]
    return [(prefix + layer, how) for prefix in prefixes for layer, how in FEATURE_VIEWS]


def feature_outputs(model, views: Sequence[tuple[str, str]]) -> list:
    """The pooled feature tensors of `views`, for building a model with extra outputs."""
    return [_pool(model.get_layer(layer).output, how) for layer, how in views]


@dataclass
class OodStats:
    """The fitted statistics of one model, as saved in its .ood.npz file."""

    views: list[tuple[str, str]]
    means: list[np.ndarray]  # per view: (classes, dims)
    precisions: list[np.ndarray]  # per view: (dims, dims)
    scales: np.ndarray  # per view: median training distance
    score_limit: float
    confidence_threshold: float
    min_dark_fraction: float
    max_aspect_ratio: float
    max_colour_fraction: float

    def score(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """The OOD score of a batch: per view, the Mahalanobis distance to the nearest class
        mean divided by that view's training median; the largest over views. 1 is typical."""
        return np.max(np.array(self.distances(features)) / self.scales[:, None], axis=0)

    def whitened(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Per view (L, class means times L, scale), with precision = L Lᵀ: the squared distance
        is then ‖x L − μ L‖², one matrix product per view, which serving runs inside the
        model's own compiled function instead of through NumPy."""
        views = []
        for means, precision, scale in zip(self.means, self.precisions, self.scales):
            lower = np.linalg.cholesky(precision.astype(np.float64))
            views.append((lower, means @ lower, float(scale)))
        return views

    def distances(self, features: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per view, each image's Mahalanobis distance to its nearest class mean."""
        per_view = []
        for feats, means, precision in zip(features, self.means, self.precisions):
            feats = np.asarray(feats, dtype=np.float64)
            squared = []
            for mean in means:
                centred = feats - mean
                squared.append(np.sum((centred @ precision) * centred, axis=1))
            per_view.append(np.sqrt(np.maximum(np.min(squared, axis=0), 0.0)))
        return per_view

    def decide(self, stats: InputStats, score: float, probabilities: np.ndarray) -> Decision:
        refusal = self.input_refusal(stats)
        if refusal:
            return Decision(REFUSED, f"{REFUSED_PREFIX}: {refusal}.", score)
        if not score <= self.score_limit:  # NaN refuses too
            return Decision(
                REFUSED,
                f"{REFUSED_PREFIX}: its features are unlike the training slices "
                f"(score {score:.1f}, limit {self.score_limit:.1f}).",
                score,
            )
        confidence = float(np.max(probabilities))
        if confidence < self.confidence_threshold:
            ranked = sorted(zip(CLASS_NAMES, probabilities), key=lambda item: -item[1])[:2]
            listing = ", ".join(f"{name} {percent(p)}" for name, p in ranked)
            return Decision(
                UNCERTAIN,
                f"{UNCERTAIN_PREFIX}: the model's confidence ({percent(confidence)}) is below the "
                f"{percent(self.confidence_threshold)} it needs to make a call ({listing}).",
                score,
            )
        return Decision(CLASSIFIED, "", score)

    def input_refusal(self, stats: InputStats) -> str | None:
        if stats.colour_fraction > self.max_colour_fraction:
            return f"colour image ({percent(stats.colour_fraction)} of pixels coloured; an MRI slice is grey)"
        if stats.aspect_ratio > self.max_aspect_ratio:
            return (
                f"aspect ratio {stats.aspect_ratio:.1f} : 1 "
                f"(training slices are at most {self.max_aspect_ratio:.1f} : 1)"
            )
        if stats.dark_fraction < self.min_dark_fraction:
            return (
                f"almost no dark background ({percent(stats.dark_fraction)} of pixels dark; "
                f"an MRI slice has at least {percent(self.min_dark_fraction)})"
            )
        return None

    def summary(self) -> dict:
        return {
            "views": [f"{layer}:{how}" for layer, how in self.views],
            "score_limit": round(self.score_limit, 4),
            "confidence_threshold": round(self.confidence_threshold, 4),
            "min_dark_fraction": round(self.min_dark_fraction, 4),
            "max_aspect_ratio": round(self.max_aspect_ratio, 4),
            "max_colour_fraction": round(self.max_colour_fraction, 4),
        }


def percent(value: float) -> str:
    """A share as people should read it: never "100.0 %" for what is not certain."""
    if value >= 1.0:
        return "100%"
    if value > 0.99:
        return "> 99%"
    if value <= 0.0:
        return "0%"
    if value < 0.01:
        return "< 1%"
    return f"{value:.0%}"


def save(stats: OodStats, path: Path) -> None:
    arrays = {"scales": stats.scales.astype(np.float64)}
    for i, (means, precision) in enumerate(zip(stats.means, stats.precisions)):
        arrays[f"means_{i}"] = means.astype(np.float32)
        arrays[f"precision_{i}"] = precision.astype(np.float32)
    meta = {
        "format": FORMAT_VERSION,
        "views": [list(view) for view in stats.views],
        "score_limit": stats.score_limit,
        "confidence_threshold": stats.confidence_threshold,
        "min_dark_fraction": stats.min_dark_fraction,
        "max_aspect_ratio": stats.max_aspect_ratio,
        "max_colour_fraction": stats.max_colour_fraction,
    }
    with open(path, "wb") as handle:
        np.savez_compressed(handle, meta=np.array(json.dumps(meta)), **arrays)


def load(path: Path) -> OodStats:
    """The statistics in `path`; ValueError or OSError when the file is not one of ours."""
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        views = [tuple(view) for view in meta["views"]]
        return OodStats(
            views=views,
            means=[archive[f"means_{i}"].astype(np.float64) for i in range(len(views))],
            precisions=[archive[f"precision_{i}"].astype(np.float64) for i in range(len(views))],
            scales=archive["scales"].astype(np.float64),
            score_limit=float(meta["score_limit"]),
            confidence_threshold=float(meta["confidence_threshold"]),
            min_dark_fraction=float(meta["min_dark_fraction"]),
            max_aspect_ratio=float(meta["max_aspect_ratio"]),
            max_colour_fraction=float(meta["max_colour_fraction"]),
        )


# Input-check limits sit beyond the most extreme training slice by these margins, so they
# refuse only what no training slice resembles.
DARK_MARGIN = 0.5
ASPECT_MARGIN = 1.25
MIN_ASPECT_LIMIT = 2.0
# The most coloured training slice has 4.5 % of its pixels coloured (burnt-in annotations).
COLOUR_LIMIT = 0.10


def input_limits(train_gray_stats: Sequence[tuple[float, float]]) -> dict:
    dark, aspect = np.array(train_gray_stats).T
    return {
        "min_dark_fraction": float(np.quantile(dark, 0.001) * DARK_MARGIN),
        "max_aspect_ratio": float(max(MIN_ASPECT_LIMIT, aspect.max() * ASPECT_MARGIN)),
        "max_colour_fraction": COLOUR_LIMIT,
    }
