"""The payload carried to a GPU machine: the dataset re-encoded small in the layout scans.ml reads,
masks resized exactly like their images, the original images' groups, and a size it can travel at."""

import csv
import hashlib
import io
import json
import tarfile

import keras
import numpy as np
import pytest
from PIL import Image

from gpu import payload
from scans.ml.dataset import list_samples
from scans.ml.tumour_masks import mask_path_for
from tests.gpu.dataset import CLASSES, SHAPES, write_dataset
from tests.ml.images import encode


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("brain-tumor-mri"))


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("payload")
    staging = tmp_path_factory.mktemp("staging")
    info = payload.build(source, out, staging, wheels=False, repository_bytes=0, log=lambda _: None)
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(out / payload.DATA_ARCHIVE) as tar:
        tar.extractall(unpacked, filter="data")
    return info, out, unpacked / payload.DATASET_FOLDER


def opened(path):
    with Image.open(path) as image:
        image.load()
        return image


def test_images_travel_as_grayscale_jpegs_no_larger_than_300_px(built):
    _, _, dataset = built
    images = sorted((dataset / "Training").rglob("*.jpg"))
    assert len(images) == len(CLASSES) * len(SHAPES)
    for path in images:
        image = opened(path)
        assert image.format == "JPEG" and image.mode == "L" and max(image.size) <= payload.MAX_SIDE
    assert opened(dataset / "Training" / "glioma" / "gl_1.jpg").size == (300, 200)
    assert opened(dataset / "Training" / "glioma" / "gl_2.jpg").size == (200, 180)


def test_each_mask_is_resized_like_its_image_and_still_marks_the_same_place(built):
    _, _, dataset = built
    image_path = dataset / "Training" / "meningioma" / "me_1.jpg"
    mask = np.asarray(opened(mask_path_for(image_path)))
    assert mask.shape == np.asarray(opened(image_path)).shape == (200, 300)
    assert set(np.unique(mask)) == {0, 255}
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (50, 100, 150, 225)


def test_a_mask_that_did_not_fit_its_image_is_left_as_it_was_so_training_ignores_it_alike(built, source):
    _, _, dataset = built
    carried = mask_path_for(dataset / "Training" / "pituitary" / "pi_3.jpg")
    assert carried.read_bytes() == (source / "masks" / "pituitary" / "pi_3.png").read_bytes()


def test_the_archive_holds_the_layout_scans_ml_reads_with_the_manifest_beside_the_images(built):
    _, _, dataset = built
    assert len(list_samples(dataset / "Training")) == len(CLASSES) * len(SHAPES)
    with open(dataset / "masks" / "MANIFEST.tsv", newline="") as handle:
        assert len(list(csv.DictReader(handle, delimiter="\t"))) == 3 * len(SHAPES)


def test_the_groups_of_the_original_images_travel_and_give_the_split_of_the_originals(built, source):
    info, out, dataset = built
    groups = json.loads((out / payload.GROUPS_JSON).read_text())
    assert len(groups) == len(CLASSES) * len(SHAPES)
    # Slices of one patient (pid) share a group.
    assert groups["glioma/gl_0.jpg"] == groups["glioma/gl_1.jpg"]
    on_originals = payload.split_with_groups(source / "Training", groups)
    on_copies = payload.split_with_groups(dataset / "Training", groups)
    assert on_copies == on_originals
    assert info["split"]["validation"] == on_originals["validation"] > 0
    names = "\n".join(on_originals["validation_files"]).encode()
    assert info["split"]["validation_files_sha256"] == hashlib.sha256(names).hexdigest()


def test_the_same_data_packs_into_the_same_bytes(built, source, tmp_path):
    info, _, _ = built
    again = payload.build(
        source, tmp_path / "out", tmp_path / "staging", wheels=False, repository_bytes=0, log=lambda _: None
    )
    assert again["archive"]["sha256"] == info["archive"]["sha256"]


def test_a_payload_that_would_not_travel_with_the_repository_is_refused():
    payload.check_budget(50 * 2**20, 10 * 2**20)
    with pytest.raises(SystemExit, match="over the device's 64 MiB"):
        payload.check_budget(55 * 2**20, 10 * 2**20)


@pytest.mark.parametrize("size, shrunk", [((512, 512), (300, 300)), ((600, 400), (300, 200)), ((200, 180), (200, 180))])
def test_only_images_larger_than_300_px_shrink_and_keep_their_aspect(size, shrunk):
    assert payload.shrunk_size(*size) == shrunk


def test_the_gpu_gets_the_keras_version_that_serves_the_weights_here():
    assert payload.keras_pin() == f"keras=={keras.__version__}"


def test_reencoding_decodes_as_training_does_so_transparency_turns_black():
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 200, 0
    data, original, new = payload.reencode_image(encode(rgba, "PNG"))
    assert original == new == (64, 64)
    assert np.asarray(Image.open(io.BytesIO(data))).max() < 10
