"""Generators as the evaluator sees them: `sampler(labels, seed) -> images`.

`as_sampler` turns a `ConditionalGAN`, a model path (run folder, export or
`.keras` file, through `keras_cgan.loading`) or any callable into a `Sampler`;
the baselines are real digits and two broken generators. Images are float
`[N, 28, 28, 1]` in [0, 1] (or uint8 in 0..255).
"""

import inspect
import os
from typing import Dict, Optional, Tuple

import numpy as np

from keras_cgan import loading
from keras_cgan.errors import EvaluationError, ModelError

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def check_model_path(
    path, image_shape=IMAGE_SHAPE, num_classes=NUM_CLASSES
) -> Tuple[str, Optional[dict]]:
    """Checks that `path` names a model `as_sampler` can load, without TensorFlow.

    Args:
        path: A run folder, a SavedModel export folder (see `keras_cgan.export`)
            or a `.keras` file.
        image_shape, num_classes: What the evaluator measures (an export
            making other images is refused; None: not checked).

    Returns:
        `(kind, metadata)` as `loading.check_model_path`.

    Raises:
        EvaluationError: missing, not a model, or an export for other images.
    """
    try:
        kind, meta = loading.check_model_path(path)
    except ModelError as e:
        raise EvaluationError(str(e)) from None
    if (
        meta is not None
        and image_shape is not None
        and (tuple(meta["image_shape"]) != tuple(image_shape) or meta["num_classes"] != num_classes)
    ):
        raise EvaluationError(
            f"{path} generates {meta['image_shape']} images of {meta['num_classes']} classes: "
            f"the evaluator measures {list(image_shape)} images of {num_classes} classes "
            "(pass the --dataset it was trained on)"
        )
    return kind, meta


class Sampler:
    """A generator as the evaluator sees it: `sampler(labels, seed) -> images`.

    Args:
        fn: `fn(labels int [N], seed int) -> images [N, 28, 28, 1]` in [0, 1].
        num_classes: Classes the generator knows (None: not stated).
        name: For messages.
    """

    def __init__(self, fn, num_classes=None, name="generator"):
        self.fn = fn
        self.num_classes = num_classes
        self.name = name

    def __call__(self, labels, seed):
        return self.fn(labels, seed)


def _noise_sampler(model, name):
    latent_dim = int(model.latent_dim)

    def sample(labels, seed):
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((len(labels), latent_dim), dtype=np.float32)
        return model.generate(labels, noise=noise)

    return Sampler(sample, getattr(model, "num_classes", None), name)


def as_sampler(generator, image_shape=IMAGE_SHAPE, num_classes=NUM_CLASSES) -> Sampler:
    """Turns whatever describes a generator into a `Sampler`.

    Args:
        generator: One of
            * a `Sampler` (returned as is);
            * a path: a run folder, a SavedModel export folder or a
              `.keras` file (`keras_cgan.loading`);
            * an object with `latent_dim` and `generate(labels, noise=...)`, such
              as `ConditionalGAN` or `ExportedGenerator`: the noise is drawn
              from N(0, 1) with `np.random.default_rng(seed)`, so a model and
              its export score the same;
            * a callable `fn(labels) -> images`, or `fn(labels, seed=seed)` if
              it takes a `seed` argument (otherwise its own randomness decides
              whether it repeats).
        image_shape, num_classes: What the evaluator measures: an export path
            for other images is refused before it loads.

    Returns:
        A `Sampler`.

    Raises:
        EvaluationError: a path that is not a model, or an unusable object.
    """
    if isinstance(generator, Sampler):
        return generator
    if isinstance(generator, (str, os.PathLike)):
        path = os.fspath(generator)
        check_model_path(path, image_shape, num_classes)
        try:
            return _noise_sampler(loading.load_generator(path), path)
        except ModelError as e:
            raise EvaluationError(str(e)) from None
    if hasattr(generator, "generate") and hasattr(generator, "latent_dim"):
        return _noise_sampler(generator, type(generator).__name__)
    if callable(generator):
        try:
            takes_seed = "seed" in inspect.signature(generator).parameters
        except (TypeError, ValueError):
            takes_seed = False
        if takes_seed:
            return Sampler(lambda labels, seed: generator(labels, seed=seed))
        return Sampler(lambda labels, seed: generator(labels))
    raise EvaluationError(
        f"cannot evaluate a {type(generator).__name__}: pass a ConditionalGAN, an export "
        "folder, a .keras file or a callable labels -> images"
    )


def real_data_sampler(images, labels) -> Sampler:
    """Serves real digits of the requested classes (drawn without replacement per class).

    Args:
        images: uint8 `[M, 28, 28, 1]` in 0..255 (e.g. MNIST train).
        labels: int `[M]`.
    """
    images = np.asarray(images)
    num_classes = int(np.max(labels)) + 1
    by_class = [np.flatnonzero(np.asarray(labels) == c) for c in range(num_classes)]

    def sample(wanted, seed):
        rng = np.random.default_rng(seed)
        wanted = np.asarray(wanted)
        picked = np.empty(len(wanted), np.int64)
        for c in range(num_classes):
            slots = np.flatnonzero(wanted == c)
            pool = by_class[c]
            picked[slots] = rng.choice(pool, len(slots), replace=len(slots) > len(pool))
        return images[picked].astype(np.float32) / 255.0

    return Sampler(sample, num_classes, "real data")


def noise_sampler(image_shape=IMAGE_SHAPE, num_classes=NUM_CLASSES) -> Sampler:
    """A broken generator: uniform noise pixels `image_shape` whatever the label."""

    def sample(labels, seed):
        rng = np.random.default_rng(seed)
        return rng.uniform(size=(len(labels),) + tuple(image_shape)).astype(np.float32)

    return Sampler(sample, num_classes, "noise")


def collapsed_sampler(images, labels) -> Sampler:
    """A broken generator: one real image per class (the first), repeated.

    Args:
        images: uint8 `[M, 28, 28, 1]` in 0..255.
        labels: int `[M]` with every class present.
    """
    labels = np.asarray(labels)
    num_classes = int(labels.max()) + 1
    first = np.stack([images[np.flatnonzero(labels == c)[0]] for c in range(num_classes)])
    first = first.astype(np.float32) / 255.0

    def sample(wanted, seed):
        del seed  # Always the same images.
        return first[np.asarray(wanted)]

    return Sampler(sample, num_classes, "collapsed")


BASELINE_NAMES = (
    "real data (MNIST train)",
    "noise (uniform pixels)",
    "collapsed (1 image per class)",
)


def baseline_samplers(train_images, train_labels) -> Dict[str, Sampler]:
    """The three baselines, keyed by `BASELINE_NAMES`, built from MNIST train."""
    return dict(
        zip(
            BASELINE_NAMES,
            (
                real_data_sampler(train_images, train_labels),
                noise_sampler(),
                collapsed_sampler(train_images, train_labels),
            ),
            strict=True,
        )
    )
