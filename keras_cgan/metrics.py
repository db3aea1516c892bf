"""Sample-quality metric math: plain NumPy on classifier feature arrays.

Features are float `[N, D]` arrays (the reference classifier's penultimate
layer, `keras_cgan.classifier`); probabilities float `[N, C]`. The metrics
themselves are described in `keras_cgan.evaluation`.
"""

import numpy as np

from keras_cgan.errors import EvaluationError

NEAREST_K = 3
_CHUNK = 1024  # Rows of a distance matrix computed at once (1024 x 10,000 float32: 40 MB).


def squared_norms(x):
    """Squared L2 norm of each row of `x` (float `[N, D]`): `[N]`."""
    return np.einsum("ij,ij->i", x, x)


def squared_distances(a, b, a_sq, b_sq):
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
    sq = squared_norms(x)
    radii = np.empty(n, np.float32)
    for i in range(0, n, chunk):
        d = squared_distances(x[i : i + chunk], x, sq[i : i + chunk], sq)
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
    real_sq, fake_sq = squared_norms(real), squared_norms(fake)
    fake_inside = np.empty(len(fake), bool)
    real_covered = np.zeros(len(real), bool)
    for i in range(0, len(fake), chunk):  # One pass over the fake x real distances.
        d = squared_distances(fake[i : i + chunk], real, fake_sq[i : i + chunk], real_sq)
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
    sq = squared_norms(x)
    total = 0.0
    for i in range(0, n, chunk):
        d = squared_distances(x[i : i + chunk], x, sq[i : i + chunk], sq)
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
