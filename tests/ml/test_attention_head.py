"""The attention-pooled head, the HiResCAM form of Grad-CAM, and what training leaves out."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from scans.ml import ood_fit
from scans.ml.architectures import AttentionPooling, custom_cnn, options_of
from scans.ml.saliency import HeatMapper
from scans.ml.training import Recipe, load_data
from tests.ml.images import encode, head


def test_attention_pooling_is_the_plain_average_when_the_attention_is_flat():
    features = np.random.default_rng(0).random((2, 7, 7, 5)).astype("float32")
    flat = np.full((2, 7, 7, 1), 0.3, "float32")
    pooled = keras.ops.convert_to_numpy(AttentionPooling()([features, flat]))
    np.testing.assert_allclose(pooled, features.mean(axis=(1, 2)), rtol=1e-3)


def test_attention_pooling_reads_the_cells_the_attention_points_at():
    features = np.zeros((1, 7, 7, 2), "float32")
    features[0, 2, 3] = (5.0, 0.0)
    features[0, 5, 5] = (0.0, 5.0)
    attention = np.full((1, 7, 7, 1), 1e-3, "float32")
    attention[0, 2, 3] = 1.0
    pooled = keras.ops.convert_to_numpy(AttentionPooling()([features, attention]))[0]
    assert pooled[0] > 4.5 and pooled[1] < 0.1


@pytest.mark.parametrize("head", ["gap", "attention"])
@pytest.mark.parametrize("fine_map", [False, True])
@pytest.mark.parametrize("last_width", [256, 384])
def test_each_build_option_is_built_and_recognised(head, fine_map, last_width):
    model = custom_cnn(224, head=head, fine_map=fine_map, last_width=last_width)
    assert model.get_layer("last_conv").output.shape[1:] == (14 if fine_map else 7,) * 2 + (last_width,)
    assert options_of(model) == {"head": head, "fine_map": fine_map, "last_width": last_width}


def test_an_unknown_head_is_refused():
    with pytest.raises(ValueError, match="unknown head"):
        custom_cnn(64, head="max")


def test_behind_a_plain_average_hirescam_is_the_classic_grad_cam():
    keras.utils.set_random_seed(1)
    model = custom_cnn(64)
    image = np.random.default_rng(1).random((1, 64, 64, 3)).astype("float32")
    conv_and_logits = keras.Model(model.input, [model.get_layer("last_conv").output, model.get_layer("logits").output])
    with tf.GradientTape() as tape:
        activations, logits = conv_and_logits(image, training=False)
        score = logits[0, 2]
    gradients = tape.gradient(score, activations)[0]
    cells = tf.nn.relu(tf.reduce_sum(activations[0] * tf.reduce_mean(gradients, axis=(0, 1)), axis=-1))
    classic = tf.image.resize(cells[:, :, None], (64, 64), method="bilinear").numpy()[:, :, 0]
    classic = classic / (classic.max() + 1e-8)
    drawn = HeatMapper(model, "last_conv").gradcam(image, 2)
    np.testing.assert_allclose(drawn, classic, atol=1e-4)


def test_attention_maps_depend_on_where_the_network_attends():
    keras.utils.set_random_seed(2)
    model = custom_cnn(224, head="attention")
    image = np.random.default_rng(2).random((1, 224, 224, 3)).astype("float32")
    mapper = HeatMapper(model, "last_conv")
    before = mapper._gradcam(tf.constant(image), tf.constant(0, tf.int32)).numpy()
    kernel, bias = model.get_layer("tumour_map").get_weights()
    model.get_layer("tumour_map").set_weights([-20 * kernel, bias])
    after = HeatMapper(model, "last_conv")._gradcam(tf.constant(image), tf.constant(0, tf.int32)).numpy()
    assert np.abs(before - after).mean() > 0.01


def test_slices_listed_as_not_mri_stay_out_of_training_and_the_split_is_unchanged(tmp_path, monkeypatch):
    training = tmp_path / "Training"
    blobs = {"glioma": (0.3, 0.4), "meningioma": (0.75, 0.2), "notumor": None, "pituitary": (0.5, 0.7)}
    for label, blob in blobs.items():
        (training / label).mkdir(parents=True)
        for i in range(6):
            (training / label / f"{i}.png").write_bytes(encode(head(96, 96, blob, seed=i * 5 + len(label))))
    recipe = Recipe(input_size=64, validation_fraction=0.34)
    listed = tmp_path / "not_mri.txt"
    monkeypatch.setattr(ood_fit, "NOT_BRAIN_MRI_LIST", listed)
    listed.write_text("# nothing listed\n")
    plain = load_data(training, recipe, log=lambda line: None)
    # Every image listed: whatever the split put on the training side is left out.
    listed.write_text("\n".join(f"{label}/{i}.png" for label in blobs for i in range(6)) + "\n")
    data = load_data(training, recipe, log=lambda line: None)
    assert plain.excluded == [] and plain.train_idx
    assert data.val_idx == plain.val_idx
    assert data.train_idx == [] and sorted(data.excluded) == sorted(plain.train_idx)


def test_outliers_are_trained_towards_a_uniform_answer_with_no_tumour_map():
    from scans.ml.training import AugmentedBatches

    squares = np.random.default_rng(3).integers(0, 255, (2, 256, 256), dtype=np.uint8)
    targets = np.array([[0, 0, 1, 0], [0.25, 0.25, 0.25, 0.25]], dtype=np.float32)
    recipe = Recipe(input_size=64, batch_size=2)
    batches = AugmentedBatches(squares, squares, [np.zeros((256, 256), np.uint8), None], targets, recipe, 0, cells=2)
    images, wanted = batches[0]
    order = batches.order[:2]
    np.testing.assert_array_equal(wanted["probs"], targets[order])
    unknown = wanted["tumour_map"][list(order).index(1)]
    assert images.shape == (2, 64, 64, 3) and (unknown == -1).all()


def test_turned_rows_are_turned_by_multiples_of_90_degrees_and_the_others_augment_as_before():
    from scans.ml.training import AugmentedBatches

    # A bright upper-left corner, so that each turn looks different.
    ramp = np.add.outer(np.arange(256), np.arange(256))[::-1, ::-1] // 4
    squares = (np.random.default_rng(5).integers(0, 127, (2, 256, 256)) + ramp).astype(np.uint8)
    targets = np.array([[0, 0, 1, 0], [0.25] * 4], dtype=np.float32)
    recipe = Recipe(input_size=64, batch_size=2)
    masks = [np.zeros((256, 256), np.uint8), None]
    plain = AugmentedBatches(squares, squares, masks, targets, recipe, 0, cells=2)
    turning = AugmentedBatches(squares, squares, masks, targets, recipe, 0, cells=2, turned=np.array([False, True]))
    turns = set()
    for epoch in range(8):
        plain._begin(epoch), turning._begin(epoch)
        upright, _ = plain[0]
        images, _ = turning[0]
        mri, outlier = list(plain.order[:2]).index(0), list(plain.order[:2]).index(1)
        np.testing.assert_array_equal(images[mri], upright[mri])
        # Turned before the resize to the input size, so equal up to the resize's rounding.
        differences = [np.abs(images[outlier] - np.rot90(upright[outlier], k)).mean() for k in range(4)]
        turn = int(np.argmin(differences))
        assert differences[turn] < 0.01 and sorted(differences)[1] > 0.1
        turns.add(turn)
    assert turns == {0, 1, 2, 3}


def test_the_gate_head_targets_follow_the_batch_order_and_serving_never_builds_it():
    from scans.ml.architectures import custom_cnn
    from scans.ml.training import AugmentedBatches, with_gate_head

    squares = np.random.default_rng(4).integers(0, 255, (3, 256, 256), dtype=np.uint8)
    targets = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0.25] * 4], dtype=np.float32)
    not_mri = np.array([0, 0, 1], dtype=np.float32)
    recipe = Recipe(input_size=64, batch_size=3)
    masks = [np.zeros((256, 256), np.uint8), None, None]
    batches = AugmentedBatches(squares, squares, masks, targets, recipe, 0, cells=2, not_mri=not_mri)
    _, wanted = batches[0]
    np.testing.assert_array_equal(wanted["not_mri"][:, 0], not_mri[batches.order[:3]])

    network = with_gate_head(custom_cnn(64, tumour_map=True, head="attention", fine_map=True))
    assert network.output_names == ["probs", "tumour_map", "not_mri"]
    serving = keras.Model(network.input, network.get_layer("probs").output)
    plain = custom_cnn(64, head="attention", fine_map=True)
    assert {w.path for w in serving.weights} == {w.path for w in plain.weights}
    assert not any("not_mri" in w.path or "gate_views" in w.path for w in serving.weights)
