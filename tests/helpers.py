"""Shared test builders: tiny models and data, CLI runners, round trips, stand-ins.

Fixtures stay in conftest.py; everything a test builds or checks the same way
as other tests lives here (`from helpers import ...`).
"""

import functools
import os
import socket
import subprocess
import sys

import numpy as np

FIXTURE_MNIST = os.path.join(os.path.dirname(__file__), "fixtures", "mnist_small")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_ENV = "KERAS_CGAN_MNIST_DIR"


def tiny_train_config(workdir, **changes):
    """A `TrainConfig` of a tiny run on the committed fixture (2 epochs of 64 examples)."""
    from keras_cgan.config import TrainConfig

    settings = dict(
        epochs=2,
        batch_size=16,
        latent_dim=8,
        hidden_units=16,
        train_examples=64,
        mnist_dir=FIXTURE_MNIST,
        workdir=str(workdir),
        seed=1,
        verbose=0,
    )
    return TrainConfig(**{**settings, **changes})


class MnistUnavailable(Exception):
    """Neither $KERAS_CGAN_MNIST_DIR nor tensorflow-datasets can serve real MNIST."""


def real_mnist_source():
    """Where tests read real MNIST, as the package would.

    Returns:
        The folder named by `$KERAS_CGAN_MNIST_DIR` if set (CI, offline), else
        None: the package's default source, tensorflow-datasets (which
        downloads MNIST once).

    Raises:
        MnistUnavailable: the variable names no folder, or it is unset and
            tensorflow-datasets has no MNIST and cannot reach its server.
    """
    path = os.environ.get(MNIST_ENV)
    if path:
        if not os.path.isdir(path):
            raise MnistUnavailable(
                f"{MNIST_ENV}={path} is not a folder: point it at the MNIST files"
            )
        return path
    if not _tfds_mnist_reachable():
        raise MnistUnavailable(
            f"this test needs real MNIST: set {MNIST_ENV} to a folder with the four MNIST IDX "
            "files (offline), or let tensorflow-datasets download MNIST (online)"
        )
    return None


@functools.lru_cache(maxsize=None)
def _tfds_mnist_reachable():
    """Whether tfds has MNIST prepared or can reach its download server (checked once)."""
    import tensorflow_datasets as tfds

    if tfds.builder("mnist").is_prepared():
        return True
    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=5).close()
    except OSError:
        return False
    return True


def run_temp(tmp_path_factory):
    """The test run's base temporary folder, the same for every `pytest -n` worker.

    pytest-xdist gives each worker its own folder inside the run's one
    (`pytest-N/popen-gw0`); `pytest-current` points at the run's.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def mnist_env(mnist_dir):
    """Environment for a subprocess reading `mnist_dir` (None: tensorflow-datasets)."""
    return {MNIST_ENV: mnist_dir} if mnist_dir else {}


def mnist_flags(mnist_dir):
    """Command-line flags reading `mnist_dir` (None: none, the tools' default source)."""
    return [f"--mnist_dir={mnist_dir}"] if mnist_dir else []


def make_tiny_gan(
    arch="mlp",
    latent_dim=8,
    hidden_units=8,
    seed=1,
    d_lr=1e-3,
    g_lr=1e-3,
    ema_decay=None,
    noise_scale=1.0,
    **compile_kwargs,
):
    """A compiled ConditionalGAN with tiny networks (and an EMA generator if `ema_decay`).

    Without XLA unless `compile_kwargs` say otherwise: tests compare the fast
    settings against this plain reference (`compile`'s own default is "auto").
    """
    compile_kwargs.setdefault("jit_compile", False)
    import keras

    from keras_cgan import networks
    from keras_cgan.model import ConditionalGAN

    keras.utils.set_random_seed(seed)
    g, d = networks.build_networks(arch, latent_dim, 10, hidden_units, noise_scale=noise_scale)
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


def run_python(code, cwd, timeout=300):
    """Runs `python -c code` in a new process in `cwd`, with this checkout importable."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(module, *args, env_extra=None, timeout=300, cwd=REPO_ROOT):
    """Runs `python -m keras_cgan.<module> args...`; returns the CompletedProcess.

    `env_extra` entries set to None are removed from the environment.
    """
    env = dict(os.environ, **(env_extra or {}))
    env = {k: v for k, v in env.items() if v is not None}
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


def save_random_export(path, seed=0, latent_dim=6):
    """`save_tiny_export` with a random N(0, 1) kernel and zero bias: noise-like "digits"."""
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((latent_dim + 10, 784)).astype(np.float32)
    return save_tiny_export(path, kernel, np.zeros(784, np.float32), latent_dim)


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


def _optimizer_state(optimizer):
    return {v.path: np.array(v) for v in optimizer.variables}


def round_trip(gan, tmp_path, export=False):
    """Saves `gan` to a `.keras` file and loads it back, checking that nothing is lost.

    Checks the class and constructor settings, every variable (networks, EMA
    generator, BatchNorm statistics), both optimizers' state and iteration
    counts, the loss, and that both models draw the same images. With
    `export`, also exports the generator and checks that the SavedModel draws
    the same images.

    Returns:
        The loaded `ConditionalGAN` (and the `ExportedGenerator` with `export`).
    """
    import keras

    from keras_cgan import export as export_lib
    from keras_cgan.model import ConditionalGAN

    path = os.path.join(str(tmp_path), "round_trip.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ConditionalGAN)
    for key in ("latent_dim", "num_classes", "ema_decay", "seed"):
        assert loaded.get_config()[key] == gan.get_config()[key], key
    for a, b in zip(gan.variables, loaded.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=a.path)
    for name in ("d_optimizer", "g_optimizer"):
        before, after = (
            _optimizer_state(getattr(gan, name)),
            _optimizer_state(getattr(loaded, name)),
        )
        assert before.keys() == after.keys(), name
        for key in before:
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)
    assert type(loaded.loss_fn) is type(gan.loss_fn)
    probe = np.random.default_rng(1).standard_normal((10, gan.latent_dim)).astype("float32")
    expected = gan.generate(range(10), noise=probe)
    np.testing.assert_array_equal(expected, loaded.generate(range(10), noise=probe))
    if not export:
        return loaded
    out = export_lib.export_generator(gan, os.path.join(str(tmp_path), "round_trip_export"))
    served = export_lib.ExportedGenerator(out)
    np.testing.assert_allclose(served.generate(range(10), noise=probe), expected, atol=1e-6)
    return loaded, served
