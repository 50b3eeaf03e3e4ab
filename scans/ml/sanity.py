"""The model-randomisation sanity test for heat maps (Adebayo et al., 2018).

A heat map that explains the model must change when the model's weights are replaced by
random ones. We compare each map of the trained model with the map of the same architecture
freshly initialised, by Spearman rank correlation: near 1 means the map shows the image, not
the model (guided backprop is known to fail this way); below 0.5 counts as a pass.
"""

import keras
import numpy as np
from scipy.stats import spearmanr

from scans.ml.architectures import ARCHITECTURES, options_of
from scans.ml.saliency import HeatMapper

PASS_BELOW = 0.5


def randomisation_test(model: keras.Model, architecture: str, gradcam_layer: str, inputs: np.ndarray, seed: int = 0):
    keras.utils.set_random_seed(seed)
    random_model = ARCHITECTURES[architecture](model.input_shape[1], **options_of(model))
    trained, untrained = HeatMapper(model, gradcam_layer), HeatMapper(random_model, gradcam_layer)
    correlations = {"gradcam": [], "guided_backprop": []}
    for image in inputs:
        batch = image[None].astype(np.float32)
        class_index = int(np.argmax(keras.ops.convert_to_numpy(model(batch, training=False))[0]))
        for name, method in (("gradcam", "gradcam"), ("guided_backprop", "saliency")):
            ours = getattr(trained, method)(batch, class_index).ravel()
            theirs = getattr(untrained, method)(batch, class_index).ravel()
            rho = spearmanr(ours, theirs).statistic
            correlations[name].append(0.0 if np.isnan(rho) else float(rho))
    return {
        name: {
            "mean_spearman": round(float(np.mean(values)), 4),
            "passes": bool(np.mean(values) < PASS_BELOW),
        }
        for name, values in correlations.items()
    } | {"images": len(inputs), "pass_below": PASS_BELOW}
