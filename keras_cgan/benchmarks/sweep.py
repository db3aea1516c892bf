"""The sweep section: `fit` under XLA, stacking and pipeline settings, taking turns."""

import dataclasses
from typing import Sequence

from keras_cgan.benchmarks.bare import xla_label
from keras_cgan.benchmarks.timing import epoch_timer, inverted, scaled, summarize
from keras_cgan.config import TrainConfig


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
        timer = epoch_timer()
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


def preset_sweep(preset: TrainConfig, jit, stacks: Sequence[int], steps: int, repeats: int):
    """`(variants, steps, repeats)` of the sweep for a preset whose run uses XLA `jit`.

    mlp presets: `sweep_variants` over full epochs. Conv presets: six settings
    on a few steps and at most 3 repeats, since XLA's CPU code for a conv
    step inside a multi-step loop is very slow.
    """
    if preset.arch == "mlp":
        return sweep_variants(stacks, preset.steps_per_execution, jit, preset.arch), steps, repeats
    k = min(steps, 10)
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
    return variants, k, min(repeats, 3)
