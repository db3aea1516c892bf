"""Builders for the generator and discriminator networks.

Every generator maps `[noise, one_hot]` (float32 `[B, latent_dim]` and float32
`[B, num_classes]`) to images float32 `[B, 28, 28, 1]` in [0, 1]. Every
discriminator maps `[images, one_hot]` to one real-vs-fake logit per example,
float32 `[B, 1]`. Labels condition both networks by concatenation, as in
Mirza & Osindero (2014).
"""

import keras
from keras import layers

from keras_cgan.config import ARCHS
from keras_cgan.errors import ConfigError

IMAGE_SHAPE = (28, 28, 1)
_INIT = "glorot_uniform"  # Xavier, as in the MXNet tutorial.


def _inputs(first_shape, first_name, num_classes):
    first = keras.Input(shape=first_shape, name=first_name)
    label = keras.Input(shape=(num_classes,), name="one_hot_labels")
    return first, label


def mlp_generator(latent_dim=100, num_classes=10, hidden_units=128, name="generator"):
    """The tutorial's generator: concat(z, y) -> Dense(relu) -> Dense(784, sigmoid).

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        hidden_units: Width of the hidden layer.
        name: Model name.

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, 28, 28, 1]`.
    """
    noise, label = _inputs((latent_dim,), "noise", num_classes)
    x = layers.Concatenate(name="concat")([noise, label])
    x = layers.Dense(hidden_units, activation="relu", kernel_initializer=_INIT, name="hidden")(x)
    x = layers.Dense(784, activation="sigmoid", kernel_initializer=_INIT, name="pixels")(x)
    images = layers.Reshape(IMAGE_SHAPE, name="images")(x)
    return keras.Model([noise, label], images, name=name)


def mlp_discriminator(num_classes=10, hidden_units=128, name="discriminator"):
    """The tutorial's discriminator: concat(flat image, y) -> Dense(relu) -> Dense(1).

    Args:
        num_classes: Width of the one-hot label input.
        hidden_units: Width of the hidden layer.
        name: Model name.

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    image, label = _inputs(IMAGE_SHAPE, "images", num_classes)
    x = layers.Flatten(name="flatten")(image)
    x = layers.Concatenate(name="concat")([x, label])
    x = layers.Dense(hidden_units, activation="relu", kernel_initializer=_INIT, name="hidden")(x)
    logits = layers.Dense(1, kernel_initializer=_INIT, name="logit")(x)
    return keras.Model([image, label], logits, name=name)


def dcgan_generator(latent_dim=100, num_classes=10, filters=64, name="generator"):
    """A light DCGAN generator conditioned by concatenating the label to z.

    concat(z, y) -> Dense(7*7*2f) -> BN -> ReLU -> ConvT(f, 4, stride 2) -> BN
    -> ReLU -> ConvT(1, 4, stride 2, sigmoid).

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, 28, 28, 1]`.
    """
    noise, label = _inputs((latent_dim,), "noise", num_classes)
    x = layers.Concatenate(name="concat")([noise, label])
    x = layers.Dense(7 * 7 * 2 * filters, use_bias=False, name="project")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((7, 7, 2 * filters))(x)
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False, name="up1")(x)
    x = layers.BatchNormalization(name="up1_bn")(x)
    x = layers.ReLU()(x)
    images = layers.Conv2DTranspose(
        1, 4, strides=2, padding="same", activation="sigmoid", name="images"
    )(x)
    return keras.Model([noise, label], images, name=name)


def dcgan_discriminator(num_classes=10, filters=64, name="discriminator"):
    """A light DCGAN discriminator; the label is tiled into extra input channels.

    concat(image, tiled y) -> Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4,
    stride 2) -> LeakyReLU -> Flatten -> concat(y) -> Dense(1).

    Args:
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    image, label = _inputs(IMAGE_SHAPE, "images", num_classes)
    label_maps = layers.Reshape((1, 1, num_classes))(label)
    label_maps = layers.UpSampling2D(size=IMAGE_SHAPE[:2], name="tile_labels")(label_maps)
    x = layers.Concatenate(name="concat")([image, label_maps])
    x = layers.Conv2D(filters, 4, strides=2, padding="same", name="down1")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", name="down2")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Concatenate(name="concat_label")([x, label])
    logits = layers.Dense(1, name="logit")(x)
    return keras.Model([image, label], logits, name=name)


def build_networks(arch="mlp", latent_dim=100, num_classes=10, hidden_units=128):
    """Builds a matching (generator, discriminator) pair.

    Args:
        arch: "mlp" (the tutorial's networks) or "dcgan".
        latent_dim: Width of the noise input.
        num_classes: Number of label classes.
        hidden_units: Hidden width (mlp) or base filter count (dcgan).

    Returns:
        `(generator, discriminator)` functional models.
    """
    if arch == "mlp":
        return (
            mlp_generator(latent_dim, num_classes, hidden_units),
            mlp_discriminator(num_classes, hidden_units),
        )
    if arch == "dcgan":
        return (
            dcgan_generator(latent_dim, num_classes, hidden_units),
            dcgan_discriminator(num_classes, hidden_units),
        )
    raise ConfigError(f"unknown arch {arch!r}: choose one of {', '.join(ARCHS)}")
