"""Statistics of repeated measurements, and the callbacks that time `fit` epochs."""

import contextlib
import os
import statistics
import time
from typing import Sequence


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


def epoch_timer():
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

        def span_seconds(self, warmup):
            """Durations of epochs `warmup..` from their `on_epoch_begin` to `on_epoch_end`."""
            return [
                self.epoch_end[e] - self.epoch_begin[e] for e in range(warmup, len(self.epoch_end))
            ]

        def callback_seconds(self, warmup):
            return [
                self.epoch_end[e] - self.last_call_end[e]
                for e in range(max(warmup, 1), len(self.epoch_end))
            ]

    return EpochTimer()


def interleaved(timer, runners):
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
def muted_stdout():
    """Keras' progress bar goes nowhere while a benchmark runs."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield
