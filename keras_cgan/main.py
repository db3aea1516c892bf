r"""Command line entry point: `python -m keras_cgan.main [--flagfile=flags/NAME.cfg]`.

Defines the absl flags, turns them into a frozen `TrainConfig` and hands it to
`keras_cgan.train`. Library code never reads FLAGS.
"""

import os
import sys
import time

from absl import flags

from keras_cgan import cli
from keras_cgan.config import ARCHS, LOSSES, LR_SCHEDULES, STRATEGIES, TrainConfig

_D = TrainConfig()

flags.DEFINE_integer("epochs", _D.epochs, "Number of training epochs.", lower_bound=1)
flags.DEFINE_integer("batch_size", _D.batch_size, "Examples per training step.", lower_bound=1)
flags.DEFINE_integer("latent_dim", _D.latent_dim, "Width of the noise vector z.", lower_bound=1)
flags.DEFINE_integer(
    "hidden_units",
    _D.hidden_units,
    "Hidden width (mlp) or base filter count (dcgan, dcgan_proj, dcgan_cbn).",
    lower_bound=1,
)
flags.DEFINE_enum(
    "arch",
    _D.arch,
    ARCHS,
    "Network pair: the tutorial's mlp, a light dcgan, dcgan_proj (dcgan generator, "
    "projection discriminator) or dcgan_cbn (class-conditional batch norm in the generator, "
    "projection discriminator).",
)
flags.DEFINE_float(
    "learning_rate",
    _D.learning_rate,
    "Adam learning rate (generator; both if --d_learning_rate is unset).",
)
flags.DEFINE_float(
    "d_learning_rate", None, "Adam learning rate of the discriminator (default: --learning_rate)."
)
flags.DEFINE_float(
    "beta_1", _D.beta_1, "Adam beta_1 of both optimizers.", lower_bound=0.0, upper_bound=0.999999
)
flags.DEFINE_float(
    "beta_2", _D.beta_2, "Adam beta_2 of both optimizers.", lower_bound=0.0, upper_bound=0.999999
)
flags.DEFINE_enum(
    "loss",
    _D.loss,
    LOSSES,
    "GAN loss: bce (binary cross-entropy from logits, the tutorial's) or hinge.",
)
flags.DEFINE_float(
    "ema_decay",
    _D.ema_decay,
    "Decay of an EMA copy of the generator used for samples, evaluation and the export "
    "(e.g. 0.99); 0 = no EMA.",
    lower_bound=0.0,
    upper_bound=0.999999,
)
flags.DEFINE_integer(
    "train_examples", 0, "Train on the first N examples only (0 = all 60,000).", lower_bound=0
)
cli.define_mnist_flags()
flags.DEFINE_string("workdir", None, "Output folder (default: runs/<timestamp>).")
flags.DEFINE_integer(
    "sample_every", _D.sample_every, "Write a sample grid every N epochs.", lower_bound=1
)
flags.DEFINE_integer(
    "seed",
    None,
    "Seed for weights, noise and data order (default: random, recorded in config.json).",
    lower_bound=0,
)
flags.DEFINE_bool(
    "tensorboard", _D.tensorboard, "Also write TensorBoard logs to <workdir>/tensorboard."
)
flags.DEFINE_bool(
    "jit_compile",
    _D.jit_compile,
    "Compile the train step with XLA (default: auto: whole calls for mlp, and for the conv "
    "networks with a GPU; each step on its own for the conv networks on a CPU).",
)
flags.DEFINE_integer(
    "steps_per_execution",
    _D.steps_per_execution,
    "Train steps per compiled call: the pipeline stacks this many batches (1 under a multi-device strategy).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "verbose",
    _D.verbose,
    "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.",
    lower_bound=0,
    upper_bound=2,
)

flags.DEFINE_integer(
    "checkpoint_every",
    _D.checkpoint_every,
    "Write a kill-safe checkpoint to <workdir>/checkpoints every N epochs.",
    lower_bound=1,
)
flags.DEFINE_bool(
    "resume",
    _D.resume,
    "Continue the run in --workdir if it has a checkpoint; --noresume moves it aside and starts over.",
)

flags.DEFINE_enum(
    "strategy",
    _D.strategy,
    STRATEGIES,
    "tf.distribute strategy: default (one device), mirrored (all local GPUs), "
    "multi_worker (TF_CONFIG cluster), tpu. --batch_size is the global batch.",
)
flags.DEFINE_string("tpu", _D.tpu, "TPU address for --strategy=tpu (empty on a TPU VM).")
flags.DEFINE_enum(
    "mixed_precision",
    "none",
    ["none", "mixed_float16", "mixed_bfloat16"],
    "Compute in float16 (with loss scaling) or bfloat16; variables, logits and losses stay float32.",
)
flags.DEFINE_integer(
    "eval_every",
    _D.eval_every,
    "Measure sample quality (accuracy, FID, precision/recall, ...) every N epochs "
    "and log it in metrics.csv/TensorBoard; 0 = never.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "eval_samples",
    _D.eval_samples,
    "Digits generated per evaluation (a multiple of 10, >= 100).",
    lower_bound=100,
)
flags.DEFINE_string(
    "classifier_dir",
    None,
    "Cache folder of the evaluation's reference classifier "
    "(default: ~/.cache/keras_cgan/classifier).",
)

# Sample-quality options (docs/quality_experiments.md).
flags.DEFINE_enum(
    "lr_schedule",
    _D.lr_schedule,
    LR_SCHEDULES,
    "Learning-rate schedule of both optimizers: constant, or linear decay to 0 at the last "
    "step of --epochs.",
)
flags.DEFINE_float(
    "r1_gamma",
    _D.r1_gamma,
    "Weight of the R1 gradient penalty on real images (0 = off).",
    lower_bound=0.0,
)
flags.DEFINE_string(
    "diffaugment",
    _D.diffaugment,
    "DiffAugment policy for the discriminator's inputs: a comma-separated subset of "
    "translation,cutout (empty = off).",
)

FLAGS = flags.FLAGS

flags.register_validator("learning_rate", lambda v: v > 0, "--learning_rate must be > 0")
flags.register_validator(
    "d_learning_rate", lambda v: v is None or v > 0, "--d_learning_rate must be > 0"
)


def config_from_flags(flag_values=FLAGS) -> TrainConfig:
    """Turns parsed flags into the frozen `TrainConfig`."""
    workdir = flag_values.workdir or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    return TrainConfig(
        epochs=flag_values.epochs,
        batch_size=flag_values.batch_size,
        latent_dim=flag_values.latent_dim,
        hidden_units=flag_values.hidden_units,
        arch=flag_values.arch,
        learning_rate=flag_values.learning_rate,
        d_learning_rate=flag_values.d_learning_rate,
        beta_1=flag_values.beta_1,
        beta_2=flag_values.beta_2,
        loss=flag_values.loss,
        ema_decay=flag_values.ema_decay,
        train_examples=flag_values.train_examples,
        mnist_dir=flag_values.mnist_dir,
        tfds_data_dir=flag_values.tfds_data_dir,
        workdir=workdir,
        sample_every=flag_values.sample_every,
        seed=flag_values.seed,
        tensorboard=flag_values.tensorboard,
        jit_compile=flag_values.jit_compile,
        steps_per_execution=flag_values.steps_per_execution,
        verbose=flag_values.verbose,
        checkpoint_every=flag_values.checkpoint_every,
        resume=flag_values.resume,
        strategy=flag_values.strategy,
        tpu=flag_values.tpu,
        mixed_precision=None
        if flag_values.mixed_precision == "none"
        else flag_values.mixed_precision,
        eval_every=flag_values.eval_every,
        eval_samples=flag_values.eval_samples,
        classifier_dir=flag_values.classifier_dir,
        # Sample-quality options.
        lr_schedule=flag_values.lr_schedule,
        r1_gamma=flag_values.r1_gamma,
        diffaugment=flag_values.diffaugment,
    )


def main(argv):
    del argv  # Unused: positional arguments are rejected by the wrapper.
    config = config_from_flags()
    cli.quiet_tensorflow()  # Only once the flags are valid: they fail fast.
    from keras_cgan import checkpoint, train

    try:
        train.train(config)
    except checkpoint.TrainingInterrupted as e:
        print(f"keras_cgan: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)
    from keras_cgan import distribute

    if config.strategy == "multi_worker" and not distribute.is_chief():
        print("keras_cgan: done (this worker writes nothing; the chief writes the artifacts)")
    else:
        print(f"keras_cgan: done, artifacts in {config.workdir}")


def run():
    """Console-script entry point (`keras-cgan-train`)."""
    cli.run(main)


if __name__ == "__main__":
    run()
