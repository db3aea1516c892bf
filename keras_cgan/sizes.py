"""How much memory a request for samples needs, and the limit of one in-memory call.

`ConditionalGAN.generate` and `export.ExportedGenerator.generate` return all
their images as one array. A request above `MAX_GENERATE_BYTES` is refused up
front with one line that says how much it would need, instead of dying in
NumPy or TensorFlow halfway. To draw more, call them in parts, or stream to
disk with `python -m keras_cgan.generate --npz=FILE` (any number of images).
"""

import math

from keras_cgan.errors import KerasCganError

# One call's float32 images, noise and one-hot labels: 4 GiB is about 1.2
# million 28x28 digits. Raise it on a machine with the memory to spare.
MAX_GENERATE_BYTES = 4 * 2**30


class TooLarge(KerasCganError, ValueError):
    """A request would need more memory than its documented limit."""


def format_bytes(n):
    """`n` bytes in words: "512 B", "3.1 MiB", "37.3 GiB"."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def generate_bytes(n, image_shape, latent_dim, num_classes):
    """Bytes of `n` float32 images of `image_shape`, plus their noise and one-hot labels."""
    return int(n) * 4 * (math.prod(image_shape) + int(latent_dim) + int(num_classes))


def check_generate(n, image_shape, latent_dim, num_classes, limit=None):
    """Raises `TooLarge` if generating `n` images at once needs more than `limit` bytes.

    Args:
        n: Number of images asked for.
        image_shape: One image's shape, e.g. `(28, 28, 1)`.
        latent_dim: Width of the noise.
        num_classes: Number of classes (one-hot width).
        limit: Bytes allowed; None means `MAX_GENERATE_BYTES`, read at call time.

    Raises:
        TooLarge: with the memory the request needs and the most images one
            call may ask for.
    """
    limit = MAX_GENERATE_BYTES if limit is None else limit
    need = generate_bytes(n, image_shape, latent_dim, num_classes)
    if need <= limit:
        return
    per_image = generate_bytes(1, image_shape, latent_dim, num_classes)
    shape = "x".join(str(int(d)) for d in image_shape)
    raise TooLarge(
        f"generating {int(n):,} images at once needs {format_bytes(need)} of memory "
        f"(float32 {shape} images with their noise and labels), above the "
        f"{format_bytes(limit)} limit of one call (keras_cgan.sizes.MAX_GENERATE_BYTES): "
        f"ask for at most {limit // per_image:,} per call, or stream them to disk with "
        "python -m keras_cgan.generate --npz=FILE"
    )
