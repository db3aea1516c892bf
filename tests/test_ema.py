"""The EMA generator: its update, and that sampling, saving, checkpoints and exports use it."""

import os

import numpy as np
import pytest

from helpers import fake_batch, make_tiny_gan, round_trip
from keras_cgan import builder, checkpoint, export, train
from keras_cgan.errors import ConfigError
from keras_cgan.model import ConditionalGAN


def _feed(images, labels, noise):
    return {"images": images, "labels": labels, "noise": noise}


def _probe(n=10, latent_dim=8):
    noise = np.random.default_rng(3).standard_normal((n, latent_dim)).astype("float32")
    return np.arange(n) % 10, noise


def _raw_images(gan, labels, noise):
    one_hot = np.eye(10, dtype="float32")[labels]
    return np.asarray(gan.generator([noise, one_hot], training=False))


def test_ema_update_follows_the_warm_up_schedule():
    """Step t (0-based) moves the average with decay min(d, (1 + t) / (10 + t))."""
    gan = make_tiny_gan("dcgan_proj", ema_decay=0.5)
    images, one_hot, noise = fake_batch()
    expected = [np.array(v) for v in gan.generator.variables]
    assert all(
        np.array_equal(e, np.array(v))
        for e, v in zip(expected, gan.ema_generator.variables, strict=True)
    )
    for step in range(3):
        gan.train_on_batch(_feed(images, one_hot, noise))
        decay = min(0.5, (1 + step) / (10 + step))  # 0.1, 0.1818..., 0.25
        expected = [
            decay * e + (1 - decay) * np.array(v)
            for e, v in zip(expected, gan.generator.variables, strict=True)
        ]
    for e, v in zip(expected, gan.ema_generator.variables, strict=True):
        np.testing.assert_allclose(np.array(v), e, rtol=1e-5, atol=1e-6, err_msg=v.path)
    # The average lags the trained weights; BatchNorm statistics are averaged too.
    kernel = [v for v in gan.generator.variables if v.path.endswith("project/kernel")][0]
    ema_kernel = [v for v in gan.ema_generator.variables if v.path.endswith("project/kernel")][0]
    assert not np.allclose(np.array(kernel), np.array(ema_kernel))
    moving = [v for v in gan.ema_generator.variables if "moving_mean" in v.path]
    assert moving and not np.allclose(np.array(moving[0]), 0.0)


def test_ema_generator_is_never_trained_and_not_in_the_optimizer():
    gan = make_tiny_gan("dcgan", ema_decay=0.9)
    assert gan.ema_generator.trainable_variables == []
    assert len(gan.generator.trainable_variables) > 0
    ema_ids = {id(v) for v in gan.ema_generator.variables}
    assert not ema_ids & {id(v) for v in gan.g_optimizer.variables}


def test_sampling_uses_the_ema_generator():
    gan = make_tiny_gan("dcgan_proj", ema_decay=0.9)
    images, one_hot, noise = fake_batch()
    for _ in range(3):
        gan.train_on_batch(_feed(images, one_hot, noise))
    labels, probe = _probe()
    ema = np.asarray(gan.ema_generator([probe, np.eye(10, dtype="float32")[labels]]))
    raw = _raw_images(gan, labels, probe)
    assert np.abs(ema - raw).max() > 1e-4  # The two really differ...
    np.testing.assert_allclose(
        gan.generate(labels, noise=probe), ema, atol=1e-6
    )  # ...generate is EMA
    called = gan([probe, np.eye(10, dtype="float32")[labels]], training=False)
    np.testing.assert_allclose(np.asarray(called), ema, atol=1e-6)
    assert gan.sampling_generator is gan.ema_generator


def test_without_ema_nothing_changes():
    gan = make_tiny_gan("dcgan")
    assert gan.ema_generator is None and gan.sampling_generator is gan.generator
    assert not any(k.startswith("ema_generator/") for k in checkpoint.state_variables(gan))
    assert gan.get_config()["ema_decay"] is None


@pytest.mark.parametrize("decay", [1.0, 1.5, -0.1])
def test_bad_decay_is_refused(decay):
    with pytest.raises(ConfigError, match="ema_decay must be in"):
        make_tiny_gan(ema_decay=decay)


def test_save_and_load_keep_the_ema_weights(tmp_path):
    gan = make_tiny_gan("dcgan_proj", ema_decay=0.9)
    images, one_hot, noise = fake_batch()
    for _ in range(3):
        gan.train_on_batch(_feed(images, one_hot, noise))
    loaded = round_trip(gan, tmp_path)  # Every variable, the EMA copy's included.
    assert isinstance(loaded, ConditionalGAN) and loaded.ema_decay == 0.9
    for a, b in zip(gan.ema_generator.variables, loaded.ema_generator.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=a.path)


def test_export_serves_the_ema_weights(tmp_path):
    gan = make_tiny_gan("dcgan_proj", ema_decay=0.9)
    images, one_hot, noise = fake_batch()
    for _ in range(3):
        gan.train_on_batch(_feed(images, one_hot, noise))
    _, served = round_trip(gan, tmp_path, export=True)  # Export == in-memory samples.
    labels, probe = _probe()
    from_export = served.generate(labels, noise=probe)
    np.testing.assert_allclose(from_export, gan.generate(labels, noise=probe), atol=1e-6)
    assert np.abs(from_export - _raw_images(gan, labels, probe)).max() > 1e-4


def test_checkpoints_hold_the_ema_and_resume_exactly(tiny_config):
    config = tiny_config.replace(arch="dcgan_proj", ema_decay=0.9, loss="hinge")
    resumed = config.replace(workdir=config.workdir + "-resumed")
    train.train(resumed.replace(epochs=1))
    gan_resumed = train.train(resumed.replace(epochs=3))
    gan_straight = train.train(config.replace(epochs=3))

    def state(workdir):
        path = checkpoint.find_checkpoint(os.path.join(workdir, "checkpoints"))
        with np.load(os.path.join(path, "state.npz")) as f:
            return {k: f[k] for k in f.files}

    a, b = state(resumed.workdir), state(config.workdir)
    assert a.keys() == b.keys()
    ema_keys = [k for k in a if k.startswith("ema_generator/")]
    assert len(ema_keys) == len(gan_straight.ema_generator.variables) > 0
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6, rtol=0, err_msg=key)
    # The checkpoint restores the average, not a copy of the trained weights.
    restored = builder.build_gan(config)
    checkpoint.restore_checkpoint(
        checkpoint.find_checkpoint(config.workdir + "/checkpoints"), restored
    )
    labels, probe = _probe()
    np.testing.assert_allclose(
        restored.generate(labels, noise=probe),
        gan_straight.generate(labels, noise=probe),
        atol=1e-6,
    )
    # The run's export serves the EMA weights too.
    served = export.ExportedGenerator(os.path.join(config.workdir, "export"))
    np.testing.assert_allclose(
        served.generate(labels, noise=probe), gan_resumed.generate(labels, noise=probe), atol=1e-5
    )
    # A run with EMA cannot be resumed without it (nor with another decay).
    for change in ({"ema_decay": 0.0}, {"ema_decay": 0.99}, {"loss": "bce"}):
        key = next(iter(change))
        with pytest.raises(ConfigError, match=f"holds a run with {key}="):
            train.train(config.replace(epochs=4, **change))


def test_ema_under_mixed_bfloat16_exports_float32_ema_images(tiny_config):
    config = tiny_config.replace(
        arch="dcgan_proj", ema_decay=0.9, mixed_precision="mixed_bfloat16", epochs=1
    )
    gan = train.train(config)
    assert gan.ema_generator.get_layer("project").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in gan.ema_generator.variables)
    labels, probe = _probe()
    served = export.ExportedGenerator(os.path.join(config.workdir, "export"))
    images = served.generate(labels, noise=probe)
    assert images.dtype == np.float32
    np.testing.assert_allclose(images, gan.generate(labels, noise=probe), atol=1e-6)
