"""Memorisation check: are generated digits copies of training digits?

For each generated digit, its nearest MNIST train digit in the reference
classifier's feature space (the 128-wide penultimate layer, rows scaled to unit
length as for precision/recall). The yardstick is how close real unseen digits
come to the training set: the nearest-train distances of the MNIST test
digits. A generator that reproduces training digits puts many samples closer
than almost any test digit comes; a generator of new digits puts about as
many as the test set does (1% below its 1st percentile, 5% below its 5th).

Reported (as `Evaluator` extra metrics, `MemorisationMetric`):

* `memorised_p1`, `memorised_p5`: the fraction of generated digits whose
  nearest-train distance is below the 1st / 5th percentile of the test
  digits' (about 0.01 / 0.05 for new digits, up to 1 for copies);
* `nn_ratio`: the median generated nearest-train distance divided by the
  median test one (about 1 for new digits, near 0 for copies).

`write_pairs_png` draws the closest generated/training pairs.
"""

from typing import Dict, Optional

import numpy as np

from keras_cgan import fileio
from keras_cgan.evaluation import ExtraMetric, Samples
from keras_cgan.metrics import squared_distances, squared_norms, unit_rows

PERCENTILES = (1, 5)
_CHUNK = 256  # Rows of a distance matrix at once (256 x 60,000 float32: 61 MB).


def nearest_neighbours(queries, reference, chunk=_CHUNK):
    """Each query row's nearest reference row, by Euclidean distance.

    Args:
        queries: float `[N, D]`.
        reference: float `[M, D]`, M >= 1.
        chunk: Query rows per distance matrix.

    Returns:
        `(distances float32 [N] >= 0, indices int64 [N] into reference)`.
    """
    queries = np.asarray(queries, np.float32)
    reference = np.asarray(reference, np.float32)
    q_sq, r_sq = squared_norms(queries), squared_norms(reference)
    distances = np.empty(len(queries), np.float32)
    indices = np.empty(len(queries), np.int64)
    for i in range(0, len(queries), chunk):
        d = squared_distances(queries[i : i + chunk], reference, q_sq[i : i + chunk], r_sq)
        j = d.argmin(axis=1)
        indices[i : i + chunk] = j
        distances[i : i + chunk] = np.sqrt(d[np.arange(len(d)), j])
    return distances, indices


class MemorisationReference:
    """The training set's features and the test set's nearest-train distances.

    Args:
        train_features: float `[M, D]` classifier features of the training digits.
        test_features: float `[T, D]` features of real digits not trained on.
    """

    def __init__(self, train_features, test_features):
        self.train = unit_rows(train_features)
        self.test_distances, _ = nearest_neighbours(unit_rows(test_features), self.train)
        self.thresholds = {p: float(np.percentile(self.test_distances, p)) for p in PERCENTILES}
        self.test_median = float(np.median(self.test_distances))

    def check(self, features):
        """Nearest-train distances of `features` and the summary fractions.

        Args:
            features: float `[N, D]` classifier features of generated digits.

        Returns:
            `(metrics {name: float}, distances float32 [N], indices int64 [N])`.
        """
        distances, indices = nearest_neighbours(unit_rows(features), self.train)
        metrics = {
            f"memorised_p{p}": float(np.mean(distances < t)) for p, t in self.thresholds.items()
        }
        metrics["nn_ratio"] = float(np.median(distances)) / max(self.test_median, 1e-12)
        return metrics, distances, indices


class MemorisationMetric(ExtraMetric):
    """The memorisation check as an `Evaluator` extra metric.

    The training digits' features are computed on the first call (60,000
    MNIST train digits: a few seconds) with the evaluator's classifier and
    compared with its reference (MNIST test) features.

    Args:
        train_images: uint8 `[M, 28, 28, 1]` (MNIST train).

    Attributes:
        last: `(images, distances, indices)` of the last evaluation, for
            `write_pairs_png`.
    """

    def __init__(self, train_images):
        self.train_images = train_images
        self.reference: Optional[MemorisationReference] = None
        self.last = None

    def __call__(self, evaluator, samples: Samples) -> Dict[str, float]:
        if self.reference is None:
            train_features, _ = evaluator.classifier.predict(self.train_images)
            self.reference = MemorisationReference(train_features, evaluator.reference_features)
        metrics, distances, indices = self.reference.check(samples.features)
        self.last = (samples.images, distances, indices)
        return metrics

    def write_pairs_png(self, path, num_pairs=20):
        """Writes the `num_pairs` closest generated/training pairs of the last evaluation.

        Two rows per ten pairs: generated digits above, their nearest training
        digits below, closest pair first.
        """
        if self.last is None:
            raise ValueError("write_pairs_png needs an evaluation first")
        images, distances, indices = self.last
        write_pairs_png(path, images, self.train_images, distances, indices, num_pairs)


def write_pairs_png(path, images, train_images, distances, indices, num_pairs=20, per_row=10):
    """Writes the closest generated/training pairs as a PNG grid (2x upscaled).

    Each band of two rows holds `per_row` pairs: generated digits on top,
    their nearest training digits below; the closest pair comes first.

    Args:
        path: Output PNG file.
        images: float `[N, 28, 28, 1]` in [0, 1], generated digits.
        train_images: uint8 `[M, 28, 28, 1]` (or float in [0, 1]).
        distances: float `[N]`, nearest-train distances.
        indices: int `[N]`, nearest training digit of each.
        num_pairs: Pairs drawn (the closest ones), >= 1.
        per_row: Pairs per band.
    """
    from PIL import Image

    order = np.argsort(distances, kind="stable")[: max(1, min(num_pairs, len(distances)))]
    fakes = np.clip(np.asarray(images, np.float32)[order][..., 0], 0.0, 1.0)
    reals = np.asarray(train_images)[np.asarray(indices)[order]][..., 0]
    reals = reals.astype(np.float32) / 255.0 if reals.dtype == np.uint8 else reals
    bands = -(-len(order) // per_row)
    cell = 28 + 2  # A 2-pixel gap right and below each digit.
    grid = np.full((bands * (2 * cell + 4), per_row * cell), 0.35, np.float32)
    for i in range(len(order)):
        band, col = divmod(i, per_row)
        top = band * (2 * cell + 4)  # 4 extra pixels between bands.
        x = col * cell
        grid[top : top + 28, x : x + 28] = fakes[i]
        grid[top + cell : top + cell + 28, x : x + 28] = reals[i]
    image = (grid * 255.0 + 0.5).astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1)
    picture = Image.fromarray(image, mode="L")
    fileio.write_atomic(path, lambda tmp: picture.save(tmp, format="PNG"))
