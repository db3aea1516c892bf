"""Shared fixtures: tiny data, tiny models, and the real-MNIST folder."""

import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FIXTURE_MNIST = os.path.join(os.path.dirname(__file__), "fixtures", "mnist_small")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _real_mnist_dir():
    path = os.environ.get("KERAS_CGAN_MNIST_DIR")
    if not path or not os.path.isdir(path):
        pytest.fail(
            "this test needs real MNIST: set KERAS_CGAN_MNIST_DIR to a folder with "
            "the four IDX files (bash .ci/run does)"
        )
    return path


@pytest.fixture
def real_mnist_dir():
    """The full MNIST folder named by KERAS_CGAN_MNIST_DIR (fails if absent)."""
    return _real_mnist_dir()


@pytest.fixture(scope="session")
def reference_classifier(tmp_path_factory):
    """The evaluation's reference classifier, trained once per session on real MNIST.

    Trained into a fresh temporary cache root (`.cache_root`; the time taken
    is `.load_seconds`), so the suite checks the training itself rather than
    a cache left by an earlier run.
    """
    import time

    from keras_cgan import classifier

    root = str(tmp_path_factory.mktemp("classifier_cache"))
    start = time.perf_counter()
    result = classifier.load_or_train(root, mnist_dir=_real_mnist_dir())
    result.cache_root = root
    result.load_seconds = time.perf_counter() - start
    return result


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
    arch="mlp",
    latent_dim=8,
    hidden_units=8,
    seed=1,
    d_lr=1e-3,
    g_lr=1e-3,
    ema_decay=None,
    **compile_kwargs,
):
    """A compiled ConditionalGAN with tiny networks (and an EMA generator if `ema_decay`)."""
    import keras

    from keras_cgan import networks
    from keras_cgan.model import ConditionalGAN

    keras.utils.set_random_seed(seed)
    g, d = networks.build_networks(arch, latent_dim, 10, hidden_units)
    gan = ConditionalGAN(
        g, d, latent_dim=latent_dim, num_classes=10, seed=seed, ema_decay=ema_decay
    )
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


def save_tiny_export(path, kernel, bias, latent_dim, meta=None):
    """Writes a hand-made SavedModel with the keras_cgan export contract.

    Signatures: "generate"(noise float32 [N, latent_dim], labels int32 [N]) ->
    {"images": sigmoid(concat(noise, one_hot) @ kernel + bias) as [N, 28, 28, 1]}
    and "serving_default"(labels) (noise drawn inside); `assets/keras_cgan.json`
    holds `meta` (default: latent_dim, num_classes 10, image_shape [28, 28, 1])
    with the export format added.
    """
    import json

    import tensorflow as tf

    class TinyExport(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(np.asarray(kernel, np.float32))
            self.bias = tf.Variable(np.asarray(bias, np.float32))

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, latent_dim], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ]
        )
        def generate(self, noise, labels):
            x = tf.concat([noise, tf.one_hot(labels, 10)], axis=1)
            pixels = tf.sigmoid(tf.matmul(x, self.kernel) + self.bias)
            return {"images": tf.reshape(pixels, [-1, 28, 28, 1])}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def serve(self, labels):
            noise = tf.random.normal([tf.shape(labels)[0], latent_dim])
            return self.generate(noise, labels)

    module = TinyExport()
    tf.saved_model.save(
        module, str(path), signatures={"generate": module.generate, "serving_default": module.serve}
    )
    os.makedirs(os.path.join(path, "assets"), exist_ok=True)
    if meta is None:
        meta = {"latent_dim": latent_dim, "num_classes": 10, "image_shape": [28, 28, 1]}
    meta = {"format": "keras_cgan.export/1", **meta}
    with open(os.path.join(path, "assets", "keras_cgan.json"), "w") as f:
        json.dump(meta, f)
    return str(path)


class PixelClassifier:
    """A stand-in for the reference classifier, instant and deterministic.

    Features: 4x4 average-pooled pixels (49 values). Probabilities: a softmax
    over negative squared distances to the class centroids of `images`.
    """

    def __init__(self, images, labels):
        features = self._features(images)
        labels = np.asarray(labels)
        self.centroids = np.stack([features[labels == c].mean(axis=0) for c in range(10)])
        self.info = {"test_accuracy": 0.0, "key": "pixel-stub"}
        self.calls = 0

    @staticmethod
    def _features(images):
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        x = images.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4))
        return x.reshape(len(images), 49).astype(np.float32)

    def predict(self, images):
        self.calls += 1
        f = self._features(images)
        d = ((f[:, None, :] - self.centroids[None]) ** 2).sum(-1)
        logits = -d / 0.1
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return f, (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _build_served_export(directory):
    """A tiny generator, trained a few steps on the committed fixture, exported."""
    from keras_cgan import data, export
    from keras_cgan.config import TrainConfig

    gan = make_tiny_gan(latent_dim=8, hidden_units=16, seed=2)
    images, labels = data.load_local_mnist(FIXTURE_MNIST, "train")
    gan.fit(x=(images[:64], labels[:64].astype(np.int32)), batch_size=16, epochs=1, verbose=0)
    config = TrainConfig(epochs=1, batch_size=16, latent_dim=8, hidden_units=16, seed=2)
    return export.export_generator(gan, directory, config)


@pytest.fixture(scope="session")
def served_export(tmp_path_factory):
    """A tiny trained export (latent_dim 8, 10 classes) shared by the serving tests."""
    return _build_served_export(str(tmp_path_factory.mktemp("served") / "export"))
