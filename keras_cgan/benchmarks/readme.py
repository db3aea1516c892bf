"""The readme section: the README's "Use it from Python" `fit` against the command line.

The README example builds the seed model (mlp networks, 128 hidden units,
z of 100, Adam 1e-3, batch 64) with `data.mnist_dataset` and
`ConditionalGAN.compile` at their defaults and trains it with `fit` and a
`SampleGrid`. The command line trains the same model from `flags/seed.cfg`
(`train.train`). Both are timed epoch by epoch, taking turns: after each
command-line epoch, each README variant trains one epoch (its own `fit`
call, `initial_epoch=e, epochs=e + 1`). An epoch is timed from its
`on_epoch_begin` to its `on_epoch_end` (callbacks included) on both sides.
"""

import os
import tempfile
import time
import warnings

from keras_cgan.benchmarks.fit import timed_train
from keras_cgan.benchmarks.timing import epoch_timer, muted_stdout, summarize
from keras_cgan.config import DEFAULT_STEPS_PER_EXECUTION, TrainConfig

# The README example's model and batch size.
README_BATCH_SIZE = 64
# (label, `mnist_dataset` and `compile` arguments beyond the example's).
README_VARIANTS = (
    ("README example (defaults)", {}, {}),
    (
        "README example, float unstacked data, no XLA",
        {"stack": 1, "raw": False},
        {"jit_compile": False},
    ),
)


def readme_example(samples_dir, dataset_args=None, compile_args=None, mnist_dir=None, examples=0):
    """The README's example up to `fit`: `(gan, dataset, callbacks)`.

    Args:
        samples_dir: The `SampleGrid`'s folder.
        dataset_args: Extra `mnist_dataset` arguments (None: the example's).
        compile_args: Extra `ConditionalGAN.compile` arguments.
        mnist_dir: MNIST folder (None: `KERAS_CGAN_MNIST_DIR` or tfds).
        examples: Train on the first N examples (0 = all).
    """
    import keras

    from keras_cgan import callbacks, data, networks
    from keras_cgan.model import ConditionalGAN

    ds = data.mnist_dataset(
        split="train",
        batch_size=README_BATCH_SIZE,
        mnist_dir=mnist_dir,
        num_examples=examples,
        **(dataset_args or {}),
    )
    gan = ConditionalGAN(
        generator=networks.mlp_generator(latent_dim=100, hidden_units=128),
        discriminator=networks.mlp_discriminator(hidden_units=128),
        latent_dim=100,
        num_classes=10,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3),
        g_optimizer=keras.optimizers.Adam(1e-3),
        **(compile_args or {}),
    )
    return gan, ds, [callbacks.SampleGrid(samples_dir)]


def _epoch_runner(gan, ds, callbacks):
    """A callable training one more epoch of the example; returns its seconds."""
    epochs = []

    def runner():
        timer = epoch_timer()
        e = len(epochs)
        with muted_stdout(), warnings.catch_warnings():
            # Keras warns that fit's default shuffle=True does not apply to a dataset.
            warnings.simplefilter("ignore", UserWarning)
            gan.fit(ds, initial_epoch=e, epochs=e + 1, callbacks=[*callbacks, timer])
        epochs.append(timer.span_seconds(0)[0])
        return epochs[-1]

    return runner


def bench_readme(config: TrainConfig, steps: int, warmup: int, repeats: int) -> dict:
    """The README example's epochs against the command line's (`config`), in turn.

    Args:
        config: The seed preset as the benchmark runs it (`bench_config`, at
            batch 64 on `steps * 64` examples).
        steps: Steps per epoch.
        warmup: Untimed epochs first (compilation).
        repeats: Timed epochs.

    Returns:
        `cli_epoch_s`, and per README variant its `epoch_s`, the XLA mode its
        `compile` chose, its batches per element, and `ratio`: its epoch time
        over the command line's in the same turn (median [min, max]).
    """
    import keras

    from keras_cgan import perf

    with tempfile.TemporaryDirectory() as directory:
        examples = steps * README_BATCH_SIZE
        built = []
        for i, (label, dataset_args, compile_args) in enumerate(README_VARIANTS):
            keras.utils.set_random_seed(i)
            gan, ds, callbacks = readme_example(
                os.path.join(directory, f"samples{i}"),
                dataset_args,
                compile_args,
                mnist_dir=config.mnist_dir,
                examples=examples,
            )
            built.append((label, gan, ds, _epoch_runner(gan, ds, callbacks)))
        start = time.perf_counter()
        timer, alternate, _, _ = timed_train(
            config.replace(batch_size=README_BATCH_SIZE),
            warmup + repeats,
            [runner for *_, runner in built],
        )
        wall = time.perf_counter() - start
    cli = timer.span_seconds(warmup)
    variants = []
    for (label, gan, _, _), (_, dataset_args, _), seconds in zip(
        built, README_VARIANTS, alternate.seconds, strict=True
    ):
        own = seconds[warmup:]
        stack = dataset_args.get("stack") or DEFAULT_STEPS_PER_EXECUTION
        variants.append(
            {
                "label": label,
                "jit_compile": "step" if gan.step_jit_compile else bool(gan.jit_compile),
                "batches_per_element": min(stack, steps),
                "epoch_s": summarize(own),
                "ratio": summarize([r / c for r, c in zip(own, cli, strict=True)]),
            }
        )
    return {
        "batch_size": README_BATCH_SIZE,
        "steps_per_epoch": steps,
        "cli_jit_compile": perf.resolve_jit_compile(
            config.arch, config.jit_compile, config.batch_size
        ),
        "cli_batches_per_element": min(config.steps_per_execution, steps),
        "cli_epoch_s": summarize(cli),
        "variants": variants,
        "wall_s": wall,
    }
