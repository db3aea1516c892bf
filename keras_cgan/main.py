r"""Command line entry point: `python -m keras_cgan.main [--flagfile=flags/NAME.cfg]`.

Defines the absl flags, turns them into a frozen `TrainConfig` and hands it to
`keras_cgan.train`. Library code never reads FLAGS.
"""

import os
import time

from absl import app, flags

from keras_cgan import cli
from keras_cgan.config import ARCHS, MNIST_DIR_ENV, PRECISIONS, TrainConfig

_D = TrainConfig()

flags.DEFINE_integer("epochs", _D.epochs, "Number of training epochs.", lower_bound=1)
flags.DEFINE_integer("batch_size", _D.batch_size, "Examples per training step.", lower_bound=1)
flags.DEFINE_integer("latent_dim", _D.latent_dim, "Width of the noise vector z.", lower_bound=1)
flags.DEFINE_integer(
    "hidden_units",
    _D.hidden_units,
    "Hidden width (mlp) or base filter count (dcgan).",
    lower_bound=1,
)
flags.DEFINE_enum("arch", _D.arch, ARCHS, "Network pair: the tutorial's mlp or a light dcgan.")
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
flags.DEFINE_integer(
    "train_examples", 0, "Train on the first N examples only (0 = all 60,000).", lower_bound=0
)
flags.DEFINE_string(
    "mnist_dir",
    os.environ.get(MNIST_DIR_ENV) or None,
    f"Local folder with the four MNIST IDX files or mnist.npz (default: ${MNIST_DIR_ENV}); "
    "unset uses tensorflow-datasets.",
)
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data directory.")
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
    "Compile the train step with XLA (default: auto, on for mlp; for dcgan only with a GPU).",
)
flags.DEFINE_integer(
    "steps_per_execution", _D.steps_per_execution, "Train steps per compiled call.", lower_bound=1
)
flags.DEFINE_enum(
    "precision",
    _D.precision,
    PRECISIONS,
    "Keras dtype policy: float32, mixed_float16 (loss-scaled) or mixed_bfloat16.",
)
flags.DEFINE_integer(
    "verbose",
    _D.verbose,
    "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.",
    lower_bound=0,
    upper_bound=2,
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
        train_examples=flag_values.train_examples,
        mnist_dir=flag_values.mnist_dir,
        tfds_data_dir=flag_values.tfds_data_dir,
        workdir=workdir,
        sample_every=flag_values.sample_every,
        seed=flag_values.seed,
        tensorboard=flag_values.tensorboard,
        jit_compile=flag_values.jit_compile,
        steps_per_execution=flag_values.steps_per_execution,
        precision=flag_values.precision,
        verbose=flag_values.verbose,
    )


@cli.exits_on_user_error
def main(argv):
    del argv  # Unused: positional arguments are rejected by the wrapper.
    config = config_from_flags()
    cli.quiet_tensorflow()  # Only once the flags are valid: they fail fast.
    from keras_cgan import train

    train.train(config)
    print(f"keras_cgan: done, artifacts in {config.workdir}")


def run():
    """Console-script entry point (`keras-cgan-train`)."""
    app.run(main)


if __name__ == "__main__":
    run()
