"""Shared fixtures: tiny data, tiny models, and the real-MNIST folder."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FIXTURE_MNIST = os.path.join(os.path.dirname(__file__), "fixtures", "mnist_small")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def real_mnist_dir():
    """The full MNIST folder named by KERAS_CGAN_MNIST_DIR (fails if absent)."""
    path = os.environ.get("KERAS_CGAN_MNIST_DIR")
    if not path or not os.path.isdir(path):
        pytest.fail(
            "this test needs real MNIST: set KERAS_CGAN_MNIST_DIR to a folder with "
            "the four IDX files (bash .ci/run does)"
        )
    return path


@pytest.fixture
def small_mnist_dir():
    """The committed 300/100-example IDX fixture."""
    return FIXTURE_MNIST


@pytest.fixture
def tiny_config(tmp_path):
    from keras_cgan.config import TrainConfig

    return TrainConfig(
        epochs=2,
        batch_size=16,
        latent_dim=8,
        hidden_units=16,
        train_examples=64,
        mnist_dir=FIXTURE_MNIST,
        workdir=str(tmp_path / "run"),
        seed=1,
        verbose=0,
    )


def make_tiny_gan(
    arch="mlp", latent_dim=8, hidden_units=8, seed=1, d_lr=1e-3, g_lr=1e-3, **compile_kwargs
):
    """A compiled ConditionalGAN with tiny networks."""
    import keras

    from keras_cgan import networks
    from keras_cgan.model import ConditionalGAN

    keras.utils.set_random_seed(seed)
    g, d = networks.build_networks(arch, latent_dim, 10, hidden_units)
    gan = ConditionalGAN(g, d, latent_dim=latent_dim, num_classes=10, seed=seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(d_lr),
        g_optimizer=keras.optimizers.Adam(g_lr),
        **compile_kwargs,
    )
    return gan


def fake_batch(batch_size=8, latent_dim=8, seed=0):
    """A batch `(images, one_hot, noise)` of random data."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(batch_size, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, size=batch_size)
    one_hot = np.eye(10, dtype="float32")[labels]
    noise = rng.standard_normal((batch_size, latent_dim)).astype("float32")
    return images, one_hot, noise
