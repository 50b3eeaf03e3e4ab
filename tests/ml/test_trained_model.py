"""The committed custom CNN on real scans from the shared dataset (its held-out part)."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import call_command

from scans.ml import registry
from scans.ml.classes import CLASS_NAMES
from tests.conftest import DATASET_DIR, REPO_ROOT, require

pytestmark = pytest.mark.slow
TRAINING = DATASET_DIR / "Training"
NOT_BRAIN_MRI = DATASET_DIR.parent / "not-brain-mri"


@pytest.fixture(scope="module")
def card():
    require(registry.weights_available("custom_cnn"), "the trained custom_cnn weights are not in weights/")
    require(TRAINING.is_dir(), f"the shared dataset is not at {DATASET_DIR}")
    return registry.read_card("custom_cnn")


@pytest.fixture(scope="module")
def held_out(card):
    """Every 12th validation file: ~70 scans the model never trained on, all classes; without
    the head CT the dataset files under its classes (refusing those is right)."""
    from scans.ml.ood_fit import known_not_brain_mri

    return [TRAINING / name for name in card["validation_files"][::12] if name not in known_not_brain_mri()]


@pytest.fixture(scope="module")
def engine(card):
    from scans.ml.inference import get_engine

    return get_engine("custom_cnn")


def test_the_committed_weights_match_their_card(card):
    assert registry.verify_weights("custom_cnn") == card["sha256"]


def test_it_classifies_held_out_scans_like_its_card_says(card, engine, held_out):
    """Within a sampling margin of the card's accuracy (about 75 slices: ±3 points is one
    standard error), and never below the 0.90 the portal's figures are quoted with."""
    correct = [engine.predict(path.read_bytes()).label == path.parent.name for path in held_out]
    assert np.mean(correct) >= max(card["validation"]["accuracy"] - 0.04, 0.90)


def test_grad_cam_looks_at_the_head_not_the_background(engine, held_out):
    from scans.ml.preprocess import head_box

    inside = []
    for path in held_out[:12]:
        data = path.read_bytes()
        maps = engine.explain_maps(data, engine.predict(data))
        top, left, bottom, right = head_box(engine.prepare(data).gray)
        heat = maps.gradcam.raw
        inside.append(heat[top:bottom, left:right].sum() / max(heat.sum(), 1e-6))
    assert np.mean(inside) >= 0.9


def test_classify_prints_one_json_line_per_file_and_keeps_going_after_a_bad_one(held_out, tmp_path):
    bad = tmp_path / "not-a-scan.png"
    bad.write_text("<svg></svg>")
    files = [str(held_out[0]), str(bad), str(held_out[1])]
    run = subprocess.run(
        [sys.executable, "manage.py", "classify", "--json", *files],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["file"] for line in lines] == files, run.stderr[-3000:]
    assert run.returncode == 1
    assert "error" in lines[1] and "PNG or JPEG" in lines[1]["error"]
    for line in (lines[0], lines[2]):
        assert line["model"] == "custom_cnn" and line["label"] in CLASS_NAMES
        assert line["outcome"] in ("classified", "uncertain", "refused") and line["ood_score"] > 0
        assert (line["reason"] == "") == (line["outcome"] == "classified")
        assert sum(line["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert line["confidence"] == max(line["probabilities"].values()) and line["ms"] > 0


@pytest.fixture(scope="module")
def not_brain_mri(card):
    require(NOT_BRAIN_MRI.is_dir(), f"the non-MRI development set is not at {NOT_BRAIN_MRI}")
    return NOT_BRAIN_MRI


@pytest.mark.parametrize("category", ["photo", "document", "chest_xray", "skin", "ultrasound", "ct_body", "mri_other"])
def test_the_first_development_image_of_each_category_is_refused_with_a_reason(engine, not_brain_mri, category):
    path = sorted((not_brain_mri / category).iterdir())[0]
    result = engine.predict(path.read_bytes())
    assert result.outcome == "refused", (path.name, result.ood_score)
    assert result.reason.startswith("Not recognised as a brain MRI slice: ")


def test_most_head_ct_is_refused(engine, not_brain_mri):
    outcomes = [engine.predict(path.read_bytes()).outcome for path in sorted((not_brain_mri / "ct_head").iterdir())]
    assert outcomes.count("refused") / len(outcomes) >= 0.85


def test_the_head_ct_the_training_set_files_under_its_classes_is_refused(engine):
    from scans.ml.ood_fit import known_not_brain_mri

    outcomes = [engine.predict((TRAINING / name).read_bytes()).outcome for name in sorted(known_not_brain_mri())]
    assert outcomes.count("refused") / len(outcomes) >= 0.8


def test_held_out_mri_slices_are_almost_never_refused_and_mostly_called(engine, held_out):
    outcomes = [engine.predict(path.read_bytes()).outcome for path in held_out]
    assert outcomes.count("refused") <= 2
    assert outcomes.count("classified") / len(outcomes) >= 0.85


def test_what_is_called_is_right_more_often_than_everything(card, engine, held_out):
    results = [(engine.predict(path.read_bytes()), path.parent.name) for path in held_out]
    called = [result.label == truth for result, truth in results if result.outcome == "classified"]
    assert np.mean(called) >= np.mean([result.label == truth for result, truth in results])
    # About 65 called slices: a sampling margin of the card's figure, and at least 0.94.
    assert np.mean(called) >= max(card["ood"]["validation"]["accuracy_called"] - 0.04, 0.94)


def test_classify_reports_a_refusal_as_a_result_not_an_error(not_brain_mri):
    photo = sorted((not_brain_mri / "photo").iterdir())[0]
    out = io.StringIO()
    call_command("classify", "--json", str(photo), stdout=out)
    line = json.loads(out.getvalue())
    assert line["outcome"] == "refused" and line["reason"].startswith("Not recognised as a brain MRI slice")
    assert line["ood_score"] > 0 and line["label"] in CLASS_NAMES and "error" not in line


def test_classify_exits_zero_when_every_file_was_classified(held_out):
    out = io.StringIO()
    call_command("classify", str(held_out[2]), stdout=out)
    assert json.loads(out.getvalue())["label"] in CLASS_NAMES


def test_evaluate_model_reports_every_metric_and_saves_its_figures(held_out, tmp_path):
    data = tmp_path / "data"
    for name in CLASS_NAMES:
        (data / name).mkdir(parents=True)
    for path in held_out[:24]:
        (data / path.parent.name / path.name).symlink_to(path)
    out = io.StringIO()
    call_command("evaluate_model", "--model", "custom_cnn", str(data), "--json", "--plots", str(tmp_path), stdout=out)
    report = json.loads(out.getvalue())
    assert report["count"] == 24 and 0.0 <= report["ece"] <= 1.0
    assert set(report["per_class"]) == set(CLASS_NAMES) and len(report["confusion_matrix"]) == 4
    assert report["accuracy"] >= 0.9 and 0.0 < report["macro_f1"] <= 1.0
    interval = report["accuracy_interval"]
    assert interval["low"] <= report["accuracy"] <= interval["high"] and 1 <= interval["groups"] <= 24
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0 and (tmp_path / "reliability.png").is_file()
    called = report["called"]
    assert called["called"] + called["uncertain"] + called["refused"] == 24
    assert 0.0 < called["coverage"] <= 1.0 and called["accuracy_called"] >= report["accuracy"] - 0.05


def test_evaluate_model_reports_the_refusal_rate_per_category_of_a_non_mri_folder(held_out, not_brain_mri, tmp_path):
    data = tmp_path / "data"
    for name in CLASS_NAMES:
        (data / name).mkdir(parents=True)
    for path in held_out[:8]:
        (data / path.parent.name / path.name).symlink_to(path)
    others = tmp_path / "others"
    for category in ("photo", "chest_xray"):
        (others / category).mkdir(parents=True)
        for path in sorted((not_brain_mri / category).iterdir())[:3]:
            (others / category / path.name).symlink_to(path)
    out = io.StringIO()
    call_command("evaluate_model", "--model", "custom_cnn", str(data), "--ood-dir", str(others), stdout=out)
    text = out.getvalue()
    assert "accuracy on what is called" in text
    assert "refused 100.0% of    3, turned 100.0%  photo" in text
    assert "refused 100.0% of    3, turned 100.0%  chest_xray" in text
    assert "AUROC 1.0000" in text


def test_its_grad_cam_points_at_the_tumour_as_its_card_says(card, engine):
    """On a sample of its validation slices with an outline, the map the portal shows first
    peaks on the tumour (within 15 px) about as often as the card's pointing game says."""
    from pathlib import Path

    from scans.ml.localisation import engine_localisation

    assert card["localisation"]["gradcam"]["pointing_game"] >= 0.8
    sample = [(TRAINING / name, Path(name).parent.name) for name in card["validation_files"][::6]]
    report = engine_localisation(engine, sample)
    assert report["gradcam"]["images"] >= 80
    assert report["gradcam"]["pointing_game"] >= 0.75


WIDE_MEMBER = REPO_ROOT / "weights" / "members" / "wide-384-eq"


def test_the_wide_member_loads_alone_with_its_checks_and_refuses_the_head_ct(not_brain_mri):
    """Run G-eq, a member of the served ensemble: alone, its weights and refusal statistics match
    its card, it is the wider network its card says, and its gate refuses the development
    set's head CT as measured."""
    from scans.ml.inference import Engine

    candidate = registry.read_card("custom_cnn", WIDE_MEMBER)
    spec = registry.get_spec("custom_cnn", WIDE_MEMBER)
    assert spec.options["last_width"] == 384
    engine = Engine(spec)
    outcomes = [engine.predict(path.read_bytes()).outcome for path in sorted((not_brain_mri / "ct_head").iterdir())]
    measured = candidate["ood"]["development_set"]["categories"]["ct_head"]["refusal_rate"]
    assert outcomes.count("refused") / len(outcomes) >= measured - 0.05
