"""fit_ood checks what it is given before any work, with a message that says what to fix."""

import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scans.ml import registry
from tests.conftest import require


@pytest.fixture
def weights_dir(tmp_path):
    require(registry.weights_available("custom_cnn"), "the trained custom_cnn weights are not in weights/")
    for name in ("custom_cnn.weights.h5", "custom_cnn.card.json"):
        shutil.copy(registry.WEIGHTS_DIR / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "data"
    for name in ("glioma", "meningioma", "notumor", "pituitary"):
        (data / name).mkdir(parents=True)
    return data


def fit(weights_dir, data_dir, *extra):
    call_command("fit_ood", "--data", str(data_dir), "--weights-dir", str(weights_dir), *extra)


def test_a_weights_file_that_does_not_match_its_card_is_refused(weights_dir, data_dir):
    (weights_dir / "custom_cnn.weights.h5").write_bytes(b"not the trained weights")
    with pytest.raises(CommandError, match="does not match its card"):
        fit(weights_dir, data_dir)


def test_a_card_without_its_validation_files_cannot_rebuild_the_split(weights_dir, data_dir):
    card_path = weights_dir / "custom_cnn.card.json"
    card = json.loads(card_path.read_text())
    del card["validation_files"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(CommandError, match="lists no validation_files"):
        fit(weights_dir, data_dir)


def test_validation_files_missing_from_the_data_are_counted(weights_dir, data_dir):
    with pytest.raises(CommandError, match=r"validation files are not under"):
        fit(weights_dir, data_dir)


def test_a_missing_non_mri_folder_is_named(weights_dir, data_dir, tmp_path):
    with pytest.raises(CommandError, match="--ood-dir .* is not a folder"):
        fit(weights_dir, data_dir, "--ood-dir", str(tmp_path / "nowhere"))
