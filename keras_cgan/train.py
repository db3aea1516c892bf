"""Wires data, networks, model and callbacks into a training run."""

import os
import secrets

import keras

from keras_cgan import callbacks as callbacks_lib
from keras_cgan import data, networks
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
    gan.compile(
        d_optimizer=keras.optimizers.Adam(
            config.discriminator_learning_rate, name="d_adam", **adam
        ),
        g_optimizer=keras.optimizers.Adam(config.learning_rate, name="g_adam", **adam),
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return gan


def make_evaluator(config: TrainConfig):
    """The `Evaluator` of a run with `eval_every` > 0 (else None).

    Loads the cached reference classifier, training it on the first use
    (about 1.5 minutes on 2 CPU cores); it never touches the global random
    state, so a run's training is the same with or without evaluation.
    """
    if not config.eval_every:
        return None
    from keras_cgan import evaluation

    return evaluation.Evaluator(
        classifier_dir=config.classifier_dir,
        mnist_dir=config.mnist_dir,
        tfds_data_dir=config.tfds_data_dir,
        verbose=2 if config.verbose else 0,
    )


def make_callbacks(config: TrainConfig, evaluator=None):
    """The callbacks of a CLI run: sample grids, evaluation, CSV log, metrics plot, TensorBoard.

    Args:
        config: The run configuration.
        evaluator: With `config.eval_every` > 0, the `Evaluator` whose metrics
            are added to the epoch logs (before the loggers see them).
    """
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
    ]
    if evaluator is not None and config.eval_every:
        result.append(
            callbacks_lib.EvaluateCallback(
                evaluator, every=config.eval_every, num_samples=config.eval_samples
            )
        )
    result += [
        callbacks_lib.CSVLog(csv_path),
        callbacks_lib.MetricsPlot(os.path.join(workdir, "metrics.png"), csv_path=csv_path),
    ]
    if tb_dir:
        result.append(keras.callbacks.TensorBoard(tb_dir, write_graph=False))
    return result


def train(config: TrainConfig) -> ConditionalGAN:
    """Trains a conditional GAN on MNIST and writes every artifact to `config.workdir`.

    Writes `config.json` (the effective config, seed included), `metrics.csv`
    (with `eval_*` columns every `eval_every` epochs), `metrics.png`,
    `samples/epoch_NNNN.png`, `samples/progress.gif`, `model.keras` and, with
    `tensorboard`, `tensorboard/`.

    Args:
        config: The run configuration.

    Returns:
        The trained `ConditionalGAN`.

    Raises:
        DataError: MNIST could not be loaded (the message says how to fix it).
        EvaluationError: with `eval_every`, the classifier cache is unwritable.
    """
    config = resolve_seed(config)
    evaluator = make_evaluator(config)  # Before seeding: it must not shift the run's RNG.
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
        images, labels, config.batch_size, seed=config.seed, epochs=(0, config.epochs)
    )
    gan = build_gan(config)
    gan.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=len(images) // config.batch_size,
        callbacks=make_callbacks(config, evaluator),
        verbose=config.verbose,
        shuffle=False,
    )
    gan.save(os.path.join(config.workdir, "model.keras"))
    return gan
