"""The GPU run rehearsed end to end on synthetic scans: the exact script (here under TensorFlow,
the backend the test venv has; `make gpu-rehearsal` runs it under JAX), the files it returns, and
gpu.assemble turning them into weights and a card that the engine's code loads and predicts with."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from gpu import parts
from gpu.assemble import assemble, weights_from_parts
from gpu.rehearse import run_rehearsal
from scans.ml import registry
from scans.ml.architectures import xception
from scans.ml.preprocess import decode_scan, model_input
from tests.gpu.dataset import write_dataset

pytestmark = pytest.mark.slow

RESOLUTION = 72  # the smallest input Keras' Xception accepts is 71 px


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    source = write_dataset(tmp_path_factory.mktemp("brain-tumor-mri"))
    script_args = ("--resolution", str(RESOLUTION), "--batch-size", "4", "--steps-per-epoch", "2", "--epochs", "2")
    root = tmp_path_factory.mktemp("rehearsal") / "run"
    return run_rehearsal(root, source, Path(sys.executable), "tensorflow", per_class=4, script_args=script_args)


def predictions(weights_file, originals):
    model = xception(RESOLUTION)
    model.load_weights(str(weights_file))
    files = sorted(originals.rglob("*.jpg"))[:3]
    batch = np.stack([model_input(decode_scan(f.read_bytes()), RESOLUTION) for f in files])
    return np.asarray(model(batch, training=False))


def test_the_run_returns_few_enough_files_for_the_device_each_under_16_mib(ran):
    returned = sorted(ran["out"].iterdir())
    assert len(returned) <= 8
    assert all(path.stat().st_size < 16 * 2**20 for path in returned)
    assert {"manifest.json", "train.log"} <= {path.name for path in returned}


def test_the_manifest_holds_the_runs_history_split_and_precision(ran):
    manifest = parts.read_manifest(ran["out"])
    assert manifest["state"]["epoch"] == 2 and len(manifest["state"]["history"]["val_accuracy"]) == 2
    assert manifest["split"].startswith("split: ") and manifest["precision"] == "mixed_bfloat16"
    assert manifest["state"]["recipe"]["input_size"] == RESOLUTION


def test_the_log_has_what_train_printed_too(ran):
    log = (ran["out"] / "train.log").read_text()
    assert "epoch 2/2" in log and "exported epoch" in log and "done:" in log


def test_the_returned_parts_become_float32_weights_that_load_and_predict_under_tensorflow(ran, tmp_path):
    weights_file, _ = weights_from_parts(ran["out"], tmp_path)
    probabilities = predictions(weights_file, ran["originals"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="train()'s finishing step fits the refusal statistics, and scans.ml.ood's FEATURE_VIEWS "
    "name custom_cnn layers only (no such layer in Xception): reported to the lead",
)
def test_finishing_on_the_originals_installs_weights_matching_a_card_that_says_where_training_ran(ran, tmp_path):
    card = assemble(ran["out"], ran["originals"], ran["weights_dir"], tmp_path / "finish", log=print)
    registry.verify_weights_file("xception", ran["weights_dir"])
    np.testing.assert_allclose(
        predictions(ran["weights_dir"] / "xception.weights.h5", ran["originals"]).sum(1), 1.0, atol=1e-4
    )
    written = json.loads((ran["weights_dir"] / "xception.card.json").read_text())
    assert written == card
    assert card["training"]["gpu_run"]["backend"] == "tensorflow"
    assert "original images" in card["training"]["finished_on"]
    assert all((ran["originals"] / name).is_symlink() for name in card["validation_files"])
    assert card["data"]["validation"] == len(card["validation_files"]) > 0
