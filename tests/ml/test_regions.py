import io

import numpy as np
import pytest
from PIL import Image

from scans.ml.overlays import MAX_OVERLAY_SIDE, overlay_png
from scans.ml.preprocess import head_box, head_depth
from scans.ml.regions import guided_saliency_map, region_stats, to_scan_geometry


def blob(centre_x: float, centre_y: float, side: int = 200, radius: float = 0.1) -> np.ndarray:
    y, x = np.mgrid[:side, :side] / side
    return np.exp(-((x - centre_x) ** 2 + (y - centre_y) ** 2) / (2 * radius**2)).astype(np.float32)


@pytest.mark.parametrize(
    "centre, quadrant, side",
    [((0.25, 0.25), "upper-left", "left"), ((0.8, 0.75), "lower-right", "right"), ((0.5, 0.5), "central", "midline")],
)
def test_region_stats_place_a_known_blob(centre, quadrant, side):
    stats = region_stats(blob(*centre))
    assert stats["quadrant"] == quadrant and stats["side"] == side
    assert stats["centroid"]["x"] == pytest.approx(centre[0], abs=0.02)
    assert stats["centroid"]["y"] == pytest.approx(centre[1], abs=0.02)
    # exp(-r²/2σ²) ≥ 0.5 inside r = σ·√(2 ln 2): a disc of that radius.
    expected_area = np.pi * (0.1 * np.sqrt(2 * np.log(2))) ** 2
    assert stats["hot_fraction"] == pytest.approx(expected_area, rel=0.1)
    assert stats["bbox"]["x0"] < centre[0] < stats["bbox"]["x1"]


def synthetic_head(side: int = 200) -> np.ndarray:
    """A bright ellipse (the head) spanning 15–85 % of a black frame's width."""
    y, x = np.mgrid[:side, :side] / side
    return np.where(((x - 0.5) / 0.35) ** 2 + ((y - 0.5) / 0.42) ** 2 <= 1, 120, 0).astype(np.uint8)


def test_region_words_are_relative_to_the_head_not_the_image_frame():
    head = synthetic_head()
    box, depth = head_box(head), head_depth(head)
    # 38 % across the image is in its middle third, but a third of the way across the head:
    # left of the midline, deep.
    off_centre = region_stats(blob(0.38, 0.45, radius=0.04), box, depth)
    assert off_centre["centroid"]["x"] == pytest.approx(0.38, abs=0.01)
    assert off_centre["side"] == "left" and off_centre["depth"] == "deep"
    assert off_centre["head_centroid"]["x"] == pytest.approx((0.38 - 0.15) / 0.7, abs=0.05)
    assert region_stats(blob(0.53, 0.6, radius=0.04), box, depth)["side"] == "midline"
    near_skull = region_stats(blob(0.22, 0.45, radius=0.04), box, depth)
    assert near_skull["side"] == "left" and near_skull["depth"] == "peripheral"


def test_head_depth_is_zero_outside_the_head_and_one_at_its_centre():
    depth = head_depth(synthetic_head())
    assert depth[0, 0] == 0.0 and depth.max() == pytest.approx(1.0)
    assert depth[100, 100] > 0.9 and depth[100, 35] < 0.15


def test_region_stats_of_an_empty_map_say_nothing_is_hot():
    stats = region_stats(np.zeros((50, 50), dtype=np.float32))
    assert stats["hot_fraction"] == 0.0


def test_guided_saliency_keeps_the_top_quarter_inside_the_circle():
    rng = np.random.default_rng(1)
    saliency = guided_saliency_map(rng.normal(size=(224, 224, 3)))
    assert saliency.max() == pytest.approx(1.0) and saliency.min() == 0.0
    assert (saliency > 0).mean() <= 0.25 + 1e-3
    assert saliency[0, 0] == 0.0 and saliency[-1, -1] == 0.0


def test_a_map_on_the_padded_square_lands_on_the_original_image():
    square = np.zeros((224, 224), dtype=np.float32)
    square[:, :112] = 1.0  # left half hot
    # The square extends 50 px past the top and bottom of a 300×400 (h×w) image.
    placed = to_scan_geometry(square, (-50, 0, 350, 400), (300, 400))
    assert placed.shape == (300, 400)
    assert placed[:, :190].mean() > 0.95 and placed[:, 210:].mean() < 0.05


@pytest.mark.parametrize("shape, expected", [((300, 500), (500, 300)), ((3000, 1500), (512, 1024))])
def test_overlay_is_an_rgb_png_of_the_scan_size_capped_for_huge_scans(shape, expected):
    gray = np.full(shape, 100, dtype=np.uint8)
    png = overlay_png(gray, np.ones(shape, dtype=np.float32) * 0.8, "jet")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "RGB" and image.size == expected
    assert max(image.size) <= MAX_OVERLAY_SIDE


def test_overlay_leaves_the_scan_untouched_where_the_map_is_cold():
    gray = np.full((64, 64), 100, dtype=np.uint8)
    heat = np.zeros((64, 64), dtype=np.float32)
    heat[:32] = 1.0
    pixels = np.asarray(Image.open(io.BytesIO(overlay_png(gray, heat, "hot"))))
    assert (pixels[40:] == 100).all()
    assert not (pixels[:32] == 100).all()
