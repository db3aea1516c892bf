r"""Train: `python -m keras_cgan.main [--preset=NAME | --flagfile=FILE] [--flag=value ...]`.

Flags are the `TrainConfig` fields (`keras_cgan.config_flags`); presets are
absl flagfiles (`keras_cgan.presets`), and flags after one override it. The
config goes to `keras_cgan.train.train`; library code never reads flags.
"""

import sys

from absl import flags

from keras_cgan import __version__, cli, config_flags, datasets, presets

FLAGS = flags.FLAGS


def define_flags():
    """The training flags, one per `TrainConfig` field, and the preset flags."""
    config_flags.define_flags()
    flags.DEFINE_string(
        "preset",
        None,
        "A preset by name (--list_presets), e.g. best; flags after it override it.",
    )
    flags.DEFINE_bool("list_presets", False, "List the presets with a line each, and exit.")
    flags.DEFINE_bool("version", False, "Print the keras_cgan version, and exit.")


def main(argv):
    del argv  # Positional arguments are rejected by `cli.run`.
    if FLAGS.version:
        print(f"keras_cgan {__version__}")
        return
    if FLAGS.list_presets:
        listed = presets.list_presets()
        width = max(map(len, listed))
        for name, description in listed.items():
            print(f"{name:<{width}}  {description}")
        return
    config = config_flags.config_from_flags()
    splits = ("train", "test") if config.eval_every else ("train",)
    datasets.check_files(datasets.DataSource.from_config(config), splits)
    cli.quiet_tensorflow()  # Only once the flags and data files are valid: they fail fast.
    from keras_cgan import checkpoint, distribute, evaluation, train

    evaluator = None
    if config.eval_every and distribute.is_chief():
        evaluator = evaluation.Evaluator.for_config(config)
    try:
        train.train(config, evaluator=evaluator)
    except checkpoint.TrainingInterrupted as e:
        print(f"keras_cgan: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)
    if config.strategy == "multi_worker" and not distribute.is_chief():
        print("keras_cgan: done (this worker writes nothing; the chief writes the artifacts)")
    else:
        print(f"keras_cgan: done, artifacts in {config.workdir}")


def run():
    """Console-script entry point (`keras-cgan-train`)."""
    cli.run(main, define_flags, expand_argv=presets.expand)


if __name__ == "__main__":
    run()
