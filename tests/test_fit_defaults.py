"""The library's defaults make the command line's fast choices.

`data.mnist_dataset` yields stacks of raw batches and `ConditionalGAN.compile`
resolves XLA as `perf.resolve_jit_compile` does, so user code that calls `fit`
trains as fast as `python -m keras_cgan.main`; explicit choices still win and
survive `model.save` / `keras.models.load_model`.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURE_MNIST
from keras_cgan import callbacks, data, networks, perf
from keras_cgan.config import DEFAULT_STEPS_PER_EXECUTION
from keras_cgan.errors import ConfigError
from keras_cgan.model import ConditionalGAN

LATENT = 8


def _gan(networks_arch="mlp", seed=1, **compile_kwargs):
    """A tiny ConditionalGAN compiled with `compile`'s own defaults plus `compile_kwargs`."""
    keras.utils.set_random_seed(seed)
    g, d = networks.build_networks(networks_arch, LATENT, 10, 8)
    gan = ConditionalGAN(g, d, latent_dim=LATENT, num_classes=10, seed=seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3),
        g_optimizer=keras.optimizers.Adam(1e-3),
        **compile_kwargs,
    )
    return gan


def _mode(gan):
    return "step" if gan.step_jit_compile else bool(gan.jit_compile)


def test_mnist_dataset_defaults_yield_stacks_of_raw_batches():
    # 300 fixture examples at batch 16: 18 batches, all in one stack.
    ds = data.mnist_dataset(batch_size=16, mnist_dir=FIXTURE_MNIST, seed=2)
    images, labels = ds.element_spec
    assert images.shape.as_list() == [None, 16, 28, 28, 1] and images.dtype == tf.uint8
    assert labels.shape.as_list() == [None, 16] and labels.dtype == tf.int32
    (x, y), *rest = list(ds)
    assert rest == [] and x.shape == (18, 16, 28, 28, 1) and y.shape == (18, 16)
    assert DEFAULT_STEPS_PER_EXECUTION > 18

    # The same batches, in the same order, as the float one-batch-per-element dataset.
    plain = list(
        data.mnist_dataset(batch_size=16, mnist_dir=FIXTURE_MNIST, seed=2, stack=1, raw=False)
    )
    assert len(plain) == 18
    for i, (px, py) in enumerate(plain):
        assert px.dtype == tf.float32 and py.shape == (16, 10)
        np.testing.assert_allclose(px.numpy(), x[i].numpy().astype(np.float32) / 255.0)
        np.testing.assert_array_equal(np.argmax(py.numpy(), axis=1), y[i].numpy())

    stacks = data.mnist_dataset(batch_size=16, mnist_dir=FIXTURE_MNIST, stack=5)
    assert [int(s[0].shape[0]) for s in stacks] == [5, 5, 5, 3]
    # Known lengths: fit's progress bar and epoch end need no `steps_per_epoch`.
    assert int(ds.cardinality()) == 1 and int(stacks.cardinality()) == 4


def test_mnist_dataset_does_not_stack_under_a_multi_replica_strategy(monkeypatch):
    class TwoReplicas:
        num_replicas_in_sync = 2

    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: TwoReplicas())
    ds = data.mnist_dataset(batch_size=16, mnist_dir=FIXTURE_MNIST)
    assert ds.element_spec[0].shape.as_list() == [16, 28, 28, 1]


def test_compile_auto_makes_the_command_lines_xla_choice(monkeypatch):
    monkeypatch.setattr(perf, "gpu_available", lambda: False)
    assert perf.network_arch(*networks.build_networks("mlp", LATENT, 10, 8)) == "mlp"
    assert perf.network_arch(*networks.build_networks("dcgan_proj", LATENT, 10, 8)) == "conv"

    mlp = _gan()
    assert _mode(mlp) is True  # Keras' own "auto" would be False on a CPU.
    assert mlp.get_compile_config()["jit_compile"] == "auto"
    assert _mode(_gan("dcgan")) == "step"
    assert _mode(_gan("dcgan", arch="mlp")) is True  # The hint wins over the layers.
    assert _mode(_gan(run_eagerly=True)) is False

    # Explicit choices are kept.
    assert _mode(_gan(jit_compile=False)) is False
    assert _mode(_gan("dcgan", jit_compile=True)) is True
    assert _mode(_gan(jit_compile="step")) == "step"
    assert _mode(_gan(jit_compile=False, step_jit_compile=True)) == "step"
    with pytest.raises(ConfigError, match="jit_compile must be True, False, 'step' or 'auto'"):
        _gan(jit_compile="yes")

    monkeypatch.setattr(perf, "gpu_available", lambda: True)
    assert _mode(_gan("dcgan")) is True


def _weights(gan):
    return [np.array(v) for v in gan.trainable_weights]


@pytest.mark.slow
def test_fit_with_the_defaults_trains_like_the_plain_settings(tmp_path):
    """Stacked raw data + XLA (the defaults) vs float unstacked data without XLA.

    Same seed, same batches, same counter-based noise: the weights agree up
    to XLA's float reassociation (as in test_fast_settings).
    """
    fast = _gan(seed=4)
    initial = _weights(fast)
    assert _mode(fast) is True
    grid = callbacks.SampleGrid(str(tmp_path / "samples"), gif=False)
    history = fast.fit(
        data.mnist_dataset(batch_size=16, mnist_dir=FIXTURE_MNIST, seed=5, stack=5),
        epochs=2,
        callbacks=[grid],
        verbose=0,
    )
    assert sorted(os.listdir(tmp_path / "samples")) == ["epoch_0001.png", "epoch_0002.png"]

    plain = _gan(seed=4, jit_compile=False)
    plain_history = plain.fit(
        data.mnist_dataset(batch_size=16, mnist_dir=FIXTURE_MNIST, seed=5, stack=1, raw=False),
        epochs=2,
        verbose=0,
    )
    # 18 steps per epoch either way (4 stacks of up to 5 batches, or 18 batches).
    assert int(fast.train_steps) == int(plain.train_steps) == 36
    for key in ("d_loss", "g_loss", "d_acc"):
        np.testing.assert_allclose(history.history[key], plain_history.history[key], rtol=1e-4)
    moved = max(float(np.abs(a - w).max()) for a, w in zip(_weights(fast), initial, strict=True))
    assert moved > 1e-3
    for a, b in zip(_weights(fast), _weights(plain), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "compile_kwargs, mode",
    [({}, True), ({"jit_compile": False}, False), ({"jit_compile": "step"}, "step")],
)
def test_xla_settings_survive_save_and_load(compile_kwargs, mode, tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "gpu_available", lambda: False)
    gan = _gan(**compile_kwargs)
    assert _mode(gan) == mode
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert _mode(loaded) == mode
    assert loaded.get_compile_config()["jit_compile"] == gan.get_compile_config()["jit_compile"]


def test_compile_config_of_older_files_still_loads():
    gan = _gan(jit_compile=False)
    config = gan.get_compile_config()
    # Before "auto" existed a file recorded the resolved flags, e.g. per-step XLA:
    config.update(jit_compile=False, step_jit_compile=True)
    gan.compile_from_config(config)
    assert _mode(gan) == "step"
