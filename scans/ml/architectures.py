"""Model definitions in plain Keras 3, so the same code trains under TensorFlow or JAX.

Every architecture ends in a Dense layer named "logits" followed by a softmax named "probs";
calibration divides the logits by a temperature. Every ReLU is its own layer, so the heat-map
code can clone a network with guided ReLUs in their place.
"""

from collections.abc import Callable

import keras
from keras import layers

from scans.ml.classes import CLASS_NAMES

LAST_CONV = "last_conv"
HEADS = ("gap", "attention")
# Filters of the last stage; the first weights were trained with 256.
LAST_WIDTH = 256


@keras.saving.register_keras_serializable(package="scans")
class AttentionPooling(layers.Layer):
    """The feature map averaged with per-cell weights: sum(a·F) / sum(a).

    `a` is the network's own "where is the tumour" map, so the class evidence of a cell counts
    in proportion to how much the network believes the lesion lies there. HiResCAM on the
    features then reads attention × evidence (Draelos & Carin 2020): a heat map that is
    faithful to the computation and supervised, through `a`, by the tumour masks. Where the
    attention is flat (no tumour anywhere) the pooling is a plain average.
    """

    def call(self, inputs):
        features, attention = inputs
        ops = keras.ops
        weighted = ops.sum(features * attention, axis=(1, 2))
        return weighted / (ops.sum(attention, axis=(1, 2)) + 1e-4)


def options_of(model: keras.Model) -> dict:
    """The build options of a built network, for code that must build its twin."""
    from scans.ml.ensemble import member_prefixes

    names = {layer.name for layer in model.layers}
    if prefixes := member_prefixes(model):
        return {"members": [_tower_options(model, names, prefix) for prefix in prefixes]}
    return _tower_options(model, names, "") if LAST_CONV in names else {}


def _tower_options(model: keras.Model, names: set[str], prefix: str) -> dict:
    _, cells, _, width = model.get_layer(prefix + LAST_CONV).output.shape
    return {
        "head": "attention" if f"{prefix}attention_pool" in names else "gap",
        "fine_map": cells > model.input_shape[1] / 32,
        "last_width": width,
    }


def custom_cnn(
    input_size: int = 224,
    tumour_map: bool = False,
    head: str = "gap",
    fine_map: bool = False,
    last_width: int = LAST_WIDTH,
    members: list[dict] | None = None,
) -> keras.Model:
    """A compact VGG-style CNN sized for 2 CPU cores: a stride-2 stem, then four conv stages.

    Measured here (batch 32, 224 px): the origin-like full-resolution stack costs ~8 min an
    epoch; this one ~2 min. Depthwise-separable blocks were no faster on TensorFlow's CPU
    kernels (their backward pass is slow), so the stages use plain 3×3 convolutions.

    With `tumour_map`, training adds a second output: a 1×1 convolution on the last feature
    map that predicts, per cell, whether the tumour lies there (supervised by the figshare
    masks). It makes the features that Grad-CAM reads describe the lesion rather than the
    image's source; serving builds the network without it, from the same weights.

    `head="attention"` pools the last feature map with that tumour map as weights
    (AttentionPooling) instead of a plain average, so the map is part of the classifier and
    serving keeps it; "gap" is the plain head the first weights were trained with.

    `fine_map` leaves out the pooling before the last stage: its feature map, and so the
    tumour map and the heat maps drawn from it, is 14×14 instead of 7×7 cells (at 224 px) for
    about 1.7× the computation.

    `last_width` sets the filters of the last stage (256 by default; 384 costs about 1.5×
    the computation with `fine_map`, as most of it is in that stage).

    `members` (one dict of the options above each) builds an ensemble of such networks as
    one model instead (scans.ml.ensemble).
    """
    if members:
        from scans.ml.ensemble import ensemble

        return ensemble(input_size, members)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    features, cells, logits = custom_cnn_tower(inputs, head=head, fine_map=fine_map, last_width=last_width)
    probs = layers.Activation("softmax", name="probs")(logits)
    if tumour_map:
        if cells is None:
            cells = layers.Conv2D(1, 1, activation="sigmoid", name="tumour_map")(features)
        return keras.Model(inputs, [probs, cells], name="custom_cnn")
    return keras.Model(inputs, probs, name="custom_cnn")


def custom_cnn_tower(inputs, head: str = "gap", fine_map: bool = False, last_width: int = LAST_WIDTH, prefix: str = ""):
    """The custom CNN from input to logits, every layer's name starting with `prefix`:
    (last feature map, tumour map or None, logits)."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    x = layers.Conv2D(24, 3, strides=2, padding="same", use_bias=False, name=f"{prefix}stem_conv")(inputs)
    x = layers.BatchNormalization(name=f"{prefix}stem_bn")(x)
    x = layers.ReLU(name=f"{prefix}stem_relu")(x)
    x = layers.MaxPooling2D(name=f"{prefix}stem_pool")(x)

    widths = (32, 64, 128, last_width)
    for stage, filters in enumerate(widths, start=1):
        for step in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}s{stage}_conv{step}")(x)
            x = layers.BatchNormalization(name=f"{prefix}s{stage}_bn{step}")(x)
            is_last = stage == len(widths) and step == 2
            x = layers.ReLU(name=prefix + (LAST_CONV if is_last else f"s{stage}_relu{step}"))(x)
        if stage < len(widths) - fine_map:
            x = layers.MaxPooling2D(name=f"{prefix}s{stage}_pool")(x)

    features, cells = x, None
    if head == "attention":
        cells = layers.Conv2D(1, 1, activation="sigmoid", name=f"{prefix}tumour_map")(features)
        x = AttentionPooling(name=f"{prefix}attention_pool")([features, cells])
    else:
        x = layers.GlobalAveragePooling2D(name=f"{prefix}gap")(x)
    x = layers.Dropout(0.3, name=f"{prefix}dropout")(x)
    logits = layers.Dense(len(CLASS_NAMES), name=f"{prefix}logits")(x)
    return features, cells, logits


def xception(
    input_size: int = 299,
    tumour_map: bool = False,
    head: str = "gap",
    fine_map: bool = False,
    last_width: int = LAST_WIDTH,
    members=None,
) -> keras.Model:
    """The origin's head on Xception: GlobalMaxPool, Dropout .3, Dense 128, Dropout .25, softmax.

    `tumour_map` adds the same auxiliary training output as the custom CNN's. It has only the
    origin's head and resolution (the custom CNN's options are accepted so every architecture
    builds alike).
    """
    if head != "gap" or fine_map or last_width != LAST_WIDTH or members:
        raise ValueError("Xception has only the origin's head and resolution, and no ensemble")
    base = keras.applications.Xception(include_top=False, weights=None, input_shape=(input_size, input_size, 3))
    x = layers.GlobalMaxPooling2D(name="gmp")(base.output)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout1")(x)
    x = layers.Dense(128, name="dense128")(x)
    x = layers.ReLU(name="dense128_relu")(x)
    x = layers.Dropout(0.25, name="dropout2")(x)
    logits = layers.Dense(len(CLASS_NAMES), name="logits")(x)
    probs = layers.Activation("softmax", name="probs")(logits)
    if tumour_map:
        cells = layers.Conv2D(1, 1, activation="sigmoid", name="tumour_map")(base.output)
        return keras.Model(base.input, [probs, cells], name="xception")
    return keras.Model(base.input, probs, name="xception")


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"custom_cnn": custom_cnn, "xception": xception}
