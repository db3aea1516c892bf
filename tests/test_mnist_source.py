"""Where the tests read real MNIST: the variable when set, else tensorflow-datasets.

CI sets KERAS_CGAN_MNIST_DIR; a contributor online may leave it unset and the
tests use the package's default source; offline with neither, each such test
fails with one line that says what to set.
"""

import socket

import pytest

import conftest
import helpers
from helpers import MNIST_ENV, MnistUnavailable, real_mnist_source
from keras_cgan import data


def test_the_variable_names_the_folder(monkeypatch, small_mnist_dir):
    monkeypatch.setenv(MNIST_ENV, small_mnist_dir)
    assert real_mnist_source() == small_mnist_dir


def test_a_variable_naming_no_folder_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv(MNIST_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(MnistUnavailable, match="is not a folder") as info:
        real_mnist_source()
    assert "\n" not in str(info.value)


def test_unset_reads_tensorflow_datasets(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.delenv(MNIST_ENV, raising=False)
    monkeypatch.setattr(helpers, "_tfds_mnist_reachable", lambda: True)
    source = conftest._real_mnist_dir()
    assert source is None
    with tfds.testing.mock_data(num_examples=40):
        images, labels = data.load_mnist("train", mnist_dir=source)
    assert images.shape == (40, 28, 28, 1) and labels.shape == (40,)
    assert helpers.mnist_env(source) == {} and helpers.mnist_flags(source) == []


def test_offline_with_neither_fails_the_test_with_one_line(monkeypatch):
    monkeypatch.delenv(MNIST_ENV, raising=False)
    monkeypatch.setattr(helpers, "_tfds_mnist_reachable", lambda: False)
    with pytest.raises(pytest.fail.Exception) as info:
        conftest._real_mnist_dir()
    message = str(info.value)
    assert "\n" not in message and f"set {MNIST_ENV} to a folder" in message


def test_tfds_reachability_offline(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    class NotPrepared:
        def is_prepared(self):
            return False

    def refused(*args, **kwargs):
        raise OSError("network is unreachable")

    helpers._tfds_mnist_reachable.cache_clear()
    monkeypatch.setattr(tfds, "builder", lambda name: NotPrepared())
    monkeypatch.setattr(socket, "create_connection", refused)
    try:
        assert helpers._tfds_mnist_reachable() is False
    finally:
        helpers._tfds_mnist_reachable.cache_clear()
