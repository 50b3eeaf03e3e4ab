"""The whole engine on a tiny model trained by the tests on synthetic scans: the training
command, its card, loading with sha256 checks, prediction, heat maps and the sanity test."""

import io
import json

import keras
import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from scans.ml import registry
from scans.ml.architectures import ARCHITECTURES
from scans.ml.classes import CLASS_NAMES
from scans.ml.errors import WeightsError
from scans.ml.inference import Engine
from tests.ml.images import encode, head

pytestmark = pytest.mark.slow

BLOBS = {"glioma": (0.35, 0.4), "meningioma": (0.75, 0.2), "notumor": None, "pituitary": (0.5, 0.7)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for label, blob in BLOBS.items():
        (data / label).mkdir()
        for i in range(8):
            (data / label / f"{i}.png").write_bytes(encode(head(96, 96, blob, seed=i * 7 + len(label))))
    weights_dir = tmp_path_factory.mktemp("weights")
    out = io.StringIO()
    call_command(
        "train_model",
        "--model",
        "custom_cnn",
        "--data",
        str(data),
        "--out",
        str(weights_dir / "custom_cnn.weights.h5"),
        "--epochs",
        "1",
        "--resolution",
        "64",
        "--validation-fraction",
        "0.25",
        stdout=out,
    )
    # The refusal statistics, fitted on the same split (train_model's finishing step will
    # fit them itself once it calls scans.ml.ood_fit.fit_for_model; refitting is harmless).
    call_command("fit_ood", "--model", "custom_cnn", "--data", str(data), "--weights-dir", str(weights_dir), stdout=out)
    return weights_dir, out.getvalue(), data


def test_training_writes_weights_and_a_card_that_matches_them(trained):
    weights_dir, output, _ = trained
    card = json.loads((weights_dir / "custom_cnn.card.json").read_text())
    assert card["sha256"] == registry.file_sha256(weights_dir / "custom_cnn.weights.h5")
    assert card["input_size"] == 64 and card["temperature"] > 0
    # Synthetic heads are one disc with a blob: many are each other's mirror image and are
    # grouped, so only the totals are fixed.
    assert card["data"]["train"] + card["data"]["validation"] == 32 and card["data"]["validation"] > 0
    assert set(card["robustness"]) >= {"jpeg_q30", "clahe", "rescale_640"}
    assert {"gradcam", "guided_backprop"} <= set(card["sanity"])
    # A new custom CNN pools with attention on its tumour map unless told otherwise.
    assert card["recipe"]["head"] == "attention" and card["recipe"]["label_smoothing"] == 0.1
    assert card["recipe"]["outlier_exposure"] == 4
    interval = card["validation"]["accuracy_interval"]
    assert interval["low"] <= card["validation"]["accuracy"] <= interval["high"]
    assert interval["groups"] <= card["data"]["validation"]
    markdown = (weights_dir / "custom_cnn.card.md").read_text()
    assert "Model card: custom_cnn" in markdown and "patients and copy groups resampled whole" in markdown
    assert "validation accuracy" in output


def test_every_epoch_leaves_a_checkpoint_that_resume_finishes_without_training_again(trained):
    weights_dir, _, data = trained
    checkpoint = weights_dir / ".custom_cnn-checkpoint"
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["epoch"] == 1 and (checkpoint / "last.weights.h5").is_file()
    out = io.StringIO()
    call_command(
        "train_model",
        *("--model", "custom_cnn", "--data", str(data), "--out", str(weights_dir / "custom_cnn.weights.h5")),
        *("--resume", str(checkpoint)),
        stdout=out,
    )
    assert "resuming custom_cnn after epoch 1 of 1" in out.getvalue()
    assert "epoch 1/1" not in out.getvalue()


def test_a_second_run_into_a_checkpointed_folder_is_refused_not_overwritten(trained, tmp_path):
    from django.core.management.base import CommandError

    weights_dir = trained[0]
    with pytest.raises(CommandError, match="already holds a run"):
        call_command(
            "train_model",
            *("--model", "custom_cnn", "--data", str(tmp_path), "--out", str(weights_dir / "custom_cnn.weights.h5")),
        )


def test_the_engine_predicts_calibrated_probabilities_and_draws_both_maps(trained):
    engine = Engine(registry.get_spec("custom_cnn", trained[0]))
    scan = encode(head(300, 240, (0.3, 0.4)), "JPEG")
    result = engine.predict(scan)
    assert result.label in CLASS_NAMES and set(result.probabilities) == set(CLASS_NAMES)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.confidence == max(result.probabilities.values())
    assert set(result.timings) == {"decode", "inference"}
    assert result.outcome in ("classified", "uncertain", "refused") and result.ood_score > 0

    maps = engine.explain_maps(scan, result)
    for heatmap in (maps.gradcam, maps.saliency):
        assert heatmap.raw.shape == (240, 300) and 0.0 <= heatmap.raw.min() and heatmap.raw.max() <= 1.0
        assert Image.open(io.BytesIO(heatmap.overlay_png)).size == (300, 240)
        json.dumps(heatmap.stats)
    assert set(maps.timings) >= {"gradcam", "saliency", "overlay"}


def test_grad_cam_depends_on_the_weights(trained):
    engine = Engine(registry.get_spec("custom_cnn", trained[0]))
    scan = encode(head(128, 128, (0.3, 0.4)))
    result = engine.predict(scan)
    before = engine.explain_maps(scan, result).gradcam.raw
    keras.utils.set_random_seed(3)
    engine.model.set_weights(ARCHITECTURES["custom_cnn"](64, **engine.spec.options).get_weights())
    engine._heatmaps = None
    after = engine.explain_maps(scan, result).gradcam.raw
    assert np.abs(before - after).mean() > 0.01


def test_fit_ood_writes_statistics_the_card_vouches_for(trained):
    weights_dir, output, _ = trained
    card = json.loads((weights_dir / "custom_cnn.card.json").read_text())
    assert card["ood"]["sha256"] == registry.file_sha256(weights_dir / "custom_cnn.ood.npz")
    assert card["ood"]["validation"]["false_refusal_rate"] <= 0.25
    assert "Refusal and abstention" in (weights_dir / "custom_cnn.card.md").read_text()
    assert "OOD: score limit" in output


def test_a_colour_photograph_is_refused_even_by_a_tiny_model(trained):
    engine = Engine(registry.get_spec("custom_cnn", trained[0]))
    rgb = np.zeros((96, 96, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1] = 220, np.arange(96, dtype=np.uint8)[None, :] * 2
    result = engine.predict(encode(rgb, "JPEG"))
    assert result.outcome == "refused" and "colour image" in result.reason


def test_statistics_swapped_after_fitting_are_refused(trained, tmp_path):
    for name in ("custom_cnn.weights.h5", "custom_cnn.card.json"):
        (tmp_path / name).write_bytes((trained[0] / name).read_bytes())
    (tmp_path / "custom_cnn.ood.npz").write_bytes(b"PK\x03\x04 not the fitted statistics")
    with pytest.raises(WeightsError, match=r"custom_cnn\.ood\.npz does not match its card"):
        Engine(registry.get_spec("custom_cnn", tmp_path))


def test_a_weights_file_swapped_after_training_is_refused(trained, tmp_path):
    for name in ("custom_cnn.weights.h5", "custom_cnn.card.json"):
        (tmp_path / name).write_bytes((trained[0] / name).read_bytes())
    (tmp_path / "custom_cnn.weights.h5").write_bytes(b"\x89HDF" + b"\0" * 100)
    with pytest.raises(WeightsError, match="does not match its card"):
        Engine(registry.get_spec("custom_cnn", tmp_path))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--out", "x.h5"], "must end in .weights.h5"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--init", "imagenet"], "needs --imagenet-weights"),
        (["--init", "trained"], "needs --trained-weights"),
        (["--trained-weights", "x.weights.h5"], "only used with --init trained"),
        (["--data", "/nonexistent"], "is not a folder"),
        (["--resume", "/nonexistent"], "holds no checkpointed run"),
        (["--tumour-map-weight", "-1"], "--tumour-map-weight must be between 0 and 10"),
        (["--label-smoothing", "0.5"], "--label-smoothing must be at least 0 and below 0.5"),
        (["--equalize-augmentation", "1.5"], "--equalize-augmentation must be between 0 and 1"),
        (["--outlier-exposure", "50"], "--outlier-exposure must be between 0 and 20"),
        (["--gate-head-weight", "11"], "--gate-head-weight must be between 0 and 10"),
        (["--gate-head-weight", "1", "--outlier-exposure", "0"], "--gate-head-weight needs --outlier-exposure"),
        (["--gate-head-weight", "1", "--tumour-map-weight", "0"], "--gate-head-weight needs the tumour map"),
        (["--turn-outliers", None, "--outlier-exposure", "0"], "--turn-outliers needs --outlier-exposure"),
        (["--model", "xception", "--head", "attention"], "--head attention is for custom_cnn"),
        (["--model", "xception", "--last-width", "384"], "--last-width is for custom_cnn"),
        (["--last-width", "16"], "--last-width must be between 32 and 1024"),
    ],
)
def test_training_arguments_are_checked_before_any_work(tmp_path, arguments, message):
    from django.core.management.base import CommandError

    base = {"--model": "custom_cnn", "--data": str(tmp_path), "--out": str(tmp_path / "m.weights.h5")}
    for flag, value in zip(arguments[::2], arguments[1::2]):
        base[flag] = value
    with pytest.raises(CommandError, match=message):  # a None value: a flag that takes none
        call_command("train_model", *[item for pair in base.items() for item in pair if item is not None])


def fine_tune(trained, out_dir, *extra) -> str:
    weights_dir, _, data = trained
    out = io.StringIO()
    call_command(
        "train_model",
        *("--model", "custom_cnn", "--data", str(data), "--out", str(out_dir / "custom_cnn.weights.h5")),
        *("--resolution", "64", "--validation-fraction", "0.25", "--epochs", "1"),
        *("--init", "trained", "--trained-weights", str(weights_dir / "custom_cnn.weights.h5"), *extra),
        stdout=out,
    )
    return out.getvalue()


def stem_kernel(weights_dir) -> np.ndarray:
    model = ARCHITECTURES["custom_cnn"](
        64, **registry.options_from(registry.read_card("custom_cnn", weights_dir)["recipe"])
    )
    model.load_weights(str(weights_dir / "custom_cnn.weights.h5"))
    return keras.ops.convert_to_numpy(model.get_layer("stem_conv").kernel)


def test_fine_tuning_starts_from_the_trained_weights_and_says_so(trained, tmp_path):
    # A learning rate too small to move anything: what comes out is what went in.
    fine_tune(trained, tmp_path, "--learning-rate", "1e-12", "--equalize-augmentation", "0.5")
    np.testing.assert_allclose(stem_kernel(tmp_path), stem_kernel(trained[0]), atol=1e-6)
    card = json.loads((tmp_path / "custom_cnn.card.json").read_text())
    assert card["init"] == "trained"
    assert card["recipe"]["trained_weights_sha256"] == registry.file_sha256(trained[0] / "custom_cnn.weights.h5")
    markdown = (tmp_path / "custom_cnn.card.md").read_text()
    assert "fine-tuned from" in markdown
    # Trained on equalised copies, so its gate is fitted on some too (ood_fit.with_equalised_copies).
    assert card["ood"]["fitted_on"]["equalised_copies"] > 0 and "globally equalised copies" in markdown


def test_fine_tuning_on_another_split_is_refused(trained, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="split_rng_seed 42 there, 7 here"):
        fine_tune(trained, tmp_path, "--split-seed", "7")


@pytest.fixture(scope="module")
def assembled(trained, tmp_path_factory):
    """A second member trained with another seed on the same split, and the two assembled."""
    first_dir, _, data = trained
    second_dir, ensemble_dir = tmp_path_factory.mktemp("second"), tmp_path_factory.mktemp("ensemble")
    out = io.StringIO()
    call_command(
        "train_model",
        *("--model", "custom_cnn", "--data", str(data), "--out", str(second_dir / "custom_cnn.weights.h5")),
        *("--epochs", "1", "--resolution", "64", "--validation-fraction", "0.25"),
        *("--seed", "7", "--split-seed", "42", "--head", "gap", "--fine-map", "--last-width", "96"),
        stdout=out,
    )
    call_command(
        "build_ensemble",
        *("--data", str(data), "--member", str(first_dir), "--member", str(second_dir)),
        *("--out", str(ensemble_dir / "custom_cnn.weights.h5")),
        stdout=out,
    )
    return ensemble_dir, out.getvalue(), (first_dir, second_dir, data)


def test_build_ensemble_writes_one_model_the_engine_serves(assembled):
    ensemble_dir, output, (first_dir, second_dir, _) = assembled
    card = json.loads((ensemble_dir / "custom_cnn.card.json").read_text())
    assert card["sha256"] == registry.file_sha256(ensemble_dir / "custom_cnn.weights.h5")
    assert [m["folder"] for m in card["members"]] == [str(first_dir), str(second_dir)]
    assert card["recipe"]["members"] == [
        {"head": "attention", "fine_map": False, "last_width": 256},
        {"head": "gap", "fine_map": True, "last_width": 96},
    ]
    assert {"gradcam", "guided_backprop"} <= set(card["sanity"]) and card["ood"]["views"]
    markdown = (ensemble_dir / "custom_cnn.card.md").read_text()
    assert "an ensemble of 2 custom CNNs" in markdown and "last stage 96 filters wide" in markdown
    assert "ensemble validation accuracy" in output

    engine = Engine(registry.get_spec("custom_cnn", ensemble_dir))
    scan = encode(head(200, 160, (0.3, 0.4)), "JPEG")
    result = engine.predict(scan)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    maps = engine.explain_maps(scan, result)
    assert maps.gradcam.raw.shape == (160, 200) and maps.gradcam.raw.max() > 0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a[:2], "needs at least two --member"),
        (lambda a: [*a[:2], *a[:2]], "given twice"),
        (lambda a: [*a, "--out-inside"], "outside the member folders"),
        (lambda a: [*a[:2], "--member", "/nonexistent"], "--member /nonexistent"),
    ],
)
def test_build_ensemble_arguments_are_checked_before_any_work(trained, tmp_path, change, message):
    from django.core.management.base import CommandError

    first_dir, _, data = trained
    arguments = change(["--member", str(first_dir), "--member", str(tmp_path)])
    out = str(tmp_path / "out" / "custom_cnn.weights.h5")
    if arguments[-1] == "--out-inside":
        arguments, out = arguments[:-1], str(first_dir / "custom_cnn.weights.h5")
    with pytest.raises(CommandError, match=message):
        call_command("build_ensemble", "--data", str(data), *arguments, "--out", out)


def test_the_gate_head_needs_images_to_tell_from_mri(trained, tmp_path):
    from django.core.management.base import CommandError

    _, _, data = trained  # synthetic heads: none of them is listed as not brain MRI
    with pytest.raises(CommandError, match="the gate head needs the tumour map and images to tell from MRI"):
        call_command(
            "train_model",
            *("--model", "custom_cnn", "--data", str(data), "--out", str(tmp_path / "custom_cnn.weights.h5")),
            *("--epochs", "1", "--resolution", "64", "--gate-head-weight", "1"),
            stdout=io.StringIO(),
        )
    assert not (tmp_path / "custom_cnn.weights.h5").exists()
