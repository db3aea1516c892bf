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

Extra metrics plug in through `Evaluator(extra_metrics=...)` (see
`ExtraMetric`): the classification accuracy score (`keras_cgan.cas`) and the
memorisation check (`keras_cgan.memorisation`). Their values join the summary
after the metrics above.

Anything that maps labels to images can be evaluated: a `ConditionalGAN`, a
SavedModel export folder, a `.keras` file, or a callable `labels -> images`
(see `as_sampler`). This module imports TensorFlow only when it needs it.
"""

import dataclasses
import time
from typing import Dict, Optional

import numpy as np

from keras_cgan.errors import EvaluationError
from keras_cgan.metrics import (
    NEAREST_K,
    classifier_score,
    frechet_distance,
    gaussian_stats,
    knn_radii,
    mean_pairwise_distance,
    precision_recall,
    unit_rows,
)
from keras_cgan.samplers import IMAGE_SHAPE, NUM_CLASSES, Sampler, as_sampler

MIN_SAMPLES_PER_CLASS = 10
SUMMARY_METRICS = ("accuracy", "fid", "class_fid", "precision", "recall", "diversity", "score")
_RANGE_TOLERANCE = 1e-3  # Generated pixels may overshoot [0, 1] by this much (then clipped).


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


def is_integer(value) -> bool:
    """True for a Python or NumPy integer; False for a bool, a float or anything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_num_samples(num_samples, num_classes=NUM_CLASSES):
    """Raises `EvaluationError` unless N is a multiple of the class count, >= 10 per class."""
    minimum = MIN_SAMPLES_PER_CLASS * num_classes
    if not is_integer(num_samples) or num_samples < minimum or num_samples % num_classes:
        raise EvaluationError(
            f"num_samples must be a multiple of {num_classes} and at least {minimum} "
            f"(split evenly over the classes), got {num_samples!r}"
        )


# --------------------------------------------------------------------------
# Extra metrics hook.
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Samples:
    """What an extra metric is given: the evaluated samples and how they were drawn.

    Attributes:
        images: float32 `[N, 28, 28, 1]` in [0, 1].
        labels: int64 `[N]`, the classes asked for.
        features: float32 `[N, D]`, the reference classifier's features.
        probs: float32 `[N, C]`, its class probabilities.
        sampler: The `Sampler` they came from (None: images given directly).
        seed: The seed they were drawn with.
    """

    images: np.ndarray
    labels: np.ndarray
    features: np.ndarray
    probs: np.ndarray
    sampler: Optional[Sampler]
    seed: int


class ExtraMetric:
    """Interface of an extra metric: `metric(evaluator, samples) -> {name: float}`.

    Called by `Evaluator.evaluate_images` after the built-in metrics with the
    `Evaluator` (for its classifier and reference features) and the
    `Samples`; the names must not clash with `SUMMARY_METRICS`.
    """

    def __call__(self, evaluator, samples: Samples) -> Dict[str, float]:
        raise NotImplementedError


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
    # Values of the evaluator's extra metrics, `{name: float}` (see `ExtraMetric`).
    extra: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> Dict[str, float]:
        """The scalar metrics, `{name: value}`: `SUMMARY_METRICS` in order, then the extras."""
        values = {name: float(getattr(self, name)) for name in SUMMARY_METRICS}
        values.update((name, float(v)) for name, v in self.extra.items())
        return values

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
        extra_metrics: `ExtraMetric`s measured after the built-in metrics, in
            order (e.g. `keras_cgan.cas.CasMetric`,
            `keras_cgan.memorisation.MemorisationMetric`).
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
        extra_metrics=(),
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
        self._images = images
        self._features = features
        self._labels = labels
        self._stats = gaussian_stats(features)
        self._class_stats = [gaussian_stats(features[labels == c]) for c in range(self.num_classes)]
        self._class_spread = [
            mean_pairwise_distance(features[labels == c]) for c in range(self.num_classes)
        ]
        self._manifolds = {}  # Reference subset size -> (features, k-NN radii).
        self.extra_metrics = tuple(extra_metrics)

    @property
    def reference_images(self):
        """The reference images as given (MNIST test: uint8 `[M, 28, 28, 1]`)."""
        return self._images

    @property
    def reference_features(self):
        """float32 `[M, D]` classifier features of the reference (MNIST test) images."""
        return self._features

    @property
    def reference_labels(self):
        """int64 `[M]` labels of the reference images."""
        return self._labels

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
        return self.evaluate_images(images, labels, start=start, sampler=sampler, seed=seed)

    def evaluate_draws(self, generator, num_samples: int = 10000, seed: int = 0, draws: int = 1):
        """`evaluate` with the noise seeds `seed, seed + 1, ...`: one result per draw.

        The spread of a metric over draws is the evaluation's own noise (at
        10,000 samples a few thousandths of precision and recall, a few
        hundredths of FID); `mean_and_spread` summarises it.

        Args:
            generator: As for `evaluate` (turned into a sampler once).
            num_samples: N per draw, a multiple of 10, at least 100.
            seed: The first draw's seed.
            draws: How many draws, >= 1.

        Returns:
            A list of `draws` `EvaluationResult`s, in seed order.

        Raises:
            EvaluationError: `draws` < 1, or as `evaluate`.
        """
        if not is_integer(draws) or draws < 1:
            raise EvaluationError(f"draws must be an integer >= 1, got {draws!r}")
        sampler = as_sampler(generator, self.image_shape, self.num_classes)
        return [self.evaluate(sampler, num_samples, seed + i) for i in range(int(draws))]

    def evaluate_images(self, images, labels, start=None, sampler=None, seed=0) -> EvaluationResult:
        """Measures given images that were meant to show digits `labels`.

        Args:
            images: float `[N, 28, 28, 1]` in [0, 1].
            labels: int `[N]`, the classes asked for; at least 2 of each class.
            start: `time.perf_counter()` at the start (None: now).
            sampler: The `Sampler` the images came from, for extra metrics
                that draw more samples (None: they use `images`).
            seed: The seed the images were drawn with.

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
            extra=self._extra(Samples(images, labels, features, probs, sampler, seed)),
        )

    def _extra(self, samples) -> dict:
        """The extra metrics' values, merged in order."""
        values = {}
        for metric in self.extra_metrics:
            values.update(metric(self, samples))
        return values


def mean_and_spread(results):
    """The mean result of several draws and each summary metric's standard deviation.

    Args:
        results: `EvaluationResult`s of one generator (`Evaluator.evaluate_draws`),
            at least one, all with the same extra metrics.

    Returns:
        `(mean, spread)`: an `EvaluationResult` whose every number (per class
        and extras included) is the mean over `results`, and `{metric: sample
        standard deviation}` over the `summary()` names (0 for one draw).
    """
    results = list(results)
    if not results:
        raise EvaluationError("mean_and_spread needs at least one result")
    fields = {}
    for field in dataclasses.fields(EvaluationResult):
        values = [getattr(r, field.name) for r in results]
        if field.name == "num_samples":
            fields[field.name] = values[0]
        elif field.name == "extra":
            fields[field.name] = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
        elif isinstance(values[0], tuple):
            fields[field.name] = tuple(float(x) for x in np.mean(values, axis=0))
        else:
            fields[field.name] = float(np.mean(values))
    summaries = [r.summary() for r in results]
    ddof = 1 if len(results) > 1 else 0
    spread = {k: float(np.std([v[k] for v in summaries], ddof=ddof)) for k in summaries[0]}
    return EvaluationResult(**fields), spread


def evaluate(generator, num_samples: int = 10000, seed: int = 0, **evaluator_kwargs):
    """One-shot `Evaluator(**evaluator_kwargs).evaluate(generator, num_samples, seed)`."""
    return Evaluator(**evaluator_kwargs).evaluate(generator, num_samples, seed)


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


def format_table(results: Dict[str, EvaluationResult], spreads=None) -> str:
    """A Markdown table: one row per named result, one column per summary metric.

    `spreads` (`{name: {metric: standard deviation}}`, from `mean_and_spread`)
    turns the named rows' cells into "mean ± sd".
    """
    extras = list(dict.fromkeys(key for r in results.values() for key in r.extra))
    header = ["generator"] + [title for _, title, _ in _COLUMNS] + extras
    columns = [(key, fmt) for key, _, fmt in _COLUMNS] + [(key, "{:.4f}") for key in extras]
    rows = []
    for name, r in results.items():
        values, spread = r.summary(), (spreads or {}).get(name, {})
        rows.append([name])
        for key, fmt in columns:
            cell = fmt.format(values[key]) if key in values else ""
            if cell and key in spread:
                cell += " ± " + fmt.format(spread[key])
            rows[-1].append(cell)
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
