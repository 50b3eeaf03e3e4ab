import json

import pytest

from scans.ml import registry
from scans.ml.errors import WeightsError

# sha256 of b"pretend weights", written out so the test does not trust the function it checks.
PRETEND_SHA256 = "b46e8daba03e1d333e7053378fa8301abf117b6702ac68580e67a0d4342a0cf3"
# sha256 of b"pretend statistics", the out-of-distribution statistics beside the weights.
PRETEND_OOD_SHA256 = "b2750e59c4363fd94e2d1057eadcdb0e938c2380c8fd0b4b51a1a2cc53524d91"


@pytest.fixture
def weights_dir(tmp_path):
    weights = tmp_path / "custom_cnn.weights.h5"
    weights.write_bytes(b"pretend weights")
    (tmp_path / "custom_cnn.ood.npz").write_bytes(b"pretend statistics")
    card = {
        "sha256": PRETEND_SHA256,
        "input_size": 224,
        "temperature": 1.3,
        "init": "scratch",
        "ood": {"file": "custom_cnn.ood.npz", "sha256": PRETEND_OOD_SHA256},
    }
    (tmp_path / "custom_cnn.card.json").write_text(json.dumps(card))
    return tmp_path


def test_it_verifies_a_file_that_matches_its_card(weights_dir):
    assert registry.verify_weights("custom_cnn", weights_dir) == PRETEND_SHA256
    spec = registry.get_spec("custom_cnn", weights_dir)
    assert spec.temperature == 1.3 and spec.input_size == 224 and spec.display_name == "Custom CNN"


def test_a_missing_weights_file_is_an_error_naming_the_file(weights_dir):
    (weights_dir / "custom_cnn.weights.h5").unlink()
    with pytest.raises(WeightsError, match=r"custom_cnn\.weights\.h5 is missing"):
        registry.verify_weights("custom_cnn", weights_dir)


def test_a_corrupted_weights_file_is_an_error_naming_the_file(weights_dir):
    (weights_dir / "custom_cnn.weights.h5").write_bytes(b"pretend weights, one byte changed!")
    with pytest.raises(WeightsError, match=r"custom_cnn\.weights\.h5 does not match its card"):
        registry.verify_weights("custom_cnn", weights_dir)


def test_missing_out_of_distribution_statistics_are_an_error_naming_the_file(weights_dir):
    (weights_dir / "custom_cnn.ood.npz").unlink()
    with pytest.raises(WeightsError, match=r"statistics .*custom_cnn\.ood\.npz is missing: run fit_ood"):
        registry.verify_weights("custom_cnn", weights_dir)


def test_corrupted_out_of_distribution_statistics_are_an_error_naming_the_file(weights_dir):
    (weights_dir / "custom_cnn.ood.npz").write_bytes(b"pretend statistics, changed")
    with pytest.raises(WeightsError, match=r"custom_cnn\.ood\.npz does not match its card"):
        registry.verify_weights("custom_cnn", weights_dir)


def test_a_card_without_out_of_distribution_statistics_cannot_serve(weights_dir):
    card_path = weights_dir / "custom_cnn.card.json"
    card = json.loads(card_path.read_text())
    del card["ood"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="no out-of-distribution statistics: run `python manage.py fit_ood"):
        registry.verify_weights("custom_cnn", weights_dir)
    # Fitting them needs the weights checked on their own.
    assert registry.verify_weights_file("custom_cnn", weights_dir) == PRETEND_SHA256


def test_a_missing_card_is_an_error_naming_the_card(tmp_path):
    with pytest.raises(WeightsError, match=r"custom_cnn\.card\.json is missing"):
        registry.verify_weights("custom_cnn", tmp_path)
    assert not registry.weights_available("custom_cnn", tmp_path)


def test_a_card_without_its_checksum_is_an_error(weights_dir):
    (weights_dir / "custom_cnn.card.json").write_text(json.dumps({"input_size": 224}))
    with pytest.raises(WeightsError, match="sha256"):
        registry.get_spec("custom_cnn", weights_dir)


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="custom_cnn, xception"):
        registry.get_spec("resnet")


def test_an_imagenet_initialised_model_says_so_in_its_name(weights_dir):
    card_path = weights_dir / "custom_cnn.card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps(card | {"init": "imagenet"}))
    assert "ImageNet" in registry.get_spec("custom_cnn", weights_dir).display_name


def test_the_registry_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, scans.ml.registry, scans.ml.classes, scans.ml.errors; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("present", [["weights.h5"], ["card.json"], []], ids=["weights-only", "card-only", "none"])
def test_a_model_is_available_only_with_both_its_weights_and_its_card(tmp_path, present):
    for suffix in present:
        (tmp_path / f"xception.{suffix}").write_text("{}")
    assert registry.weights_available("xception", tmp_path) is False


def test_a_model_is_available_from_the_folder_given(tmp_path):
    # Xception has no weights in weights/: only the folder given can make it available.
    for suffix in ("weights.h5", "card.json"):
        (tmp_path / f"xception.{suffix}").write_text("{}")
    assert registry.weights_available("xception", tmp_path) is True


def test_the_spec_names_its_files_and_defaults_to_scratch_and_no_temperature(weights_dir):
    card_path = weights_dir / "custom_cnn.card.json"
    card = json.loads(card_path.read_text())
    del card["init"], card["temperature"]
    card_path.write_text(json.dumps(card))
    spec = registry.get_spec("custom_cnn", weights_dir)
    assert (spec.name, spec.init, spec.display_name) == ("custom_cnn", "scratch", "Custom CNN")
    assert spec.temperature == 1.0  # an uncalibrated model's probabilities are used as they are
    assert spec.gradcam_layer == registry.ARCHITECTURE_FACTS["custom_cnn"].gradcam_layer
    assert (spec.card_path, spec.weights_path) == (card_path, weights_dir / "custom_cnn.weights.h5")
    assert spec.ood_path == weights_dir / "custom_cnn.ood.npz"


def test_an_unreadable_card_is_an_error_naming_it(weights_dir):
    (weights_dir / "custom_cnn.card.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"custom_cnn\.card\.json is unreadable"):
        registry.get_spec("custom_cnn", weights_dir)


def test_a_card_with_a_bad_field_names_the_card(weights_dir):
    (weights_dir / "custom_cnn.card.json").write_text(json.dumps({"sha256": "x", "input_size": "big"}))
    with pytest.raises(WeightsError, match=r"custom_cnn\.card\.json lacks a valid"):
        registry.get_spec("custom_cnn", weights_dir)


def test_an_unreadable_weights_file_is_an_error_naming_it(weights_dir):
    (weights_dir / "custom_cnn.weights.h5").unlink()
    (weights_dir / "custom_cnn.weights.h5").mkdir()  # opening a folder fails with an OSError
    with pytest.raises(WeightsError, match=r"Weights file .*custom_cnn\.weights\.h5 is unreadable"):
        registry.verify_weights("custom_cnn", weights_dir)
