"""The pointing game and the energy share score a heat map against a tumour mask."""

import numpy as np
import pytest
from PIL import Image

from scans.ml.localisation import energy_inside, localisation_report, pointing_hit


def mask_with_square(top=40, left=40, side=20, shape=(128, 128)):
    mask = np.zeros(shape, bool)
    mask[top : top + side, left : left + side] = True
    return mask


def peak_at(y, x, shape=(128, 128)):
    heatmap = np.zeros(shape, np.float32)
    heatmap[y, x] = 1.0
    return heatmap


def test_a_peak_on_the_tumour_is_a_hit():
    assert pointing_hit(peak_at(50, 50), mask_with_square())


def test_a_peak_within_fifteen_pixels_is_a_hit_and_beyond_is_a_miss():
    assert pointing_hit(peak_at(50, 74), mask_with_square())  # 15 px right of the square's edge
    assert not pointing_hit(peak_at(50, 76), mask_with_square())


def test_an_empty_map_never_hits():
    assert not pointing_hit(np.zeros((128, 128)), mask_with_square())


def test_maps_and_masks_of_different_sizes_are_an_error():
    with pytest.raises(ValueError, match="differ in size"):
        pointing_hit(np.zeros((64, 64)), mask_with_square())


def test_energy_inside_is_the_share_of_the_map_on_the_tumour():
    heatmap = np.zeros((128, 128), np.float32)
    heatmap[45, 45], heatmap[100, 100] = 3.0, 1.0
    assert energy_inside(heatmap, mask_with_square()) == pytest.approx(0.75)
    assert energy_inside(np.zeros((128, 128)), mask_with_square()) == 0.0


def test_the_report_scores_each_kind_of_map_per_class(tmp_path):
    mask_file = tmp_path / "m.png"
    Image.fromarray(mask_with_square().astype(np.uint8) * 255).save(mask_file)
    image_file = tmp_path / "i.png"
    image_file.write_bytes(b"unused by the fake map maker")
    items = [(image_file, mask_file, "glioma"), (image_file, mask_file, "pituitary")]
    report = localisation_report(items, lambda image: {"good": peak_at(50, 50), "bad": peak_at(120, 120)})
    assert report["good"]["pointing_game"] == 1.0 and report["bad"]["pointing_game"] == 0.0
    assert report["good"]["per_class"]["pituitary"]["images"] == 1
