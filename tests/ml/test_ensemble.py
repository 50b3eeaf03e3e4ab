"""An ensemble of custom CNNs is one network: calibrated logits averaged, heat maps summed."""

import keras
import numpy as np
import pytest

from scans.ml.architectures import ARCHITECTURES, custom_cnn, options_of
from scans.ml.ensemble import ensemble, fill, member_layers
from scans.ml.ood import views_for
from scans.ml.saliency import HeatMapper

MEMBERS = [
    {"head": "attention", "fine_map": False, "last_width": 256},
    {"head": "gap", "fine_map": True, "last_width": 96},
]


@pytest.fixture(scope="module")
def members():
    keras.utils.set_random_seed(5)
    return [custom_cnn(64, **options) for options in MEMBERS]


@pytest.fixture(scope="module")
def assembled(members):
    model = ensemble(64, MEMBERS)
    fill(model, members, [2.0, 0.5])
    return model


def logits_of(model, batch):
    return keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("logits").output)(batch))


def test_its_logits_are_the_average_of_each_members_calibrated_logits(members, assembled):
    batch = np.random.default_rng(0).random((3, 64, 64, 3)).astype("float32")
    expected = (logits_of(members[0], batch) / 2.0 + logits_of(members[1], batch) / 0.5) / 2
    np.testing.assert_allclose(logits_of(assembled, batch), expected, rtol=1e-4, atol=1e-5)


def test_its_build_options_rebuild_the_same_network(assembled):
    options = options_of(assembled)
    assert options == {"members": MEMBERS}
    twin = ARCHITECTURES["custom_cnn"](64, **options)
    assert [w.shape for w in twin.weights] == [w.shape for w in assembled.weights]


def test_heat_maps_and_the_refusal_gate_read_every_member(members, assembled):
    assert member_layers(assembled, "last_conv") == ["m0_last_conv", "m1_last_conv"]
    assert [layer for layer, _ in views_for(assembled)][::3] == ["m0_s2_relu2", "m1_s2_relu2"]
    image = np.random.default_rng(1).random((1, 64, 64, 3)).astype("float32")
    both = HeatMapper(assembled, "last_conv").gradcam(image, 1)
    assert both.shape == (64, 64) and both.max() == pytest.approx(1.0, abs=1e-3)
    # Silence the second member: the map is then the first member's alone, which differs.
    muted = ensemble(64, MEMBERS)
    fill(muted, members, [2.0, 1e6])
    first_only = HeatMapper(muted, "last_conv").gradcam(image, 1)
    alone = HeatMapper(members[0], "last_conv").gradcam(image, 1)
    np.testing.assert_allclose(first_only, alone, atol=1e-3)
    assert np.abs(both - first_only).mean() > 1e-3


def test_one_member_is_no_ensemble():
    with pytest.raises(ValueError, match="at least two members"):
        ensemble(64, MEMBERS[:1])
