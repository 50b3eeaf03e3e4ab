"""Serving: load a registered model once, classify bytes, and draw its heat maps.

The model is called through a compiled tf.function with a fixed input signature; Keras'
batch-prediction loop would add tens of milliseconds of per-call set-up to every scan. The
same call returns the pooled features that scans.ml.ood scores, so every prediction is
checked for being a brain MRI slice (and for being sure enough) at no extra forward pass.
"""

import functools
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from scans.ml import ood, registry
from scans.ml.architectures import ARCHITECTURES
from scans.ml.classes import CLASS_NAMES
from scans.ml.errors import WeightsError
from scans.ml.overlays import overlay_png
from scans.ml.preprocess import decode_scan, head_box, head_depth, input_box, model_input
from scans.ml.regions import region_stats, to_scan_geometry
from scans.ml.saliency import HeatMapper


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


@dataclass
class Prepared:
    gray: np.ndarray
    batch: np.ndarray
    box: tuple[int, int, int, int]
    input_stats: ood.InputStats | None = None


@dataclass
class Result:
    """The model's answer and what may be made of it.

    outcome: "classified" (show the label), "uncertain" (show the probabilities as unsure) or
    "refused" (not recognised as a brain MRI slice: the label is the raw answer, kept for
    researchers, never a result); reason: why, empty when classified; ood_score: the learned
    out-of-distribution score (about 1 for a typical training slice; higher is stranger).
    """

    label: str
    confidence: float
    probabilities: dict[str, float]
    timings: dict[str, float]
    outcome: str = ood.CLASSIFIED
    reason: str = ""
    ood_score: float | None = None
    prepared: Prepared | None = field(default=None, repr=False, compare=False)


@dataclass
class HeatMap:
    raw: np.ndarray
    overlay_png: bytes
    stats: dict


@dataclass
class Maps:
    gradcam: HeatMap
    saliency: HeatMap
    timings: dict[str, float]


class Engine:
    def __init__(self, spec: registry.ModelSpec):
        self.name, self.spec = spec.name, spec
        self.version = registry.verify_weights(spec.name, spec.weights_path.parent)
        self.model = ARCHITECTURES[spec.name](spec.input_size, **spec.options)
        try:
            self.model.load_weights(str(spec.weights_path))
        except (OSError, ValueError) as exc:
            raise WeightsError(f"Weights file {spec.weights_path} does not fit {spec.name} ({exc}).") from None
        try:
            self.ood = ood.load(spec.ood_path)
        except (OSError, ValueError, KeyError) as exc:
            raise WeightsError(f"Out-of-distribution statistics {spec.ood_path} are unreadable ({exc}).") from None
        outputs = [self.model.get_layer("logits").output, *ood.feature_outputs(self.model, self.ood.views)]
        extractor = keras.Model(self.model.input, outputs)
        size = spec.input_size
        temperature = tf.constant(spec.temperature, tf.float32)
        views = [
            (tf.constant(lower, tf.float32), tf.constant(centres, tf.float32), scale)
            for lower, centres, scale in self.ood.whitened()
        ]

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        def probabilities_and_scores(batch):
            logits, *features = extractor(batch, training=False)
            per_view = []
            for feature, (lower, centres, scale) in zip(features, views):
                whitened = tf.matmul(feature, lower)
                squared = tf.reduce_sum(tf.square(whitened[:, None, :] - centres[None]), axis=-1)
                per_view.append(tf.sqrt(tf.maximum(tf.reduce_min(squared, axis=1), 0.0)) / scale)
            return tf.nn.softmax(logits / temperature), tf.reduce_max(tf.stack(per_view), axis=0)

        self._forward = probabilities_and_scores
        self._heatmaps: HeatMapper | None = None
        self._forward(tf.zeros([1, size, size, 3]))  # trace now, not on the first scan

    def prepare(self, data: bytes) -> Prepared:
        gray = decode_scan(data)
        return Prepared(
            gray, model_input(gray, self.spec.input_size)[None], input_box(gray), ood.input_stats(data, gray)
        )

    def predict(self, data: bytes) -> Result:
        started = time.perf_counter()
        prepared = self.prepare(data)
        decoded = time.perf_counter()
        result = self.predict_prepared(prepared)
        result.timings = {"decode": round((decoded - started) * 1000, 2), "inference": _ms(decoded)}
        return result

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for a batch of model inputs (N, size, size, 3)."""
        return self._forward(tf.constant(batch, tf.float32))[0].numpy()

    def probabilities_and_scores(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and OOD scores (scans.ml.ood) for a batch of model inputs."""
        probs, scores = self._forward(tf.constant(batch, tf.float32))
        return probs.numpy(), scores.numpy().astype(np.float64)

    def predict_prepared(self, prepared: Prepared) -> Result:
        probs, scores = self.probabilities_and_scores(prepared.batch)
        probs = probs[0].astype(float)
        probabilities = {name: float(p) for name, p in zip(CLASS_NAMES, probs)}
        label = CLASS_NAMES[int(np.argmax(probs))]
        stats = prepared.input_stats or ood.InputStats(0.0, *ood.gray_stats(prepared.gray))
        decision = self.ood.decide(stats, float(scores[0]), probs)
        return Result(
            label,
            probabilities[label],
            probabilities,
            {},
            outcome=decision.outcome,
            reason=decision.reason,
            ood_score=round(float(scores[0]), 4),
            prepared=prepared,
        )

    def explain_maps(self, data: bytes, result: Result) -> Maps:
        prepared = result.prepared or self.prepare(data)
        if self._heatmaps is None:
            self._heatmaps = HeatMapper(self.model, self.spec.gradcam_layer)
        class_index = CLASS_NAMES.index(result.label)
        timings = {}
        started = time.perf_counter()
        gradcam = to_scan_geometry(
            self._heatmaps.gradcam(prepared.batch, class_index), prepared.box, prepared.gray.shape
        )
        timings["gradcam"] = _ms(started)
        started = time.perf_counter()
        saliency = to_scan_geometry(
            self._heatmaps.saliency(prepared.batch, class_index), prepared.box, prepared.gray.shape
        )
        timings["saliency"] = _ms(started)
        started = time.perf_counter()
        box, depth = head_box(prepared.gray), head_depth(prepared.gray)
        stats = region_stats(gradcam, box, depth), region_stats(saliency, box, depth)
        timings["stats"] = _ms(started)
        started = time.perf_counter()
        pngs = overlay_png(prepared.gray, gradcam, "jet"), overlay_png(prepared.gray, saliency, "hot")
        timings["overlay"] = _ms(started)
        return Maps(HeatMap(gradcam, pngs[0], stats[0]), HeatMap(saliency, pngs[1], stats[1]), timings)

    def warm_up(self) -> None:
        """Compile the heat-map functions too, so the first scan is as fast as the rest."""
        side = self.spec.input_size
        blank = np.zeros((side, side), dtype=np.uint8)
        blank[side // 4 : 3 * side // 4, side // 4 : 3 * side // 4] = 128
        prepared = Prepared(blank, model_input(blank, side)[None], (0, 0, side, side))
        result = self.predict_prepared(prepared)
        self.explain_maps(b"", result)


@functools.cache
def get_engine(name: str) -> Engine:
    """The process's one engine for a model: loaded, verified and compiled on first use."""
    return Engine(registry.get_spec(name))
