"""Every kind of file in the shared dataset (sizes and PIL modes vary) passes validation."""

import csv

import pytest

from scans.images import image_clean
from tests.conftest import DATASET_DIR, require

pytestmark = pytest.mark.filterwarnings("error")


def sample_of_each_mode() -> list[str]:
    manifest = DATASET_DIR / "MANIFEST.tsv"
    require(manifest.exists(), f"the shared dataset is missing at {DATASET_DIR}")
    picked: dict[str, str] = {}
    with manifest.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            picked.setdefault(row["mode"], row["path"])
    return list(picked.values())


def test_every_image_mode_in_the_dataset_is_accepted():
    samples = sample_of_each_mode()
    # The dataset README lists four PIL modes; an empty or unreadable manifest must not pass.
    assert len(samples) == 4, samples
    for relative in samples:
        data = (DATASET_DIR / relative).read_bytes()
        clean = image_clean(data=data, max_bytes=20 * 1024 * 1024, max_pixels=40_000_000)
        assert clean.width > 0, relative
