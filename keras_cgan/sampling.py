"""Sampling recipes shared by the tools: grids, class morphs and latent walks.

Each works with any generator of the `keras_cgan.loading` interface
(`latent_dim`, `num_classes`, `generate(labels, noise=None, seed=None)`,
`generate_soft(one_hot, noise)`): an export, a run or a `ConditionalGAN`
behind `loading.GanGenerator`. Images are float32 `[N, H, W, C]` in [0, 1].
"""

import numpy as np

from keras_cgan.errors import KerasCganError

# Images generated at a time by `grid_chunks` (about 31 MiB of MNIST pixels).
CHUNK = 10_000


class GenerateError(KerasCganError):
    """Bad sampling arguments (classes, pairs, sizes)."""


def parse_digits(text, num_classes=10, name="--digits"):
    """Parses "0123" into [0, 1, 2, 3]; every character must be a class id."""
    if not text:
        raise GenerateError(f"{name} is empty: give digits such as {name}=0123456789")
    digits = []
    for char in text:
        if not char.isdigit() or int(char) >= num_classes:
            raise GenerateError(f"{name}={text!r}: {char!r} is not a digit in 0..{num_classes - 1}")
        digits.append(int(char))
    return digits


def class_id(part, class_names, name="--classes", text=None):
    """The class id of one class name or id (see `parse_classes`)."""
    from keras_cgan.datasets import short_name

    names = [str(n) for n in class_names]
    part = str(part).strip()
    if part in names:
        return names.index(part)
    for i, n in enumerate(names):
        if part.lower() in (n.lower(), short_name(n, 64).lower()):
            return i
    if part.isdigit() and int(part) < len(names):
        return int(part)
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise GenerateError(
        f"{name}={text if text is not None else part!r}: {part!r} is not a class name or an "
        f"id in 0..{len(names) - 1} (classes: {shown})"
    )


def parse_classes(text, class_names, name="--classes"):
    """Parses comma-separated class names or ids into class ids.

    A part matches a class name exactly, then ignoring case (the full name or
    its grid label, e.g. "t-shirt" for "T-shirt/top"), then as an integer id.

    Args:
        text: e.g. "sneaker,bag", "7,8" or "Sneaker, 8".
        class_names: The model's class names, in label order.
        name: The flag, for messages.

    Returns:
        A list of int class ids, in the order given.

    Raises:
        GenerateError: empty, or a part that is neither a class name nor an id.
    """
    parts = [p.strip() for p in str(text or "").split(",")]
    if not any(parts):
        raise GenerateError(f"{name} is empty: give class names or ids, e.g. {name}=0,1")
    return [class_id(part, class_names, name, repr(text)) for part in parts]


def as_class_ids(labels, class_names):
    """Labels given as ids or class names (e.g. `["sneaker", "bag"]`) as int32 ids `[N]`.

    Raises:
        GenerateError: a name that is not a class.
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind in "USO":
        labels = np.asarray([class_id(x, class_names, "labels") for x in labels], np.int32)
    return labels


def parse_pair(text, num_classes=10, class_names=None):
    """Parses "3,8" (or two class names, "sneaker,bag") into (3, 8) for --interpolate."""
    parts = text.split(",")
    if len(parts) != 2:
        raise GenerateError(
            f"--interpolate={text!r}: give two digits separated by a comma, e.g. 3,8"
        )
    if class_names is not None and not all(p.strip().isdigit() for p in parts):
        return tuple(parse_classes(text, class_names, "--interpolate"))
    a, b = (p.strip() for p in parts)
    for p in (a, b):
        if len(p) != 1:
            raise GenerateError(
                f"--interpolate={text!r}: {p!r} is not a single digit in 0..{num_classes - 1}"
            )
    return tuple(parse_digits(a + b, num_classes, "--interpolate"))


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


def grid_chunks(generator, digits, per_digit, seed, chunk=CHUNK):
    """`grid_samples` in parts: yields `(images [k, 28, 28, 1], labels [k])`, k <= chunk.

    The parts concatenate to exactly `grid_samples(...)` for the same seed
    (the noise is drawn from one stream in order), while only one part is in
    memory at a time.
    """
    rng = np.random.default_rng(seed)
    for labels in grid_labels(digits, per_digit, chunk):
        noise = rng.standard_normal((len(labels), generator.latent_dim), dtype=np.float32)
        yield generator.generate(labels, noise=noise), labels


def grid_labels(digits, per_digit, chunk=CHUNK):
    """The labels of `grid_samples` in parts of at most `chunk`: int32 `[k]` each."""
    digits = np.asarray(digits, np.int32)
    total = len(digits) * per_digit
    for start in range(0, total, chunk):
        yield digits[np.arange(start, min(start + chunk, total)) // per_digit]


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
