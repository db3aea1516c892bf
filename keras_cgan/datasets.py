"""Labelled image datasets: where the images come from, reduced to one record.

`--dataset` names the source:

* `mnist` (the default), `fashion_mnist`, `kmnist`: local IDX files (or an
  `.npz` of `x_train`/`y_train`/`x_test`/`y_test`) in `--data_dir` (for MNIST
  also `--mnist_dir` / `$KERAS_CGAN_MNIST_DIR`), else tensorflow-datasets;
* any other tensorflow-datasets image classification dataset with `image` and
  `label` features, e.g. `cifar10` or `emnist/balanced` (downloads on first use
  into `--tfds_data_dir`);
* `folder:PATH`: one subfolder of PATH per class (`keras_cgan.folders`).

Every source gives a `Dataset`: uint8 images `[N, H, W, C]`, integer labels
and the class names. MNIST from its IDX files is the same arrays, in the same
order, as before datasets were a choice, so its runs are unchanged.
`load_dataset(source, split)` loads the "train" or "test" split; a dataset
without a test split (a folder) holds out a fixed `eval_holdout` fraction of
each class for it, and trains on the rest.
"""

import dataclasses
import os
from typing import Optional, Tuple

import numpy as np

from keras_cgan import mnist_files
from keras_cgan.config import MNIST_DIR_ENV
from keras_cgan.errors import DataError
from keras_cgan.mnist_files import SPLITS

FOLDER_PREFIX = "folder:"
# Datasets whose local copies use MNIST's file format (IDX files, or an .npz).
IDX_DATASETS = ("mnist", "fashion_mnist", "kmnist")
KNOWN_CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    # tensorflow-datasets learns these from the download.
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}
_HOLDOUT_SEED = 0  # The held-out part of a folder never depends on the run's seed.


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One split of a labelled image dataset, in memory.

    Attributes:
        images: uint8 `[N, H, W, C]` in 0..255 (C is 1 or 3).
        labels: uint8 (< 256 classes) or int32 `[N]` in `0..num_classes-1`.
        class_names: One name per class, in label order.
        name: The `--dataset` value it was loaded for.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: Tuple[str, ...]
    name: str = "mnist"

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self):
        return len(self.labels)

    def take(self, count: int) -> "Dataset":
        """The first `count` examples (0 = all)."""
        if not count:
            return self
        return dataclasses.replace(self, images=self.images[:count], labels=self.labels[:count])


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where a dataset is read from: the data settings of a `TrainConfig`.

    Attributes:
        dataset: "mnist", a tensorflow-datasets name or "folder:PATH".
        data_dir: Local folder of IDX/npz files for mnist, fashion_mnist, kmnist.
        mnist_dir: MNIST's local folder (used for `dataset="mnist"` only).
        tfds_data_dir: tensorflow-datasets data directory.
        image_size: Resize to `image_size x image_size` (0 = keep the size).
        eval_holdout: Fraction of each class of a dataset without a test split
            held out as its test split.
    """

    dataset: str = "mnist"
    data_dir: Optional[str] = None
    mnist_dir: Optional[str] = None
    tfds_data_dir: Optional[str] = None
    image_size: int = 0
    eval_holdout: float = 0.1

    @classmethod
    def from_config(cls, config) -> "DataSource":
        """The source a `TrainConfig` (or any object with its data fields) names."""
        return cls(
            dataset=config.dataset,
            data_dir=config.data_dir,
            mnist_dir=config.mnist_dir,
            tfds_data_dir=config.tfds_data_dir,
            image_size=config.image_size,
            eval_holdout=config.eval_holdout,
        )

    @property
    def key(self) -> str:
        """What identifies the dataset's content (for caches): name and size."""
        return self.dataset if not self.image_size else f"{self.dataset}@{self.image_size}"

    def load(self, split: str = "train", num_examples: int = 0) -> Dataset:
        """`load_dataset(self, split, num_examples)`."""
        return load_dataset(self, split, num_examples)


def check_name(name: str) -> str:
    """Checks a `--dataset` value's form (not whether it exists); returns it.

    Raises:
        DataError: empty, or `folder:` without a path.
    """
    if not isinstance(name, str) or not name.strip():
        raise DataError("--dataset is empty: pass mnist, a tensorflow-datasets name or folder:PATH")
    if name.startswith(FOLDER_PREFIX) and not name[len(FOLDER_PREFIX) :].strip():
        raise DataError("--dataset=folder: needs a path: --dataset=folder:/path/to/class_folders")
    return name


def load_dataset(source: DataSource, split: str = "train", num_examples: int = 0) -> Dataset:
    """Loads one split of the dataset `source` names.

    Args:
        source: The dataset and its settings.
        split: "train" or "test".
        num_examples: Keep only the first N examples (0 = all).

    Returns:
        A `Dataset` (images resized to `source.image_size` if set).

    Raises:
        DataError: the dataset is unknown, unlabelled, unreadable or
            unavailable offline; one line naming the fix.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: use 'train' or 'test'")
    name = check_name(source.dataset)
    if name.startswith(FOLDER_PREFIX):
        from keras_cgan import folders

        images, labels, class_names = folders.read_folder(
            name[len(FOLDER_PREFIX) :], image_size=source.image_size
        )
        images, labels = holdout_split(images, labels, len(class_names), source.eval_holdout, split)
        return Dataset(images, labels, class_names, name).take(num_examples)
    local = _local_dir(source, name)
    if local:
        dataset = _load_local(name, local, split)
    elif name == "mnist":
        from keras_cgan import data

        images, labels = data.load_tfds_mnist(split, source.tfds_data_dir)
        dataset = Dataset(images, labels, KNOWN_CLASS_NAMES["mnist"], name)
    else:
        if source.data_dir:
            _refuse_data_dir(name)
        from keras_cgan import tfds_source

        images, labels, class_names = tfds_source.load(name, split, source.tfds_data_dir)
        if class_names == tuple(str(i) for i in range(len(class_names))):
            class_names = KNOWN_CLASS_NAMES.get(name, class_names)  # Ids only: known names.
        dataset = Dataset(images, labels, class_names, name)
    dataset = dataset.take(num_examples)
    if source.image_size:
        dataset = dataclasses.replace(dataset, images=resize(dataset.images, source.image_size))
    return dataset


def _local_dir(source, name):
    """The local folder to read an MNIST-format dataset from (None: tfds)."""
    local = source.data_dir
    if not local and name == "mnist":
        local = source.mnist_dir or os.environ.get(MNIST_DIR_ENV)
    return local if local and name in IDX_DATASETS else None


def _refuse_data_dir(name):
    raise DataError(
        f"--data_dir reads local copies of {', '.join(IDX_DATASETS)} only: for "
        f"{name} pass --tfds_data_dir, or a class-folder tree as --dataset=folder:PATH"
    )


def _load_local(name, directory, split):
    """A local copy of an MNIST-format dataset: the four IDX files or an .npz."""
    images, labels = mnist_files.load(directory, split, name)
    names = KNOWN_CLASS_NAMES[name]
    if len(labels) and labels.max() >= len(names):
        raise DataError(
            f"labels in {directory} go up to {labels.max()}, {name} has {len(names)} classes"
        )
    return Dataset(images, labels, names, name)


def check_files(source: DataSource, splits: Tuple[str, ...] = SPLITS) -> None:
    """Refuses a local dataset whose folder or files are missing, before any loading.

    Cheap (nothing is read) and free of TensorFlow, so the command-line tools
    run it first. Covers `folder:PATH` trees and the local copies of the
    MNIST-format datasets; a tensorflow-datasets name is checked when it loads.

    Args:
        source: The dataset and its settings.
        splits: The splits that will be loaded ("train", "test").

    Raises:
        DataError: the same one-line error the loader would raise.
    """
    name = check_name(source.dataset)
    if name.startswith(FOLDER_PREFIX):
        from keras_cgan import folders

        folders.list_files(name[len(FOLDER_PREFIX) :])
        return
    local = _local_dir(source, name)
    if local:
        for split in splits:
            mnist_files.find_files(local, split, name)
    elif source.data_dir:
        _refuse_data_dir(name)


def holdout_split(images, labels, num_classes, fraction, split):
    """Splits examples into a training part and a held-out test part, per class.

    A fixed random `fraction` of each class (at least one image of a class of
    two or more; none when `fraction` is 0) is held out, chosen with a fixed
    seed; both parts keep the original order.

    Args:
        images: `[N, ...]` array.
        labels: int `[N]` in `0..num_classes-1`.
        num_classes: Number of classes.
        fraction: Held-out fraction in [0, 1).
        split: "train" (the rest) or "test" (the held-out part; with
            `fraction` 0, all examples).

    Returns:
        `(images, labels)` of the split.
    """
    labels = np.asarray(labels)
    if not fraction:
        return images, labels
    rng = np.random.default_rng(_HOLDOUT_SEED)
    held = np.zeros(len(labels), bool)
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        count = int(round(fraction * len(members)))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held[rng.permutation(members)[:count]] = True
    keep = held if split == "test" else ~held
    return images[keep], labels[keep]


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resizes uint8 `[N, H, W, C]` images to `[N, size, size, C]` (area/bilinear, antialiased).

    Returns the input itself when it already has that size.
    """
    if images.shape[1:3] == (size, size):
        return images
    import tensorflow as tf

    out = []
    for i in range(0, len(images), 4096):
        batch = tf.image.resize(images[i : i + 4096], (size, size), antialias=True)
        out.append(np.clip(np.round(batch.numpy()), 0, 255).astype(np.uint8))
    if not out:
        return np.zeros((0, size, size, images.shape[-1]), np.uint8)
    return np.concatenate(out)


def short_name(name: str, width: int = 8) -> str:
    """A class name short enough for a grid's row label ("T-shirt/top" -> "T-shirt")."""
    name = str(name).split("/")[0].strip() or str(name)
    return name if len(name) <= width else name[: width - 1] + "."


def configure(config, dataset: Dataset):
    """`config` with the dataset's facts filled in: image shape, class count and names.

    An `eval_samples` that does not split evenly over the dataset's classes is
    raised to the next count that does (at least 10 per class).

    Args:
        config: A `TrainConfig`.
        dataset: The training split it will train on.

    Returns:
        The updated `TrainConfig`.
    """
    n = dataset.num_classes
    samples = config.eval_samples
    if samples % n or samples < 10 * n:
        samples = max(-(-samples // n) * n, 10 * n)
    return config.replace(
        image_shape=dataset.image_shape,
        num_classes=n,
        class_names=tuple(dataset.class_names),
        eval_samples=samples,
    )


def class_names_of(config) -> Tuple[str, ...]:
    """A config's (or export metadata dict's) class names; the ids when unknown."""
    get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
    names = tuple(get("class_names", None) or ())
    n = int(get("num_classes", len(names)) or len(names))
    return names if len(names) == n else tuple(str(i) for i in range(n))
