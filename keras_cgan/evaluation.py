"""Sample-quality metrics for class-conditional MNIST generators.

`Evaluator` draws N samples split evenly over the 10 classes from a generator
and measures them against the MNIST test split, in the feature space of the
reference classifier (`keras_cgan.classifier`, its 128-wide penultimate layer):

* `accuracy`: how often a generated "k" is classified as k (also per class).
* `fid`: Fréchet distance between Gaussians fitted to the generated and the
  real features (Heusel et al., 2017), on all samples; `class_fid` is the mean
  over classes of the distance between generated k's and real k's (also per
  class). Both are biased upwards for small N: compare values at the same N.
* `precision`, `recall`: k-NN manifold precision and recall (Kynkäänniemi et
  al., 2019, k=3): the fraction of generated samples inside the real manifold
  (a ball around each real sample reaching its k-th nearest real neighbour),
  and the fraction of real samples inside the generated manifold. The real
  set is a fixed random subset of the test split of the same size as the
  generated set (at most the whole split), since the balls shrink as a set
  grows. Unlike the paper, the features are L2-normalised first: images the
  classifier does not recognise (noise, early GAN samples) get weak ReLU
  features near the origin, inside the large balls of ambiguous real digits,
  and unnormalised features gave uniform noise a precision of 1.0.
* `diversity`: for each class, the mean pairwise feature distance among
  generated k's divided by that among real test k's, averaged over classes
  (1 = as varied as real digits, 0 = one image; also per class).
* `score`: the classifier-based "MNIST score", the Inception Score analogue
  exp(E_x KL(p(y|x) || p(y))), between 1 and 10.

Anything that maps labels to images can be evaluated: a `ConditionalGAN`, a
SavedModel export folder, a `.keras` file, or a callable `labels -> images`
(see `as_sampler`). This module imports TensorFlow only when it needs it.
"""

import dataclasses
import inspect
import json
import os
import time
from typing import Dict, Optional, Tuple

import numpy as np

from keras_cgan import loading
from keras_cgan.errors import EvaluationError, ModelError

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
NEAREST_K = 3
MIN_SAMPLES_PER_CLASS = 10
SUMMARY_METRICS = ("accuracy", "fid", "class_fid", "precision", "recall", "diversity", "score")
_CHUNK = 1024  # Rows of a distance matrix computed at once (1024 x 10,000 float32: 40 MB).
_RANGE_TOLERANCE = 1e-3  # Generated pixels may overshoot [0, 1] by this much (then clipped).


# --------------------------------------------------------------------------
# Metric math: plain NumPy on feature arrays.
# --------------------------------------------------------------------------


def _sq_norms(x):
    return np.einsum("ij,ij->i", x, x)


def _sq_distances(a, b, a_sq, b_sq):
    """Squared Euclidean distances float32 `[len(a), len(b)]`, clipped at 0."""
    d = a @ b.T
    d *= -2.0
    d += a_sq[:, None]
    d += b_sq[None, :]
    return np.maximum(d, 0.0, out=d)


def _as_features(x, name="features", dtype=np.float32):
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2:
        raise EvaluationError(f"{name} must be a 2-D array [N, D], got shape {x.shape}")
    return x


def knn_radii(features, k=NEAREST_K, chunk=_CHUNK):
    """Distance from each point to its k-th nearest other point.

    Args:
        features: float `[N, D]`.
        k: Which neighbour (1 = nearest); needs `N > k`.
        chunk: Rows of the distance matrix computed at once.

    Returns:
        float32 `[N]`, >= 0 (0 when the point has k exact duplicates).
    """
    x = _as_features(features)
    n = len(x)
    if not 1 <= k < n:
        raise EvaluationError(f"k-NN radii with k={k} need more than {k} points, got {n}")
    sq = _sq_norms(x)
    radii = np.empty(n, np.float32)
    for i in range(0, n, chunk):
        d = _sq_distances(x[i : i + chunk], x, sq[i : i + chunk], sq)
        rows = np.arange(len(d))
        d[rows, i + rows] = 0.0  # Each point is its own 0-th neighbour.
        radii[i : i + chunk] = np.partition(d, k, axis=1)[:, k]
    return np.sqrt(radii)


def precision_recall(real, fake, k=NEAREST_K, real_radii=None, chunk=_CHUNK):
    """k-NN manifold precision and recall (Kynkäänniemi et al., 2019).

    Args:
        real: float `[M, D]` real features.
        fake: float `[N, D]` generated features.
        k: Neighbour that sets each ball's radius.
        real_radii: Optional precomputed `knn_radii(real, k)`.
        chunk: Rows of the distance matrices computed at once.

    Returns:
        `(precision, recall)`, floats in [0, 1]: the fraction of fake points
        inside the real manifold, and of real points inside the fake manifold.
    """
    real, fake = _as_features(real, "real"), _as_features(fake, "fake")
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)
    real_r_sq = np.square(np.asarray(real_radii, np.float32))
    fake_r_sq = np.square(knn_radii(fake, k, chunk))
    real_sq, fake_sq = _sq_norms(real), _sq_norms(fake)
    fake_inside = np.empty(len(fake), bool)
    real_covered = np.zeros(len(real), bool)
    for i in range(0, len(fake), chunk):  # One pass over the fake x real distances.
        d = _sq_distances(fake[i : i + chunk], real, fake_sq[i : i + chunk], real_sq)
        fake_inside[i : i + chunk] = (d <= real_r_sq[None, :]).any(axis=1)
        real_covered |= (d <= fake_r_sq[i : i + chunk, None]).any(axis=0)
    return float(np.mean(fake_inside)), float(np.mean(real_covered))


def unit_rows(features, eps=1e-6):
    """Rows of float `[N, D]` scaled to unit L2 norm (all-zero rows stay zero)."""
    x = _as_features(features)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def gaussian_stats(features):
    """Mean float64 `[D]` and covariance float64 `[D, D]` of `[N, D]` features (N >= 2)."""
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise EvaluationError(f"Gaussian statistics need at least 2 points, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1, cov1, mu2, cov2):
    """Fréchet distance between N(mu1, cov1) and N(mu2, cov2).

    ||mu1 - mu2||^2 + tr(cov1) + tr(cov2) - 2 tr((cov1 cov2)^{1/2}), with the
    trace term computed as the trace of the square root of the symmetric PSD
    matrix cov1^{1/2} cov2 cov1^{1/2} (same eigenvalues as cov1 cov2), which is
    stable for the singular covariances of collapsed samples.

    Returns:
        float >= 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    w, v = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = root1 @ cov2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))


def mean_pairwise_distance(features, chunk=_CHUNK):
    """Mean Euclidean distance over all pairs of distinct rows of `[N, D]` (N >= 2).

    Computed in float64 on centred rows, so exact duplicates come out at 0.
    """
    x = _as_features(features, dtype=np.float64)
    x = x - x.mean(axis=0)
    n = len(x)
    if n < 2:
        raise EvaluationError(f"pairwise distances need at least 2 points, got {n}")
    sq = _sq_norms(x)
    total = 0.0
    for i in range(0, n, chunk):
        d = _sq_distances(x[i : i + chunk], x, sq[i : i + chunk], sq)
        rows = np.arange(len(d))
        d[rows, i + rows] = 0.0
        total += float(np.sqrt(d, out=d).sum(dtype=np.float64))
    return total / (n * (n - 1))


def classifier_score(probs, eps=1e-12):
    """The Inception Score with the MNIST classifier: exp(E_x KL(p(y|x) || p(y))).

    Args:
        probs: float `[N, C]` class probabilities (rows sum to 1).

    Returns:
        float in [1, C]: C when every sample is classified confidently and the
        classes are used equally, 1 when the predictions carry no information.
    """
    p = np.asarray(probs, np.float64)
    marginal = p.mean(axis=0)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps)[None, :])).sum(axis=1)
    return float(np.exp(kl.mean()))


# --------------------------------------------------------------------------
# Generators: anything that turns labels into images.
# --------------------------------------------------------------------------


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


def _checked_images(images, n, name, image_shape=IMAGE_SHAPE):
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape != (n,) + tuple(image_shape):
        raise EvaluationError(
            f"{name} returned images of shape {images.shape}, expected {(n,) + tuple(image_shape)}"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise EvaluationError(f"{name} returned {images.dtype} images, expected floats in [0, 1]")
    images = images.astype(np.float32, copy=False)
    if not np.isfinite(images).all():
        raise EvaluationError(f"{name} returned images with NaN or infinite pixels")
    lo, hi = (float(images.min()), float(images.max())) if images.size else (0.0, 1.0)
    if lo < -_RANGE_TOLERANCE or hi > 1.0 + _RANGE_TOLERANCE:
        raise EvaluationError(
            f"{name} returned pixels in [{lo:.3g}, {hi:.3g}], expected [0, 1] "
            "(rescale tanh outputs with (x + 1) / 2)"
        )
    return np.clip(images, 0.0, 1.0)


def check_num_samples(num_samples, num_classes=NUM_CLASSES):
    """Raises `EvaluationError` unless N is a multiple of the class count, >= 10 per class."""
    minimum = MIN_SAMPLES_PER_CLASS * num_classes
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, (int, np.integer))
        or num_samples < minimum
        or num_samples % num_classes
    ):
        raise EvaluationError(
            f"num_samples must be a multiple of {num_classes} and at least {minimum} "
            f"(split evenly over the classes), got {num_samples!r}"
        )


# --------------------------------------------------------------------------
# The evaluator.
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one set of samples (see the module docstring for definitions).

    Per-class tuples are indexed by class 0..9. `seconds` (generation plus
    metrics) is not part of equality.
    """

    num_samples: int
    accuracy: float
    fid: float
    class_fid: float
    precision: float
    recall: float
    diversity: float
    score: float
    accuracy_per_class: tuple
    fid_per_class: tuple
    diversity_per_class: tuple
    seconds: float = dataclasses.field(default=0.0, compare=False)

    def summary(self) -> Dict[str, float]:
        """The scalar metrics, `{name: value}` in `SUMMARY_METRICS` order."""
        return {name: float(getattr(self, name)) for name in SUMMARY_METRICS}

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        for key, value in values.items():
            if isinstance(value, tuple):
                values[key] = list(value)
        return values


class Evaluator:
    """Measures generated MNIST digits against the MNIST test split.

    Building one loads (or trains and caches, ~1.5 minutes on 2 CPU cores) the
    reference classifier and computes the real reference's features once;
    `evaluate` can then be called many times.

    Args:
        classifier: A `classifier.ReferenceClassifier` or any object with
            `predict(images) -> (features [N, D], probs [N, C])` and an `info`
            dict; None loads or trains the cached one.
        reference: `(images, labels)` to compare with: uint8 `[M, 28, 28, 1]`
            in 0..255 (or float in [0, 1]) and int `[M]`; None loads the MNIST
            test split.
        classifier_dir: Cache root of the reference classifier (None: the
            default, `~/.cache/keras_cgan/classifier`).
        source: The dataset (`datasets.DataSource`): the classifier is trained
            on its train split and the reference is its test split (or the
            held-out part of a folder). None: MNIST from `mnist_dir` /
            `tfds_data_dir`.
        mnist_dir: Local MNIST folder (None: `$KERAS_CGAN_MNIST_DIR`, then
            tensorflow-datasets).
        tfds_data_dir: tensorflow-datasets data directory.
        k: Neighbour count of the precision/recall manifolds.
        verbose: Keras `fit` verbosity if the classifier has to be trained.
    """

    def __init__(
        self,
        classifier=None,
        reference=None,
        *,
        classifier_dir: Optional[str] = None,
        mnist_dir: Optional[str] = None,
        tfds_data_dir: Optional[str] = None,
        k: int = NEAREST_K,
        verbose: int = 0,
        source=None,
    ):
        if source is None:
            from keras_cgan.datasets import DataSource

            source = DataSource(mnist_dir=mnist_dir, tfds_data_dir=tfds_data_dir)
        if classifier is None:
            from keras_cgan import classifier as classifier_lib

            classifier = classifier_lib.load_or_train(
                classifier_dir, source=source, verbose=verbose
            )
        if reference is None:
            test = source.load("test")
            reference = (test.images, test.labels)
        self.source = source
        self.classifier = classifier
        self.k = int(k)
        images, labels = reference
        self.image_shape = tuple(int(d) for d in np.shape(images)[1:])
        labels = np.asarray(labels, np.int64)
        features, probs = classifier.predict(images)
        self.num_classes = probs.shape[1]
        counts = np.bincount(labels, minlength=self.num_classes)
        if len(counts) != self.num_classes or counts.min() < 2:
            raise EvaluationError(
                f"the reference needs at least 2 images of each of {self.num_classes} "
                f"classes, has {counts.tolist()}"
            )
        self.reference_size = len(labels)
        self._features = features
        self._labels = labels
        self._stats = gaussian_stats(features)
        self._class_stats = [gaussian_stats(features[labels == c]) for c in range(self.num_classes)]
        self._class_spread = [
            mean_pairwise_distance(features[labels == c]) for c in range(self.num_classes)
        ]
        self._manifolds = {}  # Reference subset size -> (features, k-NN radii).

    @classmethod
    def for_config(cls, config) -> "Evaluator":
        """The evaluator of a training run (`TrainConfig`): its data and cache settings.

        Loads the cached reference classifier, training it on the first use
        (about 1.5 minutes on 2 CPU cores); it never touches the global random
        state, so a run's training is the same with or without evaluation.
        """
        from keras_cgan.datasets import DataSource

        return cls(
            classifier_dir=config.classifier_dir,
            source=DataSource.from_config(config),
            verbose=2 if config.verbose else 0,
        )

    def _reference_manifold(self, size):
        """A fixed random subset of `size` unit-norm reference features and their k-NN radii."""
        size = min(size, self.reference_size)
        if size not in self._manifolds:
            order = np.random.default_rng(0).permutation(self.reference_size)
            subset = unit_rows(self._features[np.sort(order[:size])])
            self._manifolds[size] = (subset, knn_radii(subset, self.k))
        return self._manifolds[size]

    def evaluate(self, generator, num_samples: int = 10000, seed: int = 0) -> EvaluationResult:
        """Draws `num_samples` digits, the same number of each class, and measures them.

        Args:
            generator: What `as_sampler` accepts: a `ConditionalGAN`, an export
                folder, a `.keras` file or a callable `labels -> images`.
            num_samples: N, a multiple of 10, at least 100.
            seed: Seed of the generator's noise: the same generator, N and seed
                give the same metrics.

        Returns:
            An `EvaluationResult`.

        Raises:
            EvaluationError: bad N, an unusable generator, or images of the
                wrong shape, type or range.
        """
        start = time.perf_counter()
        check_num_samples(num_samples, self.num_classes)
        sampler = as_sampler(generator, self.image_shape, self.num_classes)
        if sampler.num_classes is not None and sampler.num_classes != self.num_classes:
            raise EvaluationError(
                f"{sampler.name} has {sampler.num_classes} classes, the evaluator {self.num_classes}"
            )
        labels = np.repeat(np.arange(self.num_classes), num_samples // self.num_classes)
        images = _checked_images(sampler(labels, seed), len(labels), sampler.name, self.image_shape)
        return self.evaluate_images(images, labels, start=start)

    def evaluate_images(self, images, labels, start=None) -> EvaluationResult:
        """Measures given images that were meant to show digits `labels`.

        Args:
            images: float `[N, 28, 28, 1]` in [0, 1].
            labels: int `[N]`, the classes asked for; at least 2 of each class.

        Returns:
            An `EvaluationResult`.
        """
        start = time.perf_counter() if start is None else start
        labels = np.asarray(labels, np.int64)
        images = _checked_images(images, len(labels), "the generator", self.image_shape)
        if labels.ndim != 1 or (
            labels.size and (labels.min() < 0 or labels.max() >= self.num_classes)
        ):
            raise EvaluationError(
                f"labels must be a 1-D array of classes 0..{self.num_classes - 1}"
            )
        counts = np.bincount(labels, minlength=self.num_classes)
        if len(counts) != self.num_classes or counts.min() < 2:
            raise EvaluationError(
                f"evaluation needs at least 2 samples of each of {self.num_classes} classes, "
                f"got {counts.tolist()}"
            )
        features, probs = self.classifier.predict(images)
        predicted = probs.argmax(axis=1)
        classes = range(self.num_classes)
        accuracy_per_class = [float(np.mean(predicted[labels == c] == c)) for c in classes]
        fid_per_class = [
            frechet_distance(*gaussian_stats(features[labels == c]), *self._class_stats[c])
            for c in classes
        ]
        diversity_per_class = [
            mean_pairwise_distance(features[labels == c]) / self._class_spread[c] for c in classes
        ]
        real, real_radii = self._reference_manifold(len(labels))
        precision, recall = precision_recall(
            real, unit_rows(features), self.k, real_radii=real_radii
        )
        return EvaluationResult(
            num_samples=len(labels),
            accuracy=float(np.mean(predicted == labels)),
            fid=frechet_distance(*gaussian_stats(features), *self._stats),
            class_fid=float(np.mean(fid_per_class)),
            precision=precision,
            recall=recall,
            diversity=float(np.mean(diversity_per_class)),
            score=classifier_score(probs),
            accuracy_per_class=tuple(accuracy_per_class),
            fid_per_class=tuple(fid_per_class),
            diversity_per_class=tuple(diversity_per_class),
            seconds=time.perf_counter() - start,
        )


def evaluate(generator, num_samples: int = 10000, seed: int = 0, **evaluator_kwargs):
    """One-shot `Evaluator(**evaluator_kwargs).evaluate(generator, num_samples, seed)`."""
    return Evaluator(**evaluator_kwargs).evaluate(generator, num_samples, seed)


# --------------------------------------------------------------------------
# Baselines: real data and two broken generators.
# --------------------------------------------------------------------------


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
                noise_sampler(np.shape(train_images)[1:], int(np.max(train_labels)) + 1),
                collapsed_sampler(train_images, train_labels),
            ),
            strict=True,
        )
    )


# --------------------------------------------------------------------------
# Reports.
# --------------------------------------------------------------------------

_COLUMNS = (
    ("accuracy", "accuracy", "{:.4f}"),
    ("fid", "FID", "{:.2f}"),
    ("class_fid", "class FID", "{:.2f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("diversity", "diversity", "{:.3f}"),
    ("score", "MNIST score", "{:.2f}"),
)


def _markdown(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def format_table(results: Dict[str, EvaluationResult]) -> str:
    """A Markdown table: one row per named result, one column per summary metric."""
    header = ["generator"] + [title for _, title, _ in _COLUMNS]
    rows = [
        [name] + [fmt.format(getattr(r, key)) for key, _, fmt in _COLUMNS]
        for name, r in results.items()
    ]
    return _markdown(header, rows)


def format_per_class(result: EvaluationResult) -> str:
    """A Markdown table of the per-class metrics of one result."""
    rows = [
        [str(c), f"{a:.4f}", f"{f:.2f}", f"{d:.3f}"]
        for c, (a, f, d) in enumerate(
            zip(
                result.accuracy_per_class,
                result.fid_per_class,
                result.diversity_per_class,
                strict=True,
            )
        )
    ]
    return _markdown(["class", "accuracy", "FID", "diversity"], rows)


def write_json(path, payload):
    """Writes `payload` as pretty JSON to `path` (atomically)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
