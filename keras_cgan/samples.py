"""Sample layouts drawn from a generator: class grids, class morphs, latent walks.

Every function takes a `generator` with the `ExportedGenerator` interface
(`latent_dim`, `num_classes`, `generate(labels, noise=None, seed=None)` and
`generate_soft(one_hot, noise)`), so an export and an in-memory model serve
the same layouts. Noise is drawn from N(0, 1) with `np.random.default_rng(seed)`:
the same seed gives the same pictures in every process.
"""

import numpy as np


def slerp(a, b, t):
    """Spherical interpolation between noise vectors `a`, `b` (float [D]) at ts `t` [S]."""
    a_n, b_n = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a_n, b_n), -1.0, 1.0))
    t = np.asarray(t, np.float64)[:, None]
    if omega < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(
        np.float32
    )


def grid_samples(generator, digits, per_digit, seed, shared_noise=False):
    """`(images [R*C, H, W, C], labels [R*C])`, row r = class `digits[r]`.

    Args:
        generator: See the module docstring.
        digits: Class ids, one row each.
        per_digit: Images per row (columns).
        seed: Seed of the noise (None: fresh noise).
        shared_noise: Column c uses the same noise in every row, so a column
            shows one "style" across classes; otherwise every image has its
            own noise.
    """
    labels = np.repeat(np.asarray(digits, np.int32), per_digit)
    if not shared_noise:
        return generator.generate(labels, seed=seed), labels
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((per_digit, generator.latent_dim), dtype=np.float32)
    noise = np.tile(noise, (len(digits), 1))
    return generator.generate(labels, noise=noise), labels


def interpolation_strip(generator, pair, steps, rows, seed):
    """Images `[rows * steps, ...]`: each row morphs class pair[0] into pair[1].

    Args:
        steps: Number of evenly spaced mixes from 0 to 1, or a sequence of
            mix weights in [0, 1] (0 = pair[0], 1 = pair[1]).
        rows: Noise vectors, one row each, fixed along the row.
    """
    t = (
        np.linspace(0.0, 1.0, steps, dtype=np.float32)
        if np.ndim(steps) == 0
        else np.asarray(steps, np.float32).reshape(-1)
    )
    rng = np.random.default_rng(seed)
    noise = np.repeat(
        rng.standard_normal((rows, generator.latent_dim), dtype=np.float32), len(t), 0
    )
    t = np.tile(t, rows)[:, None]
    eye = np.eye(generator.num_classes, dtype=np.float32)
    one_hot = (1 - t) * eye[pair[0]] + t * eye[pair[1]]
    return generator.generate_soft(one_hot, noise)


def latent_walk(generator, digits, steps, seed):
    """Images `[len(digits) * steps, ...]`: row r walks the noise for digit r."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, generator.latent_dim))
    path = slerp(a, b, np.linspace(0.0, 1.0, steps))
    noise = np.tile(path, (len(digits), 1))
    labels = np.repeat(np.asarray(digits, np.int32), steps)
    return generator.generate(labels, noise=noise)
