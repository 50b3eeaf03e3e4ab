"""A stand-in for scans.ml's engine with the contract's shape, for pipeline tests that
exercise our bookkeeping (status, idempotency, failures) without TensorFlow or weights."""

from dataclasses import dataclass, field

from tests.images import png_bytes

STATS = {"hot_fraction": 0.1, "centroid": {"x": 0.4, "y": 0.6}, "quadrant": "lower-left"}


@dataclass
class StubResult:
    label: str = "meningioma"
    confidence: float = 0.8
    probabilities: dict = field(
        default_factory=lambda: {"glioma": 0.1, "meningioma": 0.8, "notumor": 0.05, "pituitary": 0.05}
    )
    timings: dict = field(default_factory=lambda: {"decode": 1.0, "inference": 5.0})
    refusal: str | None = None


@dataclass
class StubMap:
    overlay_png: bytes = field(default_factory=lambda: png_bytes(mode="RGB"))
    stats: dict = field(default_factory=lambda: dict(STATS))


@dataclass
class StubMaps:
    gradcam: StubMap = field(default_factory=StubMap)
    saliency: StubMap = field(default_factory=StubMap)
    timings: dict = field(default_factory=lambda: {"gradcam": 2.0, "saliency": 3.0, "overlay": 1.0, "png": 1.0})


class StubEngine:
    def __init__(self, name: str, *, error: Exception | None = None) -> None:
        self.name = name
        self.version = "f" * 64
        self.error = error
        self.calls = 0

    def predict(self, image_bytes: bytes) -> StubResult:
        self.calls += 1
        if self.error:
            raise self.error
        return StubResult()

    def explain_maps(self, image_bytes: bytes, result: StubResult) -> StubMaps:
        return StubMaps()
