"""The MNIST pipeline: local IDX/npz, tfds (mocked), batching and errors."""

import gzip
import os
import shutil
import socket
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_cgan import data, mnist_files, perf, tfds_source
from keras_cgan.errors import DataError


def test_fixture_idx_loads(small_mnist_dir):
    images, labels = mnist_files.load(small_mnist_dir, "train")
    assert images.shape == (300, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (300,) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
    # The first training label of MNIST is a 5, the second a 0.
    assert list(labels[:5]) == [5, 0, 4, 1, 9]
    test_images, test_labels = mnist_files.load(small_mnist_dir, "test")
    assert test_images.shape == (100, 28, 28, 1) and list(test_labels[:3]) == [7, 2, 1]


def test_fixture_is_a_prefix_of_real_mnist(small_mnist_dir, real_mnist_dir):
    small, small_labels = mnist_files.load(small_mnist_dir, "train")
    full, full_labels = data.load_mnist("train", mnist_dir=real_mnist_dir)
    assert full.shape == (60000, 28, 28, 1)
    np.testing.assert_array_equal(small, full[:300])
    np.testing.assert_array_equal(small_labels, full_labels[:300])


def test_uncompressed_idx_and_npz_match(small_mnist_dir, tmp_path):
    images, labels = mnist_files.load(small_mnist_dir, "train")
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    for name in os.listdir(small_mnist_dir):
        with gzip.open(os.path.join(small_mnist_dir, name)) as src:
            (raw_dir / name[: -len(".gz")]).write_bytes(src.read())
    raw_images, raw_labels = mnist_files.load(str(raw_dir), "train")
    np.testing.assert_array_equal(raw_images, images)
    np.testing.assert_array_equal(raw_labels, labels)

    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    test_images, test_labels = mnist_files.load(small_mnist_dir, "test")
    np.savez(
        npz_dir / "mnist.npz",
        x_train=images[..., 0],
        y_train=labels,
        x_test=test_images[..., 0],
        y_test=test_labels,
    )
    npz_images, npz_labels = mnist_files.load(str(npz_dir), "train")
    np.testing.assert_array_equal(npz_images, images)
    np.testing.assert_array_equal(npz_labels, labels)


def test_env_variable_is_the_default_source(small_mnist_dir, monkeypatch):
    monkeypatch.setenv("KERAS_CGAN_MNIST_DIR", small_mnist_dir)
    images, _ = data.load_mnist("test", num_examples=7)
    assert images.shape == (7, 28, 28, 1)


def _indexed_arrays(n):
    """Images whose every pixel holds the example's index; label = index % 10."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 28, 28, 1))
    return np.ascontiguousarray(images), (np.arange(n) % 10).astype(np.uint8)


def _indices(batch_images):
    return np.rint(batch_images[:, 0, 0, 0] * 255).astype(int)


def test_batches_are_float_in_range_with_correct_one_hot():
    images, labels = _indexed_arrays(100)
    ds = data.make_dataset(images, labels, batch_size=16, seed=3)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 6  # 100 // 16, remainder dropped.
    seen = []
    for x, y in batches:
        assert x.shape == (16, 28, 28, 1) and x.dtype == np.float32
        assert y.shape == (16, 10) and y.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0
        idx = _indices(x)
        np.testing.assert_array_equal(y, np.eye(10, dtype=np.float32)[idx % 10])
        seen.extend(idx)
    assert len(set(seen)) == 96  # No example twice within an epoch.
    assert seen != sorted(seen)  # Shuffled.


def test_reshuffles_each_iteration_and_is_seeded():
    images, labels = _indexed_arrays(64)
    ds = data.make_dataset(images, labels, batch_size=64, seed=5)
    first = _indices(next(iter(ds))[0].numpy())
    second = _indices(next(iter(ds))[0].numpy())
    assert not np.array_equal(first, second)
    again = data.make_dataset(images, labels, batch_size=64, seed=5)
    np.testing.assert_array_equal(_indices(next(iter(again))[0].numpy()), first)


def test_epoch_range_order_depends_only_on_seed_and_epoch():
    images, labels = _indexed_arrays(48)
    full = [
        _indices(x)
        for x, _ in data.make_dataset(images, labels, 16, seed=7, epochs=(0, 3)).as_numpy_iterator()
    ]
    resumed = [
        _indices(x)
        for x, _ in data.make_dataset(images, labels, 16, seed=7, epochs=(1, 3)).as_numpy_iterator()
    ]
    assert len(full) == 9 and len(resumed) == 6
    for a, b in zip(full[3:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    epoch0, epoch1 = np.concatenate(full[:3]), np.concatenate(full[3:6])
    assert sorted(epoch0) == sorted(epoch1) == list(range(48))
    assert not np.array_equal(epoch0, epoch1)
    other = [
        _indices(x)
        for x, _ in data.make_dataset(images, labels, 16, seed=8, epochs=(0, 1)).as_numpy_iterator()
    ]
    assert not np.array_equal(np.concatenate(other), epoch0)


def test_unshuffled_keeps_order():
    images, labels = _indexed_arrays(32)
    x, _ = next(iter(data.make_dataset(images, labels, 32, shuffle=False)))
    np.testing.assert_array_equal(_indices(x.numpy()), np.arange(32))


def test_batch_larger_than_data_is_a_clear_error():
    images, labels = _indexed_arrays(10)
    with pytest.raises(DataError, match="batch_size 64 is larger than the 10 examples"):
        data.make_dataset(images, labels, 64)


def test_mnist_dataset_tfds_path_with_mock_data(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.delenv("KERAS_CGAN_MNIST_DIR", raising=False)  # Else it reads the folder.

    with tfds.testing.mock_data(num_examples=40):
        ds = data.mnist_dataset("train", batch_size=8, mnist_dir="", seed=0, stack=1, raw=False)
        x, y = next(iter(ds))
    assert x.shape == (8, 28, 28, 1) and x.dtype == tf.float32
    assert y.shape == (8, 10)
    np.testing.assert_allclose(tf.reduce_sum(y, axis=1).numpy(), 1.0)
    assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0


def test_tfds_failure_says_how_to_use_a_local_copy(monkeypatch):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'\nmore detail")

    monkeypatch.delenv("KERAS_CGAN_MNIST_DIR", raising=False)
    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError) as info:
        data.load_mnist("train")
    message = str(info.value)
    assert "\n" not in message
    assert "--mnist_dir" in message and "ConnectionError" in message


def test_the_real_tfds_builder_runs_up_to_the_download(tmp_path, monkeypatch):
    """The default source's own code, not `mock_data`: a missing dependency of
    the tfds builder (it imports `importlib_resources`) fails here, offline."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("mnist", data_dir=str(tmp_path))
    assert os.path.isfile(os.fspath(builder.code_path))
    assert builder.info.features["label"].num_classes == 10
    assert tuple(builder.info.features["image"].shape) == (28, 28, 1)

    downloads = []

    def offline(self, url_or_urls):
        downloads.append(url_or_urls)
        raise ConnectionError("no network in this test")

    monkeypatch.setattr(tfds.download.DownloadManager, "download", offline)
    monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract", offline)
    with pytest.raises(DataError, match=r"ConnectionError: no network in this test\); for offline"):
        data.load_tfds_mnist("train", data_dir=str(tmp_path))
    assert downloads, "the loader stopped before the download"


@pytest.mark.parametrize(
    "load, fix",
    [
        (lambda d: data.load_tfds_mnist("train", data_dir=d), "--mnist_dir"),
        (lambda d: tfds_source.load("cifar10", "train", data_dir=d), "--tfds_data_dir"),
    ],
    ids=["mnist", "cifar10"],
)
def test_offline_the_download_fails_at_once_not_after_ten_retries(load, fix, monkeypatch, tmp_path):
    """No name resolves: tensorflow-datasets would retry each file ten times
    with backoff (about 3.5 minutes); offline it tries each file once."""
    from tensorflow_datasets.core.download import downloader

    lookups = []

    def no_dns(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    for var in tfds_source._PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    retries = downloader.MAX_RETRIES
    with pytest.raises(DataError, match=rf"NameResolutionError.*; for offline use pass {fix}"):
        load(str(tmp_path))
    tries = len(lookups) - 1  # The first is the offline probe.
    assert 1 <= tries <= 4, f"{tries} connection attempts for at most four files"
    assert downloader.MAX_RETRIES == retries  # Restored for later downloads.


def test_missing_tfds_module_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(DataError, match="--mnist_dir"):
        data.load_tfds_mnist("train")


def _corrupt_copy(src_dir, dst_dir, name, payload):
    shutil.copytree(src_dir, dst_dir)
    path = os.path.join(dst_dir, name)
    with open(path, "wb") as f:
        f.write(payload)
    return path


def _gz(raw):
    # mtime=0: the same bytes in every process, so parallel test workers
    # collect the same parametrized tests (pytest-xdist requires it).
    return gzip.compress(raw, mtime=0)


@pytest.mark.parametrize(
    "name, payload, expected",
    [
        ("train-images-idx3-ubyte.gz", b"not gzip at all", "cannot read MNIST file"),
        ("train-images-idx3-ubyte.gz", _gz(b"\x00\x00\x08"), "truncated"),
        (
            "train-images-idx3-ubyte.gz",
            _gz(
                b"\x00\x00\x08\x03\x00\x00\x01\x2c\x00\x00\x00\x1c\x00\x00\x00\x1c" + b"\x00" * 100
            ),
            "truncated or padded",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            _gz(b"\x00\x00\x09\x99\x00\x00\x01\x2c" + b"\x00" * 300),
            "magic number 2457",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            _gz(b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 5),
            "300 images but",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            _gz(b"\x00\x00\x08\x01\x00\x00\x01\x2c" + b"\x0c" * 300),
            "go up to 12",
        ),
    ],
)
def test_corrupt_files_are_named_in_one_line(small_mnist_dir, tmp_path, name, payload, expected):
    path = _corrupt_copy(small_mnist_dir, tmp_path / "mnist", name, payload)
    with pytest.raises(DataError) as info:
        mnist_files.load(str(tmp_path / "mnist"), "train")
    message = str(info.value)
    assert expected in message and "\n" not in message
    assert os.path.basename(path) in message or "train-" in message


def test_missing_file_and_folder(small_mnist_dir, tmp_path):
    shutil.copytree(small_mnist_dir, tmp_path / "m")
    os.remove(tmp_path / "m" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="not found: .*train-labels-idx1-ubyte"):
        mnist_files.load(str(tmp_path / "m"), "train")
    with pytest.raises(DataError, match="folder not found"):
        mnist_files.load(str(tmp_path / "nowhere"), "train")
    with pytest.raises(DataError, match="unknown MNIST split"):
        mnist_files.load(small_mnist_dir, "validation")


def test_npz_without_arrays_is_a_clear_error(tmp_path):
    np.savez(tmp_path / "mnist.npz", something=np.zeros(3))
    with pytest.raises(DataError, match="lacks array 'x_train'"):
        mnist_files.load(str(tmp_path), "train")
    (tmp_path / "mnist.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read MNIST file"):
        mnist_files.load(str(tmp_path), "train")


def test_training_pipeline_turns_tf_data_autotuning_off():
    # Its background thread made deleting the iterator at the end of `fit`
    # block for ~4 s; the pipeline needs no tuning (README, Performance).
    images = np.zeros((32, 28, 28, 1), np.uint8)
    labels = np.arange(32) % 10
    tuned = data.make_dataset(images, labels, 8)
    assert tuned.options().autotune.enabled is not False
    ds = data.make_dataset(images, labels, 8, **perf.PIPELINE)
    assert ds.options().autotune.enabled is False
    assert sum(1 for _ in ds) == 4
