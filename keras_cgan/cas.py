"""Classification accuracy score (CAS; Ravuri & Vinyals, 2019) for MNIST generators.

Trains a fresh copy of the reference classifier (`keras_cgan.classifier`, same
recipe and seed) on generated digits only, the labels being the classes they
were asked for, and measures it on the real MNIST test split. A generator
whose digits carry their class as real digits do scores close to the
classifier trained on real MNIST train (its test accuracy is reported next to
it, `cas_real`); one that ignores the label scores near chance (0.1), one
that covers only part of each class scores lower than its accuracy suggests.

The default count and class balance are MNIST train's (60,000 digits, the
classes as often as there); smaller counts are for tests and quick checks.
Training the classifier takes about as long as training the reference one
(1.5 minutes on 2 CPU cores at 60,000), so CAS is opt-in.
"""

import dataclasses
from typing import Dict, Optional, Sequence

import numpy as np

from keras_cgan import classifier as classifier_lib
from keras_cgan.errors import EvaluationError
from keras_cgan.evaluation import ExtraMetric, Samples, is_integer
from keras_cgan.samplers import as_sampler

MNIST_TRAIN_SIZE = 60000
_CHUNK = 10000  # Digits generated (and quantised to uint8) at once.


def balanced_counts(num_samples: int, class_counts: Sequence[int]) -> np.ndarray:
    """Splits `num_samples` over classes in proportion to `class_counts`.

    Largest-remainder rounding, so the result sums to `num_samples` exactly.

    Args:
        num_samples: Total, >= the number of classes.
        class_counts: int `[C]`, e.g. MNIST train's class counts.

    Returns:
        int64 `[C]`, summing to `num_samples`.
    """
    counts = np.asarray(class_counts, np.float64)
    if counts.ndim != 1 or len(counts) == 0 or (counts <= 0).any():
        raise EvaluationError(f"class counts must be positive, got {list(class_counts)}")
    if num_samples < len(counts):
        raise EvaluationError(
            f"CAS needs at least one sample per class ({len(counts)}), got {num_samples}"
        )
    exact = counts / counts.sum() * num_samples
    out = np.floor(exact).astype(np.int64)
    out[np.argsort(exact - out)[::-1][: num_samples - out.sum()]] += 1
    return out


def generate_training_set(sampler, counts, seed=0):
    """Draws `counts[c]` digits of each class c, shuffled, as uint8 like MNIST.

    Args:
        sampler: What `samplers.as_sampler` accepts.
        counts: int `[C]`.
        seed: Seed of the generator's noise (chunk i uses `seed + i`).

    Returns:
        `(images uint8 [N, 28, 28, 1] in 0..255, labels int64 [N])`.
    """
    from keras_cgan.evaluation import _checked_images

    sampler = as_sampler(sampler)
    labels = np.repeat(np.arange(len(counts)), counts)
    labels = labels[np.random.default_rng(seed).permutation(len(labels))]
    images = np.empty((len(labels), 28, 28, 1), np.uint8)
    for n, i in enumerate(range(0, len(labels), _CHUNK)):
        wanted = labels[i : i + _CHUNK]
        batch = _checked_images(sampler(wanted, seed + n), len(wanted), sampler.name)
        images[i : i + _CHUNK] = np.rint(batch * 255.0).astype(np.uint8)
    return images, labels


def classification_accuracy_score(
    train_images,
    train_labels,
    test_images,
    test_labels,
    recipe: classifier_lib.ClassifierRecipe = classifier_lib.DEFAULT_RECIPE,
    verbose: int = 0,
) -> Dict[str, float]:
    """Trains the reference recipe on (generated) `train_*` and tests it on `test_*`.

    Args:
        train_images: uint8 `[N, 28, 28, 1]` (or float in [0, 1]): generated digits.
        train_labels: int `[N]`: the classes they were asked for.
        test_images: uint8 `[M, 28, 28, 1]`: real MNIST test.
        test_labels: int `[M]`.
        recipe: The classifier recipe (the reference one by default); its
            batch size must not exceed N.
        verbose: Keras `fit` verbosity.

    Returns:
        `{"cas": test accuracy in [0, 1]}`.
    """
    recipe = dataclasses.replace(recipe, train_examples=0)
    _, info = classifier_lib.train_classifier(
        train_images, train_labels, test_images, test_labels, recipe, verbose=verbose
    )
    return {"cas": info["test_accuracy"]}


class CasMetric(ExtraMetric):
    """CAS as an `Evaluator` extra metric: `cas`, and `cas_real` next to it.

    Draws its own `num_samples` digits from the evaluated sampler (seed: the
    evaluation's seed + 1000), with the classes balanced like `class_counts`;
    given images without a sampler (`Evaluator.evaluate_images`), it trains on
    those. Tests on the evaluator's reference images (MNIST test).

    Args:
        num_samples: Generated training digits (default: MNIST train's 60,000).
        class_counts: int `[C]` class balance (None: equal); pass MNIST
            train's label counts for its balance.
        recipe: The classifier recipe; default the reference classifier's.
        verbose: Keras `fit` verbosity.
    """

    def __init__(
        self,
        num_samples: int = MNIST_TRAIN_SIZE,
        class_counts: Optional[Sequence[int]] = None,
        recipe: classifier_lib.ClassifierRecipe = classifier_lib.DEFAULT_RECIPE,
        verbose: int = 0,
    ):
        if not is_integer(num_samples):
            raise EvaluationError(f"CAS num_samples must be an integer, got {num_samples!r}")
        if num_samples < recipe.batch_size:
            raise EvaluationError(
                f"CAS needs at least {recipe.batch_size} samples (the classifier's batch), "
                f"got {num_samples}"
            )
        self.num_samples = int(num_samples)
        self.class_counts = class_counts
        self.recipe = recipe
        self.verbose = verbose

    def __call__(self, evaluator, samples: Samples) -> Dict[str, float]:
        test_images = getattr(evaluator, "reference_images", None)
        if test_images is None:
            raise EvaluationError("CAS needs an Evaluator that keeps its reference images")
        if samples.sampler is None:
            images, labels = samples.images, samples.labels
        else:
            counts = self.class_counts
            if counts is None:
                counts = np.ones(evaluator.num_classes)
            counts = balanced_counts(self.num_samples, counts)
            images, labels = generate_training_set(samples.sampler, counts, samples.seed + 1000)
        values = classification_accuracy_score(
            images, labels, test_images, evaluator.reference_labels, self.recipe, self.verbose
        )
        real = evaluator.classifier.info.get("test_accuracy")
        return {
            "cas": values["cas"],
            "cas_real": float("nan") if real is None else float(real),
        }
