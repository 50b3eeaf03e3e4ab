"""Several custom CNNs served as one model: one input, one averaged output, one weights file.

Each member keeps its own layers under a prefix (`m0_`, `m1_`, …) and its own calibration:
its logits are divided by its temperature before they are averaged, and the average is the
ensemble's "logits" layer, which gets a temperature of its own like any single model. Because
it is one Keras graph, everything that reads a model works on it unchanged: one forward pass
classifies, one backward pass draws each heat map (HiResCAM sums over every member's last
feature map, so the maps are averaged exactly as the logits are), and the refusal gate reads
every member's features. Members are trained in separate runs (train_model) on one split and
put together by `manage.py build_ensemble`.
"""

import re

import keras
import numpy as np
from keras import layers

PREFIX = "m{}_"
_PREFIX_PATTERN = re.compile(r"^(m\d+_)last_conv$")


@keras.saving.register_keras_serializable(package="scans")
class Calibrated(layers.Layer):
    """A member's logits divided by that member's own temperature (fixed when assembling)."""

    def build(self, input_shape):
        self.temperature = self.add_weight(shape=(), initializer="ones", trainable=False, name="temperature")

    def call(self, logits):
        return logits / self.temperature


def ensemble(input_size: int, members: list[dict]) -> keras.Model:
    """The ensemble network of custom CNN members, each built with its own options."""
    from scans.ml.architectures import custom_cnn_tower  # architectures imports this module

    if len(members) < 2:
        raise ValueError("an ensemble needs at least two members")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    calibrated = []
    for index, options in enumerate(members):
        prefix = PREFIX.format(index)
        _, _, logits = custom_cnn_tower(inputs, prefix=prefix, **options)
        calibrated.append(Calibrated(name=f"{prefix}calibrated")(logits))
    logits = layers.Average(name="logits")(calibrated)
    probs = layers.Activation("softmax", name="probs")(logits)
    return keras.Model(inputs, probs, name="custom_cnn_ensemble")


def fill(model: keras.Model, members: list[keras.Model], temperatures: list[float]) -> None:
    """Copy each trained member's weights into its place in the ensemble, with its temperature."""
    for index, (member, temperature) in enumerate(zip(members, temperatures, strict=True)):
        prefix = PREFIX.format(index)
        for layer in member.layers:
            if layer.weights:
                model.get_layer(prefix + layer.name).set_weights(layer.get_weights())
        model.get_layer(f"{prefix}calibrated").set_weights([np.asarray(temperature, dtype="float32")])


def member_prefixes(model: keras.Model) -> list[str]:
    """The members' layer-name prefixes, in order; empty for a single network."""
    found = [match.group(1) for layer in model.layers if (match := _PREFIX_PATTERN.match(layer.name))]
    return sorted(found, key=lambda prefix: int(prefix[1:-1]))


def member_layers(model: keras.Model, name: str) -> list[str]:
    """`name` itself in a single network; every member's layer of that name in an ensemble."""
    prefixes = member_prefixes(model)
    return [prefix + name for prefix in prefixes] if prefixes else [name]
