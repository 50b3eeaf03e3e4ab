"""Gradient heat maps in TensorFlow: Grad-CAM (in its HiResCAM form) and the origin's guided backpropagation.

Both are compiled once per model (tf.function with a fixed input signature) and return maps
on the model's input square; regions.py maps them back onto the scan.
"""

import keras
import numpy as np
import tensorflow as tf

from scans.ml.ensemble import member_layers
from scans.ml.regions import guided_saliency_map


@tf.custom_gradient
def _guided_relu(x):
    def grad(upstream):
        # Guided backprop: pass only positive gradients through units that were active.
        return tf.cast(upstream > 0, upstream.dtype) * tf.cast(x > 0, upstream.dtype) * upstream

    return tf.nn.relu(x), grad


class GuidedReLU(keras.layers.Layer):
    def call(self, inputs):
        return _guided_relu(inputs)


def _is_relu(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return True
    return isinstance(layer, keras.layers.Activation) and layer.get_config().get("activation") == "relu"


def guided_clone(model: keras.Model) -> keras.Model:
    """The same network and weights with every ReLU layer replaced by a guided ReLU."""

    def clone(layer):
        if _is_relu(layer):
            return GuidedReLU(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    guided = keras.models.clone_model(model, clone_function=clone)
    guided.set_weights(model.get_weights())
    return guided


class HeatMapper:
    """Compiled Grad-CAM and guided-backprop functions for one trained model."""

    def __init__(self, model: keras.Model, gradcam_layer: str):
        size = model.input_shape[1]
        signature = [tf.TensorSpec([1, size, size, 3], tf.float32), tf.TensorSpec([], tf.int32)]
        # One layer in a single network; every member's in an ensemble (scans.ml.ensemble).
        cam_layers = [model.get_layer(name).output for name in member_layers(model, gradcam_layer)]
        convs_and_logits = keras.Model(model.input, [*cam_layers, model.get_layer("logits").output])
        guided = guided_clone(model)
        guided_logits = keras.Model(guided.input, guided.get_layer("logits").output)

        @tf.function(input_signature=signature)
        def gradcam(image, class_index):
            with tf.GradientTape() as tape:
                *activations, logits = convs_and_logits(image, training=False)
                score = logits[0, class_index]
            gradients = tape.gradient(score, activations)
            cam = tf.zeros((size, size))
            for activation, gradient in zip(activations, gradients):
                # HiResCAM: each cell's gradient times its activation, not the gradient averaged
                # over the map first. Behind a plain global average pool the two are the same map;
                # behind attention pooling only this one shows where the evidence was weighted.
                cells = tf.nn.relu(tf.reduce_sum(activation[0] * gradient[0], axis=-1))
                # An ensemble's members add up their maps, each scaled by its gradient as its
                # logits are in the average: the maps are averaged exactly as the answers are.
                cam += tf.image.resize(cells[:, :, None], (size, size), method="bilinear")[:, :, 0]
            return cam / (tf.reduce_max(cam) + 1e-8)

        @tf.function(input_signature=signature)
        def guided_gradients(image, class_index):
            with tf.GradientTape() as tape:
                tape.watch(image)
                score = guided_logits(image, training=False)[0, class_index]
            return tape.gradient(score, image)[0]

        self._gradcam, self._guided = gradcam, guided_gradients
        self.size = size

    def gradcam(self, batch: np.ndarray, class_index: int) -> np.ndarray:
        """Grad-CAM on the input square, upsampled to it, in [0, 1]."""
        cam = self._gradcam(tf.constant(batch), tf.constant(class_index, tf.int32)).numpy()
        return np.clip(cam, 0.0, 1.0)

    def saliency(self, batch: np.ndarray, class_index: int) -> np.ndarray:
        """The origin's guided-backprop saliency on the input square, in [0, 1]."""
        gradients = self._guided(tf.constant(batch), tf.constant(class_index, tf.int32)).numpy()
        return guided_saliency_map(gradients)
