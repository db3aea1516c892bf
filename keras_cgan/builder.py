"""Builds the compiled `ConditionalGAN` that a `TrainConfig` describes."""

import keras

from keras_cgan import losses, networks, perf
from keras_cgan.config import TrainConfig
from keras_cgan.model import ConditionalGAN


def build_gan(config: TrainConfig) -> ConditionalGAN:
    """Builds and compiles the conditional GAN that `config` describes.

    Call it inside `strategy.scope()` to train under a distribution strategy.

    Args:
        config: The run configuration (arch, widths, loss, EMA, optimizer
            settings).

    Returns:
        A compiled `ConditionalGAN` with both Adam optimizers built.
    """
    generator, discriminator = networks.build_networks(
        config.arch,
        config.latent_dim,
        config.num_classes,
        config.hidden_units,
        dtype=config.mixed_precision,
        image_shape=config.image_shape,
    )
    gan = ConditionalGAN(
        generator,
        discriminator,
        latent_dim=config.latent_dim,
        num_classes=config.num_classes,
        seed=config.seed,
        ema_decay=config.ema_decay or None,
    )
    adam = dict(beta_1=config.beta_1, beta_2=config.beta_2)
    xla = perf.resolve_jit_compile(config.arch, config.jit_compile, config.batch_size)
    # config.steps_per_execution steps run in one call as stacked batches (see
    # `train`), so Keras itself runs one element per call.
    gan.compile(
        d_optimizer=keras.optimizers.Adam(
            config.discriminator_learning_rate, name="d_adam", **adam
        ),
        g_optimizer=keras.optimizers.Adam(config.learning_rate, name="g_adam", **adam),
        loss_fn=losses.make_loss(config.loss),
        jit_compile=xla is True,
        step_jit_compile=xla == "step",
    )
    return gan
