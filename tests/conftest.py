"""Shared fixtures: tiny data, tiny models, and the real-MNIST folder."""

import os
import subprocess
import sys

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


def run_cli(module, *args, env_extra=None, timeout=300, cwd=REPO_ROOT):
    """Runs `python -m keras_cgan.<module> args...`; returns the CompletedProcess."""
    env = dict(os.environ, **(env_extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", f"keras_cgan.{module}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(result):
    """The single `keras_cgan: error:` line of a failed run's stderr."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("keras_cgan: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# Flags of a tiny, fast training run on the committed fixture.
TINY_RUN_FLAGS = (
    f"--mnist_dir={FIXTURE_MNIST}",
    "--hidden_units=16",
    "--latent_dim=8",
    "--batch_size=16",
    "--seed=3",
    "--verbose=0",
)
