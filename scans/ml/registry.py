"""Which models exist, where their weights live, and whether a weights file is the right one.

A model's weights file sits in WEIGHTS_DIR next to its card (`<name>.card.json`), which records
the file's sha256, the input size, the calibration temperature and how it was trained. Its
out-of-distribution statistics (`<name>.ood.npz`, scans.ml.ood) are part of the model too: the
card's "ood" section records their sha256, checked like the weights'. This module needs no
TensorFlow: the web process uses it for the health check and the model list.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from scans.ml.errors import WeightsError

WEIGHTS_DIR = Path(os.environ.get("ML_WEIGHTS_DIR", Path(__file__).resolve().parents[2] / "weights"))

MODEL_NAMES = ("custom_cnn", "xception")
DEFAULT_MODEL = "custom_cnn"


@dataclass(frozen=True)
class Architecture:
    display_name: str
    input_size: int
    gradcam_layer: str


ARCHITECTURE_FACTS = {
    "custom_cnn": Architecture("Custom CNN", 224, "last_conv"),
    "xception": Architecture("Xception", 299, "block14_sepconv2_act"),
}


# The build options of scans.ml.architectures that a recipe (and so a card) records.
BUILD_OPTIONS = ("head", "fine_map", "last_width", "members")


def options_from(recipe: dict) -> dict:
    """The build options a recipe or a card's recipe sets; cards older than an option lack it
    and get the architecture's default, which is what they were trained with."""
    return {key: recipe[key] for key in BUILD_OPTIONS if key in recipe}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    display_name: str
    input_size: int
    gradcam_layer: str
    weights_path: Path
    card_path: Path
    sha256: str
    temperature: float
    init: str
    ood_path: Path | None = None
    ood_sha256: str | None = None
    # Build options from the card's recipe (architectures.options_from).
    options: dict = field(default_factory=dict)


def card_path(name: str, weights_dir: Path | None = None) -> Path:
    return Path(weights_dir or WEIGHTS_DIR) / f"{name}.card.json"


def weights_path(name: str, weights_dir: Path | None = None) -> Path:
    return Path(weights_dir or WEIGHTS_DIR) / f"{name}.weights.h5"


def ood_path(name: str, weights_dir: Path | None = None) -> Path:
    return Path(weights_dir or WEIGHTS_DIR) / f"{name}.ood.npz"


def weights_available(name: str, weights_dir: Path | None = None) -> bool:
    return weights_path(name, weights_dir).is_file() and card_path(name, weights_dir).is_file()


def read_card(name: str, weights_dir: Path | None = None) -> dict:
    path = card_path(name, weights_dir)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise WeightsError(f"Model card {path} is missing: train the model or restore the file.") from None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"Model card {path} is unreadable ({exc}).") from None


def get_spec(name: str, weights_dir: Path | None = None) -> ModelSpec:
    """The spec of a registered model; KeyError for an unknown name, WeightsError for a bad card."""
    if name not in ARCHITECTURE_FACTS:
        raise KeyError(f"Unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    facts = ARCHITECTURE_FACTS[name]
    card = read_card(name, weights_dir)
    init = card.get("init", "scratch")
    display_name = facts.display_name + (" (ImageNet transfer)" if init == "imagenet" else "")
    ood = card.get("ood") or {}
    try:
        return ModelSpec(
            name=name,
            display_name=display_name,
            input_size=int(card["input_size"]),
            gradcam_layer=facts.gradcam_layer,
            weights_path=weights_path(name, weights_dir),
            card_path=card_path(name, weights_dir),
            sha256=str(card["sha256"]),
            temperature=float(card.get("temperature", 1.0)),
            init=init,
            ood_path=Path(weights_dir or WEIGHTS_DIR) / str(ood["file"]) if ood else None,
            ood_sha256=str(ood["sha256"]) if ood else None,
            options=options_from(card.get("recipe") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"Model card {card_path(name, weights_dir)} lacks a valid {exc} field.") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_weights(name: str, weights_dir: Path | None = None) -> str:
    """The weights file's sha256, after checking it and the model's out-of-distribution
    statistics against the card; WeightsError otherwise."""
    spec = get_spec(name, weights_dir)
    actual = verify_weights_file(name, weights_dir)
    if spec.ood_path is None or spec.ood_sha256 is None:
        # Without them the engine could not refuse a photo or a CT: it must not serve at all.
        raise WeightsError(
            f"Model card {spec.card_path} has no out-of-distribution statistics: run "
            f"`python manage.py fit_ood --model {name} --data DATA_DIR`."
        )
    _verified_sha256(spec.ood_path, spec.ood_sha256, "Out-of-distribution statistics", "run fit_ood")
    return actual


def verify_weights_file(name: str, weights_dir: Path | None = None) -> str:
    """The weights file's sha256 after checking it alone: for fitting the statistics it lacks."""
    spec = get_spec(name, weights_dir)
    return _verified_sha256(spec.weights_path, spec.sha256, "Weights file", "train the model")


def _verified_sha256(path: Path, expected: str, what: str, remedy: str) -> str:
    try:
        actual = file_sha256(path)
    except FileNotFoundError:
        raise WeightsError(f"{what} {path} is missing: {remedy} or restore the file.") from None
    except OSError as exc:
        raise WeightsError(f"{what} {path} is unreadable ({exc.strerror}).") from None
    if actual != expected:
        raise WeightsError(
            f"{what} {path} does not match its card (sha256 {actual[:12]}…, "
            f"expected {expected[:12]}…): restore the committed file."
        )
    return actual
