"""Augmentation moves a tumour mask exactly as it moves the image."""

import numpy as np

from scans.ml.augment import augment
from scans.ml.tumour_masks import cell_targets, masked_binary_crossentropy
from tests.ml.images import head


def test_the_mask_follows_the_image_through_every_geometric_change():
    square = head(128, 128, (0.25, 0.3), seed=3)
    mask = np.zeros_like(square)
    mask[30:46, 24:40] = 255  # the blob drawn by head() sits at (32, 38)
    for seed in range(20):
        image, moved = augment(square, np.random.default_rng(seed), mask=mask)
        assert moved.shape == image.shape and set(np.unique(moved)) <= {0, 255}
        if moved.any():
            # The brightest part of the image stays inside (or right beside) the moved mask.
            ys, xs = np.nonzero(moved)
            by, bx = np.unravel_index(np.argmax(image.astype(float)), image.shape)
            assert ys.min() - 12 <= by <= ys.max() + 12 and xs.min() - 12 <= bx <= xs.max() + 12


def test_augmentation_draws_the_same_changes_with_or_without_a_mask():
    square = head(96, 96, (0.5, 0.5), seed=1)
    alone = augment(square, np.random.default_rng(7))
    with_mask, _ = augment(square, np.random.default_rng(7), mask=np.zeros_like(square))
    assert np.array_equal(alone, with_mask)


def test_equalisation_off_draws_exactly_what_older_recipes_drew():
    square = head(96, 96, (0.5, 0.5), seed=1)
    for seed in range(10):
        assert np.array_equal(
            augment(square, np.random.default_rng(seed)), augment(square, np.random.default_rng(seed), equalize=0.0)
        )


def test_equalisation_turns_the_background_noise_grey():
    square = head(96, 96, (0.5, 0.5), seed=1)
    noise = np.random.default_rng(0).integers(0, 6, square.shape)
    square = np.where(square == 0, noise, square).astype(np.uint8)  # a real scanner's near-black background

    def dark_level(image):  # the background is the darker half of the square
        return np.percentile(image, 30)

    equalised = [dark_level(augment(square, np.random.default_rng(seed), equalize=1.0)) for seed in range(8)]
    plain = [dark_level(augment(square, np.random.default_rng(seed))) for seed in range(8)]
    assert np.mean(equalised) > np.mean(plain) + 15


def test_cell_targets_mark_the_cells_that_hold_tumour_and_unknown_masks_are_ignored():
    mask = np.zeros((224, 224), dtype=np.uint8)
    mask[0:10, 200:224] = 255
    targets = cell_targets(mask, 224, 7)
    assert targets.shape == (7, 7, 1) and targets[0, 6, 0] == 1 and targets.sum() == 1
    assert (cell_targets(None, 224, 7) == -1).all()


def test_the_map_loss_counts_only_known_cells():
    unknown = np.full((1, 2, 2, 1), -1.0, dtype=np.float32)
    prediction = np.full((1, 2, 2, 1), 0.9, dtype=np.float32)
    assert float(masked_binary_crossentropy(unknown, prediction)) == 0.0
    known = np.zeros((1, 2, 2, 1), dtype=np.float32)
    assert float(masked_binary_crossentropy(known, prediction)) > 2.0
