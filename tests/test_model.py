"""ConditionalGAN: the train step, metrics, generation and save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import fake_batch, make_tiny_gan, round_trip
from keras_cgan.generation import LabelError
from keras_cgan.model import ConditionalGAN


def _values(variables):
    return [np.array(v) for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, np.array(v)) for b, v in zip(before, variables, strict=True)]


class RecordingAdam(keras.optimizers.Adam):
    """Adam that records which variables it was asked to update."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updated = []

    def apply_gradients(self, grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        assert all(g is not None for g, _ in grads_and_vars)
        self.updated.append([v.path for _, v in grads_and_vars])
        return super().apply_gradients(grads_and_vars)


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "dcgan_proj"])
def test_each_phase_updates_only_its_network(arch):
    gan = make_tiny_gan(arch)
    d_opt, g_opt = RecordingAdam(1e-3), RecordingAdam(1e-3)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, run_eagerly=True)
    images, one_hot, noise = fake_batch()
    d_before = _values(gan.discriminator.trainable_variables)
    g_before = _values(gan.generator.trainable_variables)
    gan.train_on_batch(images, one_hot)
    assert d_opt.updated == [[v.path for v in gan.discriminator.trainable_variables]]
    assert g_opt.updated == [[v.path for v in gan.generator.trainable_variables]]
    assert all(_changed(d_before, gan.discriminator.trainable_variables))
    assert all(_changed(g_before, gan.generator.trainable_variables))


def test_frozen_generator_optimizer_leaves_generator_unchanged():
    gan = make_tiny_gan(g_lr=0.0)
    g_before = _values(gan.generator.trainable_variables)
    d_before = _values(gan.discriminator.trainable_variables)
    images, one_hot, _ = fake_batch()
    gan.train_on_batch(images, one_hot)
    assert not any(_changed(g_before, gan.generator.trainable_variables))
    assert all(_changed(d_before, gan.discriminator.trainable_variables))


def test_losses_match_a_hand_computation():
    """d_loss uses D before its update; g_loss uses the updated D and the old G."""
    gan = make_tiny_gan()
    images, one_hot, noise = (tf.constant(a) for a in fake_batch())
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    fake = gan.generator([noise, one_hot])
    real_logits = gan.discriminator([images, one_hot])
    fake_logits = gan.discriminator([fake, one_hot])
    expected_d = float(bce(np.ones((8, 1)), real_logits) + bce(np.zeros((8, 1)), fake_logits))
    expected_acc = (np.sum(real_logits.numpy() > 0) + np.sum(fake_logits.numpy() <= 0)) / 16
    logs = gan.train_on_batch(_feed(images, one_hot, noise), return_dict=True)
    expected_g = float(bce(np.ones((8, 1)), gan.discriminator([fake, one_hot])))
    assert logs["d_loss"] == pytest.approx(expected_d, rel=1e-5)
    assert logs["g_loss"] == pytest.approx(expected_g, rel=1e-5)
    assert logs["d_acc"] == pytest.approx(expected_acc)
    assert all(np.isfinite(v) for v in logs.values())


def test_integer_labels_are_one_hot_encoded():
    a, b = make_tiny_gan(), make_tiny_gan()
    images, one_hot, noise = fake_batch()
    logs_a = a.train_on_batch(_feed(images, one_hot, noise), return_dict=True)
    logs_b = b.train_on_batch(
        _feed(images, one_hot.argmax(1).astype("int32"), noise), return_dict=True
    )
    assert logs_a == pytest.approx(logs_b)


def test_metrics_reset_every_epoch():
    gan = make_tiny_gan()
    images, one_hot, _ = fake_batch(32)
    ds = tf.data.Dataset.from_tensor_slices((images, one_hot)).batch(8)
    counts = []

    class Probe(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            counts.append(("begin", float(self.model.d_loss_tracker.count)))

        def on_epoch_end(self, epoch, logs=None):
            counts.append(("end", float(self.model.d_loss_tracker.count)))

    history = gan.fit(ds, epochs=2, verbose=0, callbacks=[Probe()])
    # The trackers count examples: 4 batches of 8 per epoch.
    assert counts == [("begin", 0.0), ("end", 32.0), ("begin", 0.0), ("end", 32.0)]
    assert set(history.history) == {"d_loss", "g_loss", "d_acc"}
    assert [m.name for m in gan.metrics] == ["d_loss", "g_loss", "d_acc"]


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "dcgan_proj"])
def test_generate_shapes_range_and_conditioning(arch):
    gan = make_tiny_gan(arch)
    images = gan.generate([3, 3, 7], seed=0)
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    noise = np.random.default_rng(0).standard_normal((1, 8)).astype("float32")
    per_label = gan.generate(list(range(10)), noise=np.repeat(noise, 10, axis=0))
    diffs = [np.abs(per_label[i] - per_label[j]).mean() for i in range(10) for j in range(i)]
    assert min(diffs) > 1e-4
    np.testing.assert_array_equal(gan.generate([1, 2], seed=5), gan.generate([1, 2], seed=5))
    assert gan.generate([], seed=0).shape == (0, 28, 28, 1)
    # The compiled sampling pass equals an eager call of the generator, in
    # one chunk or several.
    z = np.random.default_rng(1).standard_normal((5, 8)).astype("float32")
    eager = gan.sampling_generator([z, np.eye(10, dtype="float32")[[0, 1, 2, 3, 4]]]).numpy()
    np.testing.assert_allclose(gan.generate(range(5), noise=z), eager, atol=1e-6)
    np.testing.assert_allclose(gan.generate(range(5), noise=z, batch_size=2), eager, atol=1e-6)
    np.testing.assert_allclose(gan.generate(4, seed=1), gan.generate([4], seed=1))


def test_projection_discriminator_scores_the_same_image_differently_per_label():
    gan = make_tiny_gan("dcgan_proj")
    image = np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype("float32")
    logits = gan.discriminator([np.repeat(image, 10, axis=0), np.eye(10, dtype="float32")])
    logits = np.asarray(logits).ravel()
    assert logits.shape == (10,) and len(np.unique(logits.round(6))) == 10
    names = [layer.name for layer in gan.discriminator.layers]
    assert "label_embedding" in names and "projection" in names


@pytest.mark.parametrize(
    "labels, kwargs, message",
    [
        ([10], {}, "label 10 is out of range"),
        ([-1], {}, "label -1 is out of range"),
        ([1.5], {}, "labels must be a 1-D list of integers"),
        ([[1, 2]], {}, "labels must be a 1-D list"),
        ([1, 2], {"noise": np.zeros((2, 5))}, r"noise has shape \(2, 5\), expected \(2, 8\)"),
    ],
)
def test_generate_rejects_bad_input(labels, kwargs, message):
    gan = make_tiny_gan()
    with pytest.raises(LabelError, match=message):
        gan.generate(labels, **kwargs)


def test_same_optimizer_twice_is_rejected():
    gan = make_tiny_gan()
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="same object"):
        gan.compile(d_optimizer=opt, g_optimizer=opt)


def _feed(images, labels, noise):
    """A batch with its noise fed in, as train_on_batch takes it."""
    return {"images": images, "labels": labels, "noise": noise}


def _optimizer_state(opt):
    return {v.path: np.array(v) for v in opt.variables}


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "dcgan_proj", "dcgan_cbn"])
def test_save_load_round_trip_and_continue(arch, tmp_path):
    gan = make_tiny_gan(arch)
    images, one_hot, noise = fake_batch()
    for _ in range(3):
        gan.train_on_batch(_feed(images, one_hot, noise))
    loaded = round_trip(gan, tmp_path)  # Weights, optimizer state, loss, samples.
    assert (loaded.latent_dim, loaded.num_classes) == (8, 10)
    for name in ("d_optimizer", "g_optimizer"):
        assert int(getattr(loaded, name).iterations) == 3
        assert len(_optimizer_state(getattr(loaded, name))) > 2

    # Both continue identically: same step, same weights afterwards.
    gan.train_on_batch(_feed(images, one_hot, noise))
    loaded.train_on_batch(_feed(images, one_hot, noise))
    for a, b in zip(gan.weights, loaded.weights, strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-6, err_msg=a.path)
    ds = tf.data.Dataset.from_tensor_slices((images, one_hot)).batch(4)
    history = loaded.fit(ds, epochs=1, verbose=0)
    assert int(loaded.d_optimizer.iterations) == 6
    assert np.isfinite(history.history["d_loss"][0])


def test_config_round_trip():
    gan = make_tiny_gan()
    clone = ConditionalGAN.from_config(gan.get_config())
    assert clone.latent_dim == gan.latent_dim and clone.seed == gan.seed
    assert [v.shape for v in clone.weights] == [v.shape for v in gan.weights]
