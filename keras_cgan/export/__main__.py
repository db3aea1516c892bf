r"""Re-export a run or a `.keras` model: `python -m keras_cgan.export --model=PATH [--out=DIR]`.

`--model` is a run folder (its latest checkpoint) or a `.keras` file; the
SavedModel goes to `--out` (default: `<run folder>/export`). The library is
`keras_cgan.export`.
"""

import os

from absl import flags

from keras_cgan import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "A run folder (its latest checkpoint) or a .keras file.")
    flags.DEFINE_string("out", None, "Export folder (default: <run folder>/export).")


def main(argv):
    del argv  # Positional arguments are rejected by `cli.run`.
    model = FLAGS.model
    if not model:
        cli.fail("--model is required: a run folder or a .keras file")
    out = FLAGS.out or os.path.join(
        model if os.path.isdir(model) else os.path.dirname(model) or ".", "export"
    )
    cli.quiet_tensorflow()
    from keras_cgan import export, loading

    gan, config = loading.load_gan(model)
    export.export_generator(gan, out, config)
    print(f"keras_cgan: exported the generator of {model} to {out}")


def run():
    """Console-script entry point (`keras-cgan-export`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
