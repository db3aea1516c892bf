"""The sample-quality options: dcgan_cbn, DiffAugment, R1, the linear schedule, and all together."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import fake_batch, make_tiny_gan, round_trip
from keras_cgan import augment, checkpoint, losses, networks, train
from keras_cgan.config import parse_diffaugment
from keras_cgan.errors import ConfigError


def test_cbn_generator_depends_on_the_label_in_every_norm_layer():
    g, d = networks.build_networks("dcgan_cbn", latent_dim=8, num_classes=10, hidden_units=8)
    names = [layer.name for layer in g.layers]
    assert {"project_gain", "up1_gain", "project_bias", "up1_bias"} <= set(names)
    assert d.get_layer("label_embedding") is not None  # Projection discriminator.
    noise = np.zeros((2, 8), np.float32)
    one_hot = np.eye(10, dtype=np.float32)[[3, 3]]
    images = g([noise, one_hot], training=False).numpy()
    assert images.shape == (2, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0
    # A per-class gain changed for class 3 only changes class-3 images.
    before = g([noise, np.eye(10, dtype=np.float32)[[3, 4]]], training=False).numpy()
    kernel = g.get_layer("up1_gain").kernel
    kernel.assign(kernel.numpy() * np.where(np.arange(10) == 3, 2.0, 1.0)[:, None])
    after = g([noise, np.eye(10, dtype=np.float32)[[3, 4]]], training=False).numpy()
    assert not np.allclose(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


def test_cbn_generator_follows_the_image_size_like_dcgan():
    g, _ = networks.build_networks(
        "dcgan_cbn", latent_dim=8, num_classes=3, hidden_units=4, image_shape=(32, 32, 3)
    )
    assert g.output_shape == (None, 32, 32, 3)
    plain, _ = networks.build_networks(
        "dcgan_proj", latent_dim=8, num_classes=3, hidden_units=4, image_shape=(32, 32, 3)
    )

    def conv_layers(model):
        return [layer.name for layer in model.layers if "Conv" in type(layer).__name__]

    assert conv_layers(g) == conv_layers(plain) == ["up1", "images"]
    # Every normalisation layer of the plain generator has a per-class gain here.
    norms = [layer.name[: -len("_bn")] for layer in plain.layers if layer.name.endswith("_bn")]
    assert {f"{n}_gain" for n in norms} <= {layer.name for layer in g.layers}
    with pytest.raises(ConfigError, match="--image_size"):
        networks.build_networks("dcgan_cbn", image_shape=(30, 30, 1))


def test_d_hidden_puts_a_nonlinear_layer_under_the_logit_projection_and_class_head():
    _, plain = networks.build_networks("dcgan_cbn", latent_dim=8, num_classes=10, hidden_units=4)
    _, d = networks.build_networks(
        "dcgan_cbn", latent_dim=8, num_classes=10, hidden_units=4, d_hidden=16
    )
    assert plain.get_layer("features").output.shape[-1] == 7 * 7 * 8
    assert "hidden" not in [layer.name for layer in plain.layers]
    assert d.get_layer("hidden").output.shape[-1] == 16
    assert type(d.get_layer("features")).__name__ == "LeakyReLU"
    assert d.get_layer("label_embedding").kernel.shape == (10, 16)
    assert networks.with_features(d).outputs[1].shape[-1] == 16  # The class head's input.
    # With every bias at 0, negating the hidden kernel would negate a logit that is linear
    # in the hidden layer; the LeakyReLU makes it not so.
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    one_hot = np.eye(10, dtype=np.float32)[[0, 1, 2, 3]]
    d.get_layer("logit").bias.assign([0.0])
    hidden = d.get_layer("hidden")
    hidden.bias.assign(np.zeros(16, np.float32))
    before = d([images, one_hot]).numpy()
    hidden.kernel.assign(-hidden.kernel.numpy())
    flipped = d([images, one_hot]).numpy()
    assert not np.allclose(flipped, -before, atol=1e-4) and not np.allclose(flipped, before)
    with pytest.raises(ConfigError, match="d_hidden needs a projection discriminator"):
        networks.build_networks("mlp", d_hidden=8)


def test_noise_scale_widens_z_at_sampling_and_not_in_training():
    plain, _ = networks.build_networks("dcgan_cbn", latent_dim=8, num_classes=10, hidden_units=4)
    wide, _ = networks.build_networks(
        "dcgan_cbn", latent_dim=8, num_classes=10, hidden_units=4, noise_scale=1.5
    )
    assert "noise_scale" not in [layer.name for layer in plain.layers]
    wide.set_weights(plain.get_weights())
    z = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    one_hot = np.eye(10, dtype=np.float32)[:6]
    sampled = wide([z, one_hot], training=False).numpy()
    np.testing.assert_allclose(sampled, plain([1.5 * z, one_hot], training=False), atol=1e-6)
    assert not np.allclose(sampled, plain([z, one_hot], training=False), atol=1e-3)
    trained = wide([z, one_hot], training=True).numpy()
    np.testing.assert_allclose(trained, plain([z, one_hot], training=True), atol=1e-6)


def test_noise_scale_survives_save_load_ema_and_export(tmp_path):
    gan = make_tiny_gan("dcgan_cbn", ema_decay=0.9, noise_scale=1.5)
    images, one_hot, noise = fake_batch(latent_dim=8)
    gan.train_on_batch(images, one_hot)
    loaded, served = round_trip(gan, tmp_path, export=True)
    for model in (gan.generator, gan.ema_generator, loaded.ema_generator):
        assert model.get_layer("noise_scale").scale == 1.5
    unscaled, _ = networks.build_networks("dcgan_cbn", 8, 10, 8)
    unscaled.set_weights(gan.ema_generator.get_weights())
    probe = np.random.default_rng(2).standard_normal((10, 8)).astype(np.float32)
    expected = unscaled([1.5 * probe, np.eye(10, dtype=np.float32)], training=False).numpy()
    np.testing.assert_allclose(served.generate(range(10), noise=probe), expected, atol=1e-5)


def test_translate_and_cutout_move_and_blank_pixels():
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[:, 10, 12, 0] = 1.0
    moved = augment.translate(
        tf.constant(images), tf.constant([2, -3]), tf.constant([0, 1])
    ).numpy()
    assert moved[0, 12, 12, 0] == 1.0 and moved[0].sum() == 1.0
    assert moved[1, 7, 13, 0] == 1.0 and moved[1].sum() == 1.0
    ones = np.ones((1, 28, 28, 1), np.float32)
    cut = augment.cutout(tf.constant(ones), tf.constant([0]), tf.constant([27])).numpy()
    assert cut[0, 0, 27, 0] == 0.0 and cut[0, 27, 0, 0] == 1.0
    assert cut.sum() == 28 * 28 - 7 * 7  # The square hangs over the corner.


def test_diff_augment_is_keyed_by_seed_step_and_stream_and_differentiable():
    images = tf.constant(np.random.default_rng(0).uniform(size=(8, 28, 28, 1)), tf.float32)
    policy = parse_diffaugment("translation,cutout")

    def run(step, stream):
        return augment.diff_augment(images, policy, tf.constant(5, tf.int64), step, stream)

    np.testing.assert_array_equal(run(3, 0).numpy(), run(3, 0).numpy())
    assert not np.array_equal(run(3, 0).numpy(), run(4, 0).numpy())
    assert not np.array_equal(run(3, 0).numpy(), run(3, 1).numpy())
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(run(3, 0))
    grad = tape.gradient(total, images).numpy()
    assert 0.0 < grad.mean() < 1.0  # Cut-out and shifted-out pixels get no gradient.
    with pytest.raises(ConfigError, match="unknown diffaugment policy .flip."):
        parse_diffaugment("translation,flip")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lr_schedule": "cosine"}, "unknown lr_schedule 'cosine'"),
        ({"r1_gamma": -1.0}, "r1_gamma must be >= 0"),
        ({"r1_interval": 0}, "r1_interval must be an integer >= 1"),
        ({"diffaugment": "color"}, "unknown diffaugment policy 'color'"),
        ({"top_k": 1.5}, "top_k must be"),
        ({"top_k_min": 0.0}, "top_k_min must be"),
        ({"aux_classifier": -0.1}, "aux_classifier must be"),
        ({"aux_classifier": 0.1, "arch": "mlp"}, "not --arch=mlp: use --arch=dcgan_proj or"),
        ({"d_hidden": -1}, "d_hidden must be"),
        ({"noise_scale": 0.0}, "noise_scale must be"),
        ({"d_hidden": 8, "arch": "dcgan"}, "d_hidden needs a projection .*not --arch=dcgan: use"),
    ],
)
def test_bad_quality_options_are_one_line_config_errors(tiny_config, changes, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config.replace(**changes)


def test_defaults_leave_the_step_unchanged():
    """r1_gamma=0 and no augmentation train exactly as a model without the options."""
    images, one_hot, noise = fake_batch(latent_dim=8)
    plain = make_tiny_gan("dcgan_proj", seed=3)
    off = make_tiny_gan("dcgan_proj", seed=3)
    off.r1_gamma, off.diffaugment = 0.0, ""
    for gan in (plain, off):
        gan.train_on_batch(images, one_hot)
    for a, b in zip(plain.get_weights(), off.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("option", ["r1", "diffaugment"])
def test_options_change_the_discriminator_update(option):
    images, one_hot, noise = fake_batch(latent_dim=8)
    plain = make_tiny_gan("dcgan_proj", seed=3)
    changed = make_tiny_gan("dcgan_proj", seed=3)
    if option == "r1":
        changed.r1_gamma = 10.0
    else:
        changed.diffaugment = "translation,cutout"
    for gan in (plain, changed):
        gan.apply_step(tf.constant(images), tf.constant(one_hot), tf.constant(noise))
    d_plain = plain.discriminator.get_weights()[0]
    d_changed = changed.discriminator.get_weights()[0]
    assert np.isfinite(d_changed).all() and not np.allclose(d_plain, d_changed)


def test_r1_penalty_matches_a_direct_computation():
    gan = make_tiny_gan("dcgan_proj", seed=3)
    images, one_hot, _ = fake_batch(latent_dim=8)
    x = tf.constant(images)
    _, penalty = losses.logits_with_r1(gan.discriminator, x, tf.constant(one_hot), 4.0)
    np.testing.assert_allclose(float(penalty), 4.0 * _half_r1(gan, images, one_hot), rtol=1e-4)


def _half_r1(gan, images, one_hot):
    """`mean ||grad_x D(x)||^2 / 2` on the batch, computed directly."""
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(gan.discriminator([x, tf.constant(one_hot)], training=True))
    grads = tape.gradient(total, x).numpy()
    return 0.5 * np.mean(np.sum(grads.reshape(len(grads), -1) ** 2, axis=1))


def test_lazy_r1_is_n_times_the_penalty_every_nth_step_and_nothing_between():
    images, one_hot, noise = fake_batch(latent_dim=8)
    lazy = make_tiny_gan("dcgan_proj", seed=3)
    lazy.r1_gamma, lazy.r1_interval = 1.5, 3
    x, y = tf.constant(images), tf.constant(one_hot)
    penalty = tf.function(lambda: lazy._real_outputs_and_r1(x, y)[1])
    expected = 4.5 * _half_r1(lazy, images, one_hot)
    for step in range(7):
        lazy.train_steps.assign(step)
        wanted = expected if step % 3 == 0 else 0.0
        np.testing.assert_allclose(float(penalty()), wanted, rtol=1e-4, err_msg=step)
    # The update itself: at step 3 as R1 at 3 x 1.5 every step, at step 4 as no R1.
    for step, gamma in ((3, 4.5), (4, 0.0)):
        lazy = make_tiny_gan("dcgan_proj", seed=3)
        lazy.r1_gamma, lazy.r1_interval = 1.5, 3
        lazy.train_steps.assign(step)
        every = make_tiny_gan("dcgan_proj", seed=3)
        every.r1_gamma = gamma
        for gan in (lazy, every):
            tf.function(gan.apply_step)(*(tf.constant(a) for a in (images, one_hot, noise)))
        for a, b in zip(
            lazy.discriminator.get_weights(), every.discriminator.get_weights(), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=step)


def test_linear_schedule_reaches_zero_at_the_last_step(tiny_config):
    config = tiny_config.replace(arch="dcgan_cbn", lr_schedule="linear", learning_rate=1e-3)
    gan = train.build_gan(config, steps_per_epoch=4)
    schedule = gan.g_optimizer._learning_rate  # The schedule itself, not its current value.
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(4)) == pytest.approx(0.5e-3)
    assert float(schedule(8)) == pytest.approx(0.0)


def test_a_run_with_every_option_trains_exports_and_resumes(tiny_config):
    config = tiny_config.replace(
        arch="dcgan_cbn",
        lr_schedule="linear",
        r1_gamma=1.0,
        diffaugment="translation,cutout",
        top_k=0.9,
        aux_classifier=0.1,
        d_hidden=8,
        noise_scale=1.2,
    )
    gan = train.train(config)
    assert gan.generator.get_layer("noise_scale").scale == 1.2
    assert gan.discriminator.get_layer("hidden").units == 8
    assert gan.train_steps.numpy() == 2 * (64 // 16)
    assert np.isfinite(gan.generate([0, 1, 2], seed=0)).all()
    # The options are part of what a resumed run must agree on.
    saved = config
    for changes in (
        {"r1_gamma": 2.0},
        {"r1_interval": 4},
        {"diffaugment": "cutout"},
        {"top_k": 0.8},
        {"top_k_min": 0.9},
        {"aux_classifier": 0.2},
        {"d_hidden": 16},
        {"epochs": 3},
    ):
        with pytest.raises(ConfigError, match=next(iter(changes))):
            checkpoint.check_resumable(saved, config.replace(**changes), config.workdir)
    checkpoint.check_resumable(saved, config, config.workdir)
    # Finished runs resume as a no-op.
    again = train.train(config)
    assert again.train_steps.numpy() == gan.train_steps.numpy()
