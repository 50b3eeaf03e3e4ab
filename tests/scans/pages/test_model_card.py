"""Model card pages, read from weights/<name>.card.json without TensorFlow."""

import json

import pytest

from scans.ml import registry

pytestmark = pytest.mark.django_db

CARD = {
    "model": "custom_cnn",
    "weights_file": "custom_cnn.weights.h5",
    "sha256": "f" * 64,
    "input_size": 224,
    "class_names": ["glioma", "meningioma", "notumor", "pituitary"],
    "temperature": 1.25,
    "init": "scratch",
    "command": "manage.py train_model --model custom_cnn",
    "recipe": {"epochs": 40, "batch_size": 32, "learning_rate": 0.002, "seed": 42},
    "data": {
        "source": "Kaggle Brain Tumor MRI Dataset",
        "images": 5712,
        "train": 4851,
        "validation": 861,
        "duplicate_groups": 4603,
        "split": "stratified by class",
        "validation_per_class": {"glioma": 199, "meningioma": 201, "notumor": 242, "pituitary": 219},
    },
    "training": {"epochs_run": 31, "best_epoch": 27, "seconds": 4000, "machine": "2 cores"},
    "validation": {
        "count": 861,
        "accuracy": 0.9321,
        "macro_f1": 0.93,
        "ece_before_calibration": 0.05,
        "ece_after_calibration": 0.02,
        "per_class": {
            n: {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 200}
            for n in ["glioma", "meningioma", "notumor", "pituitary"]
        },
        "confusion_matrix": [[187, 9, 1, 2], [5, 180, 6, 10], [0, 2, 240, 0], [1, 3, 0, 215]],
    },
    "robustness": {"jpeg_q30": 0.91},
    "sanity": {
        "images": 32,
        "pass_below": 0.5,
        "gradcam": {"mean_spearman": 0.12, "passes": True},
        "guided_backprop": {"mean_spearman": 0.81, "passes": False},
    },
}


def _card_page(card: dict, client, owner, folder, monkeypatch) -> str:
    """The model card page as `owner` sees it when `card` is the installed card."""
    (folder / "custom_cnn.card.json").write_text(json.dumps(card))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", folder)
    client.force_login(owner)
    return client.get("/models/custom_cnn/").content.decode()


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    (tmp_path / "custom_cnn.card.json").write_text(json.dumps(CARD))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def test_the_card_shows_data_recipe_metrics_confusion_robustness_sanity_and_limits(client, owner, weights_dir):
    client.force_login(owner)
    body = client.get("/models/custom_cnn/").content.decode()
    for expected in (
        "Kaggle Brain Tumor MRI Dataset",
        "manage.py train_model --model custom_cnn",
        "Accuracy <strong>93.2 %</strong>",
        "<td>187</td><td>9</td><td>1</td><td>2</td>",
        "jpeg_q30",
        "Grad-CAM: 0.120 — passes",
        "Guided backprop: 0.810 — fails: it largely shows the image's edges",
        "Known limits",
    ):
        assert expected in body, expected


def test_an_ensemble_card_lists_its_members_and_where_the_maps_point(client, owner, tmp_path, monkeypatch):
    member = {
        "recipe": {"head": "attention", "fine_map": True, "epochs": 40, "seed": 7},
        "best_epoch": 33,
        "validation_accuracy": 0.9411,
    }
    card = {
        **CARD,
        "recipe": {"model": "custom_cnn", "members": [{"head": "attention", "fine_map": True}] * 2},
        "members": [member, {**member, "recipe": {**member["recipe"], "last_width": 384}}],
        "training": {"seconds": 5000, "machine": "2 cores"},
        "localisation": {
            "gradcam": {"pointing_game": 0.812, "energy_inside": 0.3, "images": 599},
            "saliency": {"pointing_game": 0.65, "energy_inside": 0.2, "images": 599},
        },
    }
    body = _card_page(card, client, owner, tmp_path, monkeypatch)
    assert "An ensemble of 2 custom CNNs" in body
    assert "<td>attention</td><td>14×14</td><td>256</td><td>40 (33)</td><td>7</td><td>94.1 %</td>" in body
    assert "<td>attention</td><td>14×14</td><td>384</td><td>40 (33)</td><td>7</td><td>94.1 %</td>" in body
    assert "Where the heat maps point" in body
    assert '<th scope="row">Grad-CAM</th><td>81.2 %</td>' in body
    assert "<dt>Epochs</dt>" not in body


def test_the_card_shows_the_refusal_figures_and_limits_of_a_gated_patient_aware_model(
    client, owner, tmp_path, monkeypatch
):
    card = {
        **CARD,
        "data": {**CARD["data"], "split": "stratified by class; grouping mirrored copies and patients"},
        "validation": {
            **CARD["validation"],
            "accuracy_interval": {
                "low": 0.876,
                "high": 0.966,
                "level": 0.95,
                "groups": 312,
                "largest_group_error_share": 0.35,
            },
        },
        "ood": {
            "validation": {"false_refusal_rate": 0.009, "coverage": 0.935, "accuracy_called": 0.996},
            "development_set": {
                "count": 80,
                "refusal_rate": 0.9625,
                "categories": {
                    "ct_head": {"count": 40, "refusal_rate": 0.925},
                    "dental_xray": {"count": 40, "refusal_rate": 1.0},
                },
            },
        },
    }
    body = " ".join(_card_page(card, client, owner, tmp_path, monkeypatch).split())
    assert "0.9 % refused, 93.5 % called, 99.6 % of those called right" in body
    assert "plausibly be anywhere from 87.6 % to 96.6 % (95 % bootstrap interval resampling the 312 patients" in body
    assert "one of them holds 35.0 % of the errors" in body
    assert '<th scope="row">Head CT (40)</th><td>92.5 %</td></tr>' in body
    assert '<th scope="row">Dental xray (40)</th><td>100.0 %</td>' in body
    assert "Patient ids exist only for its figshare part" in body
    assert "confident but meaningless" not in body and "head CT most of all" in body
    assert "turned 90°" not in body  # measured only since the seventh session: not shown as if refused


def test_the_card_shows_how_much_is_refused_when_turned(client, owner, tmp_path, monkeypatch):
    card = {
        **CARD,
        "ood": {
            "validation": {"false_refusal_rate": 0.009, "coverage": 0.935, "accuracy_called": 0.996},
            "development_set": {
                "count": 40,
                "refusal_rate": 1.0,
                "categories": {"ct_head": {"count": 40, "refusal_rate": 1.0, "turned_refusal_rate": 0.975}},
                "turned": {"count": 120, "refused": 117, "refusal_rate": 0.975, "not_refused": []},
            },
        },
    }
    body = " ".join(_card_page(card, client, owner, tmp_path, monkeypatch).split())
    assert "how many are refused, as they are and turned by 90°, 180° or 270°</caption>" in body
    assert '<th scope="col">Refused, turned</th>' in body
    assert '<th scope="row">Head CT (40)</th><td>100.0 %</td><td>97.5 %</td>' in body
    assert '<th scope="row">All (40)</th><td>100.0 %</td><td>97.5 %</td>' in body


def test_a_model_without_weights_says_it_is_not_installed(client, owner, weights_dir):
    client.force_login(owner)
    response = client.get("/models/xception/")
    assert response.status_code == 200
    assert "Xception is not installed" in response.content.decode()


def test_an_unknown_model_is_a_404(client, owner):
    client.force_login(owner)
    assert client.get("/models/resnet/").status_code == 404
