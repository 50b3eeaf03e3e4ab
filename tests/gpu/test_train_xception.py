"""The GPU script's own parts: float32 outputs under mixed precision, the time box, epochs planned
from the measured input pipeline, and the split groups carried from the original images."""

import json
import time
from argparse import Namespace
from types import SimpleNamespace

import keras
import pytest

from gpu import train_xception
from gpu.train_xception import MIN_EPOCHS, Run, TimeBox, planned_epochs, use_carried_groups, use_precision
from scans.ml import architectures, training
from scans.ml.training import Recipe

pytestmark = pytest.mark.slow  # builds Xception and runs the input pipeline


@pytest.fixture
def restored_precision(monkeypatch):
    monkeypatch.setitem(architectures.ARCHITECTURES, "xception", architectures.ARCHITECTURES["xception"])
    yield
    keras.config.set_dtype_policy("float32")


def a_run(**args):
    return Run(Namespace(**{"train_seconds": 360, "total_seconds": 400, **args}))


def test_under_mixed_precision_the_outputs_stay_float32_and_the_rest_computes_in_bfloat16(restored_precision):
    use_precision("mixed_bfloat16")
    model = architectures.ARCHITECTURES["xception"](72, tumour_map=True)
    compute = {layer.name: layer.compute_dtype for layer in model.layers}
    assert compute["block1_conv1"] == compute["dense128"] == "bfloat16"
    assert compute["logits"] == compute["probs"] == compute["tumour_map"] == "float32"
    assert all(layer.variable_dtype == "float32" for layer in model.layers if layer.weights)


def test_the_time_box_stops_before_a_batch_once_an_epochs_end_no_longer_fits(restored_precision):
    run = a_run()
    box = TimeBox(run, train_seconds=360, deadline=time.monotonic() + 60)
    model = SimpleNamespace(stop_training=False)
    box.set_model(model)
    box.on_train_begin()
    box.on_train_batch_begin(0)
    assert not model.stop_training
    box.fit_deadline = time.monotonic() + train_xception.MIN_EPOCH_END_SECONDS - 1
    box.on_train_batch_begin(1)
    assert model.stop_training and run.facts["stopped_by_time_box"]


def test_the_time_box_leaves_what_the_last_epochs_end_took_and_half_again():
    box = TimeBox(a_run(), train_seconds=360, deadline=time.monotonic() + 600)
    box.set_model(SimpleNamespace(stop_training=False))
    box.on_train_begin()
    box.fit_started -= 100  # an epoch ran
    box.on_train_batch_begin(0)
    box.last_batch_began -= 30  # and its end took 30 s
    box.on_epoch_begin(1)
    assert box.epoch_end_seconds == pytest.approx(45, abs=0.5)


def test_epochs_are_planned_from_the_measured_input_pipeline():
    run = a_run()
    epochs = planned_epochs(run, Recipe(model="xception", input_size=72, batch_size=4), images=5712)
    assert MIN_EPOCHS <= epochs <= train_xception.MAX_EPOCHS
    assert run.facts["planning"]["pipeline_images_per_second"] > 0 and run.facts["planning"]["epochs"] == epochs


def test_a_time_box_too_short_for_any_epoch_still_plans_the_minimum():
    run = a_run(train_seconds=0)
    assert planned_epochs(run, Recipe(model="xception", input_size=72, batch_size=4), images=5712) == MIN_EPOCHS


def test_train_splits_by_the_groups_carried_from_the_original_images(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "duplicate_groups", training.duplicate_groups)
    (tmp_path / "groups.json").write_text(json.dumps({"glioma/a.jpg": 7, "notumor/b.jpg": 7, "notumor/c.jpg": 9}))
    data = tmp_path / "Training"
    use_carried_groups(tmp_path, data)
    groups = training.duplicate_groups([data / "glioma/a.jpg", data / "notumor/b.jpg", data / "notumor/c.jpg"], data)
    assert list(groups) == [7, 7, 9]
    with pytest.raises(SystemExit, match="no carried group"):
        training.duplicate_groups([data / "pituitary/new.jpg"], data)
