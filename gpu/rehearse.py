"""Rehearse the GPU run here on the CPU: `make gpu-rehearsal` (gpu/README.md).

A small payload (a few images of each class), then the exact GPU script under JAX from a
separate virtualenv with this project's keras, at a small resolution and for a few steps, then
gpu.assemble under TensorFlow on the same images' originals, then fit_ood and evaluate_model on
what it installed. Prints the figures the README quotes.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gpu import parts
from gpu.payload import DATASET_FOLDER, DEFAULT_SOURCE, REPO_ROOT, build, relative_name

DEFAULT_ROOT = REPO_ROOT / "var" / "gpu-rehearsal"
# Small enough for 2 busy CPU cores; the 60 s time box makes the run stop itself, as on the GPU.
REHEARSAL_ARGS = ("--resolution", "96", "--batch-size", "4", "--steps-per-epoch", "3", "--train-seconds", "60")
JAX_PYTHON = REPO_ROOT / "var" / "jax-venv" / "bin" / "python"


def originals_view(source: Path, names: list[str], view: Path) -> Path:
    """A Training folder of links to the chosen ORIGINAL images, with the dataset's masks beside
    it: what the finishing step reads in the real run, cut down to the rehearsal's images."""
    training = view / "Training"
    for name in names:
        link = training / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source / "Training" / name)
    (view / "masks").symlink_to(source / "masks")
    return training


def run_script(python: Path, backend: str, payload: Path, out: Path, script_args: list[str]) -> float:
    """The GPU script as gpu/run.sh starts it, in its own process; returns its wall seconds."""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    started = time.monotonic()
    work = out.parent / "work"
    command = [str(python), "-m", "gpu.train_xception", "--payload", str(payload), "--out", str(out)]
    subprocess.run([*command, "--work", str(work), *script_args], cwd=REPO_ROOT, env=env, check=True)  # noqa: S603
    # Only what came back to `out` matters from here, as on the GPU; the checkpoints are 350 MB.
    shutil.rmtree(work)
    return time.monotonic() - started


def run_rehearsal(
    root: Path = DEFAULT_ROOT,
    source: Path = DEFAULT_SOURCE,
    python: Path = JAX_PYTHON,
    backend: str = "jax",
    per_class: int = 6,
    script_args: tuple[str, ...] = REHEARSAL_ARGS,
    log=print,
) -> dict:
    """The GPU side: a small payload and the script's run on it, under `root` (emptied first)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    started = time.monotonic()
    payload = build(source, root / "payload", root / "staging", per_class=per_class, wheels=False, log=log)
    build_seconds = time.monotonic() - started
    staged = root / "staging" / DATASET_FOLDER / "Training"
    names = sorted(relative_name(staged, p) for p in staged.rglob("*") if p.is_file())
    return {
        "payload": payload,
        "build_seconds": round(build_seconds, 1),
        "originals": originals_view(source, names, root / "originals"),
        "script_seconds": round(run_script(python, backend, root / "payload", root / "out", list(script_args)), 1),
        "out": root / "out",
        "weights_dir": root / "weights",
    }


def rehearse(root: Path = DEFAULT_ROOT, log=print, **options) -> dict:
    """Both sides: run_rehearsal, then gpu.assemble here; returns the run and the measured figures."""
    from gpu.assemble import assemble

    run = run_rehearsal(root, log=log, **options)
    manifest = parts.read_manifest(run["out"])
    started = time.monotonic()
    card = assemble(run["out"], run["originals"], run["weights_dir"], root / "finish", log=log)
    run["figures"] = {
        "images": run["payload"]["dataset"]["images"],
        "build_seconds": run["build_seconds"],
        "script_seconds": run["script_seconds"],
        "fit_seconds": manifest.get("fit_seconds"),
        "median_step_seconds": manifest.get("median_step_seconds"),
        "epochs": manifest["state"]["epoch"],
        "stopped_by_time_box": bool(manifest.get("stopped_by_time_box")),
        "returned": {p.name: p.stat().st_size for p in sorted(run["out"].iterdir())},
        "assemble_seconds": round(time.monotonic() - started, 1),
        "validation_accuracy": card["validation"]["accuracy"],
    }
    return run


def check_serving(originals: Path, weights_dir: Path, log=print) -> None:
    """evaluate_model on what the rehearsal installed, as a person would run it (after fit_ood
    where the finishing step did not fit the refusal statistics)."""
    env = {**os.environ, "ML_WEIGHTS_DIR": str(weights_dir)}
    manage = [sys.executable, "manage.py"]
    if not (weights_dir / "xception.ood.npz").is_file():
        fit = [*manage, "fit_ood", "--model", "xception", "--data", str(originals), "--weights-dir", str(weights_dir)]
        subprocess.run(fit, cwd=REPO_ROOT, env=env, check=True)  # noqa: S603
    evaluate = [*manage, "evaluate_model", "--model", "xception", str(originals), "--json"]
    report = subprocess.run(evaluate, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    result = json.loads(report.stdout)
    log(f"evaluate_model: accuracy {result['accuracy']:.3f} on {result['count']} images ({result['model_version']})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--python", type=Path, default=JAX_PYTHON, help="the JAX virtualenv's python")
    args, script_args = parser.parse_known_args(argv)
    if not args.python.is_file():
        raise SystemExit(f"{args.python} is missing: `make gpu-rehearsal` creates it.")
    result = rehearse(
        args.root, python=args.python, per_class=args.per_class, script_args=tuple(script_args) or REHEARSAL_ARGS
    )
    check_serving(result["originals"], result["weights_dir"])
    print(json.dumps(result["figures"], indent=1))


if __name__ == "__main__":
    main()
