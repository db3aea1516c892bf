"""MNIST-format files in a local folder: the four IDX files or an .npz.

Numpy only, so the command-line tools can check a folder before TensorFlow
loads. `find_files` locates one split's files without reading them (the check
the tools run first); `load` reads them into uint8 arrays. MNIST, Fashion-MNIST
and KMNIST share the format (`keras_cgan.datasets` names the datasets).
"""

import gzip
import os
from typing import Optional, Tuple

import numpy as np

from keras_cgan.errors import DataError

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


def find_files(directory: str, split: str = "train", name: str = "mnist") -> Tuple[str, ...]:
    """The files holding one split of an MNIST-format dataset, unread.

    MNIST: the split's two IDX files (`train-images-idx3-ubyte`, ..., each
    plain or `.gz`) or, failing both, Keras' `mnist.npz`. Other datasets in the
    format (`fashion_mnist`, `kmnist`): the IDX files if the folder holds any,
    else `<name>.npz` (arrays `x_train`, `y_train`, `x_test`, `y_test`).

    Args:
        directory: The folder.
        split: "train" or "test".
        name: The dataset, e.g. "mnist" or "fashion_mnist".

    Returns:
        `(images_path, labels_path)` of IDX files, or `(npz_path,)`.

    Raises:
        DataError: unknown split, no such folder, or the files are missing; one
            line naming what the folder needs.
    """
    check_split(split)
    if name != "mnist" and not _has_idx(directory):
        path = os.path.join(directory, f"{name}.npz")
        if not os.path.isfile(path):
            raise DataError(
                f"no {name} files in {directory}: --data_dir needs the four IDX files "
                f"(train-images-idx3-ubyte[.gz], ...) or {name}.npz"
            )
        return (path,)
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
        return (npz_path,)
    for stem, path in ((images_stem, images_path), (labels_stem, labels_path)):
        if path is None:
            raise DataError(
                f"MNIST file not found: {os.path.join(directory, stem)}[.gz] "
                "(the folder needs the four IDX files or mnist.npz)"
            )
    return images_path, labels_path


def load(
    directory: str, split: str = "train", name: str = "mnist"
) -> Tuple[np.ndarray, np.ndarray]:
    """Loads one split of an MNIST-format dataset from a local folder.

    Args:
        directory: The folder (see `find_files` for what it holds).
        split: "train" or "test".
        name: The dataset, e.g. "mnist" or "fashion_mnist".

    Returns:
        `(images, labels)`: uint8 `[N, 28, 28, 1]` in 0..255 and uint8 `[N]`
        in 0..9.

    Raises:
        DataError: the folder or a file is missing, unreadable or malformed.
    """
    paths = find_files(directory, split, name)
    if len(paths) == 1:
        return _load_npz(paths[0], split)
    images_path, labels_path = paths
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
    return checked(images[..., None], labels, labels_path)


def _find_idx(directory: str, stem: str) -> Optional[str]:
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _has_idx(directory):
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return any(n.startswith(("train-images-idx3", "t10k-images-idx3")) for n in names)


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
    return checked(images.astype(np.uint8)[..., None], labels.astype(np.uint8), path)


def checked(images, labels, path):
    """Refuses labels outside 0..9; returns `(images, labels)` unchanged."""
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise DataError(f"MNIST labels in {path} go up to {labels.max()}, expected 0..9")
    return images, labels


def check_split(split: str):
    """Refuses a split other than "train" or "test" (DataError)."""
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}: use 'train' or 'test'")
