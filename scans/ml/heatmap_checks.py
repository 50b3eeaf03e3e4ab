"""The heat-map sections of a model card: the randomisation sanity test and where the maps point.

Both run on the card's validation images after the weights are final; train_model and
build_ensemble finish their cards alike through write_card_with_heatmap_checks.
"""

from collections.abc import Callable
from pathlib import Path

from scans.ml import registry

SANITY_IMAGES = 24


def write_card_with_heatmap_checks(
    card: dict, data_dir: Path, weights_path: Path, log: Callable[[str], None]
) -> tuple[Path, Path]:
    """Add both heat-map sections to a finished card and write it beside the weights:
    (JSON path, Markdown path). The card is written once before the pointing game, because
    the serving engine that draws the maps checks the weights against it."""
    from scans.ml.cards import write_card

    card["sanity"] = sanity_section(card, data_dir, weights_path)
    card_json = weights_path.with_name(f"{card['model']}.card.json")
    write_card(card, card_json)
    card["localisation"] = localisation_section(card, data_dir, weights_path.parent, log)
    return card_json, write_card(card, card_json)


def sanity_section(card: dict, data_dir: Path, weights_path: Path) -> dict:
    """Heat-map randomisation test on validation images spread over the classes."""
    import numpy as np

    from scans.ml.architectures import ARCHITECTURES
    from scans.ml.preprocess import decode_scan, model_input
    from scans.ml.sanity import randomisation_test

    files, size = card["validation_files"], card["input_size"]
    chosen = files[:: max(1, len(files) // SANITY_IMAGES)][:SANITY_IMAGES]
    inputs = np.stack([model_input(decode_scan((data_dir / f).read_bytes()), size) for f in chosen])
    model = ARCHITECTURES[card["model"]](size, **registry.options_from(card["recipe"]))
    model.load_weights(str(weights_path))
    gradcam_layer = registry.ARCHITECTURE_FACTS[card["model"]].gradcam_layer
    return randomisation_test(model, card["model"], gradcam_layer, inputs)


def localisation_section(card: dict, data_dir: Path, weights_dir: Path, log: Callable[[str], None]) -> dict | None:
    """Pointing game and energy inside the mask of both maps, on validation images with a
    mask, drawn by the serving engine exactly as the portal draws them (the card beside the
    weights must already vouch for them)."""
    from scans.ml.inference import Engine
    from scans.ml.localisation import engine_localisation

    engine = Engine(registry.get_spec(card["model"], weights_dir))
    log("measuring where the heat maps point on the validation images with a mask…")
    return engine_localisation(engine, [(data_dir / name, Path(name).parent.name) for name in card["validation_files"]])
