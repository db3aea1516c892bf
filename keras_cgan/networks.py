"""Builders for the generator and discriminator networks.

Every generator maps `[noise, one_hot]` (float32 `[B, latent_dim]` and float32
`[B, num_classes]`) to images float32 `[B, 28, 28, 1]` in [0, 1]. Every
discriminator maps `[images, one_hot]` to one real-vs-fake logit per example,
float32 `[B, 1]`. Labels condition the generators by concatenation to z, as
in Mirza & Osindero (2014), or (dcgan_cbn) through class-conditional batch
normalisation (de Vries et al., 2017; as in BigGAN); the discriminators take
them by concatenation (mlp, dcgan) or by projection (dcgan_proj, dcgan_cbn;
Miyato & Koyama, 2018).
"""

import keras
from keras import layers

from keras_cgan.config import ARCHS
from keras_cgan.errors import ConfigError

IMAGE_SHAPE = (28, 28, 1)
_INIT = "glorot_uniform"  # Xavier, as in the MXNet tutorial.


def _logit_dtype(dtype):
    """Mixed precision computes the logit layer in float32 (a stable loss)."""
    if dtype is not None and str(getattr(dtype, "name", dtype)).startswith("mixed_"):
        return "float32"
    return dtype


def _inputs(first_shape, first_name, num_classes):
    first = keras.Input(shape=first_shape, name=first_name)
    label = keras.Input(shape=(num_classes,), name="one_hot_labels")
    return first, label


def mlp_generator(latent_dim=100, num_classes=10, hidden_units=128, name="generator", dtype=None):
    """The tutorial's generator: concat(z, y) -> Dense(relu) -> Dense(784, sigmoid).

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        hidden_units: Width of the hidden layer.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, 28, 28, 1]`.
    """
    noise, label = _inputs((latent_dim,), "noise", num_classes)
    x = layers.Concatenate(name="concat", dtype=dtype)([noise, label])
    x = layers.Dense(
        hidden_units, activation="relu", kernel_initializer=_INIT, name="hidden", dtype=dtype
    )(x)
    x = layers.Dense(
        784, activation="sigmoid", kernel_initializer=_INIT, name="pixels", dtype=dtype
    )(x)
    images = layers.Reshape(IMAGE_SHAPE, name="images", dtype=dtype)(x)
    return keras.Model([noise, label], images, name=name)


def mlp_discriminator(num_classes=10, hidden_units=128, name="discriminator", dtype=None):
    """The tutorial's discriminator: concat(flat image, y) -> Dense(relu) -> Dense(1).

    Args:
        num_classes: Width of the one-hot label input.
        hidden_units: Width of the hidden layer.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    image, label = _inputs(IMAGE_SHAPE, "images", num_classes)
    x = layers.Flatten(name="flatten", dtype=dtype)(image)
    x = layers.Concatenate(name="concat", dtype=dtype)([x, label])
    x = layers.Dense(
        hidden_units, activation="relu", kernel_initializer=_INIT, name="hidden", dtype=dtype
    )(x)
    logits = layers.Dense(1, kernel_initializer=_INIT, name="logit", dtype=_logit_dtype(dtype))(x)
    return keras.Model([image, label], logits, name=name)


def dcgan_generator(latent_dim=100, num_classes=10, filters=64, name="generator", dtype=None):
    """A light DCGAN generator conditioned by concatenating the label to z.

    concat(z, y) -> Dense(7*7*2f) -> BN -> ReLU -> ConvT(f, 4, stride 2) -> BN
    -> ReLU -> ConvT(1, 4, stride 2, sigmoid).

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, 28, 28, 1]`.
    """
    noise, label = _inputs((latent_dim,), "noise", num_classes)
    x = layers.Concatenate(name="concat", dtype=dtype)([noise, label])
    x = layers.Dense(7 * 7 * 2 * filters, use_bias=False, name="project", dtype=dtype)(x)
    x = layers.BatchNormalization(name="project_bn", dtype=dtype)(x)
    x = layers.ReLU(dtype=dtype)(x)
    x = layers.Reshape((7, 7, 2 * filters), dtype=dtype)(x)
    x = layers.Conv2DTranspose(
        filters, 4, strides=2, padding="same", use_bias=False, name="up1", dtype=dtype
    )(x)
    x = layers.BatchNormalization(name="up1_bn", dtype=dtype)(x)
    x = layers.ReLU(dtype=dtype)(x)
    images = layers.Conv2DTranspose(
        1, 4, strides=2, padding="same", activation="sigmoid", name="images", dtype=dtype
    )(x)
    return keras.Model([noise, label], images, name=name)


def _conditional_bn(x, label, name, dtype):
    """Class-conditional batch normalisation: BN without its own scale and shift,
    then a per-class gain and bias, `x * gamma[y] + beta[y]`.

    The per-class vectors are bias-free Dense layers on the one-hot label,
    gains initialised to 1 and biases to 0, so the layer starts as plain
    batch normalisation. Built from stock layers (no custom layer to
    register for saving or export).

    Args:
        x: float `[B, N]` or `[B, H, W, N]`.
        label: one-hot float `[B, num_classes]`.
        name: Prefix of the layer names.
        dtype: Layer dtype policy.

    Returns:
        A tensor shaped like `x`.
    """
    channels = x.shape[-1]
    x = layers.BatchNormalization(center=False, scale=False, name=f"{name}_bn", dtype=dtype)(x)
    gamma = layers.Dense(
        channels, use_bias=False, kernel_initializer="ones", name=f"{name}_gain", dtype=dtype
    )(label)
    beta = layers.Dense(
        channels, use_bias=False, kernel_initializer="zeros", name=f"{name}_bias", dtype=dtype
    )(label)
    if len(x.shape) == 4:
        gamma = layers.Reshape((1, 1, channels), dtype=dtype)(gamma)
        beta = layers.Reshape((1, 1, channels), dtype=dtype)(beta)
    x = layers.Multiply(name=f"{name}_scale", dtype=dtype)([x, gamma])
    return layers.Add(name=f"{name}_shift", dtype=dtype)([x, beta])


def cbn_generator(latent_dim=100, num_classes=10, filters=64, name="generator", dtype=None):
    """The dcgan generator with the label in every normalisation layer.

    concat(z, y) -> Dense(7*7*2f) -> CBN(y) -> ReLU -> ConvT(f, 4, stride 2)
    -> CBN(y) -> ReLU -> ConvT(1, 4, stride 2, sigmoid), where CBN is
    class-conditional batch normalisation (`_conditional_bn`): the label
    sets each feature map's gain and bias at every resolution, not only the
    input of the first layer.

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, 28, 28, 1]`.
    """
    noise, label = _inputs((latent_dim,), "noise", num_classes)
    x = layers.Concatenate(name="concat", dtype=dtype)([noise, label])
    x = layers.Dense(7 * 7 * 2 * filters, use_bias=False, name="project", dtype=dtype)(x)
    x = _conditional_bn(x, label, "project", dtype)
    x = layers.ReLU(dtype=dtype)(x)
    x = layers.Reshape((7, 7, 2 * filters), dtype=dtype)(x)
    x = layers.Conv2DTranspose(
        filters, 4, strides=2, padding="same", use_bias=False, name="up1", dtype=dtype
    )(x)
    x = _conditional_bn(x, label, "up1", dtype)
    x = layers.ReLU(dtype=dtype)(x)
    images = layers.Conv2DTranspose(
        1, 4, strides=2, padding="same", activation="sigmoid", name="images", dtype=dtype
    )(x)
    return keras.Model([noise, label], images, name=name)


def _downsample(x, filters, dtype):
    """The conv discriminators' shared stem, `[B, 28, 28, C]` -> `[B, 7, 7, 2f]`.

    Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4, stride 2) -> LeakyReLU.
    """
    x = layers.Conv2D(filters, 4, strides=2, padding="same", name="down1", dtype=dtype)(x)
    x = layers.LeakyReLU(0.2, dtype=dtype)(x)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", name="down2", dtype=dtype)(x)
    return layers.LeakyReLU(0.2, dtype=dtype)(x)


def dcgan_discriminator(num_classes=10, filters=64, name="discriminator", dtype=None):
    """A light DCGAN discriminator; the label is tiled into extra input channels.

    concat(image, tiled y) -> Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4,
    stride 2) -> LeakyReLU -> Flatten -> concat(y) -> Dense(1).

    Args:
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    image, label = _inputs(IMAGE_SHAPE, "images", num_classes)
    label_maps = layers.Reshape((1, 1, num_classes), dtype=dtype)(label)
    label_maps = layers.UpSampling2D(size=IMAGE_SHAPE[:2], name="tile_labels", dtype=dtype)(
        label_maps
    )
    x = layers.Concatenate(name="concat", dtype=dtype)([image, label_maps])
    x = layers.Flatten(dtype=dtype)(_downsample(x, filters, dtype))
    x = layers.Concatenate(name="concat_label", dtype=dtype)([x, label])
    logits = layers.Dense(1, name="logit", dtype=_logit_dtype(dtype))(x)
    return keras.Model([image, label], logits, name=name)


def projection_discriminator(num_classes=10, filters=64, name="discriminator", dtype=None):
    """A light DCGAN discriminator with projection conditioning (Miyato & Koyama, 2018).

    image -> Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4, stride 2) ->
    LeakyReLU -> Flatten = h, float `[B, 7*7*2f]`; logit = Dense(1)(h) +
    <embed(y), h>, where embed(y) is a learned vector per class (a bias-free
    Dense on the one-hot label). The label enters only through the inner
    product, so the class decides which direction of the image features
    counts as "real".

    Args:
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    image, label = _inputs(IMAGE_SHAPE, "images", num_classes)
    features = layers.Flatten(name="features", dtype=dtype)(_downsample(image, filters, dtype))
    logit_dtype = _logit_dtype(dtype)
    unconditional = layers.Dense(1, name="logit", dtype=logit_dtype)(features)
    embedding = layers.Dense(
        features.shape[-1], use_bias=False, name="label_embedding", dtype=dtype
    )(label)
    projection = layers.Dot(axes=1, name="projection", dtype=logit_dtype)([features, embedding])
    logits = layers.Add(name="logits", dtype=logit_dtype)([unconditional, projection])
    return keras.Model([image, label], logits, name=name)


def build_networks(arch="mlp", latent_dim=100, num_classes=10, hidden_units=128, dtype=None):
    """Builds a matching (generator, discriminator) pair.

    Args:
        arch: "mlp" (the tutorial's networks), "dcgan", "dcgan_proj" (the
            dcgan generator with `projection_discriminator`) or "dcgan_cbn"
            (`cbn_generator` with `projection_discriminator`).
        latent_dim: Width of the noise input.
        num_classes: Number of label classes.
        hidden_units: Hidden width (mlp) or base filter count (dcgan).
        dtype: Layer dtype policy for both networks, e.g. "mixed_bfloat16".

    Returns:
        `(generator, discriminator)` functional models.
    """
    if arch == "mlp":
        return (
            mlp_generator(latent_dim, num_classes, hidden_units, dtype=dtype),
            mlp_discriminator(num_classes, hidden_units, dtype=dtype),
        )
    if arch == "dcgan":
        return (
            dcgan_generator(latent_dim, num_classes, hidden_units, dtype=dtype),
            dcgan_discriminator(num_classes, hidden_units, dtype=dtype),
        )
    if arch == "dcgan_proj":
        return (
            dcgan_generator(latent_dim, num_classes, hidden_units, dtype=dtype),
            projection_discriminator(num_classes, hidden_units, dtype=dtype),
        )
    if arch == "dcgan_cbn":
        return (
            cbn_generator(latent_dim, num_classes, hidden_units, dtype=dtype),
            projection_discriminator(num_classes, hidden_units, dtype=dtype),
        )
    raise ConfigError(f"unknown arch {arch!r}: choose one of {', '.join(ARCHS)}")
