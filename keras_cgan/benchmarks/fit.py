"""The fit section: a training run exactly as `keras_cgan.main` makes it, timed per epoch."""

import tempfile
import time
from typing import Sequence

from keras_cgan.benchmarks.bare import bare_loop_runner
from keras_cgan.benchmarks.timing import (
    epoch_timer,
    interleaved,
    inverted,
    muted_stdout,
    scaled,
    summarize,
)
from keras_cgan.config import TrainConfig


def timed_train(config: TrainConfig, epochs: int, runners: Sequence = ()) -> tuple:
    """`train.train(config)` for `epochs` epochs, each followed by one call of each runner.

    Returns:
        `(timer, alternate, start, end)`: the `epoch_timer` (appended after
        the run's own callbacks), the `interleaved` callback holding the
        runners' results, and the clock before and after the run.
    """
    from keras_cgan import train

    timer = epoch_timer()
    alternate = interleaved(timer, runners)
    with tempfile.TemporaryDirectory() as workdir, muted_stdout():
        run = config.replace(epochs=epochs, workdir=workdir)
        start = time.perf_counter()
        train.train(run, callbacks=[timer, alternate])
        end = time.perf_counter()
    return timer, alternate, start, end


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
    runners = [bare_loop_runner(config, steps, jit, k) for jit, k in bare_variants]
    timer, alternate, start, end = timed_train(config, warmup + repeats, [r for r, _ in runners])
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
    for (jit, _), (_, info), seconds in zip(bare_variants, runners, alternate.seconds, strict=True):
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
