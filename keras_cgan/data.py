"""The input pipeline, and MNIST's files.

`make_dataset` batches any in-memory images (uint8 `[N, H, W, C]`; the
sources of every dataset are in `keras_cgan.datasets`). MNIST comes from one
of two sources, both reduced to the same in-memory arrays:

* a local folder (`mnist_dir`, or the `KERAS_CGAN_MNIST_DIR` environment
  variable) holding the four standard IDX files (gzipped or not) or Keras'
  `mnist.npz`;
* tensorflow-datasets' `mnist` (downloads on first use; `tfds_data_dir`).

`make_dataset` turns the arrays into a `tf.data` pipeline of
`(images, one_hot_labels)` batches: the uint8 images stay in memory (the
cache), each batch is a vectorised gather of shuffled indices, converted to
float32 in [0, 1] and one-hot encoded, then prefetched. Training runs ask for
stacks of K batches of raw uint8 pixels and integer labels instead
(`stack=K, raw=True`), which the compiled train step converts and loops over.
"""

import gzip
import os
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from keras_cgan.config import DEFAULT_STEPS_PER_EXECUTION, MNIST_DIR_ENV
from keras_cgan.errors import DataError
from keras_cgan.perf import PIPELINE

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
SPLITS = ("train", "test")

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (optionally gzipped) into a uint8 array.

    Args:
        path: An `*-idx3-ubyte` (images) or `*-idx1-ubyte` (labels) file, plain
            or `.gz`.

    Returns:
        uint8 array: images `[N, 28, 28]` (magic 2051) or labels `[N]` (magic
        2049).

    Raises:
        DataError: the file is missing, truncated, not gzip when named `.gz`, or
            has a wrong magic number or shape.
    """
    if not os.path.isfile(path):
        raise DataError(f"MNIST file not found: {path}")
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(
            f"cannot read MNIST file {path} ({e}): replace it with the original"
        ) from None
    if len(raw) < 8:
        raise DataError(f"MNIST file {path} is truncated (only {len(raw)} bytes)")
    magic, count = np.frombuffer(raw[:8], dtype=">i4")
    if magic == _IMAGES_MAGIC:
        if len(raw) < 16:
            raise DataError(f"MNIST file {path} is truncated (header incomplete)")
        rows, cols = np.frombuffer(raw[8:16], dtype=">i4")
        if (rows, cols) != IMAGE_SHAPE[:2]:
            raise DataError(f"MNIST file {path} holds {rows}x{cols} images, expected 28x28")
        shape, offset = (count, rows, cols), 16
    elif magic == _LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(
            f"MNIST file {path} has magic number {magic}, expected "
            f"{_IMAGES_MAGIC} (images) or {_LABELS_MAGIC} (labels): not an IDX file"
        )
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise DataError(
            f"MNIST file {path} is truncated or padded: header promises "
            f"{expected} bytes of data, found {len(raw) - offset}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def _find_idx(directory: str, stem: str) -> Optional[str]:
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def load_local_mnist(directory: str, split: str = "train") -> Tuple[np.ndarray, np.ndarray]:
    """Loads a split of MNIST from a local folder.

    The folder holds the four standard IDX files (`train-images-idx3-ubyte`,
    ..., each plain or `.gz`) or, failing that, Keras' `mnist.npz`.

    Args:
        directory: The folder.
        split: "train" or "test".

    Returns:
        `(images, labels)`: uint8 `[N, 28, 28, 1]` in 0..255 and uint8 `[N]`
        in 0..9.

    Raises:
        DataError: the folder or a file is missing or unreadable.
    """
    _check_split(split)
    if not os.path.isdir(directory):
        raise DataError(
            f"MNIST folder not found: {directory} (pass --mnist_dir=DIR holding "
            "the four IDX files or mnist.npz)"
        )
    images_stem, labels_stem = _IDX_FILES[split]
    images_path = _find_idx(directory, images_stem)
    labels_path = _find_idx(directory, labels_stem)
    npz_path = os.path.join(directory, "mnist.npz")
    if images_path is None and labels_path is None and os.path.isfile(npz_path):
        return _load_npz(npz_path, split)
    for stem, path in ((images_stem, images_path), (labels_stem, labels_path)):
        if path is None:
            raise DataError(
                f"MNIST file not found: {os.path.join(directory, stem)}[.gz] "
                "(the folder needs the four IDX files or mnist.npz)"
            )
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"MNIST file {images_path} holds labels, not images")
    if labels.ndim != 1:
        raise DataError(f"MNIST file {labels_path} holds images, not labels")
    if len(images) != len(labels):
        raise DataError(
            f"MNIST files disagree: {images_path} has {len(images)} images but "
            f"{labels_path} has {len(labels)} labels"
        )
    return _checked(images[..., None], labels, labels_path)


def _load_npz(path: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path) as f:
            missing = [k for k in (f"x_{split}", f"y_{split}") if k not in f.files]
            if missing:
                raise DataError(
                    f"MNIST file {path} lacks array '{missing[0]}': not Keras' mnist.npz"
                )
            images, labels = f[f"x_{split}"], f[f"y_{split}"]
    except DataError:
        raise
    except Exception as e:  # zipfile, pickle and OS errors all mean "corrupt".
        raise DataError(f"cannot read MNIST file {path} ({type(e).__name__}: {e})") from None
    if images.shape[1:] != IMAGE_SHAPE[:2] or len(images) != len(labels):
        raise DataError(
            f"MNIST file {path} has images {images.shape} and labels "
            f"{labels.shape}, expected [N, 28, 28] and [N]"
        )
    return _checked(images.astype(np.uint8)[..., None], labels.astype(np.uint8), path)


def load_local_npz(directory: str, split: str, name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Loads a split of an MNIST-format dataset from `<directory>/<name>.npz`.

    Args:
        directory: The folder.
        split: "train" or "test".
        name: The dataset's name, e.g. "fashion_mnist" (the file's stem).

    Returns:
        `(images, labels)`: uint8 `[N, 28, 28, 1]` and uint8 `[N]`.

    Raises:
        DataError: neither the four IDX files nor the .npz are there.
    """
    _check_split(split)
    path = os.path.join(directory, f"{name}.npz")
    if not os.path.isfile(path):
        raise DataError(
            f"no {name} files in {directory}: --data_dir needs the four IDX files "
            f"(train-images-idx3-ubyte[.gz], ...) or {name}.npz"
        )
    return _load_npz(path, split)


def _checked(images, labels, path):
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise DataError(f"MNIST labels in {path} go up to {labels.max()}, expected 0..9")
    return images, labels


def load_tfds_mnist(split: str = "train", data_dir: Optional[str] = None):
    """Loads a split of MNIST through tensorflow-datasets.

    Args:
        split: "train" or "test".
        data_dir: tensorflow-datasets data directory (None = its default).

    Returns:
        `(images, labels)` as in `load_local_mnist`.

    Raises:
        DataError: tensorflow-datasets is missing or failed (offline, bad
            `data_dir`, ...); the message says how to use a local copy instead.
    """
    _check_split(split)
    try:
        import tensorflow_datasets as tfds

        dataset = tfds.load("mnist", split=split, as_supervised=True, data_dir=data_dir)
        # Batches, not batch_size=-1: its single-element read aborts the
        # process under tfds' mock_data with this TensorFlow.
        parts = list(tfds.as_numpy(dataset.batch(8192)))
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
    except Exception as e:  # Any failure: the remedy is the same.
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise DataError(
            f"could not load MNIST with tensorflow-datasets ({type(e).__name__}: "
            f"{reason}); for offline use pass --mnist_dir=DIR (or set "
            f"{MNIST_DIR_ENV}) to a folder with the four MNIST IDX files or mnist.npz"
        ) from None
    return _checked(
        images.astype(np.uint8).reshape((-1,) + IMAGE_SHAPE), labels.astype(np.uint8), "tfds mnist"
    )


def load_mnist(
    split: str = "train",
    *,
    mnist_dir: Optional[str] = None,
    tfds_data_dir: Optional[str] = None,
    num_examples: int = 0,
):
    """Loads a split of MNIST from a local folder or tensorflow-datasets.

    Args:
        split: "train" or "test".
        mnist_dir: Local folder (see `load_local_mnist`). None falls back to the
            `KERAS_CGAN_MNIST_DIR` environment variable, then to
            tensorflow-datasets.
        tfds_data_dir: tensorflow-datasets data directory.
        num_examples: Keep only the first N examples (0 = all).

    Returns:
        `(images, labels)`: uint8 `[N, 28, 28, 1]` in 0..255 and uint8 `[N]`.
    """
    mnist_dir = mnist_dir or os.environ.get(MNIST_DIR_ENV) or None
    if mnist_dir:
        images, labels = load_local_mnist(mnist_dir, split)
    else:
        images, labels = load_tfds_mnist(split, tfds_data_dir)
    if num_examples:
        images, labels = images[:num_examples], labels[:num_examples]
    return images, labels


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epochs: Optional[Tuple[int, int]] = None,
    skip_batches: int = 0,
    replica_slice: Optional[Tuple[int, int, int]] = None,
    num_classes: int = NUM_CLASSES,
    stack: int = 1,
    raw: bool = False,
    parallel: bool = True,
    prefetch: int = -1,
    autotune: bool = True,
) -> tf.data.Dataset:
    """Builds the batched `tf.data` pipeline from in-memory image arrays.

    Two modes:

    * `epochs=None`: one pass over the data per iteration of the dataset,
      reshuffled on each iteration (what `model.fit(ds, epochs=E)` expects).
    * `epochs=(start, end)`: the passes for epochs `start..end-1` back to back;
      the order of epoch `e` is a pure function of `(seed, e)`, so a run resumed
      at epoch `start` sees exactly the batches of an uninterrupted run. Use
      with `fit(steps_per_epoch=steps_per_epoch(len(images), batch_size, stack))`.

    Incomplete final batches are dropped. The uint8 images stay in memory; each
    element is one vectorised gather of shuffled indices (then, unless `raw`,
    a cast to float32 / 255 and a one-hot encoding), mapped in parallel and
    prefetched.

    Args:
        images: uint8 `[N, H, W, C]` in 0..255 (MNIST: `[N, 28, 28, 1]`).
        labels: integer `[N]` in `0..num_classes-1`.
        batch_size: Examples per batch (<= N).
        shuffle: Shuffle the order within each epoch.
        seed: Seed of the shuffle.
        epochs: None, or the half-open epoch range `(start, end)`.
        skip_batches: Leave out the first batches (of epoch `start`): a run
            resumed mid-epoch does not see batches it already trained on.
        replica_slice: For a multi-worker input pipeline, `(first, count,
            replicas)`: each global batch is cut into `replicas` equal slices
            and the dataset yields slices `first .. first+count-1` of every
            batch in turn (one element per local replica).
        num_classes: Depth of the one-hot labels.
        stack: Batches per element: `stack > 1` yields stacks of up to `stack`
            consecutive batches (the last stack of an epoch may be shorter; a
            stack never spans two epochs) that `ConditionalGAN` trains as that
            many steps in one compiled call.
        raw: Yield uint8 images in 0..255 and int32 class ids instead of
            float32 images in [0, 1] and one-hot labels; `ConditionalGAN`
            converts them in its (compiled) train step.
        parallel: Map elements on tf.data's parallel threads (else inline).
        prefetch: Elements to prefetch; -1 lets tf.data tune it, 0 disables.
        autotune: Leave tf.data's autotuning on (its default). Training runs
            turn it off: its background thread made deleting the iterator at
            the end of `fit` block for ~4 s in most runs of the conv presets,
            and the pipeline is >100x faster than training anyway.

    Returns:
        A dataset of `(images, labels)`: float32 `[B, H, W, C]` in [0, 1] and
        one-hot float32 `[B, num_classes]` (`raw`: uint8 `[B, H, W, C]` and
        int32 `[B]`); with `stack > 1`, each with a leading `[<=stack]` axis.
    """
    n = len(images)
    if len(labels) != n:
        raise DataError(f"{n} images but {len(labels)} labels")
    if batch_size > n:
        raise DataError(
            f"batch_size {batch_size} is larger than the {n} examples available: "
            "lower --batch_size or use more examples"
        )
    if stack < 1:
        raise DataError(f"stack must be >= 1, got {stack}")
    steps = n // batch_size
    images_t = tf.constant(images, dtype=tf.uint8)
    labels_t = tf.constant(labels, dtype=tf.int32)
    seed = int(seed) % (2**31)

    def stacked(batches):
        return batches.batch(stack) if stack > 1 else batches

    def replica_slices(batches):
        if replica_slice is None:
            return batches
        first, count, replicas = replica_slice
        per_replica = batch_size // replicas

        def slices(idx):
            rows = tf.reshape(idx, [replicas, per_replica])[first : first + count]
            return tf.data.Dataset.from_tensor_slices(rows)

        return batches.flat_map(slices)

    start, end = epochs if epochs is not None else (0, None)

    def epoch_batches(epoch):
        # One vectorised shuffle of all indices per epoch: Dataset.shuffle
        # would pass them through its buffer one by one (~0.2 s of CPU per
        # epoch of 60,000 examples, taken from training on a small machine).
        order = tf.range(n, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(
                order, seed=tf.stack([tf.constant(seed, tf.int64), epoch])
            )
        order = tf.reshape(order[: steps * batch_size], [steps, batch_size])
        batches = tf.data.Dataset.from_tensor_slices(order)
        if skip_batches:  # Only the first epoch of the range was partly trained.
            batches = batches.skip(tf.where(epoch == start, tf.constant(skip_batches, tf.int64), 0))
        return stacked(replica_slices(batches))

    if epochs is None:
        if skip_batches or replica_slice is not None:
            raise DataError("skip_batches and replica_slice need an epochs=(start, end) range")
        # Each pass over the dataset draws a fresh shuffle key.
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        batches = keys.flat_map(epoch_batches).apply(
            tf.data.experimental.assert_cardinality(steps_per_epoch(n, batch_size, stack))
        )
    else:
        batches = tf.data.Dataset.range(start, end).flat_map(epoch_batches)

    def to_example(idx):
        x = tf.gather(images_t, idx)
        y = tf.gather(labels_t, idx)
        if raw:
            return x, y
        return tf.cast(x, tf.float32) / 255.0, tf.one_hot(y, num_classes, dtype=tf.float32)

    dataset = batches.map(to_example, num_parallel_calls=tf.data.AUTOTUNE if parallel else None)
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE if prefetch < 0 else prefetch)
    if not autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        dataset = dataset.with_options(options)
    return dataset


def steps_per_epoch(num_examples: int, batch_size: int, stack: int = 1) -> int:
    """Elements per epoch of `make_dataset(..., stack=stack)`: ceil(steps / stack)."""
    steps = num_examples // batch_size
    return -(-steps // stack)


def mnist_dataset(
    split: str = "train",
    batch_size: int = 64,
    *,
    mnist_dir: Optional[str] = None,
    tfds_data_dir: Optional[str] = None,
    shuffle: bool = True,
    seed: int = 0,
    num_examples: int = 0,
    stack: Optional[int] = None,
    raw: bool = True,
) -> tf.data.Dataset:
    """MNIST as a reshuffling `tf.data` pipeline for `ConditionalGAN.fit`.

    By default it feeds `fit` the way the command line does: each element
    stacks up to `DEFAULT_STEPS_PER_EXECUTION` (200) consecutive batches of
    raw uint8 pixels and integer labels, which `ConditionalGAN` trains as that
    many steps in one compiled call, converting them inside the step, with
    the pipeline options of `keras_cgan.perf.PIPELINE`. Keras therefore
    counts elements, not batches: an epoch of 60,000 examples at batch 64 is
    937 steps in 5 elements (the progress bar shows 5; `steps_per_epoch`,
    if given, counts elements), the last stack holding the 137 batches left.
    A stack never spans two epochs; the incomplete last batch is dropped.

    For one batch per element of float32 images and one-hot labels (to look
    at the data, or for another model), pass `stack=1, raw=False`.

    Args:
        split: "train" or "test".
        batch_size: Examples per batch.
        mnist_dir: Local MNIST folder; None falls back to `KERAS_CGAN_MNIST_DIR`,
            then tensorflow-datasets.
        tfds_data_dir: tensorflow-datasets data directory.
        shuffle: Reshuffle on every pass.
        seed: Seed of the shuffle.
        num_examples: Keep only the first N examples (0 = all).
        stack: Batches per element (>= 1). None: `DEFAULT_STEPS_PER_EXECUTION`,
            or 1 when called inside the scope of a multi-replica
            `tf.distribute` strategy (which would split a stack between its
            replicas).
        raw: Yield uint8 pixels and int32 class ids (converted by the train
            step) instead of float32 images and one-hot labels.

    Returns:
        A dataset of `(images, labels)`. With `stack=K > 1`: uint8
        `[<=K, B, 28, 28, 1]` in 0..255 and int32 `[<=K, B]` in 0..9 (`raw`),
        or float32 `[<=K, B, 28, 28, 1]` in [0, 1] and one-hot float32
        `[<=K, B, 10]`. With `stack=1`: the same without the leading axis.
    """
    if stack is None:
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        stack = 1 if replicas > 1 else DEFAULT_STEPS_PER_EXECUTION
    images, labels = load_mnist(
        split, mnist_dir=mnist_dir, tfds_data_dir=tfds_data_dir, num_examples=num_examples
    )
    return make_dataset(
        images,
        labels,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        stack=stack,
        **{**PIPELINE, "raw": raw},
    )


def _check_split(split):
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}: use 'train' or 'test'")
