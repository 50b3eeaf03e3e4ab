"""The training loop: data split, cached preprocessing, augmentation, fit, calibration, card.

Plain Keras 3 + NumPy + Pillow (no TensorFlow calls), so the same function trains the custom
CNN on the CPU under TensorFlow and Xception on a GPU under JAX. A run checkpoints every epoch
(weights, optimiser state, history) so an interrupted run resumes where it stopped.
"""

import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import keras
import numpy as np

from scans.ml import evaluation, ood_fit
from scans.ml.architectures import ARCHITECTURES, LAST_WIDTH
from scans.ml.augment import augment, description
from scans.ml.checkpoints import Checkpoints, atomic_write, recalibrate_batch_norm
from scans.ml.classes import CLASS_NAMES
from scans.ml.dataset import duplicate_groups, list_samples, stratified_group_split
from scans.ml.errors import RecipeError
from scans.ml.preprocess import crop_square, decode_scan, model_input, normalize, resize
from scans.ml.registry import options_from
from scans.ml.tumour_masks import cell_targets, crop_to_box, mask_path_for, masked_binary_crossentropy

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
    # init "trained": fine-tune from this trained model's weights (fine_tune_mismatches says
    # what it must share with the run that made them), and their sha256.
    trained_weights: str | None = None
    trained_weights_sha256: str | None = None
    steps_per_epoch: int | None = None
    # Weight of the auxiliary "where is the tumour" loss (0 turns it off); see architectures.
    tumour_map_weight: float = 0.5
    # "attention" pools the last features with the tumour map as weights (architectures).
    head: str = "gap"
    # 14×14 instead of 7×7 last feature map (architectures.custom_cnn).
    fine_map: bool = False
    # Filters of the custom CNN's last stage (architectures.custom_cnn).
    last_width: int = LAST_WIDTH
    label_smoothing: float = 0.0
    # Outlier exposure (Hendrycks et al. 2019): each image of the training folder known not to
    # be brain MRI (head CT filed under the classes) is added this many times with a uniform
    # target, so the network learns features that tell it apart and the refusal gate, fitted
    # on MRI alone, can see it. 0: those images are simply left out.
    outlier_exposure: int = 0
    # The split's own seed (None: `seed`), so ensemble members of different seeds share one split.
    split_seed: int | None = None
    # Weight of a training-only loss that asks the refusal gate's own feature views
    # (scans.ml.ood) to tell the outlier-exposure images from MRI, through one logistic unit on
    # their pooled features (with_gate_head). Serving never builds that unit. 0 turns it off.
    gate_head_weight: float = 0.0
    # Share of training images (of those not CLAHE-equalised) given global histogram
    # equalisation (augment): without it the first ensemble lost 20 points on equalised exports.
    equalize_augmentation: float = 0.0
    # Turn each outlier-exposure image by a random multiple of 90° (augmentation keeps MRI
    # upright), so that the gate might learn turned head CT too. Measured on run F-eq, it bought
    # nothing (turned development images refused 97.0 % with it, 97.8 % without).
    turn_outliers: bool = False

    @property
    def split_rng_seed(self) -> int:
        return self.seed if self.split_seed is None else self.split_seed

    extra: dict = field(default_factory=dict)


def _load_sample(path: str, label: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Decoded scan, its cached head square, CLAHE of the square, and the tumour mask square:
    zeros for a no-tumour image, None where a tumour image has no mask."""
    from skimage.exposure import equalize_adapthist

    gray = decode_scan(Path(path).read_bytes())
    square, box = crop_square(gray)
    square = resize(square, CACHE_SIDE)
    clahe = (equalize_adapthist(square, clip_limit=0.02) * 255).astype(np.uint8)
    mask = None
    if CLASS_NAMES[label] == "notumor":
        mask = np.zeros_like(square)
    elif (mask_file := mask_path_for(Path(path))).is_file():
        from PIL import Image

        with Image.open(mask_file) as image:
            full = (np.asarray(image.convert("L")) > 0).astype(np.uint8) * 255
        if full.shape == gray.shape:
            mask = np.asarray(Image.fromarray(crop_to_box(full, box)).resize((CACHE_SIDE,) * 2, Image.NEAREST))
    return gray, square, clahe, mask


class AugmentedBatches(keras.utils.PyDataset):
    """Augmented training batches: `targets` holds one row of class probabilities per image
    (one-hot, or uniform for an outlier), `masks` a tumour mask or None where unknown."""

    def __init__(
        self,
        squares,
        clahes,
        masks,
        targets,
        recipe: Recipe,
        start_epoch: int,
        cells: int | None,
        not_mri: np.ndarray | None = None,
        turned: np.ndarray | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.squares, self.clahes, self.masks, self.targets, self.recipe = squares, clahes, masks, targets, recipe
        self.cells = cells
        # 1 for an outlier-exposure image, 0 for MRI: the gate head's target (None: no gate head).
        self.not_mri = not_mri
        # True for a row turned by a random multiple of 90° after augmentation (Recipe.turn_outliers).
        self.turned = turned
        self.order = np.arange(len(targets))
        self._begin(start_epoch)

    def _begin(self, epoch: int) -> None:
        self.epoch = epoch
        np.random.default_rng([self.recipe.seed, self.epoch]).shuffle(self.order)

    def __len__(self) -> int:
        full = math.ceil(len(self.targets) / self.recipe.batch_size)
        return min(full, self.recipe.steps_per_epoch) if self.recipe.steps_per_epoch else full

    def __getitem__(self, index: int):
        batch = self.order[index * self.recipe.batch_size : (index + 1) * self.recipe.batch_size]
        # One generator per batch, seeded by epoch and index: the same run draws the same
        # augmentations whatever thread happens to build the batch.
        rng = np.random.default_rng([self.recipe.seed, self.epoch, index])
        # The turns draw from their own generator, so the other rows augment as without them.
        turns = np.random.default_rng([self.recipe.seed, self.epoch, index, 90]).integers(0, 4, len(batch))
        size = self.recipe.input_size
        images, maps = [], []
        for position, i in enumerate(batch):
            mask = self.masks[i] if self.cells is not None else None
            if mask is None:
                square = augment(self.squares[i], rng, self.clahes[i], equalize=self.recipe.equalize_augmentation)
            else:
                square, mask = augment(
                    self.squares[i], rng, self.clahes[i], mask, equalize=self.recipe.equalize_augmentation
                )
            if self.turned is not None and self.turned[i]:
                square = np.ascontiguousarray(np.rot90(square, turns[position]))
                mask = None if mask is None else np.ascontiguousarray(np.rot90(mask, turns[position]))
            if self.cells is not None:
                maps.append(cell_targets(mask, size, self.cells))
            images.append(np.repeat(normalize(resize(square, size))[:, :, None], 3, axis=2))
        classes = self.targets[batch]
        if self.cells is None:
            return np.stack(images).astype(np.float32), classes
        wanted = {"probs": classes, "tumour_map": np.stack(maps)}
        if self.not_mri is not None:
            wanted["not_mri"] = self.not_mri[batch][:, None]
        return np.stack(images).astype(np.float32), wanted

    def on_epoch_end(self) -> None:
        self._begin(self.epoch + 1)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def with_gate_head(network: keras.Model) -> keras.Model:
    """The training network plus a "not_mri" output: one logistic unit on the refusal gate's
    pooled feature views (the very features scans.ml.ood scores), so that training shapes them
    to set head CT apart from MRI. The unit is dropped after training; the gate is still fitted
    on MRI alone, as for any model."""
    from scans.ml.ood import feature_outputs, views_for

    joined = keras.layers.Concatenate(name="gate_views")(feature_outputs(network, views_for(network)))
    not_mri = keras.layers.Dense(1, activation="sigmoid", name="not_mri")(joined)
    return keras.Model(network.input, [*network.outputs, not_mri], name=network.name)


def logit_function(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    logits_model = keras.Model(model.input, model.get_layer("logits").output)
    return lambda batch: keras.ops.convert_to_numpy(logits_model(batch, training=False))


@dataclass
class TrainingData:
    data_dir: Path
    samples: list
    groups: np.ndarray
    train_idx: list[int]
    val_idx: list[int]
    excluded: list[int]
    labels: np.ndarray
    grays: list[np.ndarray]
    squares: np.ndarray
    clahes: np.ndarray
    masks: list[np.ndarray | None]


def load_data(data_dir: Path, recipe: Recipe, log: Callable[[str], None] = print) -> TrainingData:
    data_dir = Path(data_dir)
    samples = list_samples(data_dir)
    log(f"{len(samples)} images; grouping duplicates, mirrored copies and patients…")
    groups = duplicate_groups([s.path for s in samples], data_dir)
    train_idx, val_idx = stratified_group_split(samples, groups, recipe.validation_fraction, recipe.split_rng_seed)
    log(f"split: {len(train_idx)} train / {len(val_idx)} validation ({len(np.unique(groups))} groups)")
    # Head CT slices filed under the MRI classes never train with their folder's label (that
    # would teach the network that CT is a tumour class): they are set apart, for outlier
    # exposure (Recipe.outlier_exposure) or to be left out. The split itself is unchanged.
    not_mri = ood_fit.known_not_brain_mri()
    excluded = [i for i in train_idx if str(samples[i].path.relative_to(data_dir)) in not_mri]
    train_idx = sorted(set(train_idx) - set(excluded))
    log("decoding and caching images…")
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers) as pool:
        loaded = list(pool.map(_load_sample, [str(s.path) for s in samples], [s.label for s in samples], chunksize=32))
    return TrainingData(
        data_dir=Path(data_dir),
        samples=samples,
        groups=groups,
        train_idx=train_idx,
        val_idx=val_idx,
        excluded=excluded,
        labels=np.array([s.label for s in samples]),
        grays=[item[0] for item in loaded],
        squares=np.stack([item[1] for item in loaded]),
        clahes=np.stack([item[2] for item in loaded]),
        masks=[item[3] for item in loaded],
    )


def train(
    data_dir: Path,
    out_path: Path,
    recipe: Recipe,
    log: Callable[[str], None] = print,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    callbacks: list | None = None,
) -> dict:
    """Train (or resume), keep the best epoch on validation, calibrate, and return the model card.

    `checkpoint_dir` receives the resumable state after every epoch; with `resume`, the run
    stored there continues from its last finished epoch with its own recipe.
    """
    started = time.monotonic()
    out_path = Path(out_path)
    if not out_path.name.endswith(".weights.h5"):
        raise ValueError(f"--out must end in .weights.h5 (got {out_path.name})")
    directory = Path(checkpoint_dir or out_path.parent / f".{recipe.model}-checkpoint")
    state_file = directory / "state.json"
    if resume:
        if not state_file.is_file():
            raise FileNotFoundError(f"{directory} holds no checkpointed run (no state.json) to resume.")
        state = json.loads(state_file.read_text())
        recipe = Recipe(**state["recipe"])
        log(f"resuming {recipe.model} after epoch {state['epoch']} of {recipe.epochs} (best {state['best']:.4f})")
    else:
        if state_file.exists():
            raise FileExistsError(f"{directory} already holds a run: resume it (--resume) or remove the folder.")
        state = {"recipe": asdict(recipe), "epoch": 0, "best": -1.0, "best_epoch": 0, "history": {}, "seconds": 0.0}
    directory.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(recipe.seed + state["epoch"])
    data = load_data(data_dir, recipe, log)
    val_inputs = np.stack([model_input(data.grays[i], recipe.input_size) for i in data.val_idx])
    val_labels = data.labels[data.val_idx]

    with_map = recipe.tumour_map_weight > 0
    network = ARCHITECTURES[recipe.model](recipe.input_size, tumour_map=with_map, **options_from(asdict(recipe)))
    serving = keras.Model(network.input, network.get_layer("probs").output) if with_map else network
    if recipe.init == "imagenet" and not resume:
        network.load_weights(recipe.imagenet_weights, skip_mismatch=True)
    if recipe.init == "trained" and not resume:
        # Saved from the serving network (Checkpoints, finish): the training-only outputs start afresh.
        serving.load_weights(recipe.trained_weights)
    cells = network.get_layer("tumour_map").output.shape[1] if with_map else None
    train_idx, outliers = data.train_idx, list(data.excluded) * recipe.outlier_exposure
    gate_head = recipe.gate_head_weight > 0
    if gate_head:
        if not (with_map and outliers):
            raise RecipeError(
                "the gate head needs the tumour map and images to tell from MRI: none of the files in "
                f"scans/ml/{ood_fit.NOT_BRAIN_MRI_LIST.name} is on the training side of this split"
            )
        network = with_gate_head(network)
    log(
        f"training on {len(train_idx)} images; {len(data.excluded)} head CT slices filed as MRI "
        + (f"added {recipe.outlier_exposure}× with a uniform target" if outliers else "left out")
        + (", turned by random multiples of 90°" if outliers and recipe.turn_outliers else "")
    )
    rows = [*train_idx, *outliers]
    is_outlier = np.r_[np.zeros(len(train_idx), bool), np.ones(len(outliers), bool)]
    targets = np.concatenate(
        [
            keras.utils.to_categorical(data.labels[train_idx], len(CLASS_NAMES)),
            np.full((len(outliers), len(CLASS_NAMES)), 1 / len(CLASS_NAMES)),
        ]
    ).astype(np.float32)
    batches = AugmentedBatches(
        data.squares[rows],
        data.clahes[rows],
        [data.masks[i] for i in train_idx] + [None] * len(outliers),
        targets,
        recipe,
        start_epoch=state["epoch"],
        cells=cells,
        not_mri=is_outlier.astype(np.float32) if gate_head else None,
        turned=is_outlier if recipe.turn_outliers else None,
        workers=2,
    )
    steps = len(batches) * recipe.epochs
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=steps, alpha=0.02)
    classification_loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    if with_map:
        losses = {"probs": classification_loss, "tumour_map": masked_binary_crossentropy}
        weights, metrics = {"probs": 1.0, "tumour_map": recipe.tumour_map_weight}, {"probs": ["accuracy"]}
        if gate_head:
            losses["not_mri"] = keras.losses.BinaryCrossentropy()
            weights["not_mri"] = recipe.gate_head_weight
    else:
        losses, weights, metrics = classification_loss, None, ["accuracy"]
    network.compile(
        optimizer=keras.optimizers.Adamax(learning_rate=schedule), loss=losses, loss_weights=weights, metrics=metrics
    )
    if resume:
        network.optimizer.build(network.trainable_variables)  # so loading restores its state too
        network.load_weights(str(directory / "last.weights.h5"))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = state["epoch"] >= recipe.epochs or state.get("stopped_early")
    clean_inputs = np.stack(
        [
            model_input(data.grays[i], recipe.input_size)
            for i in _recalibration_sample(data, recipe, EPOCH_RECALIBRATION_IMAGES)
        ]
    )
    if not done:
        fit_started = time.monotonic()
        network.fit(
            batches,
            epochs=recipe.epochs,
            initial_epoch=state["epoch"],
            callbacks=[
                Checkpoints(directory, out_path, serving, val_inputs, val_labels, recipe, state, clean_inputs),
                *(callbacks or []),
            ],
            verbose=0,
        )
        state["seconds"] += time.monotonic() - fit_started
        atomic_write(state_file, lambda p: p.write_text(json.dumps(state, indent=1)))
    history = {"val_accuracy": state["history"].get("val_accuracy", [0.0]), **state["history"]}
    card = finish(data, out_path, recipe, history, state["seconds"] + (time.monotonic() - started), log)
    card["training"]["fit_seconds"] = round(state["seconds"], 1)
    return card


# Clean training images used to re-estimate the BatchNormalization statistics: for the
# finished model, and (fewer, for speed) after every epoch before measuring validation.
RECALIBRATION_IMAGES = 1024
EPOCH_RECALIBRATION_IMAGES = 512


# What a fine-tuned run shares with the run whose weights it starts from: the network, and
# the split, or the first run's training images would be measured as validation.
FINE_TUNE_SHARED = ("model", "input_size", "head", "fine_map", "last_width", "split_rng_seed", "validation_fraction")


def fine_tune_mismatches(recipe: Recipe, parent_card: dict) -> list[str]:
    """What differs between `recipe` and the recipe in the card of the weights it starts from."""
    known = {f.name for f in fields(Recipe)}
    parent = Recipe(**{k: v for k, v in parent_card["recipe"].items() if k in known})
    return [
        f"{name} {getattr(parent, name)} there, {getattr(recipe, name)} here"
        for name in FINE_TUNE_SHARED
        if getattr(parent, name) != getattr(recipe, name)
    ]


def _recalibration_sample(data: TrainingData, recipe: Recipe, count: int) -> np.ndarray:
    rng = np.random.default_rng(recipe.seed)
    return rng.choice(data.train_idx, min(count, len(data.train_idx)), replace=False)


def finish(
    data: TrainingData, out_path: Path, recipe: Recipe, history: dict, seconds: float, log: Callable[[str], None]
) -> dict:
    """From the best checkpoint to the committed weights and their card: weights only,
    BatchNorm statistics re-estimated on clean images, temperature, metrics, robustness."""
    log("re-estimating BatchNorm statistics, calibrating and measuring…")
    model = ARCHITECTURES[recipe.model](recipe.input_size, **options_from(asdict(recipe)))
    model.load_weights(str(out_path))
    chosen = _recalibration_sample(data, recipe, RECALIBRATION_IMAGES)
    recalibrate_batch_norm(model, np.stack([model_input(data.grays[i], recipe.input_size) for i in chosen]))
    model.save_weights(str(out_path))
    best_epoch = int(np.argmax(history["val_accuracy"]))
    return {
        "model": recipe.model,
        "init": recipe.init,
        "recipe": asdict(recipe),
        "training": {
            "epochs_run": len(history["val_accuracy"]),
            "best_epoch": best_epoch + 1,
            "seconds": round(seconds, 1),
            "machine": machine(),
            "history": {k: [round(float(v), 4) for v in vals] for k, vals in history.items()},
            "batch_norm_recalibration_images": int(len(chosen)),
        },
        "augmentation": description(recipe.equalize_augmentation),
        **measure(model, data, out_path, recipe.model, log, equalised_share=recipe.equalize_augmentation),
    }


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Keras {keras.__version__} on {keras.backend.backend()}"


def measure(
    model: keras.Model,
    data: TrainingData,
    out_path: Path,
    name: str,
    log: Callable[[str], None],
    equalised_share: float = 0.0,
) -> dict:
    """The card's figures for finished weights at `out_path`: temperature, validation report,
    robustness, and the refusal statistics (saved beside the weights; `equalised_share`: see
    ood_fit.with_equalised_copies)."""
    input_size = model.input_shape[1]
    val_idx, labels = data.val_idx, data.labels
    val_inputs = np.stack([model_input(data.grays[i], input_size) for i in val_idx])
    val_labels = labels[val_idx]
    logit_fn = logit_function(model)
    val_logits = evaluation.logits_of(logit_fn, val_inputs)
    temperature = evaluation.fit_temperature(val_logits, val_labels)
    raw = evaluation.classification_report(evaluation.softmax(val_logits), val_labels)
    calibrated = evaluation.classification_report(evaluation.softmax(val_logits, temperature), val_labels)
    robustness = evaluation.robustness_report(logit_fn, [data.grays[i] for i in val_idx], val_labels, input_size)
    # The refusal and abstention statistics belong to these weights: refit them every time,
    # leaving out the head CT slices the dataset files as MRI (fitted on, CT would look normal).
    not_mri = ood_fit.known_not_brain_mri()

    def brain_mri(indices):
        return [i for i in indices if str(data.samples[i].path.relative_to(data.data_dir)) not in not_mri]

    ood_train, ood_val = brain_mri(data.train_idx), brain_mri(val_idx)
    ood_section = ood_fit.fit_for_model(
        model,
        train_grays=[data.grays[i] for i in ood_train],
        train_labels=labels[ood_train],
        val_grays=[data.grays[i] for i in ood_val],
        val_labels=labels[ood_val],
        temperature=temperature,
        input_size=input_size,
        out_path=out_path.with_name(f"{name}.ood.npz"),
        equalised_share=equalised_share,
        log=log,
    )
    samples, groups = data.samples, data.groups
    return {
        "weights_file": out_path.name,
        "sha256": sha256_of(out_path),
        "input_size": input_size,
        "class_names": list(CLASS_NAMES),
        "temperature": temperature,
        "data": {
            "source": "Kaggle Brain Tumor MRI Dataset (Nickparvar), Training split",
            "images": len(samples),
            "train": len(data.train_idx),
            "validation": len(val_idx),
            "left_out_not_brain_mri": len(data.excluded),
            "duplicate_groups": int(len(np.unique(groups))),
            "split": "stratified by class; whole groups on one side, grouping exact copies (sha256), "
            "near-duplicates (256-bit dHash ≤ 16 bits), left–right mirrored copies (64 px thumbnail "
            "correlation ≥ 0.97) and, for the figshare images, every slice of one patient (PID family)",
            "validation_per_class": {n: int((val_labels == i).sum()) for i, n in enumerate(CLASS_NAMES)},
        },
        "validation": {
            **calibrated,
            "accuracy_interval": evaluation.grouped_accuracy_interval(
                val_logits.argmax(axis=1) == val_labels, groups[val_idx]
            ),
            "ece_before_calibration": raw["ece"],
            "ece_after_calibration": calibrated["ece"],
            "reliability_after": evaluation.reliability_bins(evaluation.softmax(val_logits, temperature), val_labels),
        },
        "robustness": robustness,
        "ood": ood_section,
        "validation_files": [str(samples[i].path.relative_to(data.data_dir)) for i in val_idx],
    }
