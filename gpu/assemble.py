"""Turn what the GPU run returned into the Xception weights and card, under TensorFlow here.

    .venv/bin/python -m gpu.assemble RETURNED_DIR [--data DIR] [--weights-dir DIR]

1. joins and checks the float16 parts (gpu.parts) and writes them, as float32, into a weights
   file saved here by the same architecture; it must load and predict before anything goes on;
2. finishes the run the way the CPU path finishes one: `train_model --resume` on a checkpoint
   holding the GPU run's state. train() sees the run is over and only runs its finishing step,
   on the ORIGINAL images: BatchNorm statistics re-estimated on clean images, temperature,
   validation metrics and robustness; the command adds the heat-map sanity test and the
   localisation figures and writes the card;
3. checks that train() split the originals here exactly as the GPU run split its copies;
4. records in the card where and how the training ran, and installs weights and card.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

from gpu import parts  # noqa: E402
from gpu.payload import DEFAULT_SOURCE, REPO_ROOT  # noqa: E402

DEFAULT_WORK = REPO_ROOT / "var" / "gpu-finish"


def weights_from_parts(returned: Path, work: Path) -> tuple[Path, dict]:
    """The returned parts as a float32 weights file in `work`, checked by loading and predicting."""
    import numpy as np

    from scans.ml import registry
    from scans.ml.architectures import ARCHITECTURES
    from scans.ml.training import Recipe

    arrays, manifest = parts.read_parts(returned)
    recipe = Recipe(**manifest["state"]["recipe"])
    model = ARCHITECTURES[recipe.model](recipe.input_size, **registry.options_from(asdict(recipe)))
    template = work / "template.weights.h5"
    model.save_weights(str(template))
    weights_file = work / f"{recipe.model}.weights.h5"
    parts.write_weights_file(arrays, template, weights_file)
    template.unlink()
    model.load_weights(str(weights_file))
    probabilities = np.asarray(model(np.zeros((1, recipe.input_size, recipe.input_size, 3), "float32")))
    if not np.isfinite(probabilities).all():
        raise SystemExit(f"the weights from {returned} predict non-finite probabilities: the run diverged.")
    return weights_file, manifest


def checkpoint_for_finishing(manifest: dict, checkpoint: Path) -> None:
    """A checkpoint that train(resume=True) reads as a finished run.

    train() loads `last.weights.h5` (network and optimiser) before it sees that the run is over;
    the optimiser state never came back, so the file holds the untrained network, which the
    finishing step does not use: it starts from the best weights (the parts). Keras warns that
    it skips the optimiser's variables.
    """
    from scans.ml import registry
    from scans.ml.architectures import ARCHITECTURES
    from scans.ml.training import Recipe

    state = dict(manifest["state"])
    recipe = Recipe(**state["recipe"])
    # A run the time box stopped before its last epoch is over all the same.
    state["stopped_early"] = True
    state["seconds"] = manifest.get("fit_seconds", 0.0)
    checkpoint.mkdir(parents=True)
    network = ARCHITECTURES[recipe.model](
        recipe.input_size, tumour_map=recipe.tumour_map_weight > 0, **registry.options_from(asdict(recipe))
    )
    network.save_weights(str(checkpoint / "last.weights.h5"))
    (checkpoint / "state.json").write_text(json.dumps(state, indent=1))


def split_line(output: str) -> str | None:
    return next((line.strip() for line in output.splitlines() if line.strip().startswith("split:")), None)


def describe_gpu_run(manifest: dict, returned: Path) -> dict:
    keys = ("machine", "devices", "backend", "keras", "precision", "command", "started_at", "fit_seconds")
    return {
        **{key: manifest.get(key) for key in keys},
        "stopped_by_time_box": bool(manifest.get("stopped_by_time_box")),
        "time_box": manifest.get("time_box"),
        "planning": manifest.get("planning"),
        "payload": {key: manifest.get("payload", {}).get(key) for key in ("max_side", "jpeg_quality", "dataset")},
        "best_val_accuracy_on_reencoded_images": manifest["state"]["best"],
        "returned_files": sorted(p.name for p in returned.iterdir()),
    }


def assemble(returned: Path, data: Path, weights_dir: Path, work: Path = DEFAULT_WORK, log=print) -> dict:
    """Weights and card from the GPU run's returned files, installed in `weights_dir`; returns the card."""
    import django

    django.setup()
    from django.core.management import call_command

    from scans.ml.cards import write_card

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    weights_file, manifest = weights_from_parts(returned, work)
    model = manifest["state"]["recipe"]["model"]
    log(f"joined {len(manifest['parts'])} parts into {weights_file}; it loads and predicts")
    checkpoint = work / "checkpoint"
    checkpoint_for_finishing(manifest, checkpoint)
    log("finishing the run on the original images (train_model --resume): this takes a while on the CPU…")
    output = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        call_command(
            "train_model",
            "--model",
            model,
            "--data",
            str(data),
            "--out",
            str(weights_file),
            "--resume",
            str(checkpoint),
            stdout=output,
        )
    here, there = split_line(output.getvalue()), manifest.get("split")
    if here != there:
        raise SystemExit(
            f"the originals split differently here ({here!r}) than the GPU run's images ({there!r}): its "
            "validation figures would score training images. Nothing was installed."
        )
    card_json = work / f"{model}.card.json"
    card = json.loads(card_json.read_text())
    card["command"] = (
        f"bash gpu/run.sh on a GPU machine ({manifest.get('command')}), then "
        f"python -m gpu.assemble RETURNED_DIR --data {data} --weights-dir {weights_dir}"
    )
    card["training"]["machine"] = f"{manifest.get('devices')} ({manifest.get('machine')}), {manifest.get('precision')}"
    card["training"]["finished_on"] = f"{platform.machine()} {os.cpu_count()} cores, TensorFlow, original images"
    card["training"]["gpu_run"] = describe_gpu_run(manifest, returned)
    write_card(card, card_json)
    installed = [weights_file.name, card_json.name, card_json.name.replace(".card.json", ".card.md")]
    if card.get("ood"):
        installed.append(card["ood"]["file"])  # the refusal statistics fitted with these weights
    weights_dir.mkdir(parents=True, exist_ok=True)
    for name in installed:
        shutil.copyfile(work / name, weights_dir / name)
    validation = card["validation"]
    log(
        f"installed {', '.join(installed)} in {weights_dir}: validation accuracy {validation['accuracy']:.4f} "
        f"on {validation['count']} original images, ECE after calibration {validation['ece_after_calibration']:.4f}"
    )
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Weights and card from a GPU run's returned files.")
    parser.add_argument("returned", type=Path, help="the folder holding manifest.json, the parts and train.log")
    parser.add_argument("--data", type=Path, default=DEFAULT_SOURCE / "Training", help="the ORIGINAL training images")
    parser.add_argument("--weights-dir", type=Path, default=REPO_ROOT / "weights")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder (emptied first)")
    args = parser.parse_args(argv)
    assemble(args.returned, args.data, args.weights_dir, args.work)


if __name__ == "__main__":
    main()
