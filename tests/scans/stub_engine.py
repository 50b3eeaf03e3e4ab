"""A stand-in for scans.ml's engine with the contract's shape, for pipeline tests that
exercise our bookkeeping (status, idempotency, failures) without TensorFlow or weights."""

from dataclasses import dataclass, field, replace

from tests.images import png_bytes

STATS = {
    "hot_fraction": 0.1,
    "centroid": {"x": 0.4, "y": 0.6},
    "peak": {"x": 0.41, "y": 0.62},
    "bbox": {"x0": 0.3, "y0": 0.5, "x1": 0.5, "y1": 0.7},
    "quadrant": "lower-left",
    "side": "left",
    "vertical": "lower",
}


@dataclass
class StubResult:
    label: str = "meningioma"
    confidence: float = 0.8
    probabilities: dict = field(
        default_factory=lambda: {"glioma": 0.1, "meningioma": 0.8, "notumor": 0.05, "pituitary": 0.05}
    )
    timings: dict = field(default_factory=lambda: {"decode": 1.0, "inference": 5.0})
    outcome: str = "classified"
    reason: str = ""
    ood_score: float | None = 0.9


@dataclass
class StubMap:
    overlay_png: bytes = field(default_factory=lambda: png_bytes(mode="RGB"))
    stats: dict = field(default_factory=lambda: dict(STATS))


@dataclass
class StubMaps:
    gradcam: StubMap = field(default_factory=StubMap)
    saliency: StubMap = field(default_factory=StubMap)
    timings: dict = field(default_factory=lambda: {"gradcam": 2.0, "saliency": 3.0, "stats": 1.0, "overlay": 1.0})


REFUSED = StubResult(
    label="notumor",
    confidence=0.99,
    probabilities={"glioma": 0.004, "meningioma": 0.003, "notumor": 0.99, "pituitary": 0.003},
    outcome="refused",
    reason="Not recognised as a brain MRI slice: colour image (62% of pixels coloured; an MRI slice is grey).",
    ood_score=7.5,
)
UNCERTAIN = StubResult(
    label="glioma",
    confidence=0.55,
    probabilities={"glioma": 0.55, "meningioma": 0.4, "notumor": 0.03, "pituitary": 0.02},
    outcome="uncertain",
    reason="Uncertain — needs a radiologist's read: the model's confidence (55%) is below the 82% it needs.",
    ood_score=1.1,
)


class StubEngine:
    def __init__(self, name: str, *, error: Exception | None = None, result: StubResult | None = None) -> None:
        self.name = name
        self.version = "f" * 64
        self.error = error
        self.result = result
        self.calls = 0

    def predict(self, image_bytes: bytes) -> StubResult:
        self.calls += 1
        if self.error:
            raise self.error
        return replace(self.result) if self.result else StubResult()

    def explain_maps(self, image_bytes: bytes, result: StubResult) -> StubMaps:
        return StubMaps()
