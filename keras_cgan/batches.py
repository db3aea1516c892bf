"""The training data a `ConditionalGAN` step accepts, unpacked and converted."""

import keras
import tensorflow as tf

from keras_cgan.errors import KerasCganError


def unpack(data):
    """Splits one `fit` element into its parts, as given (see `prepare`).

    Args:
        data: `(images, labels)`, `(images, labels, noise)`, `((images,
            labels),)` or a dict with keys "images", "labels" and optionally
            "noise"; images `[B, H, W, C]` or a stack `[K, B, H, W, C]`.

    Returns:
        `(images, labels, noise_or_None, stacked)`: images and labels as
        tensors, `stacked` true for a stack of K batches (K steps in one call).

    Raises:
        KerasCganError: `data` has none of those forms.
    """
    x, y, extra = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, dict):  # fit(x={"images": ..., "labels": ..., "noise": ...})
        real_images, labels, noise = x["images"], x["labels"], x.get("noise")
    elif y is not None:  # (images, labels) or (images, labels, noise)
        real_images, labels, noise = x, y, extra
    elif isinstance(x, (tuple, list)) and len(x) in (2, 3):  # fit(x=(images, labels))
        real_images, labels, noise = (tuple(x) + (None,))[:3]
    else:
        raise KerasCganError(
            "training data must be (images, labels) or (images, labels, noise) batches"
        )
    real_images, labels = tf.convert_to_tensor(real_images), tf.convert_to_tensor(labels)
    stacked = real_images.shape.rank == 5  # [K, B, 28, 28, 1]: K steps in one call.
    return real_images, labels, noise, stacked


def prepare(real_images, labels, noise, num_classes):
    """One step's inputs as float32 images in [0, 1], one-hot labels and noise.

    Done per step, inside the K-step loop: converting a whole stack of uint8
    pixels up front would write (and then read back) a float copy 4x its size.

    Args:
        real_images: `[B, H, W, C]`, float in [0, 1] or uint8 in 0..255.
        labels: One-hot `[B, num_classes]` or integer class ids `[B]`.
        noise: `[B, latent_dim]` or None.
        num_classes: The one-hot width.

    Returns:
        `(images float32 [B, H, W, C], one_hot float32 [B, num_classes],
        noise float32 [B, latent_dim] or None)`.
    """
    if real_images.dtype == tf.uint8:  # Raw MNIST pixels, 0..255.
        real_images = tf.cast(real_images, tf.float32) / 255.0
    real_images = tf.cast(real_images, tf.float32)
    if labels.shape.rank == 1:  # Integer class ids.
        labels = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
    labels = tf.cast(labels, tf.float32)
    if noise is not None:
        noise = tf.cast(noise, tf.float32)
    return real_images, labels, noise
