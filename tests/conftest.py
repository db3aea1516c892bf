"""Shared fixtures: tiny data, tiny configs, real MNIST and the reference classifier."""

import os
import time

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_STARTED = time.time()  # This test process's start (each pytest -n worker has its own).

from helpers import (  # noqa: E402
    FIXTURE_MNIST,
    MnistUnavailable,
    make_tiny_gan,
    real_mnist_source,
    run_temp,
    tiny_train_config,
)


def _real_mnist_dir():
    """Where tests read real MNIST: `$KERAS_CGAN_MNIST_DIR`, else None (tensorflow-datasets).

    Fails the test with one line when neither source can serve it.
    """
    try:
        return real_mnist_source()
    except MnistUnavailable as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def real_mnist_dir():
    """The MNIST folder of `$KERAS_CGAN_MNIST_DIR`, or None: the package's default, tfds."""
    return _real_mnist_dir()


@pytest.fixture(scope="session")
def reference_classifier(tmp_path_factory):
    """The evaluation's reference classifier, trained once per test run on real MNIST.

    Trained into a cache root that is new for each run (`.cache_root`, the
    folder `reference_classifier` of the run's base temporary folder; the time
    taken is `.load_seconds`), so the suite checks the training itself rather
    than a cache left by an earlier run (`.trained_this_run`). The first
    `pytest -n` worker to need it trains it while the others wait on a lock,
    then load it. CI's wheel check then evaluates with it (`.ci/run`).
    """
    import datetime
    import fcntl

    from keras_cgan import classifier

    root = str(run_temp(tmp_path_factory) / "reference_classifier")
    start = time.perf_counter()
    with open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = classifier.load_or_train(root, mnist_dir=_real_mnist_dir())
    created = datetime.datetime.strptime(result.info["created"], "%Y-%m-%dT%H:%M:%S%z")
    result.trained_this_run = result.trained or created.timestamp() >= _STARTED - 1
    result.cache_root = root
    result.load_seconds = time.perf_counter() - start
    return result


@pytest.fixture
def small_mnist_dir():
    """The committed 300/100-example IDX fixture."""
    return FIXTURE_MNIST


@pytest.fixture
def tiny_config(tmp_path):
    return tiny_train_config(tmp_path / "run")


def _build_served_export(directory):
    """A tiny generator, trained a few steps on the committed fixture, exported."""
    import numpy as np

    from keras_cgan import export, mnist_files
    from keras_cgan.config import TrainConfig

    gan = make_tiny_gan(latent_dim=8, hidden_units=16, seed=2)
    images, labels = mnist_files.load(FIXTURE_MNIST, "train")
    gan.fit(x=(images[:64], labels[:64].astype(np.int32)), batch_size=16, epochs=1, verbose=0)
    config = TrainConfig(epochs=1, batch_size=16, latent_dim=8, hidden_units=16, seed=2)
    return export.export_generator(gan, directory, config)


@pytest.fixture(scope="session")
def served_export(tmp_path_factory):
    """A tiny trained export (latent_dim 8, 10 classes) shared by the serving tests."""
    return _build_served_export(str(tmp_path_factory.mktemp("served") / "export"))


@pytest.fixture(scope="session")
def no_tensorflow_env(tmp_path_factory):
    """`run_cli` env_extra under which `import tensorflow` fails.

    A tool run with it proves that it refused its input before TensorFlow
    loaded: a `tensorflow` package that raises on import shadows the real one.
    """
    root = tmp_path_factory.mktemp("no_tensorflow")
    (root / "tensorflow").mkdir()
    (root / "tensorflow" / "__init__.py").write_text(
        'raise ImportError("this test forbids importing tensorflow")\n'
    )
    return {"PYTHONPATH": str(root)}
