"""Metrics for a classifier: accuracy, per-class P/R/F1, confusion, calibration, robustness,
and risk–coverage (accuracy on what is called when the unsure are left to a radiologist).

Pure NumPy on probability arrays, plus forward passes through any Keras backend, so the same
report is produced after training on a GPU (JAX) and by `evaluate_model` on the CPU.
"""

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from scans.ml.classes import CLASS_NAMES
from scans.ml.preprocess import model_input

ECE_BINS = 15


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            rows.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "count": int(in_bin.sum()),
                    "accuracy": float(correct[in_bin].mean()),
                    "confidence": float(confidence[in_bin].mean()),
                }
            )
    return rows


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation negative log-likelihood (golden-section search)."""

    def nll(log_t: float) -> float:
        probs = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12)))

    low, high = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return float(np.exp((low + high) / 2))


def classification_report(probs: np.ndarray, labels: np.ndarray) -> dict:
    predicted = probs.argmax(axis=1)
    n = len(CLASS_NAMES)
    confusion = np.zeros((n, n), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for i, name in enumerate(CLASS_NAMES):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i, :].sum() if confusion[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(confusion[i, :].sum()),
        }
    return {
        "count": int(len(labels)),
        "accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "ece": expected_calibration_error(probs, labels),
    }


def grouped_accuracy_interval(
    correct: np.ndarray, groups: np.ndarray, draws: int = 2000, level: float = 0.95, seed: int = 0
) -> dict:
    """A percentile-bootstrap interval for accuracy that resamples whole groups — a patient's
    slices, or a slice with its copies and mirror image — rather than single slices.

    Slices of one patient tend to be right or wrong together, so an interval that treats them
    as independent is far too narrow: on this dataset's validation part one patient's slices
    can hold a third of all the errors (`largest_group_error_share`).
    """
    correct = np.asarray(correct, dtype=bool)
    _, group_of = np.unique(np.asarray(groups), return_inverse=True)
    sizes = np.bincount(group_of)
    errors = np.bincount(group_of, weights=~correct)
    picks = np.random.default_rng(seed).integers(0, len(sizes), size=(draws, len(sizes)))
    accuracies = 1 - errors[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    low, high = np.quantile(accuracies, [(1 - level) / 2, (1 + level) / 2])
    return {
        "low": float(low),
        "high": float(high),
        "level": level,
        "groups": int(len(sizes)),
        "largest_group_error_share": float(errors.max() / errors.sum()) if errors.sum() else 0.0,
    }


def logits_of(logit_fn: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    return np.concatenate([logit_fn(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])


# Export pipelines a held-out scan may have gone through; each takes and returns a PIL image.
def _jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.convert("L").save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue()))

    return apply


def _clahe(image: Image.Image) -> Image.Image:
    from skimage.exposure import equalize_adapthist

    equalised = equalize_adapthist(np.asarray(image.convert("L")), clip_limit=0.02)
    return Image.fromarray((equalised * 255).astype(np.uint8))


def _rescale(side: int) -> Callable[[Image.Image], Image.Image]:
    return lambda image: image.resize((side, side), Image.BILINEAR)


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg_q30": _jpeg(30),
    "contrast_x0.5": lambda image: ImageEnhance.Contrast(image).enhance(0.5),
    "contrast_x1.5": lambda image: ImageEnhance.Contrast(image).enhance(1.5),
    "brightness_-30%": lambda image: ImageEnhance.Brightness(image).enhance(0.7),
    "brightness_+30%": lambda image: ImageEnhance.Brightness(image).enhance(1.3),
    "clahe": _clahe,
    # Global histogram equalisation, as some viewers and converters export: it also turns the
    # near-black background's noise into a grey speckle.
    "equalize": lambda image: ImageOps.equalize(image.convert("L")),
    "blur_sigma1": lambda image: image.filter(ImageFilter.GaussianBlur(1.0)),
    "rescale_256": _rescale(256),
    "rescale_640": _rescale(640),
}


def perturbed_inputs(grays: list[np.ndarray], perturbation: str, size: int) -> np.ndarray:
    apply = PERTURBATIONS[perturbation]
    return np.stack(
        [model_input(np.asarray(apply(Image.fromarray(g)).convert("L"), dtype=np.uint8), size) for g in grays]
    )


def robustness_report(
    logit_fn: Callable[[np.ndarray], np.ndarray], grays: list[np.ndarray], labels: np.ndarray, size: int
) -> dict[str, float]:
    """Validation accuracy under each perturbation, applied to the decoded scan."""
    return {
        name: float((logits_of(logit_fn, perturbed_inputs(grays, name, size)).argmax(axis=1) == labels).mean())
        for name in PERTURBATIONS
    }


# Coverages at which the risk–coverage curve is reported (share of images the model calls).
COVERAGE_POINTS = (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.85, 0.80)


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> list[dict]:
    """The risk–coverage curve: calling only the most confident images, at each coverage in
    COVERAGE_POINTS, the confidence threshold that gives it and the accuracy of what is called."""
    order = np.argsort(-confidence)
    rows = []
    for coverage in COVERAGE_POINTS:
        kept = max(1, int(round(coverage * len(order))))
        if len(order) == 0:
            break
        chosen = order[:kept]
        rows.append(
            {
                "coverage": round(kept / len(order), 4),
                "threshold": float(confidence[chosen[-1]]),
                "accuracy": float(correct[chosen].mean()),
            }
        )
    return rows


def called_report(probs: np.ndarray, labels: np.ndarray, outcomes: list[str]) -> dict:
    """Coverage and accuracy on what is called ("classified"), beside plain accuracy."""
    outcomes_array = np.array(outcomes)
    called = outcomes_array == "classified"
    correct = probs.argmax(axis=1) == labels
    return {
        "coverage": float(called.mean()) if len(called) else 0.0,
        "accuracy_called": float(correct[called].mean()) if called.any() else 0.0,
        "called": int(called.sum()),
        "uncertain": int((outcomes_array == "uncertain").sum()),
        "refused": int((outcomes_array == "refused").sum()),
        "risk_coverage": risk_coverage(probs.max(axis=1), correct),
    }


def auroc(negative: np.ndarray, positive: np.ndarray) -> float:
    """The area under the ROC curve of a score meant to be higher for `positive` (the
    Mann–Whitney statistic, ties counted half)."""
    negative, positive = np.asarray(negative, dtype=float), np.asarray(positive, dtype=float)
    if not len(negative) or not len(positive):
        return float("nan")
    ranks = _average_ranks(np.concatenate([negative, positive]))
    positive_ranks = ranks[len(negative) :].sum()
    return float((positive_ranks - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative)))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    # Tied values share the mean of their ranks.
    unique, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]
