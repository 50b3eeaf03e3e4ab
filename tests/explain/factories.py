"""Builders for the facts an explanation is made from."""

import random
import struct
import zlib

from scans.explain import PredictionFacts, RegionStats, ScanFacts

PROBABILITIES = {
    "glioma": {"glioma": 0.87, "meningioma": 0.09, "notumor": 0.03, "pituitary": 0.01},
    "meningioma": {"glioma": 0.05, "meningioma": 0.91, "notumor": 0.03, "pituitary": 0.01},
    "notumor": {"glioma": 0.02, "meningioma": 0.04, "notumor": 0.93, "pituitary": 0.01},
    "pituitary": {"glioma": 0.01, "meningioma": 0.06, "notumor": 0.02, "pituitary": 0.91},
}

# One hot area per place the engine can report, as its stats would describe it.
REGIONS = {
    "upper-left": {"centroid": (0.3, 0.3), "side": "left", "vertical": "upper", "depth": "peripheral"},
    "upper-right": {"centroid": (0.7, 0.3), "side": "right", "vertical": "upper", "depth": "peripheral"},
    "lower-left": {"centroid": (0.3, 0.7), "side": "left", "vertical": "lower", "depth": "peripheral"},
    "lower-right": {"centroid": (0.7, 0.7), "side": "right", "vertical": "lower", "depth": "peripheral"},
    "central": {"centroid": (0.5, 0.5), "side": "midline", "vertical": "middle", "depth": "deep"},
}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(seed: int, *, extra_chunks: bytes = b"", size: int = 24) -> bytes:
    """A small RGB PNG with noisy pixels, so each seed's base64 is distinctive."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(size * 3) for _ in range(size))
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    return (
        b"\x89PNG\r\n\x1a\n" + header + extra_chunks + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")
    )


def region_stats(
    quadrant: str = "lower-left",
    *,
    centroid: tuple[float, float] | None = None,
    side: str | None = None,
    vertical: str | None = None,
    depth: str | None = None,
    hot_fraction: float = 0.12,
) -> dict:
    place = REGIONS[quadrant]
    x, y = centroid or place["centroid"]
    return {
        "hot_fraction": hot_fraction,
        "centroid": {"x": x, "y": y},
        "peak": {"x": x - 0.01, "y": y - 0.02},
        "bbox": {
            "x0": max(0.0, x - 0.1),
            "y0": max(0.0, y - 0.1),
            "x1": min(1.0, x + 0.1),
            "y1": min(1.0, y + 0.1),
        },
        "quadrant": quadrant,
        "side": side or place["side"],
        "vertical": vertical or place["vertical"],
        "depth": depth or place["depth"],
    }


def prediction(
    label: str = "glioma",
    *,
    model: str = "custom_cnn",
    display_name: str = "Custom CNN",
    stats: dict | None = None,
    probabilities: dict | None = None,
    overlay_seed: int = 2,
    outcome: str = "classified",
    outcome_reason: str = "",
) -> PredictionFacts:
    return PredictionFacts(
        model=model,
        display_name=display_name,
        label=label,
        probabilities=probabilities or PROBABILITIES[label],
        regions=RegionStats.from_stats(stats or region_stats()),
        overlay_png=make_png(overlay_seed),
        outcome=outcome,
        outcome_reason=outcome_reason,
    )


REFUSAL = "Not recognised as a brain MRI slice: colour image (62% of pixels coloured; an MRI slice is grey)."
UNSURE = (
    "Uncertain — needs a radiologist's read: the model's confidence (55%) is below the 82% it needs to make a call."
)
UNSURE_PROBABILITIES = {"glioma": 0.55, "meningioma": 0.40, "notumor": 0.03, "pituitary": 0.02}


def refused(**kwargs) -> PredictionFacts:
    return prediction("notumor", outcome="refused", outcome_reason=REFUSAL, **kwargs)


def uncertain(**kwargs) -> PredictionFacts:
    return prediction(
        "glioma", probabilities=UNSURE_PROBABILITIES, outcome="uncertain", outcome_reason=UNSURE, **kwargs
    )


def scan_facts(*predictions: PredictionFacts, scan_seed: int = 1) -> ScanFacts:
    return ScanFacts(scan_png=make_png(scan_seed), predictions=predictions or (prediction(),))
