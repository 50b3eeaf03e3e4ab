"""What an explanation may be built from — and nothing else.

Every field is a number, a fixed vocabulary word, a model id from the registry or a
metadata-free PNG. There is no slot for a patient's name, MRN, birth year, notes or any text a
user typed, so nothing identifying can reach Gemini by way of these objects (RELIABILITY.md
promise 11); the constructors reject values outside those shapes.
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scans.ml.classes import CLASS_NAMES

from .png import check_png_without_metadata

QUADRANTS = ("upper-left", "upper-right", "lower-left", "lower-right", "central")
SIDES = ("left", "right", "midline")
VERTICALS = ("upper", "middle", "lower")
DEPTHS = ("peripheral", "deep")

# Registry ids and display names ("custom_cnn", "Custom CNN", "Xception"): short, no free text.
_MODEL_ID = re.compile(r"[a-z0-9_.-]{1,64}")
_DISPLAY_NAME = re.compile(r"[A-Za-z0-9 _.()+-]{1,64}")


def _unit(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must lie in [0, 1]")
    return float(value)


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class RegionStats:
    """Grad-CAM region statistics as docs/ENGINE_CONTRACT.md defines them.

    Coordinates are fractions of the image (x to the right, y down); the words (quadrant, side,
    vertical, depth) place the hot area relative to the head; left and right are image sides,
    not patient sides.
    """

    hot_fraction: float
    centroid: Point
    peak: Point
    bbox: Box
    quadrant: str
    side: str
    vertical: str
    depth: str
    # The centroid as fractions of the head's box (the image's centroid in older statistics).
    head_centroid: Point

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> "RegionStats":
        """Build from the engine's `heatmap.stats` dict (or its stored JSON copy)."""
        try:
            centroid, peak, bbox = stats["centroid"], stats["peak"], stats["bbox"]
            return cls(
                hot_fraction=_unit(stats["hot_fraction"], "hot_fraction"),
                centroid=_point(centroid, "centroid"),
                peak=_point(peak, "peak"),
                bbox=Box(*(_unit(bbox[k], f"bbox.{k}") for k in ("x0", "y0", "x1", "y1"))),
                quadrant=_choice(stats["quadrant"], QUADRANTS, "quadrant"),
                side=_choice(stats["side"], SIDES, "side"),
                vertical=_choice(stats["vertical"], VERTICALS, "vertical"),
                depth=_choice(stats.get("depth") or _image_depth(centroid), DEPTHS, "depth"),
                head_centroid=_point(stats.get("head_centroid") or centroid, "head_centroid"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"region statistics are incomplete: {exc!r}") from exc

    def as_dict(self) -> dict[str, Any]:
        """The contract's dict shape, floats rounded: what the prompt shows the model."""
        return {
            "hot_fraction": round(self.hot_fraction, 3),
            "centroid": {"x": round(self.centroid.x, 3), "y": round(self.centroid.y, 3)},
            "peak": {"x": round(self.peak.x, 3), "y": round(self.peak.y, 3)},
            "bbox": {k: round(getattr(self.bbox, k), 3) for k in ("x0", "y0", "x1", "y1")},
            "quadrant": self.quadrant,
            "side": self.side,
            "vertical": self.vertical,
            "depth": self.depth,
            "head_centroid": {"x": round(self.head_centroid.x, 3), "y": round(self.head_centroid.y, 3)},
        }


def _point(value: Mapping[str, Any], what: str) -> Point:
    return Point(_unit(value["x"], f"{what}.x"), _unit(value["y"], f"{what}.y"))


def _image_depth(centroid: Mapping[str, Any]) -> str:
    """Depth for statistics stored before the engine gave one: the rule the offline explainer
    used then, distance from the image's centre."""
    x, y = _unit(centroid["x"], "centroid.x"), _unit(centroid["y"], "centroid.y")
    return "peripheral" if math.hypot(x - 0.5, y - 0.5) >= 0.3 else "deep"


# What the engine made of the image (scans.ml.ood): a result, an abstention or a refusal.
OUTCOMES = ("classified", "uncertain", "refused")


@dataclass(frozen=True)
class PredictionFacts:
    """One model's verdict on the scan, with its Grad-CAM overlay.

    outcome: "classified", "uncertain" (too unsure to call) or "refused" (not recognised as a
    brain MRI slice; label and probabilities are then the raw answer, not a result).
    outcome_reason: the engine's own sentence saying why (numbers and fixed words, never text a
    person typed); the offline text quotes it, Gemini is told the outcome word alone.
    """

    model: str
    display_name: str
    label: str
    probabilities: Mapping[str, float]
    regions: RegionStats
    overlay_png: bytes
    outcome: str = "classified"
    outcome_reason: str = ""

    def __post_init__(self) -> None:
        _choice(self.outcome, OUTCOMES, "outcome")
        if not isinstance(self.outcome_reason, str) or len(self.outcome_reason) > 300:
            raise ValueError("outcome_reason must be the engine's short sentence")
        if not isinstance(self.model, str) or not _MODEL_ID.fullmatch(self.model):
            raise ValueError("model must be a registry id such as 'custom_cnn'")
        if not isinstance(self.display_name, str) or not _DISPLAY_NAME.fullmatch(self.display_name):
            raise ValueError("display_name must be a short model name")
        _choice(self.label, CLASS_NAMES, "label")
        if not isinstance(self.probabilities, Mapping) or set(self.probabilities) != set(CLASS_NAMES):
            raise ValueError(f"probabilities must have exactly the classes {', '.join(CLASS_NAMES)}")
        # Frozen: store a plain dict in class order so iteration (and the prompt) is deterministic.
        object.__setattr__(
            self,
            "probabilities",
            {name: _unit(self.probabilities[name], f"probabilities[{name}]") for name in CLASS_NAMES},
        )
        if not isinstance(self.regions, RegionStats):
            raise ValueError("regions must be RegionStats (use RegionStats.from_stats)")
        check_png_without_metadata(self.overlay_png, what="overlay_png")

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    @property
    def ranked(self) -> list[tuple[str, float]]:
        """Classes by probability, highest first; ties keep the canonical class order."""
        return sorted(self.probabilities.items(), key=lambda item: -item[1])

    @property
    def runner_up(self) -> tuple[str, float]:
        return next(item for item in self.ranked if item[0] != self.label)


@dataclass(frozen=True)
class ScanFacts:
    """Everything about one scan that an explanation may use: the pixels once, every prediction.

    The scan is held once rather than per prediction so that, when both models ran, its pixels
    are sent once and one explanation covers both verdicts.
    """

    scan_png: bytes
    predictions: Sequence[PredictionFacts]

    def __post_init__(self) -> None:
        check_png_without_metadata(self.scan_png, what="scan_png")
        predictions = tuple(self.predictions)
        if not predictions or not all(isinstance(p, PredictionFacts) for p in predictions):
            raise ValueError("predictions must be one or more PredictionFacts")
        object.__setattr__(self, "predictions", predictions)

    @property
    def refused(self) -> bool:
        """Some model did not recognise the image as a brain MRI slice: nothing may describe
        it as one, so no language model is asked about it."""
        return any(p.outcome == "refused" for p in self.predictions)
