r"""Draw digits from an export: `python -m keras_cgan.generate`.

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

Only the SavedModel is needed (see `keras_cgan.export`). Bad input stops with
one line and exit status 2 before anything is written.
"""

import os

import numpy as np
from absl import flags

from keras_cgan import cli
from keras_cgan.errors import KerasCganError
from keras_cgan.samples import grid_samples, interpolation_strip, latent_walk, slerp  # noqa: F401


class GenerateError(KerasCganError):
    """Bad arguments to the generate tool."""


def parse_digits(text, num_classes=10, name="--digits"):
    """Parses "0123" into [0, 1, 2, 3]; every character must be a class id."""
    if not text:
        raise GenerateError(f"{name} is empty: give digits such as {name}=0123456789")
    digits = []
    for char in text:
        if not char.isdigit() or int(char) >= num_classes:
            raise GenerateError(f"{name}={text!r}: {char!r} is not a digit in 0..{num_classes - 1}")
        digits.append(int(char))
    return digits


def parse_pair(text, num_classes=10):
    """Parses "3,8" into (3, 8) for --interpolate."""
    parts = text.split(",")
    if len(parts) != 2:
        raise GenerateError(
            f"--interpolate={text!r}: give two digits separated by a comma, e.g. 3,8"
        )
    a, b = (p.strip() for p in parts)
    for p in (a, b):
        if len(p) != 1:
            raise GenerateError(
                f"--interpolate={text!r}: {p!r} is not a single digit in 0..{num_classes - 1}"
            )
    return tuple(parse_digits(a + b, num_classes, "--interpolate"))


def _write_png(images, rows, row_labels, path):
    from keras_cgan.callbacks import compose_grid, save_png

    save_png(compose_grid(images, rows, row_labels), path)


def _write_npz(path, images, labels):
    tmp = path + ".tmp.npz"
    np.savez(tmp, images=images[..., 0].astype(np.float32), labels=labels.astype(np.int64))
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
    flags.DEFINE_string("model", None, "Export folder (a run's <workdir>/export).")
    flags.DEFINE_string("digits", "0123456789", "Digits to draw, one row each, e.g. 0123456789.")
    flags.DEFINE_integer("per_digit", 8, "Samples per digit (grid columns).", lower_bound=1)
    flags.DEFINE_integer("seed", None, "Seed of the noise (default: random).", lower_bound=0)
    flags.DEFINE_string("out", None, "Write a labelled grid PNG here.")
    flags.DEFINE_string("npz", None, "Write images float32 [N,28,28] and labels int [N] here.")
    flags.DEFINE_string("interpolate", None, "Two digits 'a,b': a strip morphing a into b.")
    flags.DEFINE_integer("steps", 10, "Images per interpolation or latent-walk row.", lower_bound=2)
    flags.DEFINE_bool("latent_walk", False, "Walk the noise with each --digits class fixed.")


def main(argv):
    del argv
    if not FLAGS.model:
        raise GenerateError("--model is required: the export folder of a run (<workdir>/export)")
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
    from keras_cgan.export import read_metadata

    num_classes = read_metadata(FLAGS.model)["num_classes"]
    digits = parse_digits(FLAGS.digits, num_classes)
    pair = parse_pair(FLAGS.interpolate, num_classes) if FLAGS.interpolate else None

    cli.quiet_tensorflow()
    from keras_cgan.export import ExportedGenerator

    generator = ExportedGenerator(FLAGS.model)
    if pair is not None:
        images = interpolation_strip(generator, pair, FLAGS.steps, FLAGS.per_digit, FLAGS.seed)
        _write_png(images, FLAGS.per_digit, None, FLAGS.out)
        written = [FLAGS.out]
    elif FLAGS.latent_walk:
        images = latent_walk(generator, digits, FLAGS.steps, FLAGS.seed)
        _write_png(images, len(digits), digits, FLAGS.out)
        written = [FLAGS.out]
    else:
        images, labels = grid_samples(generator, digits, FLAGS.per_digit, FLAGS.seed)
        written = []
        if FLAGS.out:
            _write_png(images, len(digits), digits, FLAGS.out)
            written.append(FLAGS.out)
        if FLAGS.npz:
            _write_npz(FLAGS.npz, images, labels)
            written.append(FLAGS.npz)
    print(f"keras_cgan: wrote {', '.join(written)}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
