"""The input pipeline, and where MNIST comes from.

`make_dataset` batches any in-memory images (uint8 `[N, H, W, C]`; the
sources of every dataset are in `keras_cgan.datasets`). MNIST comes from one
of two sources, both reduced to the same in-memory arrays:

* a local folder (`mnist_dir`, or the `KERAS_CGAN_MNIST_DIR` environment
  variable) holding the four standard IDX files (gzipped or not) or Keras'
  `mnist.npz` (read by `keras_cgan.mnist_files`);
* tensorflow-datasets' `mnist` (downloads on first use; `tfds_data_dir`).

`make_dataset` turns the arrays into a `tf.data` pipeline of
`(images, one_hot_labels)` batches: the uint8 images stay in memory (the
cache), each batch is a vectorised gather of shuffled indices, converted to
float32 in [0, 1] and one-hot encoded, then prefetched. Training runs ask for
stacks of K batches of raw uint8 pixels and integer labels instead
(`stack=K, raw=True`), which the compiled train step converts and loops over.
"""

import os
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from keras_cgan import mnist_files, tfds_source
from keras_cgan.config import DEFAULT_STEPS_PER_EXECUTION, MNIST_DIR_ENV
from keras_cgan.errors import DataError
from keras_cgan.mnist_files import IMAGE_SHAPE, NUM_CLASSES, check_split, checked
from keras_cgan.perf import PIPELINE


def load_tfds_mnist(split: str = "train", data_dir: Optional[str] = None):
    """Loads a split of MNIST through tensorflow-datasets.

    Args:
        split: "train" or "test".
        data_dir: tensorflow-datasets data directory (None = its default).

    Returns:
        `(images, labels)` as in `mnist_files.load`.

    Raises:
        DataError: tensorflow-datasets is missing or failed (offline, bad
            `data_dir`, ...); the message says how to use a local copy instead.
    """
    check_split(split)
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder("mnist", data_dir=data_dir)
        tfds_source.prepare(builder)
        dataset = builder.as_dataset(split=split, as_supervised=True)
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
    return checked(
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
        mnist_dir: Local folder (see `mnist_files.load`). None falls back to the
            `KERAS_CGAN_MNIST_DIR` environment variable, then to
            tensorflow-datasets.
        tfds_data_dir: tensorflow-datasets data directory.
        num_examples: Keep only the first N examples (0 = all).

    Returns:
        `(images, labels)`: uint8 `[N, 28, 28, 1]` in 0..255 and uint8 `[N]`.
    """
    mnist_dir = mnist_dir or os.environ.get(MNIST_DIR_ENV) or None
    if mnist_dir:
        images, labels = mnist_files.load(mnist_dir, split)
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
