r"""Draw digits from a trained model: `python -m keras_cgan.generate`.

Examples:

    # A labelled grid: one row per digit, 8 samples each.
    python -m keras_cgan.generate --model=runs/x/export --digits=0123456789 \
        --per_digit=8 --seed=1 --out=grid.png
    # The same samples as arrays for downstream evaluation.
    python -m keras_cgan.generate --model=runs/x/export --npz=samples.npz
    # Morph a 3 into an 8 with fixed noise (one row per noise vector).
    python -m keras_cgan.generate --model=runs/x/export --interpolate=3,8 --steps=10 --out=morph.png
    # Walk the noise with each class fixed (one row per digit).
    python -m keras_cgan.generate --model=runs/x/export --latent_walk --digits=27 --out=walk.png
    # Classes by name (or id) for any dataset, e.g. Fashion-MNIST.
    python -m keras_cgan.generate --model=runs/f/export --classes=sneaker,bag --per_class=8 \
        --out=g.png

`--model` is a run folder, its export (only the SavedModel is needed, see
`keras_cgan.export`) or a `.keras` file. Bad input stops with one line and exit
status 2 before anything is written. The recipes are `keras_cgan.sampling`.
"""

import os

import numpy as np
from absl import flags

from keras_cgan import cli
from keras_cgan.datasets import short_name
from keras_cgan.sampling import (
    GenerateError,
    grid_samples,
    interpolation_strip,
    latent_walk,
    parse_classes,
    parse_digits,
    parse_pair,
)


def _write_png(images, rows, row_labels, path):
    from keras_cgan.callbacks import compose_grid, save_png

    save_png(compose_grid(images, rows, row_labels), path)


def _write_npz(path, images, labels):
    tmp = path + ".tmp.npz"
    grey = images.shape[-1] == 1
    images = (images[..., 0] if grey else images).astype(np.float32)
    np.savez(tmp, images=images, labels=labels.astype(np.int64))
    os.replace(tmp, path)


def _check_output(path, suffix, flag):
    if not path.lower().endswith(suffix):
        raise GenerateError(f"{flag}={path!r} must end in {suffix}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise GenerateError(f"{flag}={path!r}: folder {parent} does not exist")


FLAGS = flags.FLAGS


def define_flags():
    """Defines the tool's flags (only when run as a program: no clashes on import)."""
    flags.DEFINE_string("model", None, "A run folder, its export/ folder or a .keras file.")
    flags.DEFINE_string(
        "digits", "0123456789", "Digits to draw, one row each (default: every class)."
    )
    flags.DEFINE_integer("per_digit", 8, "Samples per digit (grid columns).", lower_bound=1)
    flags.DEFINE_string(
        "classes", None, "Classes to draw by name or id, comma-separated (e.g. sneaker,bag)."
    )
    flags.DEFINE_integer("per_class", None, "Samples per class (= --per_digit).", lower_bound=1)
    flags.DEFINE_integer("seed", None, "Seed of the noise (default: random).", lower_bound=0)
    flags.DEFINE_string("out", None, "Write a labelled grid PNG here.")
    flags.DEFINE_string(
        "npz", None, "Write images float32 [N,H,W] (grey) or [N,H,W,3] and labels int [N] here."
    )
    flags.DEFINE_string("interpolate", None, "Two digits 'a,b': a strip morphing a into b.")
    flags.DEFINE_integer("steps", 10, "Images per interpolation or latent-walk row.", lower_bound=2)
    flags.DEFINE_bool("latent_walk", False, "Walk the noise with each --digits class fixed.")


def main(argv):
    del argv
    if not FLAGS.model:
        raise GenerateError(
            "--model is required: a run folder, its export/ folder or a .keras file"
        )
    if FLAGS.out is None and FLAGS.npz is None:
        raise GenerateError("nothing to write: pass --out=FILE.png and/or --npz=FILE.npz")
    if FLAGS.interpolate and FLAGS.latent_walk:
        raise GenerateError("choose one of --interpolate and --latent_walk")
    if FLAGS.npz and (FLAGS.interpolate or FLAGS.latent_walk):
        raise GenerateError("--npz writes grid samples: use it without --interpolate/--latent_walk")
    if FLAGS.out:
        _check_output(FLAGS.out, ".png", "--out")
    if FLAGS.npz:
        _check_output(FLAGS.npz, ".npz", "--npz")
    from keras_cgan import loading

    loading.check_model_path(FLAGS.model)  # A bad path fails before TensorFlow loads.
    cli.quiet_tensorflow()
    generator = loading.load_generator(FLAGS.model)
    names = generator.class_names
    if FLAGS.classes is not None:
        digits = parse_classes(FLAGS.classes, names)
    elif FLAGS["digits"].present:
        digits = parse_digits(FLAGS.digits, generator.num_classes)
    else:  # Every class (MNIST: 0123456789).
        digits = list(range(generator.num_classes))
    per_class = FLAGS.per_class or FLAGS.per_digit
    row_labels = [short_name(names[d]) for d in digits]
    pair = (
        parse_pair(FLAGS.interpolate, generator.num_classes, names) if FLAGS.interpolate else None
    )
    if pair is not None:
        images = interpolation_strip(generator, pair, FLAGS.steps, per_class, FLAGS.seed)
        _write_png(images, per_class, None, FLAGS.out)
        written = [FLAGS.out]
    elif FLAGS.latent_walk:
        images = latent_walk(generator, digits, FLAGS.steps, FLAGS.seed)
        _write_png(images, len(digits), row_labels, FLAGS.out)
        written = [FLAGS.out]
    else:
        images, labels = grid_samples(generator, digits, per_class, FLAGS.seed)
        written = []
        if FLAGS.out:
            _write_png(images, len(digits), row_labels, FLAGS.out)
            written.append(FLAGS.out)
        if FLAGS.npz:
            _write_npz(FLAGS.npz, images, labels)
            written.append(FLAGS.npz)
    print(f"keras_cgan: wrote {', '.join(written)}")


def run():
    """Console-script entry point (`keras-cgan-generate`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
