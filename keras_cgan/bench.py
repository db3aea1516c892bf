r"""Benchmarks training, the input pipeline, generation and memory, in one run.

Usage:
  python -m keras_cgan.bench [--presets=seed,dcgan] [--batch_sizes=64,256]
      [--repeats=5] [--json=bench.json] [--mnist_dir=DIR]

Every figure is the median of `--repeats` timed repeats after `--warmup`
untimed ones (compilation included there), with min and max, all measured in
this one process (plus one child process per preset for peak memory), so
ratios between figures are fair even on a machine shared with other work.

Sections (`--sections`):

* fit: `keras_cgan.train.train` exactly as `python -m keras_cgan.main
  --flagfile=flags/PRESET.cfg` runs it (callbacks, metrics, progress bar,
  model saving), one repeat per epoch; the callbacks' share of each epoch;
* bare: the same training math (`ConditionalGAN.run_step`: input scaling,
  noise draw, `apply_step`, EMA update, step counter) in a minimal
  `tf.function` with K steps per call in a `tf.while_loop` over uint8
  batches already in memory, no Keras `fit`, no callbacks, no metrics; its
  fastest variant is the reference of the fit/bare ratio. With the fit
  section, each fit epoch is followed by one epoch of each bare variant, so
  both are measured under the same machine load;
* sweep: `fit` without callbacks for XLA on/off, several steps per call, Keras'
  own `steps_per_execution` and pipeline options, taking turns epoch by
  epoch: the data behind the defaults;
* pipeline: the input pipeline alone, batches/s;
* generate: images/s through the exported SavedModel (`keras_cgan.export`)
  and through `ConditionalGAN.generate`;
* memory: peak resident memory of a one-epoch `keras_cgan.main` run.

Epochs of presets whose networks are not the mlp are cut to 100 steps
(`--max_epoch_steps`): a full dcgan epoch takes about half a minute on a
2-core CPU. The flags of `keras_cgan.main` (e.g. `--mnist_dir`) are accepted.
"""

import contextlib
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional, Sequence

from absl import flags

from keras_cgan import cli
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError

SECTIONS = ("fit", "bare", "sweep", "pipeline", "generate", "memory")
FLAGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flags")
SHORT_EPOCH_STEPS = 100  # Epoch length of non-mlp presets unless --max_epoch_steps.
TARGETS = {
    "fit_over_bare_seed_b64": 0.95,
    "defaults_over_keras_defaults": 1.6,
    "seed_epoch_seconds": 1.5,
    "callbacks_share_of_epoch": 0.05,
}


# ----------------------------------------------------------------------------
# Statistics and timing helpers.


def summarize(values: Sequence[float]) -> dict:
    """`{"median", "min", "max", "n"}` of a list of measurements."""
    values = [float(v) for v in values]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def scaled(stat: dict, factor: float) -> dict:
    """`stat` with median, min and max multiplied by a positive `factor`."""
    out = dict(stat)
    for key in ("median", "min", "max"):
        out[key] = stat[key] * factor
    return out


def inverted(stat: dict, numerator: float) -> dict:
    """`numerator / x` of a time statistic: a rate (min and max swap)."""
    return {
        "median": numerator / stat["median"],
        "min": numerator / stat["max"],
        "max": numerator / stat["min"],
        "n": stat["n"],
    }


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Times epochs from outside: appended after a run's own callbacks.

        `async_safe` keeps Keras' asynchronous dispatch of batch-end callbacks
        as it is in a plain run (a callback that is not async-safe and hooks
        batch ends would turn it off). Its `on_epoch_end` runs after the run's
        own callbacks, so `epoch_end - last_call_end` is what they cost.
        Work that another callback does after it (`Interleaved`) is recorded
        in `excluded` and left out of the epoch durations.
        """

        async_safe = True

        def __init__(self):
            super().__init__()
            self.epoch_begin, self.epoch_end, self.last_call_end, self.excluded = [], [], [], []
            self.train_begin = None
            self._last = None

        def on_train_begin(self, logs=None):
            self.train_begin = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_begin.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            self._last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_end.append(time.perf_counter())
            self.last_call_end.append(self._last)
            self.excluded.append(0.0)

        def epoch_seconds(self, warmup):
            """Durations of epochs `warmup..`, end to end, everything of the run included."""
            ends = self.epoch_end
            return [
                ends[e] - ends[e - 1] - self.excluded[e - 1]
                for e in range(max(warmup, 1), len(ends))
            ]

        def callback_seconds(self, warmup):
            return [
                self.epoch_end[e] - self.last_call_end[e]
                for e in range(max(warmup, 1), len(self.epoch_end))
            ]

    return EpochTimer()


def _interleaved(timer, runners):
    """A callback that runs each of `runners` (no-argument callables) after every epoch.

    Their durations are recorded in `.seconds[i]` and excluded from `timer`'s
    epochs, so the fit and the runners are measured alternately, under the
    same machine load.
    """
    import keras

    class Interleaved(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = [[] for _ in runners]

        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            for i, runner in enumerate(runners):
                self.seconds[i].append(runner())
            timer.excluded[-1] += time.perf_counter() - start

    return Interleaved()


@contextlib.contextmanager
def _muted_stdout():
    """Keras' progress bar goes nowhere while a benchmark runs."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# ----------------------------------------------------------------------------
# Presets.


def preset_path(name: str, flags_dir: str = FLAGS_DIR) -> str:
    """`flags_dir/NAME.cfg`, or `name` itself when it names a `.cfg` file."""
    path = name if name.endswith(".cfg") else os.path.join(flags_dir, f"{name}.cfg")
    if not os.path.isfile(path):
        raise ConfigError(f"preset not found: {path}")
    return path


def default_presets(flags_dir: str = FLAGS_DIR) -> list:
    """seed plus best if `flags/best.cfg` exists, else seed plus dcgan."""
    best = "best" if os.path.isfile(os.path.join(flags_dir, "best.cfg")) else "dcgan"
    return ["seed", best]


def epoch_steps(config: TrainConfig, max_epoch_steps: Optional[int]) -> int:
    """Steps per benchmarked epoch: `max_epoch_steps`, else full for mlp, else 100."""
    if max_epoch_steps is None:
        max_epoch_steps = 0 if config.arch == "mlp" else SHORT_EPOCH_STEPS
    full = (config.train_examples or 60000) // config.batch_size
    return min(full, max_epoch_steps) if max_epoch_steps else full


def bench_config(config: TrainConfig, batch_size: int, steps: int, **changes) -> TrainConfig:
    """`config` at `batch_size` on `steps * batch_size` examples, seeded."""
    return config.replace(
        batch_size=batch_size,
        train_examples=steps * batch_size,
        seed=0 if config.seed is None else config.seed,
        **changes,
    )


# ----------------------------------------------------------------------------
# Sections.


def bench_fit(
    config: TrainConfig, steps: int, warmup: int, repeats: int, bare_variants: Sequence = ()
) -> tuple:
    """`train.train(config)` for warmup + repeats epochs of `steps` steps, timed per epoch.

    After every epoch, each bare-loop variant `(jit_compile, K)` runs one
    epoch of the same number of steps (`bare_loop_runner`), so fit and bare
    loop are measured alternately, under the same load; that time is left out
    of the fit's epochs.

    Returns:
        `(fit, bare)`: the fit's figures and one dict per bare variant.
    """
    from keras_cgan import train

    timer = _epoch_timer()
    runners = [bare_loop_runner(config, steps, jit, k) for jit, k in bare_variants]
    interleaved = _interleaved(timer, [r for r, _ in runners])
    with tempfile.TemporaryDirectory() as workdir, _muted_stdout():
        run = config.replace(epochs=warmup + repeats, workdir=workdir)
        start = time.perf_counter()
        train.train(run, callbacks=[timer, interleaved])
        end = time.perf_counter()
    epoch = summarize(timer.epoch_seconds(warmup))
    samples = steps * config.batch_size
    fit = {
        "epoch_s": epoch,
        "ms_per_step": scaled(epoch, 1e3 / steps),
        "samples_per_s": inverted(epoch, samples),
        "callbacks_ms_per_epoch": scaled(summarize(timer.callback_seconds(warmup)), 1e3),
        "callbacks_share": summarize(
            [
                c / e
                for c, e in zip(
                    timer.callback_seconds(warmup), timer.epoch_seconds(warmup), strict=True
                )
            ]
        ),
        "startup_s": timer.train_begin - start,
        "first_epoch_s": timer.epoch_end[0] - timer.train_begin,
        "train_end_s": end - timer.epoch_end[-1] - timer.excluded[-1],
        "steps_per_epoch": steps,
    }
    bare = []
    for (jit, _), (_, info), seconds in zip(
        bare_variants, runners, interleaved.seconds, strict=True
    ):
        times = summarize(seconds[warmup:])
        bare.append(
            {
                "jit_compile": jit,
                **info,
                "ms_per_step": scaled(times, 1e3 / info["steps"]),
                "samples_per_s": inverted(times, info["steps"] * config.batch_size),
            }
        )
    return fit, bare


def _memory_batches(images, labels, batch_size, stack):
    """Stacks `[K, B, 28, 28, 1]` of uint8 images and `[K, B]` int32 labels, in memory.

    The format the training pipeline hands `fit` (`make_dataset(raw=True)`).
    """
    import numpy as np
    import tensorflow as tf

    n = len(images) // (batch_size * stack) * batch_size * stack
    xs = images[:n].reshape((-1, stack, batch_size) + images.shape[1:])
    ys = labels[:n].astype(np.int32).reshape(-1, stack, batch_size)
    return [(tf.constant(xs[i]), tf.constant(ys[i])) for i in range(len(xs))]


def xla_label(jit_compile) -> str:
    """How a `jit_compile` value (True, False or "step") is shown in the tables."""
    return {True: "XLA", False: "no XLA", "step": "XLA per step"}[jit_compile]


def make_bare_loop(gan, jit_compile):
    """A `tf.function(images uint8 [K,B,28,28,1], labels int32 [K,B])` running K train steps.

    The same math as `fit` (`ConditionalGAN.run_step`: input scaling, noise
    draw, update, EMA update, step counter) in a `tf.while_loop`; no Keras
    `fit`, callbacks or metrics.

    `jit_compile`: True (the whole call is one XLA program), False, or "step"
    (each step its own XLA program, launched from a TensorFlow loop).
    """
    import tensorflow as tf

    one_step = gan.run_step
    if jit_compile == "step":
        one_step = tf.function(one_step, jit_compile=True)

    def run(images, labels):
        def body(i):
            one_step(images[i], labels[i])
            return (i + 1,)

        tf.while_loop(
            lambda i: i < tf.shape(images)[0], body, (tf.constant(0),), parallel_iterations=1
        )
        return gan.train_steps.value

    return tf.function(run, jit_compile=jit_compile is True)


def bare_loop_runner(config: TrainConfig, steps: int, jit_compile, stack: int):
    """A callable running one epoch of the bare loop; returns its seconds.

    The epoch is `steps` steps rounded down to a multiple of K = `stack`
    (capped at `steps`), over batches already in memory.

    Returns:
        `(runner, info)`: `info` holds `steps_per_call` and `steps`.
    """
    from keras_cgan import data, train

    stack = min(stack, steps)
    images, labels = data.load_mnist(
        "train", mnist_dir=config.mnist_dir, num_examples=steps * config.batch_size
    )
    gan = train.build_gan(config.replace(jit_compile=False))
    loop = make_bare_loop(gan, jit_compile)
    batches = _memory_batches(images, labels, config.batch_size, stack)

    def runner():
        start = time.perf_counter()
        for x, y in batches:
            out = loop(x, y)
        out.numpy()
        return time.perf_counter() - start

    return runner, {"steps_per_call": stack, "steps": len(batches) * stack}


def bench_bare(
    config: TrainConfig, steps: int, warmup: int, repeats: int, variants: Sequence[tuple]
) -> list:
    """The bare-loop variants `(jit_compile, K)` alone, one epoch each in turn per repeat."""
    runners = [bare_loop_runner(config, steps, jit, k) for jit, k in variants]
    seconds = [[] for _ in runners]
    for _ in range(warmup + repeats):
        for i, (runner, _) in enumerate(runners):
            seconds[i].append(runner())
    results = []
    for (jit, _), (_, info), times in zip(variants, runners, seconds, strict=True):
        times = summarize(times[warmup:])
        results.append(
            {
                "jit_compile": jit,
                **info,
                "ms_per_step": scaled(times, 1e3 / info["steps"]),
                "samples_per_s": inverted(times, info["steps"] * config.batch_size),
            }
        )
    return results


def bare_variants(arch: str, jit, stacks: Sequence[int], default_stack: int, steps: int):
    """`(jit_compile, K)` pairs of the bare loop.

    mlp (or XLA asked for): XLA and not, at the largest swept K and at the
    run's K. Conv presets on a CPU: XLA per step and no XLA, since XLA's CPU
    code for their step is 15-20x slower inside a multi-step XLA loop (the
    sweep measures that on a few steps).
    """
    ks = sorted({min(k, steps) for k in (max(stacks), default_stack)})
    if arch == "mlp" or jit is True:
        return [(j, k) for j in (True, False) for k in ks]
    return [(j, k) for j in ("step", False) for k in ks]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One training setting of the sweep."""

    label: str
    jit_compile: object  # True, False or "step" (see `perf.resolve_jit_compile`).
    stack: int = 1  # Our steps_per_execution: batches stacked per call.
    keras_steps_per_execution: int = 1  # Keras' own multi-step loop.
    raw: bool = True
    parallel: bool = True
    prefetch: int = 2
    autotune: bool = False


def sweep_variants(stacks: Sequence[int], default_stack: int, default_jit: bool, arch: str) -> list:
    """The settings compared by the sweep; the row labelled "defaults" is what a run uses."""
    stacks = sorted(set(stacks) | {default_stack})
    top = max(stacks)
    variants = [
        Variant(
            "Keras defaults: no XLA, 1 step/call, float pipeline",
            False,
            raw=False,
            prefetch=-1,
            autotune=True,
        )
    ]
    jits = (False, True) if arch == "mlp" or default_jit else (False,)
    for jit in jits:
        for k in stacks:
            label = f"{xla_label(jit)}, {k} steps/call"
            if (jit, k) == (default_jit, default_stack):
                label = f"defaults: {label}"
            variants.append(Variant(label, jit, k))
    d = Variant("defaults", default_jit, default_stack)
    keras_spe = Variant(
        f"XLA, Keras steps_per_execution={top} (not stacked)", True, keras_steps_per_execution=top
    )
    variants += [
        keras_spe,
        dataclasses.replace(d, label="defaults, float/one-hot in the pipeline", raw=False),
        dataclasses.replace(d, label="defaults, sequential map", parallel=False),
        dataclasses.replace(d, label="defaults, no prefetch", prefetch=0),
        dataclasses.replace(d, label="defaults, tf.data autotuning", prefetch=-1, autotune=True),
    ]
    return variants


def _sweep_fitter(config: TrainConfig, variant: Variant, steps: int):
    """`(fit_one_epoch, steps)` for `variant`: a callable timing one more epoch of `fit`.

    Keras' own multi-step loop reads `keras_steps_per_execution` batches per
    call even across an epoch's end, so its epochs are cut to a multiple of it.
    """
    import keras

    from keras_cgan import data, train

    if variant.keras_steps_per_execution > 1:
        spe = min(variant.keras_steps_per_execution, steps)
        variant = dataclasses.replace(variant, keras_steps_per_execution=spe)
        steps -= steps % spe
    images, labels = data.load_mnist(
        "train", mnist_dir=config.mnist_dir, num_examples=steps * config.batch_size
    )
    run = config.replace(jit_compile=variant.jit_compile, steps_per_execution=variant.stack)
    keras.utils.set_random_seed(run.seed)
    gan = train.build_gan(run)
    if variant.keras_steps_per_execution > 1:
        gan.compile(
            d_optimizer=gan.d_optimizer,
            g_optimizer=gan.g_optimizer,
            jit_compile=variant.jit_compile,
            steps_per_execution=variant.keras_steps_per_execution,
        )
    dataset = data.make_dataset(
        images,
        labels,
        run.batch_size,
        seed=run.seed,
        epochs=(0, 1),
        stack=variant.stack,
        raw=variant.raw,
        parallel=variant.parallel,
        prefetch=variant.prefetch,
        autotune=variant.autotune,
    )
    per_epoch = data.steps_per_epoch(len(images), run.batch_size, variant.stack)

    def fit_one_epoch():
        timer = _epoch_timer()
        gan.fit(
            dataset,
            epochs=1,
            steps_per_epoch=per_epoch,
            callbacks=[timer],
            verbose=0,
            shuffle=False,
        )
        return timer.epoch_end[0] - timer.epoch_begin[0]

    return fit_one_epoch, steps


def bench_sweep(
    config: TrainConfig, variants: Sequence[Variant], steps: int, warmup: int, repeats: int
) -> list:
    """`fit` (no callbacks) under each variant; the variants take turns, one epoch each.

    Taking turns puts every setting under the same machine load, so their
    ratios hold on a shared machine.
    """
    fitters = [_sweep_fitter(config, v, steps) for v in variants]
    seconds = [[] for _ in variants]
    for _ in range(warmup + repeats):
        for i, (fit_one_epoch, _) in enumerate(fitters):
            seconds[i].append(fit_one_epoch())
    rows = []
    for variant, (_, done), times in zip(variants, fitters, seconds, strict=True):
        epoch = summarize(times[warmup:])
        rows.append(
            {
                **dataclasses.asdict(variant),
                "ms_per_step": scaled(epoch, 1e3 / done),
                "samples_per_s": inverted(epoch, done * config.batch_size),
                "epoch_s": epoch,
                "steps_per_epoch": done,
            }
        )
    return rows


def bench_pipeline(config: TrainConfig, steps: int, warmup: int, repeats: int, stacks) -> list:
    """The training input pipeline alone, one epoch per repeat, consumed in a graph loop."""
    import tensorflow as tf

    from keras_cgan import data, perf

    images, labels = data.load_mnist(
        "train", mnist_dir=config.mnist_dir, num_examples=steps * config.batch_size
    )
    results = []
    settings = [("as trained", config.steps_per_execution, perf.PIPELINE)]
    settings += [("1 batch/element, float/one-hot", 1, {**perf.PIPELINE, "raw": False})]
    settings += [(f"{k} batches/element", k, perf.PIPELINE) for k in stacks if k > 1]
    for label, stack, options in settings:
        ds = data.make_dataset(
            images,
            labels,
            config.batch_size,
            seed=config.seed,
            epochs=(0, warmup + repeats),
            stack=stack,
            **options,
        )
        consume = _consumer(iter(ds))
        elements = data.steps_per_epoch(len(images), config.batch_size, stack)
        times = []
        for r in range(warmup + repeats):
            start = time.perf_counter()
            consume(tf.constant(elements)).numpy()
            if r >= warmup:
                times.append(time.perf_counter() - start)
        epoch = summarize(times)
        results.append(
            {
                "label": label,
                "batches_per_element": stack,
                **options,
                "batches_per_s": inverted(epoch, steps),
            }
        )
    return results


def _consumer(iterator):
    """A `tf.function(n)` that pulls `n` elements from `iterator` inside a graph loop."""
    import tensorflow as tf

    @tf.function
    def consume(n):
        def body(i):
            for t in tf.nest.flatten(iterator.get_next()):
                tf.debugging.assert_rank_at_least(t, 1)  # Uses every tensor.
            return (i + 1,)

        return tf.while_loop(lambda i: i < n, body, (tf.constant(0),))[0]

    return consume


def bench_generate(config: TrainConfig, warmup: int, repeats: int, sizes=(1, 1000)) -> dict:
    """images/s through the exported SavedModel's `serving_default` and `generate`."""
    import numpy as np

    from keras_cgan import train

    gan = train.build_gan(config.replace(jit_compile=False))
    rng = np.random.default_rng(0)

    def rate(fn, n):
        labels = rng.integers(0, 10, size=n).astype(np.int32)
        times = []
        for r in range(warmup + repeats):
            start = time.perf_counter()
            fn(labels)
            if r >= warmup:
                times.append(time.perf_counter() - start)
        return inverted(summarize(times), n)

    result = {"generate": {str(n): rate(lambda lab: gan.generate(lab, seed=0), n) for n in sizes}}
    import tensorflow as tf

    from keras_cgan import export

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "generator")
        export.export_generator(gan, path)
        serving = tf.saved_model.load(path).signatures["serving_default"]

        def call(labels):
            return serving(labels=tf.constant(labels, tf.int32))["images"].numpy()

        result["saved_model"] = {str(n): rate(call, n) for n in sizes}
    return result


def bench_memory(preset: str, config: TrainConfig, steps: int) -> dict:
    """Peak RSS (and wall time) of `python -m keras_cgan.main --flagfile=PRESET --epochs=1`."""
    with tempfile.TemporaryDirectory() as workdir:
        argv = [
            sys.executable,
            "-m",
            "keras_cgan.main",
            f"--flagfile={preset}",
            "--epochs=1",
            f"--workdir={workdir}",
            "--verbose=0",
            "--seed=0",
        ]
        if steps < (config.train_examples or 60000) // config.batch_size:
            argv.append(f"--train_examples={steps * config.batch_size}")
        if config.mnist_dir:
            argv.append(f"--mnist_dir={config.mnist_dir}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        # A small Python parent spawns the run and reports its children's peak
        # RSS: a child forked from this (large) process would count our pages.
        launcher = (
            "import resource, subprocess, sys; "
            "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.exit(code)"
        )
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", launcher, *argv], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{child.stderr[-2000:]}")
    peak_kib = int(child.stdout.split()[-1])  # Linux reports KiB.
    return {
        "peak_rss_mib": peak_kib / 1024.0,
        "wall_s": seconds,
        "steps": steps,
    }


# ----------------------------------------------------------------------------
# The whole benchmark.


@dataclasses.dataclass
class Options:
    """What `run` measures (the command line's flags)."""

    presets: Sequence[str]
    batch_sizes: Sequence[int] = (64, 256)
    repeats: int = 5
    warmup: int = 1
    sections: Sequence[str] = SECTIONS
    stacks: Sequence[int] = (1, 10, 50, 200)
    max_epoch_steps: Optional[int] = None
    mnist_dir: Optional[str] = None
    flags_dir: str = FLAGS_DIR


def _load_preset(path: str) -> TrainConfig:
    """The `TrainConfig` that `keras_cgan.main --flagfile=path` would run."""
    from keras_cgan import presets

    return presets.load_preset(path)


def _environment() -> dict:
    import keras
    import tensorflow as tf

    from keras_cgan import perf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpu_count": os.cpu_count(),
        "processor": _cpu_name(),
        "gpu": perf.gpu_available(),
        "load_average_start": os.getloadavg(),
    }


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run(options: Options, log=print, partial=None) -> dict:
    """Runs the selected sections; returns every figure (as `--json` writes it).

    `partial(result)`, if given, receives the figures so far after each
    section (the command line writes them to `--json` as it goes).
    """
    from keras_cgan import perf

    unknown = set(options.sections) - set(SECTIONS)
    if unknown:
        raise ConfigError(
            f"unknown bench section {sorted(unknown)[0]!r}: use {', '.join(SECTIONS)}"
        )
    result = {"environment": _environment(), "options": dataclasses.asdict(options)}
    presets = {}
    for name in options.presets:
        path = preset_path(name, options.flags_dir)
        config = _load_preset(path)
        if options.mnist_dir:
            config = config.replace(mnist_dir=options.mnist_dir)
        presets[name] = (path, config)
    for key in SECTIONS:
        result[key] = []
    sections = set(options.sections)

    for name, (path, preset) in presets.items():
        for batch_size in options.batch_sizes:
            jit = perf.resolve_jit_compile(preset.arch, preset.jit_compile, batch_size)
            steps = epoch_steps(preset.replace(batch_size=batch_size), options.max_epoch_steps)
            config = bench_config(preset, batch_size, steps)
            where = {"preset": name, "batch_size": batch_size, "jit_compile": jit}
            variants = bare_variants(
                preset.arch, jit, options.stacks, config.steps_per_execution, steps
            )
            if "bare" not in sections:
                variants = []
            if "fit" in sections:
                log(
                    f"fit: {name} batch {batch_size} ({steps} steps/epoch), "
                    f"each epoch followed by one of the bare loop {variants}"
                )
                fit, bare = bench_fit(config, steps, options.warmup, options.repeats, variants)
                result["fit"].append({**where, **fit})
                _partial(partial, result)
            elif variants:
                log(f"bare loop: {name} batch {batch_size} {variants}")
                bare = bench_bare(config, steps, options.warmup, options.repeats, variants)
            if variants:
                result["bare"].append({**where, "variants": bare})
                _partial(partial, result)
            if "pipeline" in sections:
                log(f"pipeline: {name} batch {batch_size}")
                pipe = bench_pipeline(
                    config, steps, options.warmup, options.repeats, options.stacks
                )
                result["pipeline"].append({**where, "variants": pipe})
                _partial(partial, result)

        first_batch = options.batch_sizes[0]
        jit = perf.resolve_jit_compile(preset.arch, preset.jit_compile, first_batch)
        steps = epoch_steps(preset.replace(batch_size=first_batch), options.max_epoch_steps)
        config = bench_config(preset, first_batch, steps)
        if "sweep" in sections:
            if preset.arch == "mlp":
                variants = sweep_variants(
                    options.stacks, preset.steps_per_execution, jit, preset.arch
                )
                sweep_steps, sweep_repeats = steps, options.repeats
            else:  # A few steps: XLA's CPU code for a conv step in a loop is very slow.
                sweep_steps, sweep_repeats = min(steps, 10), min(options.repeats, 3)
                k = sweep_steps
                variants = [
                    Variant("no XLA, 1 step/call", False),
                    Variant(f"no XLA, {k} steps/call", False, k),
                    Variant("XLA, 1 step/call", True),
                    Variant(f"XLA per step, {k} steps/call", "step", k),
                    Variant(f"XLA, {k} steps/call", True, k),
                    Variant(
                        f"XLA, Keras steps_per_execution={k} (not stacked)",
                        True,
                        keras_steps_per_execution=k,
                    ),
                ]
                default = (jit, min(k, preset.steps_per_execution), 1)
                variants = [
                    dataclasses.replace(v, label=f"defaults: {v.label}")
                    if (v.jit_compile, v.stack, v.keras_steps_per_execution) == default
                    else v
                    for v in variants
                ]
            log(f"sweep: {name} batch {first_batch}, {len(variants)} settings in turn")
            rows = bench_sweep(config, variants, sweep_steps, options.warmup, sweep_repeats)
            result["sweep"].append(
                {"preset": name, "batch_size": first_batch, "jit_compile": jit, "variants": rows}
            )
            _partial(partial, result)
        if "generate" in sections:
            log(f"generate: {name}")
            gen = bench_generate(config, options.warmup, options.repeats)
            result["generate"].append({"preset": name, **gen})
            _partial(partial, result)
        if "memory" in sections:
            log(f"memory: {name}")
            own_steps = epoch_steps(preset, options.max_epoch_steps)
            result["memory"].append(
                {
                    "preset": name,
                    "batch_size": preset.batch_size,
                    **bench_memory(path, preset, own_steps),
                }
            )
            _partial(partial, result)
    result["environment"]["load_average_end"] = os.getloadavg()
    result["targets"] = check_targets(result)
    return result


def _partial(partial, result):
    if partial is not None:
        partial(result)


def _find(rows, **where):
    for row in rows:
        if all(row.get(k) == v for k, v in where.items()):
            return row
    return None


def check_targets(result: dict, seed_preset: str = "seed") -> list:
    """The speed targets, judged from this run's figures for `seed_preset` at batch 64.

    A target whose figures were not measured is left out.
    """
    targets = []
    fit = _find(result["fit"], preset=seed_preset, batch_size=64)
    bare = _find(result["bare"], preset=seed_preset, batch_size=64)
    if fit and bare:
        best = min(bare["variants"], key=lambda v: v["ms_per_step"]["median"])
        value = best["ms_per_step"]["median"] / fit["ms_per_step"]["median"]
        targets.append(
            _target(
                "fit/bare throughput, seed preset, batch 64",
                value,
                ">=",
                TARGETS["fit_over_bare_seed_b64"],
            )
        )
    sweep = _find(result["sweep"], preset=seed_preset, batch_size=64)
    if sweep:
        keras_row = next(
            (v for v in sweep["variants"] if v["label"].startswith("Keras defaults")), None
        )
        default_row = _default_row(sweep)
        if keras_row and default_row:
            value = keras_row["ms_per_step"]["median"] / default_row["ms_per_step"]["median"]
            targets.append(
                _target(
                    "defaults vs Keras defaults without XLA (speed-up)",
                    value,
                    ">=",
                    TARGETS["defaults_over_keras_defaults"],
                )
            )
    if fit:
        if fit["steps_per_epoch"] == 60000 // 64:
            targets.append(
                _target(
                    "seed preset epoch (s)",
                    fit["epoch_s"]["median"],
                    "<=",
                    TARGETS["seed_epoch_seconds"],
                )
            )
        targets.append(
            _target(
                "callbacks' share of a seed epoch",
                fit["callbacks_share"]["median"],
                "<=",
                TARGETS["callbacks_share_of_epoch"],
            )
        )
    return targets


def _default_row(sweep):
    """The sweep row with the settings a training run uses."""
    return next((v for v in sweep["variants"] if v["label"].startswith("defaults:")), None)


def _target(name, value, op, bound):
    met = value >= bound if op == ">=" else value <= bound
    return {"target": name, "value": value, "op": op, "bound": bound, "met": met}


# ----------------------------------------------------------------------------
# Report.


def _fmt(stat, digits=2):
    if stat is None:
        return "n/a"
    return f"{stat['median']:.{digits}f} [{stat['min']:.{digits}f}, {stat['max']:.{digits}f}]"


def _table(title, header, rows):
    lines = [title]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    for row in [header] + rows:
        lines.append(
            "  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def report(result: dict) -> str:
    """The benchmark as plain-text tables: median [min, max] of the repeats."""
    env = result["environment"]
    out = [
        f"keras_cgan bench: TensorFlow {env['tensorflow']}, Keras {env['keras']}, "
        f"{env['cpu_count']} CPUs ({env['processor']}), GPU: {'yes' if env['gpu'] else 'no'}; "
        f"load average {env['load_average_start'][0]:.1f} -> "
        f"{env.get('load_average_end', (float('nan'),))[0]:.1f}",
        "every figure: median [min, max] of the timed repeats",
    ]
    if result["fit"]:
        rows = [
            [
                r["preset"],
                r["batch_size"],
                r["steps_per_epoch"],
                {True: "on", False: "off", "step": "per step"}[r["jit_compile"]],
                _fmt(r["samples_per_s"], 0),
                _fmt(r["ms_per_step"], 3),
                _fmt(r["epoch_s"], 3),
                _fmt(r["callbacks_ms_per_epoch"], 1),
                f"{100 * r['callbacks_share']['median']:.1f}%",
                f"{r['startup_s']:.1f}/{r['first_epoch_s']:.1f}/{r['train_end_s']:.1f}",
            ]
            for r in result["fit"]
        ]
        out.append(
            _table(
                "\nfit, exactly as keras_cgan.main runs it (callbacks, metrics, progress bar)",
                [
                    "preset",
                    "batch",
                    "steps/epoch",
                    "XLA",
                    "samples/s",
                    "ms/step",
                    "epoch s",
                    "callbacks ms/epoch",
                    "share",
                    "start/1st epoch/end s",
                ],
                rows,
            )
        )
    if result["bare"]:
        rows = []
        for r in result["bare"]:
            fit = _find(result["fit"], preset=r["preset"], batch_size=r["batch_size"])
            best = min(r["variants"], key=lambda v: v["ms_per_step"]["median"])
            for v in r["variants"]:
                ratio = ""
                if fit and v is best:
                    ratio = f"{best['ms_per_step']['median'] / fit['ms_per_step']['median']:.3f}"
                rows.append(
                    [
                        r["preset"],
                        r["batch_size"],
                        xla_label(v["jit_compile"]),
                        v["steps_per_call"],
                        _fmt(v["samples_per_s"], 0),
                        _fmt(v["ms_per_step"], 3),
                        ("best " if v is best else "") + ratio,
                    ]
                )
        out.append(
            _table(
                "\nbare loop: same math, tf.while_loop over in-memory batches, no fit/callbacks",
                ["preset", "batch", "mode", "steps/call", "samples/s", "ms/step", "fit/bare"],
                rows,
            )
        )
    for sweep in result["sweep"]:
        keras_row = next(
            (v for v in sweep["variants"] if v["label"].startswith("Keras defaults")), None
        )
        rows = []
        for v in sweep["variants"]:
            speed = ""
            if keras_row:
                speed = f"{keras_row['ms_per_step']['median'] / v['ms_per_step']['median']:.2f}x"
            rows.append([v["label"], _fmt(v["samples_per_s"], 0), _fmt(v["ms_per_step"], 3), speed])
        out.append(
            _table(
                f"\nsweep: fit without callbacks, {sweep['preset']} preset, batch "
                f"{sweep['batch_size']}, {sweep['variants'][0]['steps_per_epoch']} steps/repeat "
                "(defaults = what a run uses)",
                ["setting", "samples/s", "ms/step", "vs Keras defaults"],
                rows,
            )
        )
    if result["pipeline"]:
        rows = []
        for r in result["pipeline"]:
            fit = _find(result["fit"], preset=r["preset"], batch_size=r["batch_size"])
            for v in r["variants"]:
                headroom = ""
                if fit:
                    steps_per_s = 1e3 / fit["ms_per_step"]["median"]
                    headroom = f"{v['batches_per_s']['median'] / steps_per_s:.1f}x"
                rows.append(
                    [
                        r["preset"],
                        r["batch_size"],
                        v["label"],
                        _fmt(v["batches_per_s"], 0),
                        headroom,
                    ]
                )
        out.append(
            _table(
                "\ninput pipeline alone, vs the fit's steps/s",
                ["preset", "batch", "pipeline", "batches/s", "headroom"],
                rows,
            )
        )
    if result["generate"]:
        rows = []
        for r in result["generate"]:
            for n, stat in r["generate"].items():
                rows.append([r["preset"], n, _fmt(r["saved_model"][n], 0), _fmt(stat, 0)])
        out.append(
            _table(
                "\ngeneration, images/s",
                ["preset", "N", "SavedModel serving_default", "ConditionalGAN.generate"],
                rows,
            )
        )
    if result["memory"]:
        rows = [
            [
                r["preset"],
                r["batch_size"],
                r["steps"],
                f"{r['peak_rss_mib']:.0f}",
                f"{r['wall_s']:.1f}",
            ]
            for r in result["memory"]
        ]
        out.append(
            _table(
                "\nmemory: python -m keras_cgan.main --epochs=1 (whole process)",
                ["preset", "batch", "steps", "peak RSS MiB", "wall s"],
                rows,
            )
        )
    if result["targets"]:
        rows = [
            [
                t["target"],
                f"{t['value']:.3f}",
                f"{t['op']} {t['bound']}",
                "met" if t["met"] else "MISSED",
            ]
            for t in result["targets"]
        ]
        out.append(_table("\ntargets", ["target", "measured", "wanted", ""], rows))
    return "\n".join(out)


# ----------------------------------------------------------------------------
# Command line.

flags.DEFINE_list(
    "presets",
    None,
    "Presets to bench: names of flags/NAME.cfg or .cfg paths (default: seed and best, "
    "or seed and dcgan while flags/best.cfg does not exist).",
)
flags.DEFINE_list("batch_sizes", ["64", "256"], "Batch sizes of the fit, bare and pipeline runs.")
flags.DEFINE_integer("repeats", 5, "Timed repeats per figure.", lower_bound=1)
flags.DEFINE_integer("warmup", 1, "Untimed repeats before them (compilation).", lower_bound=1)
flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run: {', '.join(SECTIONS)}.")
flags.DEFINE_list("stacks", ["1", "10", "50", "200"], "Steps per call compared by the sweep.")
flags.DEFINE_integer(
    "max_epoch_steps",
    None,
    "Cut benchmarked epochs to this many steps (default: full epochs for mlp presets, "
    f"{SHORT_EPOCH_STEPS} steps for others; 0 = full epochs).",
    lower_bound=0,
)
flags.DEFINE_string("json", None, "Also write every figure to this JSON file.")
flags.DEFINE_string("flags_dir", FLAGS_DIR, "Folder of the preset flagfiles.")


def _ints(values, name):
    try:
        out = [int(v) for v in values]
    except ValueError:
        raise ConfigError(f"--{name} takes integers, got {','.join(values)}") from None
    if not out or min(out) < 1:
        raise ConfigError(f"--{name} takes integers >= 1, got {','.join(values)}")
    return out


@cli.exits_on_user_error
def main(argv):
    del argv
    FLAGS = flags.FLAGS
    options = Options(
        presets=FLAGS.presets or default_presets(FLAGS.flags_dir),
        batch_sizes=_ints(FLAGS.batch_sizes, "batch_sizes"),
        repeats=FLAGS.repeats,
        warmup=FLAGS.warmup,
        sections=FLAGS.sections,
        stacks=_ints(FLAGS.stacks, "stacks"),
        max_epoch_steps=FLAGS.max_epoch_steps,
        mnist_dir=FLAGS.mnist_dir,
        flags_dir=FLAGS.flags_dir,
    )
    for name in options.presets:  # Fail fast, before TensorFlow loads.
        preset_path(name, options.flags_dir)
    cli.quiet_tensorflow()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # Retracing notices: each variant is a new model.

    def log(message):
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def write_json(result):
        if FLAGS.json:
            tmp = FLAGS.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(result, f, indent=2)
                f.write("\n")
            os.replace(tmp, FLAGS.json)

    result = run(options, log=log, partial=write_json)
    write_json(result)
    print(report(result))


def _define_data_flags():
    from keras_cgan import config_flags

    config_flags.define_flags(only=("mnist_dir", "tfds_data_dir"))


def cli_main():
    """Console-script entry point (`keras-cgan-bench`)."""
    cli.run(main, _define_data_flags)


if __name__ == "__main__":
    cli_main()
