"""Top-k generator updates and the auxiliary classifier."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import fake_batch, make_tiny_gan, round_trip
from keras_cgan import losses, networks
from keras_cgan.errors import ConfigError
from keras_cgan.model import ConditionalGAN


def test_top_k_keeps_the_highest_logits_with_a_per_epoch_decay_and_a_floor():
    logits = tf.constant([[0.3], [-2.0], [1.5], [0.0], [4.0], [-1.0], [2.5], [0.7]])
    order = np.argsort(logits.numpy().ravel())[::-1]
    for epoch, kept in ((0, 8), (1, 4), (2, 2), (9, 2)):
        mask = losses.top_k_mask(logits, tf.constant(epoch), 0.5, 0.25).numpy()
        assert mask.shape == (8, 1) and mask.sum() == kept, epoch
        np.testing.assert_array_equal(np.flatnonzero(mask.ravel()), np.sort(order[:kept]))
    # Static shapes: the same mask from one XLA program.
    xla = tf.function(lambda e: losses.top_k_mask(logits, e, 0.5, 0.25), jit_compile=True)
    assert xla(tf.constant(1)).numpy().sum() == 4


def _tiny(arch="mlp", d_lr=1e-3, **options):
    gan = make_tiny_gan(arch, seed=4, d_lr=d_lr)
    if not options:
        return gan
    config = gan.get_config() | {"steps_per_epoch": 1, **options}
    for key in ("generator", "discriminator"):
        config[key] = getattr(gan, key)
    made = ConditionalGAN(**config)
    made.compile(d_optimizer=keras.optimizers.Adam(d_lr), g_optimizer=keras.optimizers.Adam(1e-3))
    return made


def test_top_k_updates_the_generator_as_if_only_the_best_scored_half_was_there():
    images, one_hot, noise = fake_batch(latent_dim=8)
    args = [tf.constant(a) for a in (images, one_hot, noise)]
    # The discriminator does not move (learning rate 0), so the generator's
    # update depends on which samples its loss keeps.
    top = _tiny(d_lr=0.0, top_k=0.5, top_k_min=0.5)
    top.train_steps.assign(1)  # Epoch 1: keep max(0.5, 0.5 ** 1) of the batch.
    fakes = top.generator([args[2], args[1]], training=True)
    scores = top.discriminator([fakes, args[1]], training=True).numpy().ravel()
    best = np.argsort(scores)[::-1][:4]
    subset = _tiny(d_lr=0.0)
    every = _tiny(d_lr=0.0)
    top.apply_step(*args)
    subset.apply_step(*(tf.gather(a, best) for a in args))
    every.apply_step(*args)
    for a, b in zip(
        top.generator.get_weights(),
        subset.generator.get_weights(),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(
        np.allclose(a, c)
        for a, c in zip(top.generator.get_weights(), every.generator.get_weights(), strict=True)
    )


def test_aux_classifier_needs_a_features_layer_and_top_k_its_epoch_length():
    g, d = networks.build_networks("mlp", 8, 10, 8)
    with pytest.raises(ConfigError, match="--arch=dcgan_proj or --arch=dcgan_cbn"):
        ConditionalGAN(g, d, latent_dim=8, aux_classifier=0.1)
    with pytest.raises(ConfigError, match="top_k needs steps_per_epoch"):
        ConditionalGAN(g, d, latent_dim=8, top_k=0.9)
    with pytest.raises(ConfigError, match="top_k must be in"):
        ConditionalGAN(g, d, latent_dim=8, top_k=1.5, steps_per_epoch=4)


def test_aux_classifier_adds_its_weighted_class_loss_to_the_generators():
    images, one_hot, noise = fake_batch(latent_dim=8)
    args = [tf.constant(a) for a in (images, one_hot, noise)]
    gan = _tiny("dcgan_proj", d_lr=0.0, aux_classifier=0.7)
    # The same update by hand: the non-saturating loss plus 0.7 x the head's
    # cross-entropy on the fakes, through a copy of the networks.
    g = keras.models.clone_model(gan.generator)
    g.set_weights(gan.generator.get_weights())
    view = networks.with_features(gan.discriminator)
    with tf.GradientTape() as tape:
        fakes = g([args[2], args[1]], training=True)
        logits, features = view([fakes, args[1]], training=True)
        adversarial = keras.losses.BinaryCrossentropy(from_logits=True)(
            tf.ones_like(logits), tf.cast(logits, tf.float32)
        )
        total = adversarial + 0.7 * losses.class_loss(args[1], gan.aux_head(features))
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.apply_gradients(
        zip(tape.gradient(total, g.trainable_variables), g.trainable_variables, strict=True)
    )
    gan.apply_step(*args)
    for a, b in zip(gan.generator.get_weights(), g.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_aux_head_learns_the_real_classes():
    # Real "digits" whose class is where a bright bar is: the head must learn it.
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 10
    images = rng.uniform(0, 0.1, size=(40, 28, 28, 1)).astype("float32")
    for i, c in enumerate(labels):
        images[i, 2 + 2 * c : 4 + 2 * c, :, 0] = 1.0
    one_hot = np.eye(10, dtype="float32")[labels]
    gan = _tiny("dcgan_proj", aux_classifier=0.1)
    step = tf.function(gan.apply_step)
    for _ in range(60):
        noise = rng.standard_normal((40, 8)).astype("float32")
        step(tf.constant(images), tf.constant(one_hot), tf.constant(noise))
    _, features = networks.with_features(gan.discriminator)([images, one_hot], training=False)
    predicted = np.argmax(gan.aux_head(features).numpy(), axis=1)
    assert np.mean(predicted == labels) >= 0.9


def test_top_k_and_aux_classifier_survive_save_load_and_export(tmp_path):
    gan = _tiny("dcgan_proj", top_k=0.9, top_k_min=0.6, aux_classifier=0.2)
    images, one_hot, noise = fake_batch(latent_dim=8)
    gan.apply_step(*(tf.constant(a) for a in (images, one_hot, noise)))
    loaded, _ = round_trip(gan, tmp_path, export=True)
    for key in ("top_k", "top_k_min", "steps_per_epoch", "aux_classifier"):
        assert loaded.get_config()[key] == gan.get_config()[key], key
    np.testing.assert_array_equal(loaded.aux_head.kernel.numpy(), gan.aux_head.kernel.numpy())


@pytest.mark.parametrize("jit_compile", [True, "step"])
def test_top_k_and_aux_classifier_train_under_xla(jit_compile):
    """Stacked steps under XLA (top-k's mask has static shapes)."""
    images, one_hot, noise = fake_batch(batch_size=16, latent_dim=8)
    # Stacks of 2 batches of 8: two steps in one call, as the command line trains.
    stacks = [a.reshape((2, 8) + a.shape[1:]) for a in (images, one_hot, noise)]
    data = tf.data.Dataset.from_tensors(tuple(stacks)).repeat(2)
    gans = []
    for xla in (False, jit_compile):
        gan = _tiny("dcgan_proj", top_k=0.5, aux_classifier=0.2)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(1e-3),
            g_optimizer=keras.optimizers.Adam(1e-3),
            jit_compile=xla,
        )
        gan.train_steps.assign(1)  # Top-k keeps half of each batch.
        gan.fit(data, epochs=1, verbose=0, shuffle=False)
        gans.append(gan)
    assert gans[1].train_steps.numpy() == 5
    for a, b in zip(gans[0].generator.get_weights(), gans[1].generator.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
