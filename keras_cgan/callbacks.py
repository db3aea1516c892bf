"""Keras callbacks: sample grids, a progress GIF, periodic evaluation, logs and a plot.

Grids are composed as one NumPy image (label glyphs rendered once with
matplotlib, then pasted), so writing a grid costs milliseconds rather than the
~0.7 s of a 10x10 matplotlib `subplots` figure.
"""

import csv
import functools
import os

import keras
import numpy as np

from keras_cgan.fileio import numbered_files, run_job, write_atomic

_PAD = 2  # Pixels between tiles.


@functools.lru_cache(maxsize=None)
def _glyph(text: str, size: int, width: int = 0) -> np.ndarray:
    """Renders `text` as a white-on-black uint8 `[size, width or size]` tile."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width = width or size
    fig = Figure(figsize=(width / 100, size / 100), dpi=100, facecolor="black")
    canvas = FigureCanvasAgg(fig)
    fig.text(
        0.5,
        0.5,
        text,
        color="white",
        ha="center",
        va="center",
        # Up to two characters fill a square tile; longer class names shrink to fit.
        fontsize=min(size * 0.5, 1.4 * width / max(len(text), 1)),
        fontweight="bold",
    )
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., 0].copy()


def compose_grid(images, rows, row_labels=None, scale=2):
    """Tiles images into one labelled grid image.

    Args:
        images: float `[rows * cols, H, W]` or `[rows * cols, H, W, C]` (C = 1
            or 3) in [0, 1], row-major.
        rows: Number of rows.
        row_labels: Optional list of `rows` strings drawn left of each row
            (labels longer than two characters get a wider column).
        scale: Integer nearest-neighbour upscaling of the whole grid.

    Returns:
        uint8 `[height, width]` grey image (0 = black), or `[height, width, 3]`
        for RGB images.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    cols = n // rows
    tiles = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    tiles = np.pad(
        tiles.reshape(rows, cols, h, w, c), ((0, 0), (0, 0), (_PAD, 0), (_PAD, 0), (0, 0))
    )
    grid = tiles.transpose(0, 2, 1, 3, 4).reshape(rows * (h + _PAD), cols * (w + _PAD), c)
    if row_labels is not None:
        texts = [str(t) for t in row_labels]
        longest = max((len(t) for t in texts), default=0)
        width = h if longest <= 2 else h * min(-(-longest // 3), 3)
        column = np.concatenate(
            [np.pad(_glyph(t, h, width if width != h else 0), ((_PAD, 0), (0, 0))) for t in texts]
        )
        grid = np.concatenate([np.repeat(column[..., None], c, axis=-1), grid], axis=1)
    grid = np.pad(grid, ((0, _PAD), (0, _PAD), (0, 0)))
    if c == 1:
        grid = grid[..., 0]
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_png(image, path):
    """Writes a uint8 `[H, W]` grey or `[H, W, 3]` RGB image to `path` as PNG (atomically).

    zlib level 1: a 604x660 grid takes ~4.5 ms instead of ~15 ms at the default
    level 6, for files ~12% larger (`python -m keras_cgan.bench`, README).
    """
    from PIL import Image

    mode = "L" if image.ndim == 2 else "RGB"
    write_atomic(path, lambda tmp: Image.fromarray(image, mode=mode).save(tmp, compress_level=1))


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of generated digits, one row per class, during training.

    Every `every` epochs it writes `<directory>/epoch_0001.png` (1-based epoch
    numbers): `num_classes` rows of `per_class` digits from fixed noise, so
    grids of different epochs are comparable. At the end of training it writes
    `<directory>/progress.gif` from all grids in the folder.

    Args:
        directory: Output folder (created if needed).
        every: Write a grid every this many epochs.
        per_class: Digits per row.
        seed: Seed of the fixed noise.
        tensorboard_dir: If set, also log the grid as a TensorBoard image there.
        gif: Write `progress.gif` at the end of training.
        writer: Optional `keras_cgan.fileio.BackgroundWriter`: the PNG is
            encoded and written on its thread while training goes on (the
            grid itself is generated at the end of the epoch).
        row_labels: The rows' labels, one per class (None: the class ids).
        **kwargs: Passed to `keras.callbacks.Callback`.
    """

    def __init__(
        self,
        directory,
        every=1,
        per_class=10,
        seed=0,
        tensorboard_dir=None,
        gif=True,
        writer=None,
        row_labels=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.directory = directory
        self.row_labels = row_labels
        self.every = int(every)
        self.per_class = int(per_class)
        self.seed = seed
        self.tensorboard_dir = tensorboard_dir
        self.gif = gif
        self.writer = writer
        self.noise = None
        self._summary_writer = None

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        gan = self.model
        self.labels = np.repeat(np.arange(gan.num_classes), self.per_class)
        if self.noise is None:
            rng = np.random.default_rng(self.seed)
            self.noise = rng.standard_normal((len(self.labels), gan.latent_dim), dtype=np.float32)
        if self.tensorboard_dir and self._summary_writer is None:
            import tensorflow as tf

            self._summary_writer = tf.summary.create_file_writer(self.tensorboard_dir)

    def render(self):
        """Returns the current grid as uint8 `[H, W]`."""
        images = self.model.generate(self.labels, noise=self.noise)
        rows = self.model.num_classes
        labels = self.row_labels if self.row_labels is not None else range(rows)
        return compose_grid(images, rows, labels)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        grid = self.render()
        run_job(
            self.writer, save_png, grid, os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        )
        if self._summary_writer is not None:
            import tensorflow as tf

            with self._summary_writer.as_default():
                image = grid[None, :, :, None] if grid.ndim == 2 else grid[None]
                tf.summary.image("samples", image, step=epoch + 1)
            self._summary_writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.wait()
        if self.gif:
            write_gif(self.directory)


def write_gif(directory, max_frames=100, duration_ms=100):
    """Assembles `<directory>/epoch_NNNN.png` into `<directory>/progress.gif`.

    Long runs are subsampled evenly to at most `max_frames` frames (the last
    grid always included). Does nothing if there are no grids.
    """
    from PIL import Image

    paths = numbered_files(directory, "epoch_", ".png")
    if not paths:
        return None
    keep = np.unique(
        np.linspace(0, len(paths) - 1, min(max_frames, len(paths))).round().astype(int)
    )
    frames = [Image.open(paths[i]) for i in keep]
    mode = "L" if all(f.mode == "L" for f in frames) else "RGB"
    frames = [f.convert(mode) for f in frames]
    return write_atomic(
        os.path.join(directory, "progress.gif"),
        lambda tmp: frames[0].save(
            tmp, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0
        ),
    )


class EvaluateCallback(keras.callbacks.Callback):
    """Adds sample-quality metrics to the epoch logs every `every` epochs.

    After epochs `every`, `2 * every`, ... (1-based) it evaluates the model
    with `evaluator` and adds the summary metrics to that epoch's `logs` as
    `eval_accuracy`, `eval_fid`, `eval_class_fid`, `eval_precision`,
    `eval_recall`, `eval_diversity` and `eval_score`. Keras hands the same
    `logs` dict to the callbacks in list order, so put this one before
    `CSVLog`, `MetricsPlot` and `keras.callbacks.TensorBoard` to have them
    record the metrics. The same noise (`seed`) is used every time, so the
    values are comparable across epochs.

    Args:
        evaluator: A `keras_cgan.evaluation.Evaluator` (anything with
            `evaluate(model, num_samples, seed)` returning an object with a
            `summary() -> {name: float}` method).
        every: Evaluate every this many epochs (>= 1).
        num_samples: Digits generated per evaluation (a multiple of 10). 2,000
            take about a second on 2 CPU cores; FID and class FID are biased
            upwards at small N, so compare values at the same N only.
        seed: Seed of the noise.
        prefix: Prefix of the metric names in `logs`.
        **kwargs: Passed to `keras.callbacks.Callback`.

    Attributes:
        history: `{epoch (1-based): {name: value}}` of every evaluation so far.
    """

    def __init__(self, evaluator, every=1, num_samples=2000, seed=0, prefix="eval_", **kwargs):
        super().__init__(**kwargs)
        self.evaluator = evaluator
        self.every = int(every)
        self.num_samples = int(num_samples)
        self.seed = seed
        self.prefix = prefix
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        result = self.evaluator.evaluate(self.model, self.num_samples, self.seed)
        metrics = {self.prefix + name: float(v) for name, v in result.summary().items()}
        self.history[epoch + 1] = metrics
        if logs is not None:
            logs.update(metrics)


class CSVLog(keras.callbacks.Callback):
    """Logs per-epoch metrics to a CSV file, one row per epoch.

    Columns: `epoch` (1-based, matching the sample grid numbers), then every
    metric seen so far, sorted; metrics that appear later (e.g. periodic
    evaluations) add columns, left empty in rows without them. The file is
    rewritten atomically after every epoch, and rows already in it (from an
    earlier, resumed run) are kept.

    Args:
        path: The CSV file.
        **kwargs: Passed to `keras.callbacks.Callback`.
    """

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        rows = read_csv_log(self.path)
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        rows = [r for r in rows if r["epoch"] < row["epoch"]] + [row]
        names = sorted({k for r in rows for k in r if k != "epoch"})

        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, ["epoch"] + names, restval="")
                writer.writeheader()
                writer.writerows(rows)

        write_atomic(self.path, write)


def read_csv_log(path):
    """Reads a `CSVLog` file into a list of `{"epoch": int, name: float}` rows."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        rows = []
        for r in csv.DictReader(f):
            row = {k: float(v) for k, v in r.items() if k and v not in ("", None)}
            row["epoch"] = int(row["epoch"])
            rows.append(row)
        return rows


class MetricsPlot(keras.callbacks.Callback):
    """Plots the per-epoch metrics to a PNG at the end of training.

    Args:
        path: Output PNG.
        csv_path: Optional `CSVLog` file; if it exists at the end of training,
            its rows are plotted, so a resumed run shows its whole history.
        **kwargs: Passed to `keras.callbacks.Callback`.
    """

    def __init__(self, path, csv_path=None, **kwargs):
        super().__init__(**kwargs)
        self.path = path
        self.csv_path = csv_path
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(row)

    def on_train_end(self, logs=None):
        rows = self.history
        if self.csv_path and os.path.isfile(self.csv_path):
            rows = read_csv_log(self.csv_path)
        plot_metrics(rows, self.path)


def plot_metrics(rows, path):
    """Plots metric rows (`{"epoch": e, name: value, ...}`, 1-based) to a PNG.

    Losses share one panel; every other metric gets its own. A metric missing
    from some rows (e.g. evaluated every few epochs) is drawn through the rows
    that have it, with markers. Does nothing if `rows` is empty.
    """
    if not rows:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = sorted({k for r in rows for k in r if k != "epoch"})
    losses = [n for n in names if n.endswith("loss")]
    others = [n for n in names if n not in losses]
    panels = ([losses] if losses else []) + [[n] for n in others]
    fig = Figure(figsize=(6, 2.2 * len(panels)), dpi=100)
    FigureCanvasAgg(fig)
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, i + 1)
        for name in panel:
            points = [(r["epoch"], r[name]) for r in rows if name in r]
            sparse = len(points) < len(rows)
            ax.plot(*zip(*points, strict=True), marker="o" if sparse else None, label=name)
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
    ax.set_xlabel("epoch")
    fig.tight_layout()
    return write_atomic(path, fig.savefig)
