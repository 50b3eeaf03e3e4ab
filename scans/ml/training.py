"""The training loop: data split, cached preprocessing, augmentation, fit, calibration, card.

Plain Keras 3 + NumPy + Pillow (no TensorFlow calls), so the same function trains the custom
CNN on the CPU under TensorFlow and Xception on a GPU under JAX.
"""

import hashlib
import math
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from scans.ml import evaluation
from scans.ml.architectures import ARCHITECTURES
from scans.ml.augment import augment
from scans.ml.classes import CLASS_NAMES
from scans.ml.dataset import duplicate_groups, list_samples, stratified_group_split
from scans.ml.preprocess import crop_square, decode_scan, model_input, normalize, resize

# Squares are cached a little larger than the model input so augmentation can rescale and
# rotate without first upsampling.
CACHE_SIDE = 256


@dataclass
class Recipe:
    model: str = "custom_cnn"
    input_size: int = 224
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    seed: int = 42
    validation_fraction: float = 0.15
    patience: int = 8
    init: str = "scratch"
    imagenet_weights: str | None = None
    steps_per_epoch: int | None = None
    extra: dict = field(default_factory=dict)


def _load_square_and_gray(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from skimage.exposure import equalize_adapthist

    gray = decode_scan(Path(path).read_bytes())
    square = resize(crop_square(gray)[0], CACHE_SIDE)
    clahe = (equalize_adapthist(square, clip_limit=0.02) * 255).astype(np.uint8)
    return gray, square, clahe


class AugmentedBatches(keras.utils.PyDataset):
    def __init__(self, squares, clahes, labels, recipe: Recipe, epoch_seed: Callable[[], int], **kwargs):
        super().__init__(**kwargs)
        self.squares, self.clahes, self.labels, self.recipe = squares, clahes, labels, recipe
        self.epoch_seed = epoch_seed
        self.order = np.arange(len(labels))
        self.on_epoch_end()

    def __len__(self) -> int:
        full = math.ceil(len(self.labels) / self.recipe.batch_size)
        return min(full, self.recipe.steps_per_epoch) if self.recipe.steps_per_epoch else full

    def __getitem__(self, index: int):
        batch = self.order[index * self.recipe.batch_size : (index + 1) * self.recipe.batch_size]
        # One generator per batch, seeded by epoch and index: the same run draws the same
        # augmentations whatever thread happens to build the batch.
        rng = np.random.default_rng([self.recipe.seed, self.epoch, index])
        size = self.recipe.input_size
        images = np.stack(
            [
                np.repeat(normalize(resize(augment(self.squares[i], rng, self.clahes[i]), size))[:, :, None], 3, axis=2)
                for i in batch
            ]
        ).astype(np.float32)
        return images, keras.utils.to_categorical(self.labels[batch], len(CLASS_NAMES))

    def on_epoch_end(self) -> None:
        self.epoch = self.epoch_seed()
        np.random.default_rng([self.recipe.seed, self.epoch]).shuffle(self.order)


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def logit_function(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    logits_model = keras.Model(model.input, model.get_layer("logits").output)
    return lambda batch: keras.ops.convert_to_numpy(logits_model(batch, training=False))


def recalibrate_batch_norm(model: keras.Model, inputs: np.ndarray, batch_size: int = 64) -> None:
    """Re-estimate every BatchNormalization layer's statistics on clean (unaugmented) inputs.

    Training sees heavily augmented images, so the running statistics describe that mix, not
    the scans served later. Measured on this dataset mid-training: validation accuracy 0.886 →
    0.936 from this step alone. A momentum of k/(k+1) at batch k makes a plain average.
    """
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    for k, start in enumerate(range(0, len(inputs), batch_size)):
        for layer in layers:
            layer.momentum = k / (k + 1)
        model(inputs[start : start + batch_size], training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum


@dataclass
class TrainingData:
    data_dir: Path
    samples: list
    groups: np.ndarray
    train_idx: list[int]
    val_idx: list[int]
    labels: np.ndarray
    grays: list[np.ndarray]
    squares: np.ndarray
    clahes: np.ndarray


def load_data(data_dir: Path, recipe: Recipe, log: Callable[[str], None] = print) -> TrainingData:
    samples = list_samples(Path(data_dir))
    log(f"{len(samples)} images; grouping duplicates…")
    groups = duplicate_groups([s.path for s in samples])
    train_idx, val_idx = stratified_group_split(samples, groups, recipe.validation_fraction, recipe.seed)
    log(f"split: {len(train_idx)} train / {len(val_idx)} validation ({len(np.unique(groups))} duplicate groups)")
    log("decoding and caching images…")
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers) as pool:
        loaded = list(pool.map(_load_square_and_gray, [str(s.path) for s in samples], chunksize=32))
    return TrainingData(
        data_dir=Path(data_dir),
        samples=samples,
        groups=groups,
        train_idx=train_idx,
        val_idx=val_idx,
        labels=np.array([s.label for s in samples]),
        grays=[item[0] for item in loaded],
        squares=np.stack([item[1] for item in loaded]),
        clahes=np.stack([item[2] for item in loaded]),
    )


def train(data_dir: Path, out_path: Path, recipe: Recipe, log: Callable[[str], None] = print) -> dict:
    """Train, keep the best epoch on validation, calibrate, and return the model card."""
    started = time.monotonic()
    out_path = Path(out_path)
    if not out_path.name.endswith(".weights.h5"):
        raise ValueError(f"--out must end in .weights.h5 (got {out_path.name})")
    keras.utils.set_random_seed(recipe.seed)
    data = load_data(data_dir, recipe, log)
    val_inputs = np.stack([model_input(data.grays[i], recipe.input_size) for i in data.val_idx])
    val_labels = data.labels[data.val_idx]

    model = ARCHITECTURES[recipe.model](recipe.input_size)
    if recipe.init == "imagenet":
        model.load_weights(recipe.imagenet_weights, skip_mismatch=True)
    counter = _EpochCounter()
    train_idx = data.train_idx
    batches = AugmentedBatches(
        data.squares[train_idx],
        data.clahes[train_idx],
        data.labels[train_idx],
        recipe,
        lambda: counter.epoch,
        workers=2,
    )
    steps = len(batches) * recipe.epochs
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=steps, alpha=0.02)
    model.compile(
        optimizer=keras.optimizers.Adamax(learning_rate=schedule),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    history = model.fit(
        batches,
        validation_data=(val_inputs, keras.utils.to_categorical(val_labels, len(CLASS_NAMES))),
        epochs=recipe.epochs,
        callbacks=[
            counter,
            keras.callbacks.ModelCheckpoint(
                str(out_path), monitor="val_accuracy", save_best_only=True, save_weights_only=True
            ),
            keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=recipe.patience),
            keras.callbacks.CSVLogger(str(out_path.with_suffix("").with_suffix(".log.csv"))),
        ],
        verbose=2,
    )
    return finish(data, out_path, recipe, history.history, time.monotonic() - started, log)


# Clean training images used to re-estimate the BatchNormalization statistics.
RECALIBRATION_IMAGES = 1024


def finish(
    data: TrainingData, out_path: Path, recipe: Recipe, history: dict, seconds: float, log: Callable[[str], None]
) -> dict:
    """From the best checkpoint to the committed weights and their card: weights only,
    BatchNorm statistics re-estimated on clean images, temperature, metrics, robustness."""
    log("re-estimating BatchNorm statistics, calibrating and measuring…")
    model = ARCHITECTURES[recipe.model](recipe.input_size)
    model.load_weights(str(out_path))
    rng = np.random.default_rng(recipe.seed)
    chosen = rng.choice(data.train_idx, min(RECALIBRATION_IMAGES, len(data.train_idx)), replace=False)
    recalibrate_batch_norm(model, np.stack([model_input(data.grays[i], recipe.input_size) for i in chosen]))
    model.save_weights(str(out_path))

    val_idx, labels = data.val_idx, data.labels
    val_inputs = np.stack([model_input(data.grays[i], recipe.input_size) for i in val_idx])
    val_labels = labels[val_idx]
    logit_fn = logit_function(model)
    val_logits = evaluation.logits_of(logit_fn, val_inputs)
    temperature = evaluation.fit_temperature(val_logits, val_labels)
    raw = evaluation.classification_report(evaluation.softmax(val_logits), val_labels)
    calibrated = evaluation.classification_report(evaluation.softmax(val_logits, temperature), val_labels)
    robustness = evaluation.robustness_report(logit_fn, [data.grays[i] for i in val_idx], val_labels, recipe.input_size)

    best_epoch = int(np.argmax(history["val_accuracy"]))
    samples, groups = data.samples, data.groups
    train_idx = data.train_idx
    return {
        "model": recipe.model,
        "weights_file": out_path.name,
        "sha256": sha256_of(out_path),
        "input_size": recipe.input_size,
        "class_names": list(CLASS_NAMES),
        "temperature": temperature,
        "init": recipe.init,
        "recipe": asdict(recipe),
        "data": {
            "source": "Kaggle Brain Tumor MRI Dataset (Nickparvar), Training split",
            "images": len(samples),
            "train": len(train_idx),
            "validation": len(val_idx),
            "duplicate_groups": int(len(np.unique(groups))),
            "split": "stratified by class; exact and near-duplicate groups (256-bit dHash ≤ 16 bits) on one side",
            "validation_per_class": {n: int((val_labels == i).sum()) for i, n in enumerate(CLASS_NAMES)},
        },
        "training": {
            "epochs_run": len(history["val_accuracy"]),
            "best_epoch": best_epoch + 1,
            "seconds": round(seconds, 1),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, Keras {keras.__version__} on {keras.backend.backend()}",
            "history": {k: [round(float(v), 4) for v in vals] for k, vals in history.items()},
            "batch_norm_recalibration_images": int(len(chosen)),
        },
        "validation": {
            **calibrated,
            "ece_before_calibration": raw["ece"],
            "ece_after_calibration": calibrated["ece"],
            "reliability_after": evaluation.reliability_bins(evaluation.softmax(val_logits, temperature), val_labels),
        },
        "robustness": robustness,
        "validation_files": [str(samples[i].path.relative_to(data.data_dir)) for i in val_idx],
    }
