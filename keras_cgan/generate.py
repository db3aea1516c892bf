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

Size policy: `--npz` is written chunk by chunk (`sampling.CHUNK` images at a
time), so any number of samples fits in memory; it is refused up front if the
disk lacks the space. A PNG holds at most `MAX_GRID_PIXELS` pixels (about 10
rows of 1,000 digits): a larger grid is refused up front with its size.
"""

import os
import shutil
import zipfile

import numpy as np
from absl import flags

from keras_cgan import cli
from keras_cgan.datasets import class_names_of, short_name
from keras_cgan.sampling import (
    GenerateError,
    grid_chunks,
    grid_labels,
    interpolation_strip,
    latent_walk,
    parse_classes,
    parse_digits,
    parse_pair,
)
from keras_cgan.sizes import format_bytes

# A PNG grid beyond this many pixels is refused: image viewers (and PIL,
# whose decompression-bomb check starts at 89 million) give up on larger ones.
MAX_GRID_PIXELS = 50_000_000
_PAD, _SCALE = 2, 2  # The layout of `callbacks.compose_grid`.


def grid_size(rows, cols, labelled, image_shape=(28, 28)):
    """`(width, height)` in pixels of the PNG `compose_grid` makes of rows x cols images."""
    h, w = image_shape[:2]
    height = (rows * (h + _PAD) + _PAD) * _SCALE
    width = (cols * (w + _PAD) + (h if labelled else 0) + _PAD) * _SCALE
    return width, height


def check_grid(rows, cols, labelled, image_shape, what, npz=False):
    """Refuses a PNG grid above `MAX_GRID_PIXELS`, saying its size and memory.

    Args:
        rows, cols: Grid shape in images.
        labelled: Whether a column of row labels is drawn.
        image_shape: One image's `(H, W, ...)`.
        what: The flags that set the grid's size, for the message.
        npz: Whether `--npz` could write these samples instead.

    Raises:
        GenerateError: the grid is too large.
    """
    width, height = grid_size(rows, cols, labelled, image_shape)
    pixels = width * height
    if pixels <= MAX_GRID_PIXELS:
        return
    n = rows * cols
    # The float32 images, plus the grid and its upscaled copy.
    memory = n * int(np.prod(image_shape)) * 4 + 2 * pixels
    raise GenerateError(
        f"--out: a grid of {rows:,} x {cols:,} digits would be a {width:,} x {height:,}-pixel "
        f"PNG ({pixels / 1e6:,.0f} megapixels, about {format_bytes(memory)} of memory); a PNG "
        f"holds at most {MAX_GRID_PIXELS / 1e6:.0f} megapixels (about 10 rows of 1,000 digits): "
        f"lower {what}"
        + (", or write the samples with --npz alone (streamed to disk, any size)" if npz else "")
    )


def npz_bytes(n, image_shape):
    """Bytes of an `--npz` file of `n` images: float32 pixels and int64 labels."""
    return n * (int(np.prod(image_shape[:2])) * 4 + 8) + 1024


def check_npz_space(path, n, image_shape):
    """Refuses an `--npz` file the disk holding `path` has no room for."""
    need = npz_bytes(n, image_shape)
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    if need > free:
        raise GenerateError(
            f"--npz={path!r}: {n:,} images need {format_bytes(need)} on disk but only "
            f"{format_bytes(free)} are free there: lower --per_digit or write to another disk"
        )


def _write_png(images, rows, row_labels, path):
    from keras_cgan.callbacks import compose_grid, save_png

    save_png(compose_grid(images, rows, row_labels), path)


def write_npz(path, total, image_parts, label_parts, image_shape=(28, 28)):
    """Writes `images` float32 `[total, H, W]` (grey; `[total, H, W, 3]` RGB) and `labels`
    int64 `[total]` as an npz, in parts.

    The file is the one `np.savez` makes (`np.load` reads it), but only one
    part is in memory at a time: each array is streamed into its zip entry.

    Args:
        path: The `.npz` file (replaced atomically).
        total: Number of images.
        image_parts: Iterable of float `[k, H, W, 1]` or `[k, H, W]` parts,
            `total` images in all, consumed one at a time.
        label_parts: Iterable of integer `[k]` parts, `total` labels in all.
        image_shape: `(H, W)` or `(H, W, C)`; grey images are stored `[H, W]`.

    Raises:
        WriteError: the file could not be written (the previous one is kept).
    """
    from keras_cgan.fileio import write_atomic

    shape = tuple(image_shape[:2]) if tuple(image_shape[2:]) in ((), (1,)) else tuple(image_shape)

    def entry(zf, name, dtype, full_shape, parts):
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": full_shape,
        }
        rows = 0
        with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            for part in parts:
                part = np.ascontiguousarray(part, dtype).reshape((-1,) + full_shape[1:])
                f.write(part.data)
                rows += len(part)
        if rows != total:
            raise ValueError(f"{name}: {rows} rows written, {total} announced")

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            entry(zf, "images", np.float32, (total,) + shape, image_parts)
            entry(zf, "labels", np.int64, (total,), label_parts)

    write_atomic(path, write)


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


def _request(names, shape):
    """The flags' classes, samples per class, row labels and pair, checked.

    Args:
        names: The model's class names (a tuple of str, one per class).
        shape: Its image shape `(H, W, C)`.

    Returns:
        `(digits, per_class, row_labels, pair)`: class ids, samples per class,
        one short label per grid row, and the `--interpolate` pair or None.

    Raises:
        GenerateError: a class the model lacks, or a grid or file too large.
    """
    if FLAGS.classes is not None:
        digits = parse_classes(FLAGS.classes, names)
    elif FLAGS["digits"].present:
        digits = parse_digits(FLAGS.digits, len(names))
    else:  # Every class (MNIST: 0123456789).
        digits = list(range(len(names)))
    per_class = FLAGS.per_class or FLAGS.per_digit
    row_labels = [short_name(names[d]) for d in digits]
    pair = parse_pair(FLAGS.interpolate, len(names), names) if FLAGS.interpolate else None
    if pair is not None:
        check_grid(per_class, FLAGS.steps, False, shape, "--per_class or --steps")
    elif FLAGS.latent_walk:
        check_grid(len(digits), FLAGS.steps, True, shape, "--steps or --classes")
    elif FLAGS.out:
        check_grid(len(digits), per_class, True, shape, "--per_class or --classes", npz=True)
    if FLAGS.npz:
        check_npz_space(FLAGS.npz, len(digits) * per_class, shape)
    return digits, per_class, row_labels, pair


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

    # A bad path fails before TensorFlow loads, and so does a bad request to an
    # export or a run, whose metadata or config.json names classes and shape.
    facts = loading.model_facts(FLAGS.model)
    if facts is not None:
        _request(class_names_of(facts), tuple(facts["image_shape"]))
    cli.quiet_tensorflow()
    generator = loading.load_generator(FLAGS.model)
    shape = tuple(generator.metadata["image_shape"])
    digits, per_class, row_labels, pair = _request(generator.class_names, shape)
    total = len(digits) * per_class

    if pair is not None:
        images = interpolation_strip(generator, pair, FLAGS.steps, per_class, FLAGS.seed)
        _write_png(images, per_class, None, FLAGS.out)
        written = [FLAGS.out]
    elif FLAGS.latent_walk:
        images = latent_walk(generator, digits, FLAGS.steps, FLAGS.seed)
        _write_png(images, len(digits), row_labels, FLAGS.out)
        written = [FLAGS.out]
    else:
        parts = (images for images, _ in grid_chunks(generator, digits, per_class, FLAGS.seed))
        written = []
        if FLAGS.out:  # At most MAX_GRID_PIXELS: small enough to hold at once.
            images = np.concatenate(list(parts))
            _write_png(images, len(digits), row_labels, FLAGS.out)
            written.append(FLAGS.out)
            parts = [images]
        if FLAGS.npz:
            labels = grid_labels(digits, per_class)
            write_npz(FLAGS.npz, total, parts, labels, shape)
            written.append(FLAGS.npz)
    print(f"keras_cgan: wrote {', '.join(written)}")


def run():
    """Console-script entry point (`keras-cgan-generate`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
