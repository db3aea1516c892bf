"""Builders for the generator and discriminator networks.

Every generator maps `[noise, one_hot]` (float32 `[B, latent_dim]` and float32
`[B, num_classes]`) to images float32 `[B, H, W, C]` in [0, 1] (`image_shape`,
MNIST's `[28, 28, 1]` by default). Every discriminator maps `[images, one_hot]`
to one real-vs-fake logit per example, float32 `[B, 1]`. `mlp` builds any
shape; the conv networks build square images whose side is a multiple of 4,
grey or RGB, with one more up/downsampling block each time the side doubles
past 32 (28 -> 7x7 start, 32 -> 8x8, 64 -> 8x8 with three blocks, ...). Labels condition the generators by concatenation to z, as
in Mirza & Osindero (2014), or (dcgan_cbn, MNIST's shape only) through
class-conditional batch normalisation (de Vries et al., 2017; as in BigGAN);
the discriminators take them by concatenation (mlp, dcgan) or by projection
(dcgan_proj, dcgan_cbn; Miyato & Koyama, 2018).
"""

import math

import keras
from keras import layers

from keras_cgan.config import ARCHS, PROJECTION_ARCHS
from keras_cgan.errors import ConfigError
from keras_cgan.fused_norm import FusedBatchNormalization

IMAGE_SHAPE = (28, 28, 1)
_INIT = "glorot_uniform"  # Xavier, as in the MXNet tutorial.


def _generator_inputs(latent_dim, num_classes, noise_scale, dtype):
    """`(noise, label, z)`: the inputs, and z scaled at inference when `noise_scale` != 1."""
    noise, label = _inputs((latent_dim,), "noise", num_classes)
    z = (
        noise
        if noise_scale == 1
        else NoiseScale(noise_scale, name="noise_scale", dtype=dtype)(noise)
    )
    return noise, label, z


def _logit_dtype(dtype):
    """Mixed precision computes the logit layer in float32 (a stable loss)."""
    if dtype is not None and str(getattr(dtype, "name", dtype)).startswith("mixed_"):
        return "float32"
    return dtype


@keras.saving.register_keras_serializable(package="keras_cgan")
class NoiseScale(layers.Layer):
    """Multiplies the noise z by `scale` at inference and passes it unchanged in training.

    The generator trains on z ~ N(0, 1) and samples (grids, evaluation,
    export) from z ~ N(0, scale^2) without the caller drawing it so: above 1
    widens the samples (more recall, less precision), below 1 is the
    truncation trick. Weightless, so checkpoints do not depend on it.
    """

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, noise, training=None):
        return noise if training else noise * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _inputs(first_shape, first_name, num_classes):
    first = keras.Input(shape=first_shape, name=first_name)
    label = keras.Input(shape=(num_classes,), name="one_hot_labels")
    return first, label


def conv_blocks(image_shape, arch="dcgan"):
    """`(start side, up/downsampling blocks)` of the conv networks for `image_shape`.

    The side is divided by 4 (two stride-2 blocks), then halved by one more
    block while it stays even and above 8: 28 -> (7, 2), 32 -> (8, 2), 64 ->
    (8, 3), 128 -> (8, 4).

    Raises:
        ConfigError: not a square grey/RGB image whose side is a multiple of 4.
    """
    h, w, c = image_shape
    if h != w or h % 4 or h < 8 or c not in (1, 3):
        raise ConfigError(
            f"--arch={arch} builds square grey or RGB images whose side is a multiple of 4, "
            f"the dataset has {h}x{w}x{c}: pass --image_size=N (e.g. "
            f"{max(8, 4 * round(max(h, w) / 4))}) or --arch=mlp"
        )
    side, blocks = h // 4, 2
    while side > 8 and side % 2 == 0:
        side, blocks = side // 2, blocks + 1
    return side, blocks


def mlp_generator(
    latent_dim=100,
    num_classes=10,
    hidden_units=128,
    name="generator",
    dtype=None,
    image_shape=IMAGE_SHAPE,
    noise_scale=1.0,
):
    """The tutorial's generator: concat(z, y) -> Dense(relu) -> Dense(H*W*C, sigmoid).

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        hidden_units: Width of the hidden layer.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).
        image_shape: `(H, W, C)` of the images.
        noise_scale: z's scale at inference (`NoiseScale`; 1 = no layer).

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, H, W, C]`.
    """
    noise, label, z = _generator_inputs(latent_dim, num_classes, noise_scale, dtype)
    x = layers.Concatenate(name="concat", dtype=dtype)([z, label])
    x = layers.Dense(
        hidden_units, activation="relu", kernel_initializer=_INIT, name="hidden", dtype=dtype
    )(x)
    x = layers.Dense(
        math.prod(image_shape),
        activation="sigmoid",
        kernel_initializer=_INIT,
        name="pixels",
        dtype=dtype,
    )(x)
    images = layers.Reshape(tuple(image_shape), name="images", dtype=dtype)(x)
    return keras.Model([noise, label], images, name=name)


def mlp_discriminator(
    num_classes=10, hidden_units=128, name="discriminator", dtype=None, image_shape=IMAGE_SHAPE
):
    """The tutorial's discriminator: concat(flat image, y) -> Dense(relu) -> Dense(1).

    Args:
        num_classes: Width of the one-hot label input.
        hidden_units: Width of the hidden layer.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).
        image_shape: `(H, W, C)` of the images.

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    image, label = _inputs(tuple(image_shape), "images", num_classes)
    x = layers.Flatten(name="flatten", dtype=dtype)(image)
    x = layers.Concatenate(name="concat", dtype=dtype)([x, label])
    x = layers.Dense(
        hidden_units, activation="relu", kernel_initializer=_INIT, name="hidden", dtype=dtype
    )(x)
    logits = layers.Dense(1, kernel_initializer=_INIT, name="logit", dtype=_logit_dtype(dtype))(x)
    return keras.Model([image, label], logits, name=name)


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
    x = FusedBatchNormalization(center=False, scale=False, name=f"{name}_bn", dtype=dtype)(x)
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


def dcgan_generator(
    latent_dim=100,
    num_classes=10,
    filters=64,
    name="generator",
    dtype=None,
    image_shape=IMAGE_SHAPE,
    conditional_bn=False,
    noise_scale=1.0,
):
    """A light DCGAN generator conditioned on the label.

    For MNIST: concat(z, y) -> Dense(7*7*2f) -> BN -> ReLU -> ConvT(f, 4,
    stride 2) -> BN -> ReLU -> ConvT(1, 4, stride 2, sigmoid). In general it
    starts at `s x s x 2^(n-1) f` and runs n-1 ConvT-BN-ReLU blocks (`up1`,
    ...), halving the filters, before the last ConvT(C) (`conv_blocks`: s, n).
    With `conditional_bn` every BN is class-conditional (`_conditional_bn`):
    the label sets each feature map's gain and bias at every resolution, not
    only the input of the first layer.

    Args:
        latent_dim: Width of the noise input.
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).
        image_shape: `(H, W, C)`: square, H a multiple of 4, C 1 or 3.
        conditional_bn: Class-conditional instead of plain batch normalisation.
        noise_scale: z's scale at inference (`NoiseScale`; 1 = no layer).

    Returns:
        A functional `keras.Model` `[noise, one_hot] -> images [B, H, W, C]`.
    """
    side, blocks = conv_blocks(image_shape)
    width = 2 ** (blocks - 1) * filters
    noise, label, z = _generator_inputs(latent_dim, num_classes, noise_scale, dtype)

    def normalise(x, prefix):
        if conditional_bn:
            return _conditional_bn(x, label, prefix, dtype)
        return FusedBatchNormalization(name=f"{prefix}_bn", dtype=dtype)(x)

    x = layers.Concatenate(name="concat", dtype=dtype)([z, label])
    x = layers.Dense(side * side * width, use_bias=False, name="project", dtype=dtype)(x)
    x = layers.ReLU(dtype=dtype)(normalise(x, "project"))
    x = layers.Reshape((side, side, width), dtype=dtype)(x)
    for i in range(1, blocks):
        x = layers.Conv2DTranspose(
            width // 2**i, 4, strides=2, padding="same", use_bias=False, name=f"up{i}", dtype=dtype
        )(x)
        x = layers.ReLU(dtype=dtype)(normalise(x, f"up{i}"))
    images = layers.Conv2DTranspose(
        image_shape[-1],
        4,
        strides=2,
        padding="same",
        activation="sigmoid",
        name="images",
        dtype=dtype,
    )(x)
    return keras.Model([noise, label], images, name=name)


def _downsample(x, filters, dtype, blocks=2):
    """The conv discriminators' shared stem, e.g. `[B, 28, 28, C]` -> `[B, 7, 7, 2f]`.

    Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4, stride 2) -> LeakyReLU,
    then more such blocks (`down3`, ...) doubling the filters, `blocks` in all.
    """
    for i in range(blocks):
        x = layers.Conv2D(
            2**i * filters, 4, strides=2, padding="same", name=f"down{i + 1}", dtype=dtype
        )(x)
        x = layers.LeakyReLU(0.2, dtype=dtype)(x)
    return x


def dcgan_discriminator(
    num_classes=10, filters=64, name="discriminator", dtype=None, image_shape=IMAGE_SHAPE
):
    """A light DCGAN discriminator; the label is tiled into extra input channels.

    concat(image, tiled y) -> Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4,
    stride 2) -> LeakyReLU -> Flatten -> concat(y) -> Dense(1).

    Args:
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).
        image_shape: `(H, W, C)`: square, H a multiple of 4, C 1 or 3.

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    _, blocks = conv_blocks(image_shape)
    image, label = _inputs(tuple(image_shape), "images", num_classes)
    label_maps = layers.Reshape((1, 1, num_classes), dtype=dtype)(label)
    label_maps = layers.UpSampling2D(size=tuple(image_shape[:2]), name="tile_labels", dtype=dtype)(
        label_maps
    )
    x = layers.Concatenate(name="concat", dtype=dtype)([image, label_maps])
    x = layers.Flatten(dtype=dtype)(_downsample(x, filters, dtype, blocks))
    x = layers.Concatenate(name="concat_label", dtype=dtype)([x, label])
    logits = layers.Dense(1, name="logit", dtype=_logit_dtype(dtype))(x)
    return keras.Model([image, label], logits, name=name)


def projection_discriminator(
    num_classes=10,
    filters=64,
    name="discriminator",
    dtype=None,
    image_shape=IMAGE_SHAPE,
    hidden=0,
):
    """A light DCGAN discriminator with projection conditioning (Miyato & Koyama, 2018).

    image -> Conv(f, 4, stride 2) -> LeakyReLU -> Conv(2f, 4, stride 2) ->
    LeakyReLU -> Flatten [-> Dense(hidden) -> LeakyReLU] = h, float `[B, F]`
    (F = 7*7*2f, or `hidden`); logit = Dense(1)(h) + <embed(y), h>, where
    embed(y) is a learned vector per class (a bias-free Dense on the one-hot
    label). The label enters only through the inner product, so the class
    decides which direction of the image features counts as "real".

    Args:
        num_classes: Width of the one-hot label input.
        filters: Base filter count `f`.
        name: Model name.
        dtype: Layer dtype policy, e.g. "mixed_float16" (None: the global one).
        image_shape: `(H, W, C)`: square, H a multiple of 4, C 1 or 3.
        hidden: Width of the hidden layer on the conv features (0 = none).
            Without it the logit, the projection and the class head are
            linear in the conv features; with it they read a learned
            nonlinear feature space (on MNIST: higher precision and recall,
            docs/quality_experiments.md).

    Returns:
        A functional `keras.Model` `[images, one_hot] -> logits [B, 1]`.
    """
    _, blocks = conv_blocks(image_shape, "dcgan_proj")
    image, label = _inputs(tuple(image_shape), "images", num_classes)
    x = _downsample(image, filters, dtype, blocks)
    if hidden:
        x = layers.Flatten(name="conv_features", dtype=dtype)(x)
        x = layers.Dense(hidden, name="hidden", dtype=dtype)(x)
        features = layers.LeakyReLU(0.2, name="features", dtype=dtype)(x)
    else:
        features = layers.Flatten(name="features", dtype=dtype)(x)
    logit_dtype = _logit_dtype(dtype)
    unconditional = layers.Dense(1, name="logit", dtype=logit_dtype)(features)
    embedding = layers.Dense(
        features.shape[-1], use_bias=False, name="label_embedding", dtype=dtype
    )(label)
    projection = layers.Dot(axes=1, name="projection", dtype=logit_dtype)([features, embedding])
    logits = layers.Add(name="logits", dtype=logit_dtype)([unconditional, projection])
    return keras.Model([image, label], logits, name=name)


def build_networks(
    arch="mlp",
    latent_dim=100,
    num_classes=10,
    hidden_units=128,
    dtype=None,
    image_shape=None,
    d_hidden=0,
    noise_scale=1.0,
):
    """Builds a matching (generator, discriminator) pair.

    Args:
        arch: "mlp" (the tutorial's networks), "dcgan", "dcgan_proj" (the
            dcgan generator with `projection_discriminator`) or "dcgan_cbn"
            (`dcgan_generator` with class-conditional batch norm and
            `projection_discriminator`).
        latent_dim: Width of the noise input.
        num_classes: Number of label classes.
        hidden_units: Hidden width (mlp) or base filter count (dcgan).
        dtype: Layer dtype policy for both networks, e.g. "mixed_bfloat16".
        image_shape: `(H, W, C)` of the images (None: MNIST's 28x28x1).
        d_hidden: `projection_discriminator`'s hidden width (0 = none; the
            projection archs only).
        noise_scale: The generator's z scale at inference (`NoiseScale`).

    Returns:
        `(generator, discriminator)` functional models.

    Raises:
        ConfigError: an unknown arch, or a shape the conv networks cannot build.
    """
    shape = dict(dtype=dtype, image_shape=tuple(image_shape or IMAGE_SHAPE))
    g_shape = dict(shape, noise_scale=noise_scale)
    if d_hidden and arch not in PROJECTION_ARCHS:
        raise ConfigError(f"d_hidden needs a projection discriminator, not arch {arch!r}")
    if arch == "mlp":
        return (
            mlp_generator(latent_dim, num_classes, hidden_units, **g_shape),
            mlp_discriminator(num_classes, hidden_units, **shape),
        )
    if arch == "dcgan":
        conv_blocks(shape["image_shape"], arch)
        return (
            dcgan_generator(latent_dim, num_classes, hidden_units, **g_shape),
            dcgan_discriminator(num_classes, hidden_units, **shape),
        )
    if arch in PROJECTION_ARCHS:
        conv_blocks(shape["image_shape"], arch)
        cbn = arch == "dcgan_cbn"
        return (
            dcgan_generator(latent_dim, num_classes, hidden_units, conditional_bn=cbn, **g_shape),
            projection_discriminator(num_classes, hidden_units, hidden=d_hidden, **shape),
        )
    raise ConfigError(f"unknown arch {arch!r}: choose one of {', '.join(ARCHS)}")


def with_features(discriminator):
    """A view of a discriminator that also outputs its "features" layer (same variables).

    Args:
        discriminator: A functional model with a layer named "features"
            (`projection_discriminator`'s features `h`).

    Returns:
        A `keras.Model` `[images, one_hot] -> [logits [B, 1], features [B, F]]`.

    Raises:
        ConfigError: the discriminator has no "features" layer.
    """
    if "features" not in [layer.name for layer in discriminator.layers]:
        raise ConfigError(
            "aux_classifier needs a discriminator with a 'features' layer: use "
            f"--arch={' or --arch='.join(PROJECTION_ARCHS)}"
        )
    features = discriminator.get_layer("features").output
    return keras.Model(
        discriminator.inputs, [discriminator.output, features], name="discriminator_features"
    )
