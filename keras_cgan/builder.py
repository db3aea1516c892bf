"""Builds the compiled `ConditionalGAN` that a `TrainConfig` describes."""

import keras

from keras_cgan import losses, networks, perf
from keras_cgan.config import TrainConfig
from keras_cgan.model import ConditionalGAN

_MNIST_TRAIN_SIZE = 60000


def _learning_rate(config: TrainConfig, rate, steps_per_epoch):
    """Adam's learning rate: `rate`, or a schedule over the run (`config.lr_schedule`)."""
    if config.lr_schedule == "constant":
        return rate
    return keras.optimizers.schedules.PolynomialDecay(
        rate, max(1, config.epochs * steps_per_epoch), end_learning_rate=0.0, power=1.0
    )


def build_networks(config: TrainConfig):
    """The `(generator, discriminator)` pair that `config` describes (`networks.build_networks`)."""
    return networks.build_networks(
        config.arch,
        config.latent_dim,
        config.num_classes,
        config.hidden_units,
        dtype=config.mixed_precision,
        image_shape=config.image_shape,
        d_hidden=config.d_hidden,
        noise_scale=config.noise_scale,
    )


def build_gan(
    config: TrainConfig, steps_per_epoch=None, custom_loop: bool = False
) -> ConditionalGAN:
    """Builds and compiles the conditional GAN that `config` describes.

    Call it inside `strategy.scope()` to train under a distribution strategy.

    Args:
        config: The run configuration (arch, widths, loss, EMA, optimizer
            settings).
        steps_per_epoch: Training steps per epoch, the length unit of a
            learning-rate schedule and of top-k's decay (None: estimated from
            the train size, `config.train_examples` or MNIST's).
        custom_loop: The model trains in `distribute.fit_custom_loop`
            (`runtime.Runtime.custom_loop`), which applies XLA itself: the
            model is compiled without it.

    Returns:
        A compiled `ConditionalGAN` with both Adam optimizers built.
    """
    generator, discriminator = build_networks(config)
    if steps_per_epoch is None:  # Not training (export, bench): the length is an estimate.
        steps_per_epoch = (config.train_examples or _MNIST_TRAIN_SIZE) // config.batch_size
    gan = ConditionalGAN(
        generator,
        discriminator,
        latent_dim=config.latent_dim,
        num_classes=config.num_classes,
        seed=config.seed,
        ema_decay=config.ema_decay or None,
        r1_gamma=config.r1_gamma,
        r1_interval=config.r1_interval,
        diffaugment=config.diffaugment,
        top_k=config.top_k,
        top_k_min=config.top_k_min,
        steps_per_epoch=max(1, steps_per_epoch),
        aux_classifier=config.aux_classifier,
    )
    adam = dict(beta_1=config.beta_1, beta_2=config.beta_2)
    d_rate = _learning_rate(config, config.discriminator_learning_rate, steps_per_epoch)
    g_rate = _learning_rate(config, config.learning_rate, steps_per_epoch)
    xla = perf.resolve_jit_compile(config.arch, config.jit_compile, config.batch_size)
    if custom_loop:
        xla = False
    # config.steps_per_execution steps run in one call as stacked batches (see
    # `train`), so Keras itself runs one element per call.
    gan.compile(
        d_optimizer=keras.optimizers.Adam(d_rate, name="d_adam", **adam),
        g_optimizer=keras.optimizers.Adam(g_rate, name="g_adam", **adam),
        loss_fn=losses.make_loss(config.loss),
        jit_compile=xla is True,
        step_jit_compile=xla == "step",
    )
    return gan
