"""The GAN losses of `keras_cgan.losses` and their use in the train step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import fake_batch, make_tiny_gan, round_trip
from keras_cgan import losses


def _per_example(loss, target, logits):
    logits = tf.constant(np.asarray(logits, np.float32).reshape(-1, 1))
    return np.asarray(loss.call(tf.fill(tf.shape(logits), target), logits)).ravel()


def test_hinge_values():
    hinge = losses.Hinge()
    logits = [-2.0, -0.5, 0.0, 0.5, 2.0]
    np.testing.assert_allclose(_per_example(hinge, 1.0, logits), [3.0, 1.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(_per_example(hinge, 0.0, logits), [0.0, 0.5, 1.0, 1.5, 3.0])


def test_make_loss_default_is_the_tutorials_bce():
    loss = losses.make_loss()
    assert type(loss) is keras.losses.BinaryCrossentropy
    assert loss.get_config()["from_logits"] is True
    assert loss.get_config()["label_smoothing"] == 0.0
    assert isinstance(losses.make_loss("hinge"), losses.Hinge)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.make_loss("wasserstein")


def test_train_step_uses_the_hinge_loss():
    gan = make_tiny_gan("dcgan_proj", loss_fn=losses.Hinge())
    images, one_hot, noise = (tf.constant(a) for a in fake_batch())
    fake = gan.generator([noise, one_hot], training=True)  # Batch statistics, as in training.
    real_logits = gan.discriminator([images, one_hot]).numpy()
    fake_logits = gan.discriminator([fake, one_hot]).numpy()
    expected_d = np.maximum(0, 1 - real_logits).mean() + np.maximum(0, 1 + fake_logits).mean()
    logs = gan.train_on_batch(
        {"images": images, "labels": one_hot, "noise": noise}, return_dict=True
    )
    expected_g = np.maximum(0, 1 - gan.discriminator([fake, one_hot]).numpy()).mean()
    assert logs["d_loss"] == pytest.approx(float(expected_d), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(float(expected_g), rel=1e-5)


def test_hinge_survives_save_and_load(tmp_path):
    loss = losses.Hinge()
    gan = make_tiny_gan("dcgan_proj", loss_fn=loss)
    loaded = round_trip(gan, tmp_path)
    assert type(loaded.loss_fn) is type(loss)
    assert loaded.loss_fn.get_config() == loss.get_config()
