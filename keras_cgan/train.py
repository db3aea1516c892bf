"""Wires data, networks, model and callbacks into a training run."""

import os
import secrets

import keras

from keras_cgan import callbacks as callbacks_lib
from keras_cgan import data, networks, perf
from keras_cgan.config import TrainConfig
from keras_cgan.model import ConditionalGAN


def resolve_seed(config: TrainConfig) -> TrainConfig:
    """Returns `config` with a concrete seed (a fresh one if it had None)."""
    if config.seed is not None:
        return config
    return config.replace(seed=secrets.randbelow(2**31))


def build_gan(config: TrainConfig) -> ConditionalGAN:
    """Builds and compiles the conditional GAN that `config` describes.

    Args:
        config: The run configuration (arch, widths, optimizer settings).

    Returns:
        A compiled `ConditionalGAN` with both Adam optimizers built.
    """
    with perf.dtype_policy(config.precision):
        generator, discriminator = networks.build_networks(
            config.arch, config.latent_dim, config.num_classes, config.hidden_units
        )
        gan = ConditionalGAN(
            generator,
            discriminator,
            latent_dim=config.latent_dim,
            num_classes=config.num_classes,
            seed=config.seed,
        )
    adam = dict(beta_1=config.beta_1, beta_2=config.beta_2)
    d_adam = keras.optimizers.Adam(config.discriminator_learning_rate, name="d_adam", **adam)
    g_adam = keras.optimizers.Adam(config.learning_rate, name="g_adam", **adam)
    # config.steps_per_execution steps run in one call as stacked batches
    # (see `train`), so Keras itself runs one stack per call.
    gan.compile(
        d_optimizer=perf.wrap_optimizer(d_adam, config.precision),
        g_optimizer=perf.wrap_optimizer(g_adam, config.precision),
        jit_compile=perf.resolve_jit_compile(config.arch, config.jit_compile),
    )
    return gan


def make_callbacks(config: TrainConfig):
    """The callbacks of a CLI run: sample grids, CSV log, metrics plot, TensorBoard."""
    workdir = config.workdir
    csv_path = os.path.join(workdir, "metrics.csv")
    tb_dir = os.path.join(workdir, "tensorboard") if config.tensorboard else None
    result = [
        callbacks_lib.SampleGrid(
            os.path.join(workdir, "samples"),
            every=config.sample_every,
            seed=config.seed,
            tensorboard_dir=tb_dir and os.path.join(tb_dir, "samples"),
        ),
        callbacks_lib.CSVLog(csv_path),
        callbacks_lib.MetricsPlot(os.path.join(workdir, "metrics.png"), csv_path=csv_path),
    ]
    if tb_dir:
        result.append(keras.callbacks.TensorBoard(tb_dir, write_graph=False))
    return result


def train(config: TrainConfig, extra_callbacks=()) -> ConditionalGAN:
    """Trains a conditional GAN on MNIST and writes every artifact to `config.workdir`.

    Writes `config.json` (the effective config, seed included), `metrics.csv`,
    `metrics.png`, `samples/epoch_NNNN.png`, `samples/progress.gif`,
    `model.keras` and, with `tensorboard`, `tensorboard/`.

    Args:
        config: The run configuration.
        extra_callbacks: Callbacks run after the run's own (the benchmark's
            timers use this).

    Returns:
        The trained `ConditionalGAN`.

    Raises:
        DataError: MNIST could not be loaded (the message says how to fix it).
    """
    config = resolve_seed(config)
    images, labels = data.load_mnist(
        "train",
        mnist_dir=config.mnist_dir,
        tfds_data_dir=config.tfds_data_dir,
        num_examples=config.train_examples,
    )
    os.makedirs(config.workdir, exist_ok=True)
    config.save_json(os.path.join(config.workdir, "config.json"))
    keras.utils.set_random_seed(config.seed)
    dataset = data.make_dataset(
        images,
        labels,
        config.batch_size,
        seed=config.seed,
        epochs=(0, config.epochs),
        stack=config.steps_per_execution,
        **perf.PIPELINE,
    )
    gan = build_gan(config)
    gan.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=data.steps_per_epoch(
            len(images), config.batch_size, config.steps_per_execution
        ),
        callbacks=make_callbacks(config) + list(extra_callbacks),
        verbose=config.verbose,
        shuffle=False,
    )
    gan.save(os.path.join(config.workdir, "model.keras"))
    return gan
