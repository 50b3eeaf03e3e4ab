"""The refusal report turns each image losslessly, whatever its format."""

import io

import numpy as np
import pytest
from PIL import Image

from scans.ml.ood_report import summary_lines, turned


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("degrees, k", [(90, 1), (180, 2), (270, 3)])
def test_an_image_is_turned_anticlockwise_without_loss(degrees, k):
    pixels = np.random.default_rng(1).integers(0, 255, (30, 50), dtype=np.uint8)
    with Image.open(io.BytesIO(turned(_encoded(Image.fromarray(pixels), "PNG"), degrees))) as image:
        np.testing.assert_array_equal(np.asarray(image), np.rot90(pixels, k))


def test_a_cmyk_jpeg_is_turned_into_an_rgb_png():
    with Image.open(io.BytesIO(turned(_encoded(Image.new("CMYK", (20, 10), (0, 80, 80, 0)), "JPEG"), 90))) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (10, 20))


def test_the_summary_says_when_turned_images_were_not_measured():
    report = {
        "count": 2,
        "refusal_rate": 1.0,
        "categories": {
            "ct_head": {"count": 1, "refusal_rate": 1.0, "turned_refusal_rate": 2 / 3},
            "photo": {"count": 1, "refusal_rate": 1.0, "turned_refusal_rate": None},
        },
        "turned": {"count": 3, "refused": 2, "refusal_rate": 2 / 3, "not_refused": []},
    }
    assert summary_lines(report) == [
        "  refused 100.0% of    1, turned  66.7%  ct_head",
        "  refused 100.0% of    1, turned not measured  photo",
        "  refused 100.0% of    2, turned  66.7%  all",
    ]
