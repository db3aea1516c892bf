"""Image classification datasets from tensorflow-datasets, as `datasets.Dataset`.

Any dataset whose features hold an `image` (uint8, 1 or 3 channels, one
fixed size) and a class `label` works: `fashion_mnist`, `cifar10`,
`emnist/balanced`, ... The split is read in batches into memory in the
dataset's own order.
"""

import os
import socket
from typing import Optional

import numpy as np

from keras_cgan.errors import DataError

# tensorflow-datasets fetches prepared datasets from this host; when it does
# not resolve (and no proxy is set) the machine is taken to be offline.
_PROBE_HOST = "storage.googleapis.com"
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _offline() -> bool:
    """True when no proxy is set and `_PROBE_HOST` does not resolve."""
    if any(os.environ.get(v) for v in _PROXY_VARS):
        return False
    try:
        socket.getaddrinfo(_PROBE_HOST, 443)
    except OSError:
        return True
    return False


def prepare(builder) -> None:
    """Downloads and prepares `builder`'s files, failing at once when offline.

    tensorflow-datasets retries a failed download ten times with exponential
    backoff: offline, the error comes after about 3.5 minutes of retries.
    When `builder` still needs its files and the machine is offline
    (`_offline`), its retries are 0 for this call (restored after); online,
    or with the files prepared, it is `builder.download_and_prepare()`.

    Args:
        builder: A `tfds.core.DatasetBuilder`.

    Raises:
        Whatever `download_and_prepare` raises (callers turn it into a
        `DataError` with their own fix).
    """
    try:  # Not public API: without it the retries stay as they are.
        from tensorflow_datasets.core.download import downloader
    except ImportError:
        downloader = None
    saved = getattr(downloader, "MAX_RETRIES", None)
    quick = saved is not None and not builder.is_prepared() and _offline()
    if quick:
        downloader.MAX_RETRIES = 0
    try:
        builder.download_and_prepare()
    finally:
        if quick:
            downloader.MAX_RETRIES = saved


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # DatasetNotFoundError, bad config names, ...
        if type(e).__name__ == "DatasetNotFoundError" or "not found" in str(e).lower():
            raise DataError(
                f"unknown dataset {name!r}: pass --dataset=mnist, the name of a "
                "tensorflow-datasets image classification dataset (e.g. fashion_mnist, "
                "cifar10, emnist/balanced) or folder:PATH"
            ) from None
        raise DataError(
            f"cannot open tensorflow-datasets dataset {name!r} ({type(e).__name__}: "
            f"{_first_line(e)})"
        ) from None


def _check_features(name, features):
    """Returns the class names; raises DataError unless image + class label features."""
    import tensorflow_datasets as tfds

    keys = list(features.keys()) if hasattr(features, "keys") else []
    image, label = features["image"] if "image" in keys else None, None
    if "label" in keys:
        label = features["label"]
    if image is None or not isinstance(image, tfds.features.Image):
        raise DataError(
            f"dataset {name!r} has no 'image' feature (it has: {', '.join(keys) or 'none'}): "
            "keras_cgan trains on image classification datasets"
        )
    if label is None or not isinstance(label, tfds.features.ClassLabel):
        raise DataError(
            f"dataset {name!r} has no class 'label' feature (it has: {', '.join(keys)}): "
            "a conditional GAN needs labelled images; use another dataset or folder:PATH"
        )
    shape = tuple(image.shape)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise DataError(
            f"dataset {name!r} has images of shape {shape}: keras_cgan needs grey or RGB images"
        )
    names = list(label.names or [])
    if len(names) != label.num_classes:
        names = [str(i) for i in range(label.num_classes)]
    return tuple(str(n) for n in names), shape


def load(name: str, split: str = "train", data_dir: Optional[str] = None):
    """Loads a split of a tensorflow-datasets image classification dataset.

    Args:
        name: Its tensorflow-datasets name, e.g. "cifar10" or "emnist/balanced".
        split: "train" or "test".
        data_dir: tensorflow-datasets data directory (None = its default).

    Returns:
        `(images, labels, class_names)`: uint8 images `[N, H, W, C]`, labels
        `[N]` (uint8 for up to 256 classes, else int32), the label feature's
        class names (its ids as strings when it has no names).

    Raises:
        DataError: unknown name, no image or label feature, images of varying
            size, or the download/preparation failed (offline).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(
            f"--dataset={name} needs tensorflow-datasets: pip install tensorflow-datasets"
        ) from None
    builder = _builder(name, data_dir)
    class_names, shape = _check_features(name, builder.info.features)
    if None in shape[:2]:
        raise DataError(
            f"dataset {name!r} has images of varying size: keras_cgan needs one size "
            "(download it and use it as --dataset=folder:PATH with --image_size)"
        )
    splits = builder.info.splits
    if splits and split not in splits:
        raise DataError(
            f"dataset {name!r} has no {split!r} split (it has: {', '.join(sorted(splits))}); "
            "use a folder copy with --dataset=folder:PATH and --eval_holdout"
        )
    try:
        prepare(builder)
        ds = builder.as_dataset(split=split, as_supervised=False, shuffle_files=False)
        images, labels = [], []
        for batch in tfds.as_numpy(ds.map(lambda x: (x["image"], x["label"])).batch(4096)):
            images.append(batch[0])
            labels.append(batch[1])
    except Exception as e:  # Offline, full disk, corrupt files: the remedy is the same.
        raise DataError(
            f"could not load {name!r} with tensorflow-datasets ({type(e).__name__}: "
            f"{_first_line(e)}); for offline use pass --tfds_data_dir=DIR holding a prepared "
            "copy, or the images as --dataset=folder:PATH"
        ) from None
    if not images:
        raise DataError(f"dataset {name!r} split {split!r} is empty")
    # Some builders (cifar10) learn their class names while preparing the data.
    class_names, _ = _check_features(name, builder.info.features)
    images = np.concatenate(images).astype(np.uint8, copy=False)
    labels = np.concatenate(labels)
    dtype = np.uint8 if len(class_names) <= 256 else np.int32
    return images, labels.astype(dtype), class_names
