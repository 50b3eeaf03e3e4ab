"""The one-shot Xception training run on a lent GPU machine: `bash gpu/run.sh` there (gpu/README.md).

Unpacks the carried dataset and trains with scans.ml.training.train(), the CPU path's own split
(on the original images' groups), preprocessing, augmentation and loop, under JAX with mixed
bfloat16 precision. It stops itself
inside a time box, and after every epoch leaves in --out the best weights so far as float16
parts under 16 MiB (gpu.parts), a manifest with the run's history, and the log, so a run cut
short still returns its best epoch. train()'s finishing step (BatchNorm statistics, calibration,
robustness) does not run here: gpu.assemble runs it on the CPU under TensorFlow, on the original
images the portal will serve, where no device minute is spent on it.

The Keras backend comes from the environment (run.sh and rehearse.py set KERAS_BACKEND=jax),
never from this module: set here, it would leak into every process a test run starts later.
"""

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import sys
import tarfile
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np

from gpu import parts
from gpu.payload import DATA_ARCHIVE, DATASET_FOLDER, GROUPS_JSON, PAYLOAD_JSON
from scans.ml import architectures, training
from scans.ml.training import CACHE_SIDE, AugmentedBatches, Recipe, train

MODEL = "xception"
# Layers that stay float32 under a mixed policy, as Keras advises for a model's outputs: a
# softmax or sigmoid in bfloat16 saturates (1 − 1e-6 rounds to 1), and the losses read them.
FLOAT32_LAYERS = ("logits", "probs", "tumour_map")
# Seconds kept free after training for the process to exit inside the device's limit.
EXIT_SECONDS = 10
# The time box stops training this long before its end at least; each epoch's own end
# (validation, saves, export) is measured and replaces it when longer.
MIN_EPOCH_END_SECONDS = 20
# For --epochs auto, guesses to be replaced by what the first run logs: unpacking, decoding and
# grouping the images before fit starts; compiling the first step plus the first epoch's end,
# where eager JAX compiles each op once (80 s of the rehearsal's 2-core CPU run); and each
# later epoch's end (BatchNorm re-estimation, validation, saves, export).
SETUP_SECONDS = 75
COMPILE_SECONDS = 100
EPOCH_END_SECONDS = 15
# What the GPU itself is assumed to sustain at batch 32 (Xception, 299 px, bfloat16) when the
# input pipeline is faster still; a guess until a run measures it.
GPU_IMAGES_PER_SECOND = 1000
MIN_EPOCHS, MAX_EPOCHS = 3, 60


class FinishingSkipped(Exception):
    """Raised when fit ends: train() would go on to its finishing step, which runs on the CPU here instead."""


class Tee:
    """A stream that writes to the console and to the log file, so $OUT/train.log has everything printed."""

    def __init__(self, stream, log_file):
        self.stream, self.log_file = stream, log_file

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.log_file.write(text)
        self.log_file.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
        self.log_file.flush()


class Run:
    """What the run knows about itself, for its log lines and the manifest."""

    def __init__(self, args: argparse.Namespace):
        # gpu/run.sh notes when the device command began (before pip and the imports), so the
        # run's deadline counts from where the device's limit counts.
        began = float(os.environ.get("GPU_RUN_STARTED_AT", time.time()))
        self.started = time.monotonic() - max(0.0, time.time() - began)
        self.args = args
        self.facts: dict = {"model": MODEL, "backend": keras.backend.backend(), "keras": keras.__version__}

    def log(self, message: str) -> None:
        if message.startswith("split:"):
            # train() reports its split here; gpu.assemble compares it with the split of the originals.
            self.facts["split"] = message
        print(f"[{time.monotonic() - self.started:6.1f} s] {message}", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class TimeBox(keras.callbacks.Callback):
    """Stops training before the deadline, leaving time for the last epoch's end.

    Checked before every batch: a stop mid-epoch still ends that epoch, so train()'s checkpoint
    callback validates and saves what it learnt, and the export follows.
    """

    def __init__(self, run: Run, train_seconds: float, deadline: float):
        super().__init__()
        self.run, self.train_seconds, self.deadline = run, train_seconds, deadline
        self.epoch_end_seconds = float(MIN_EPOCH_END_SECONDS)
        self.last_batch_began = self.fit_started = self.fit_deadline = time.monotonic()
        self.stopped = False
        self.step_seconds: list[float] = []
        self.compiled = False

    def on_train_begin(self, logs=None):
        self.fit_started = time.monotonic()
        self.fit_deadline = min(self.deadline, self.fit_started + self.train_seconds)
        self.run.facts["devices"] = describe_devices()
        self.run.log(
            f"fit starts on {self.run.facts['devices']}; time box ends in {self.fit_deadline - self.fit_started:.0f} s"
        )

    def on_epoch_begin(self, epoch, logs=None):
        if self.last_batch_began > self.fit_started:
            # From the last batch of the previous epoch to here: its validation, saves and export,
            # plus the half again, is what the box leaves free from now on.
            measured = time.monotonic() - self.last_batch_began
            self.epoch_end_seconds = max(MIN_EPOCH_END_SECONDS, 1.5 * measured)

    def on_train_batch_begin(self, batch, logs=None):
        now = time.monotonic()
        # Step times within an epoch, leaving out the run's first step (it compiles).
        if batch > 0 and self.compiled:
            self.step_seconds.append(now - self.last_batch_began)
        self.compiled = self.compiled or batch > 0
        self.last_batch_began = now
        if not self.stopped and now + self.epoch_end_seconds >= self.fit_deadline:
            self.stopped = self.model.stop_training = True
            self.run.facts["stopped_by_time_box"] = True
            self.run.log(f"time box: stopping before batch {batch + 1}, leaving {self.epoch_end_seconds:.0f} s")

    def on_epoch_end(self, epoch, logs=None):
        self.run.facts["fit_seconds"] = round(time.monotonic() - self.fit_started, 1)
        if self.step_seconds:
            self.run.facts["median_step_seconds"] = round(float(np.median(self.step_seconds)), 4)


class ExportBest(keras.callbacks.Callback):
    """After each epoch (and train()'s checkpoint callback): the best weights so far into --out
    as float16 parts when they changed, and the run's state and facts into the manifest."""

    def __init__(self, run: Run, weights_file: Path, checkpoint_dir: Path, out_dir: Path):
        super().__init__()
        self.run, self.weights_file, self.checkpoint_dir, self.out_dir = run, weights_file, checkpoint_dir, out_dir
        self.exported_stamp: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        started = time.monotonic()
        state = json.loads((self.checkpoint_dir / "state.json").read_text())
        meta = {**self.run.facts, "state": state, "elapsed_seconds": round(self.run.elapsed(), 1)}
        stamp = self.weights_file.stat().st_mtime_ns
        if stamp != self.exported_stamp:
            manifest = parts.write_parts(self.weights_file, self.out_dir, f"{MODEL}-e{state['best_epoch']:02d}", meta)
            self.exported_stamp = stamp
            sizes = ", ".join(f"{p['bytes'] / 2**20:.1f}" for p in manifest["parts"])
            self.run.log(
                f"exported epoch {state['best_epoch']} (val_accuracy {state['best']:.4f}) as "
                f"{len(manifest['parts'])} parts [{sizes}] MiB in {time.monotonic() - started:.1f} s"
            )
        else:
            parts.update_manifest(self.out_dir, meta)

    def on_train_end(self, logs=None):
        raise FinishingSkipped


def describe_devices() -> str:
    if keras.backend.backend() != "jax":
        return f"{keras.backend.backend()} on {platform.machine()}"
    import jax

    return f"jax {jax.__version__}: " + ", ".join(sorted({d.device_kind for d in jax.devices()}))


def unpack(payload_dir: Path, work_dir: Path, run: Run) -> Path:
    """The carried dataset, checked against payload.json and unpacked; returns its Training folder."""
    payload = json.loads((payload_dir / PAYLOAD_JSON).read_text())
    archive = payload_dir / DATA_ARCHIVE
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != payload["archive"]["sha256"]:
        raise SystemExit(f"{archive} is not the archive payload.json describes (sha256 {digest[:12]}…).")
    with tarfile.open(archive) as tar:
        tar.extractall(work_dir, filter="data")
    run.facts["payload"] = {key: payload[key] for key in ("dataset", "max_side", "jpeg_quality", "split", "per_class")}
    run.log(f"unpacked {payload['dataset']['images']} images and {payload['dataset']['masks']} masks to {work_dir}")
    return work_dir / DATASET_FOLDER / "Training"


def use_carried_groups(payload_dir: Path, training_dir: Path) -> None:
    """Make train() split by the groups computed on the original images (gpu.payload.original_groups).

    On the re-encoded copies, scans.ml.dataset.duplicate_groups would group a little differently
    and move hundreds of images across the split, and gpu.assemble validates on the originals'
    split. train() calls the function by its name in scans.ml.training, so that name is rebound
    for this process; stratified_group_split, the split itself, runs unchanged.
    """
    groups = json.loads((payload_dir / GROUPS_JSON).read_text())

    def carried_groups(paths: list[Path], data_dir: Path | None = None) -> np.ndarray:
        names = [Path(p).relative_to(training_dir).as_posix() for p in paths]
        unknown = [name for name in names if name not in groups]
        if unknown:
            raise SystemExit(f"{len(unknown)} images have no carried group (e.g. {unknown[0]}): rebuild the payload.")
        return np.array([groups[name] for name in names])

    training.duplicate_groups = carried_groups


def use_precision(policy: str) -> None:
    """Set the global dtype policy; under a mixed one, the output layers stay float32.

    train() builds its network from scans.ml.architectures.ARCHITECTURES, so the float32
    outputs are set by wrapping that entry for this process.
    """
    keras.config.set_dtype_policy(policy)
    if policy == "float32":
        return
    build = architectures.ARCHITECTURES[MODEL]

    def build_with_float32_outputs(*args, **kwargs):
        model = build(*args, **kwargs)
        for layer in model.layers:
            if layer.name in FLOAT32_LAYERS:
                layer.dtype_policy = "float32"
        return model

    architectures.ARCHITECTURES[MODEL] = build_with_float32_outputs


def pipeline_images_per_second(recipe: Recipe, batches: int = 6) -> float:
    """How fast train()'s input pipeline (AugmentedBatches, two threads as train() runs it)
    makes batches on this machine's CPUs, measured on synthetic squares."""
    rng = np.random.default_rng(0)
    count = recipe.batch_size * batches
    squares = rng.integers(0, 255, (count, CACHE_SIDE, CACHE_SIDE), dtype=np.uint8)
    masks = [np.zeros((CACHE_SIDE, CACHE_SIDE), np.uint8) if i % 2 else None for i in range(count)]
    targets = np.eye(4, dtype=np.float32)[np.arange(count) % 4]
    cells = math.ceil(recipe.input_size / 32)
    dataset = AugmentedBatches(squares, squares, masks, targets, recipe, start_epoch=0, cells=cells)
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(dataset.__getitem__, range(batches)))
    return count / (time.monotonic() - started)


def planned_epochs(run: Run, recipe: Recipe, images: int) -> int:
    """As many epochs as the time box should hold, so the cosine schedule ends near its end."""
    rate = pipeline_images_per_second(recipe)
    fit_seconds = min(run.args.train_seconds, run.args.total_seconds - SETUP_SECONDS) - COMPILE_SECONDS
    steps = math.ceil(images * (1 - recipe.validation_fraction) / recipe.batch_size)
    if recipe.steps_per_epoch:
        steps = min(steps, recipe.steps_per_epoch)
    epoch_seconds = steps * recipe.batch_size / min(rate, GPU_IMAGES_PER_SECOND) + EPOCH_END_SECONDS
    epochs = int(min(MAX_EPOCHS, max(MIN_EPOCHS, fit_seconds // epoch_seconds)))
    run.facts["planning"] = {
        "pipeline_images_per_second": round(rate, 1),
        "expected_epoch_seconds": round(epoch_seconds, 1),
        "epochs": epochs,
    }
    run.log(
        f"input pipeline: {rate:.0f} images/s on 2 threads; expecting {epoch_seconds:.0f} s an epoch "
        f"→ {epochs} epochs in about {fit_seconds:.0f} s of fit"
    )
    return epochs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="One-shot Xception training on a GPU machine (gpu/README.md).")
    parser.add_argument("--payload", type=Path, default=Path("gpu/payload"), help="the carried folder")
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"), help="what comes back (default $OUT)")
    parser.add_argument("--work", type=Path, help="an empty folder for the data and checkpoints (default: a new one)")
    parser.add_argument("--train-seconds", type=float, default=360, help="time box for training itself")
    parser.add_argument(
        "--total-seconds", type=float, default=400, help="the whole run ends by then (device limit less a margin)"
    )
    parser.add_argument("--epochs", default="auto", help="a number, or auto: as many as the time box holds")
    parser.add_argument("--resolution", type=int, default=299)
    parser.add_argument("--batch-size", type=int, default=Recipe.batch_size)
    parser.add_argument("--learning-rate", type=float, default=Recipe.learning_rate)
    parser.add_argument("--steps-per-epoch", type=int, help="cap the batches per epoch (rehearsals)")
    parser.add_argument("--tumour-map-weight", type=float, default=Recipe.tumour_map_weight)
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    parser.add_argument("--precision", choices=("mixed_bfloat16", "float32"), default="mixed_bfloat16")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("--out is required where $OUT is not set")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work = args.work or Path(tempfile.mkdtemp(prefix="xception-run-"))
    args.work.mkdir(parents=True, exist_ok=True)
    with open(args.out / "train.log", "a") as log_file:
        sys.stdout, sys.stderr = Tee(sys.__stdout__, log_file), Tee(sys.__stderr__, log_file)
        try:
            run_once(args)
        except BaseException:
            traceback.print_exc()  # into train.log too: the log is what comes back
            raise
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def run_once(args: argparse.Namespace) -> None:
    run = Run(args)
    run.facts["command"] = " ".join(["python -m gpu.train_xception", *sys.argv[1:]])
    run.facts["machine"] = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    run.facts["started_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    run.log(f"Keras {keras.__version__} on {keras.backend.backend()}, NumPy {np.__version__}; {run.facts['machine']}")
    training_dir = unpack(args.payload, args.work, run)
    use_carried_groups(args.payload, training_dir)
    use_precision(args.precision)
    run.facts["precision"] = args.precision
    recipe = Recipe(
        model=MODEL,
        input_size=args.resolution,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        steps_per_epoch=args.steps_per_epoch,
        tumour_map_weight=args.tumour_map_weight,
    )
    images = run.facts["payload"]["dataset"]["images"]
    recipe.epochs = int(args.epochs) if args.epochs != "auto" else planned_epochs(run, recipe, images)
    # Early stopping has no use inside a time box that ends the run anyway.
    recipe.patience = recipe.epochs
    run.facts["time_box"] = {"train_seconds": args.train_seconds, "total_seconds": args.total_seconds}
    weights_file = args.work / f"{MODEL}.weights.h5"
    checkpoint_dir = args.work / "checkpoint"
    deadline = run.started + args.total_seconds - EXIT_SECONDS
    # Both after train()'s checkpoint callback, in this order: the export reads what it saved.
    callbacks = [TimeBox(run, args.train_seconds, deadline), ExportBest(run, weights_file, checkpoint_dir, args.out)]
    with contextlib.suppress(FinishingSkipped):
        train(training_dir, weights_file, recipe, log=run.log, checkpoint_dir=checkpoint_dir, callbacks=callbacks)
    manifest = parts.read_manifest(args.out)
    state = manifest["state"]
    run.log(
        f"done: {state['epoch']} epochs in {run.facts.get('fit_seconds', 0):.0f} s of fit, best val_accuracy "
        f"{state['best']:.4f} at epoch {state['best_epoch']} (re-encoded images); returned: "
        + ", ".join(sorted(p.name for p in args.out.iterdir()))
    )


if __name__ == "__main__":
    main()
