r"""Re-export a run or a `.keras` model: `python -m keras_cgan.export --model=PATH [--out=DIR]`.

`--model` is a run folder (its latest checkpoint) or a `.keras` file; the
SavedModel goes to `--out` (default: `<run folder>/export`). With
`--format=tflite` (or `onnx`, the onnx extra), one file converted from the
SavedModel's `generate` (`--model` may then also be an export folder). The
library is `keras_cgan.export`.
"""

import os

from absl import flags

from keras_cgan import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "A run folder (its latest checkpoint) or a .keras file.")
    flags.DEFINE_string(
        "out",
        None,
        "Export folder (default: <run folder>/export), or the file with --format=tflite|onnx "
        "(default: <run folder>/generator.tflite|.onnx).",
    )
    flags.DEFINE_enum(
        "format",
        "savedmodel",
        ["savedmodel", "tflite", "onnx"],
        "savedmodel: a SavedModel folder; tflite or onnx (the onnx extra): one file "
        "(--model may then also be an export folder).",
    )


def main(argv):
    del argv  # Positional arguments are rejected by `cli.run`.
    model = FLAGS.model
    if not model:
        cli.fail("--model is required: a run folder or a .keras file")
    from keras_cgan import loading

    loading.check_model_path(model)  # A bad path fails before TensorFlow loads.
    folder = model if os.path.isdir(model) else os.path.dirname(model) or "."
    cli.quiet_tensorflow()
    from keras_cgan import export
    from keras_cgan.export import files

    if FLAGS.format in files.FORMATS:
        out = FLAGS.out or os.path.join(folder, f"generator.{FLAGS.format}")
        files.export_file(model, out, FLAGS.format)
        print(f"keras_cgan: wrote the {FLAGS.format} generator of {model} to {out}")
        return
    out = FLAGS.out or os.path.join(folder, "export")
    gan, config = loading.load_gan(model)
    export.export_generator(gan, out, config)
    print(f"keras_cgan: exported the generator of {model} to {out}")


def run():
    """Console-script entry point (`keras-cgan-export`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
