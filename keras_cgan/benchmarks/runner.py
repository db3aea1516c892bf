"""Runs the selected benchmark sections for each preset and collects every figure."""

import dataclasses
import os
import platform
from typing import Callable, Optional, Sequence

from keras_cgan.benchmarks.bare import bare_variants, bench_bare
from keras_cgan.benchmarks.fit import bench_fit
from keras_cgan.benchmarks.generate import bench_generate, bench_memory
from keras_cgan.benchmarks.norm import bench_norm
from keras_cgan.benchmarks.pipeline import bench_pipeline
from keras_cgan.benchmarks.presets import bench_config, epoch_steps, preset_path
from keras_cgan.benchmarks.readme import README_BATCH_SIZE, bench_readme
from keras_cgan.benchmarks.sweep import bench_sweep, preset_sweep
from keras_cgan.benchmarks.targets import check_targets
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError

SECTIONS = ("fit", "bare", "sweep", "pipeline", "generate", "norm", "memory", "readme")
README_PRESET = "seed"  # The model of the README's fit example.


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
    flags_dir: Optional[str] = None

    def __post_init__(self):
        # Checked here, where the command line builds its Options before
        # TensorFlow loads, so a misspelt section fails at once.
        unknown = set(self.sections) - set(SECTIONS)
        if unknown:
            raise ConfigError(
                f"unknown bench section {sorted(unknown)[0]!r}: use {', '.join(SECTIONS)}"
            )


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


def run(
    options: Options,
    load_preset: Callable[[str], TrainConfig],
    log=print,
    partial=None,
) -> dict:
    """Runs the selected sections; returns every figure (as `--json` writes it).

    Args:
        options: What to measure.
        load_preset: Maps a preset's `.cfg` path to the `TrainConfig` that
            `python -m keras_cgan.main --flagfile=PATH` would run.
        log: Receives one line of progress per section.
        partial: If given, receives the figures so far after each section
            (the command line writes them to `--json` as it goes).

    Raises:
        ConfigError: a missing preset (`Options` refuses an unknown section).
    """
    from keras_cgan import perf

    result = {"environment": _environment(), "options": dataclasses.asdict(options)}
    presets = {}
    for name in options.presets:
        path = preset_path(name, options.flags_dir)
        config = load_preset(path)
        if options.mnist_dir:
            config = config.replace(mnist_dir=options.mnist_dir)
        presets[name] = (path, config)
    sections = set(options.sections)
    if "readme" in sections:
        readme_preset = load_preset(preset_path(README_PRESET, options.flags_dir))
        if options.mnist_dir:
            readme_preset = readme_preset.replace(mnist_dir=options.mnist_dir)
    for key in SECTIONS:
        result[key] = []

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
            variants, sweep_steps, sweep_repeats = preset_sweep(
                preset, jit, options.stacks, steps, options.repeats
            )
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
        if "norm" in sections:
            log(f"norm: {name} batch {first_batch}, the generator's batch norms")
            layers = bench_norm(config, options.warmup, options.repeats)
            result["norm"].append({"preset": name, "batch_size": first_batch, "layers": layers})
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
    if "readme" in sections:
        steps = epoch_steps(
            readme_preset.replace(batch_size=README_BATCH_SIZE), options.max_epoch_steps
        )
        log(f"readme: the README's fit example and the {README_PRESET} preset, epochs in turn")
        config = bench_config(readme_preset, README_BATCH_SIZE, steps)
        readme = bench_readme(config, steps, options.warmup, options.repeats)
        result["readme"].append({"preset": README_PRESET, **readme})
        _partial(partial, result)
    result["environment"]["load_average_end"] = os.getloadavg()
    result["targets"] = check_targets(result)
    return result


def _partial(partial, result):
    if partial is not None:
        partial(result)
