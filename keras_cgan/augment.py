"""DiffAugment for the discriminator (Zhao et al., 2020), on MNIST-sized batches.

Differentiable augmentations applied to every image the discriminator sees,
real and generated alike, in both the discriminator's and the generator's
update: the generator's gradients flow through them, so it is never pushed to
produce augmented-looking digits. Policies:

* "translation": shift each image by up to `TRANSLATION_PIXELS` pixels in
  each direction (zero padding), independently per image;
* "cutout": zero one square of side `CUTOUT_SIZE` at a random position per
  image (it may hang over the border).

The randomness is counter-based (`keras_cgan.rng`): a pure function of
`(seed, step, stream)`, the same with or without XLA and after a resume.
"""

import tensorflow as tf

from keras_cgan import rng

TRANSLATION_PIXELS = 3  # 1/8 of 28, DiffAugment's ratio.
CUTOUT_SIZE = 14  # 1/2 of 28, DiffAugment's ratio.
_STREAM_STRIDE = 7919  # Keys of the augmentation streams: seed + stride * (1 + stream).


def _uniform_ints(n, high, seed):
    """int32 `[n]` uniform in 0..high-1, from the counter-based normal RNG."""
    z = rng.normal([n], seed)
    u = 0.5 * (1.0 + tf.math.erf(z / tf.sqrt(2.0)))  # In (0, 1).
    return tf.minimum(tf.cast(u * float(high), tf.int32), high - 1)


def translate(images, shift_y, shift_x, pad=TRANSLATION_PIXELS):
    """Shifts each image by its own `(shift_y, shift_x)` pixels, zero-filling.

    Args:
        images: float `[B, H, W, C]`.
        shift_y, shift_x: int32 `[B]`, each in `-pad..pad`.
        pad: The largest shift.

    Returns:
        float `[B, H, W, C]`.
    """
    h, w = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = tf.range(h)[None, :] + pad - shift_y[:, None]
    cols = tf.range(w)[None, :] + pad - shift_x[:, None]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(out, cols, axis=2, batch_dims=1)


def cutout(images, centre_y, centre_x, size=CUTOUT_SIZE):
    """Zeroes a `size` x `size` square centred at each image's `(centre_y, centre_x)`.

    Args:
        images: float `[B, H, W, C]`.
        centre_y, centre_x: int32 `[B]`.
        size: Side of the square.

    Returns:
        float `[B, H, W, C]`.
    """
    h, w = images.shape[1], images.shape[2]
    half = size // 2
    inside_y = tf.abs(tf.range(h)[None, :] - centre_y[:, None]) < half  # [B, H]
    inside_x = tf.abs(tf.range(w)[None, :] - centre_x[:, None]) < half  # [B, W]
    inside = tf.logical_and(inside_y[:, :, None], inside_x[:, None, :])
    return images * tf.cast(tf.logical_not(inside), images.dtype)[..., None]


def diff_augment(images, policy, seed_key, step, stream):
    """Applies `policy` to a batch with randomness keyed by `(seed_key, step, stream)`.

    Args:
        images: float `[B, 28, 28, 1]`.
        policy: Tuple of names from `config.DIFFAUGMENT_POLICIES` (`config.parse_diffaugment`).
        seed_key: int64 scalar, the run's seed key.
        step: int64 scalar, the training step.
        stream: Python int telling apart the batches of one step (real, fake).

    Returns:
        float `[B, 28, 28, 1]`, differentiable with respect to `images`.
    """
    b = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    key = tf.cast(seed_key, tf.int64) + _STREAM_STRIDE * (1 + stream)
    for i, name in enumerate(policy):
        seed = tf.stack([key + i, tf.cast(step, tf.int64)])
        draws = tf.reshape(_uniform_ints(2 * b, 0x7FFF, seed), [2, b])
        if name == "translation":
            span = 2 * TRANSLATION_PIXELS + 1
            images = translate(
                images, draws[0] % span - TRANSLATION_PIXELS, draws[1] % span - TRANSLATION_PIXELS
            )
        else:
            images = cutout(images, draws[0] % h, draws[1] % w)
    return images
