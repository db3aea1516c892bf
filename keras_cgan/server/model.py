"""The served generator: loaded once, called under a lock, laid out as pictures.

`load_generator(path)` turns `--model` into a generator through the package's
one loader (`keras_cgan.loading`); `ServedModel` wraps that generator for
concurrent web requests.
"""

import io
import os
import threading

import numpy as np

from keras_cgan import sampling
from keras_cgan.errors import KerasCganError


class ServeError(KerasCganError):
    """The model to serve is missing or unusable, or the server settings are invalid."""


def load_generator(path):
    """Loads what `--model` names (`keras_cgan.loading`): a run folder, an export or a `.keras` file.

    Returns:
        `(generator, served_path)`: a generator with the `ExportedGenerator`
        interface and a `metadata` dict, and the path it was loaded from.

    Raises:
        KerasCganError: nothing loadable at `path` (one line).
    """
    from keras_cgan import loading

    if not path:
        raise ServeError("--model is required: a run folder, an export folder or a .keras file")
    path = os.fspath(path)
    return loading.load_generator(path), path


def class_names(metadata):
    """The class names of an export: its metadata's `class_names`, else "0", "1", ..."""
    n = int(metadata["num_classes"])
    names = metadata.get("class_names")
    if isinstance(names, (list, tuple)) and len(names) == n:
        return [str(name) for name in names]
    return [str(i) for i in range(n)]


def encode_png(images, rows, row_labels=None, scale=2):
    """PNG bytes of a labelled grid of `images` (float `[rows * cols, H, W, C]` in [0, 1]).

    Grey images only (C = 1), like the training grids (`callbacks.compose_grid`).
    """
    from PIL import Image

    from keras_cgan.callbacks import compose_grid

    grid = compose_grid(images, rows, row_labels, scale=scale)
    buffer = io.BytesIO()
    # zlib level 1, as callbacks.save_png: several times faster than level 6.
    Image.fromarray(grid, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _nest(chars):
    """JSON-lists the last axis of fixed-width tokens: uint8 `[..., L, W]` -> `[..., L*(W+1)+1]`."""
    *lead, length, width = chars.shape
    out = np.empty(lead + [length, width + 1], np.uint8)
    out[..., :width] = chars
    out[..., width] = ord(",")
    out = out.reshape(lead + [length * (width + 1)])
    out[..., -1] = ord("]")
    listed = np.empty(lead + [length * (width + 1) + 1], np.uint8)
    listed[..., 0] = ord("[")
    listed[..., 1:] = out
    return listed


def images_json(images):
    """JSON text (bytes) of float `images` in [0, 1] as nested lists, 6 decimals each.

    Every value has the same width ("0.123456"), so the text is built with
    NumPy, axis by axis: ~100x faster than `json.dumps` of Python floats, which
    took ~0.4 s for a 10x10 grid.

    Args:
        images: float array of any shape with at least one element per axis.
    """
    q = np.rint(np.clip(np.asarray(images, np.float64), 0.0, 1.0) * 1e6).astype(np.int64)
    chars = np.empty(q.shape + (8,), np.uint8)
    chars[..., 0] = ord("0") + q // 1_000_000
    chars[..., 1] = ord(".")
    for k in range(6):
        chars[..., 2 + k] = ord("0") + (q // 10 ** (5 - k)) % 10
    for _ in range(q.ndim):
        chars = _nest(chars)
    return chars.tobytes()


class ServedModel:
    """A loaded generator shared by concurrent requests.

    TensorFlow functions and NumPy state are not shared across threads without
    care, so every model call runs under one lock; PNG encoding runs outside it.

    Args:
        generator: A generator with the `ExportedGenerator` interface.
        source: The path served (shown on the page and in `/v1/model`).
    """

    def __init__(self, generator, source):
        self.generator = generator
        self.source = source
        self.metadata = generator.metadata
        self.latent_dim = int(generator.latent_dim)
        self.num_classes = int(generator.num_classes)
        self.class_names = class_names(self.metadata)
        self._lock = threading.Lock()

    def warm_up(self):
        """Traces the generator once so the first request is as fast as the rest."""
        images = self.grid([0], 1, seed=0)
        self.interpolate(0, self.num_classes - 1, [0.5], 1, seed=0)
        # Row labels are rendered once per name and cached: render them now.
        names = self.class_names[:100]
        encode_png(np.repeat(images, len(names), axis=0), len(names), names)

    def info(self):
        """The model description served at `/v1/model` (JSON-ready)."""
        meta = self.metadata
        return {
            "source": self.source,
            "format": meta.get("format"),
            "keras_cgan_version": meta.get("keras_cgan_version"),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "image_shape": list(meta.get("image_shape", [])),
            "value_range": meta.get("value_range", [0.0, 1.0]),
            "training_config": meta.get("training_config"),
        }

    def grid(self, classes, per_class, seed, shared_noise=False):
        """float32 `[len(classes) * per_class, H, W, C]`, row r = class `classes[r]`."""
        with self._lock:
            images, _ = sampling.grid_samples(
                self.generator, classes, per_class, seed, shared_noise=shared_noise
            )
        return images

    def interpolate(self, start, end, steps, rows, seed):
        """float32 `[rows * len(steps), ...]`: rows of class mixes `start` -> `end`."""
        with self._lock:
            return sampling.interpolation_strip(self.generator, (start, end), steps, rows, seed)

    def walk(self, classes, steps, seed):
        """float32 `[len(classes) * steps, ...]`: the noise walks, each row's class fixed."""
        with self._lock:
            return sampling.latent_walk(self.generator, classes, steps, seed)
