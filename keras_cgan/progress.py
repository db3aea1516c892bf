"""`TrainingProgress`: progress in training steps, not in compiled calls.

Keras' progress bar counts `fit`'s batches. A keras_cgan run trains K steps
per compiled call (stacked batches, or `distribute.fit_custom_loop`), so that
bar shows `5/5 ... 400ms/step` for an epoch of 937 steps. This callback counts
the training steps, and shows the real time per step, the examples per
second, an ETA and, at the end of each epoch, the epoch's metrics.

It never reads a tensor (the batch logs are ignored), so it adds no device
synchronisation; the live line is redrawn at most every `interval` seconds.
"""

import sys
import threading
import time

import keras

# Metrics shown first, in this order; others (eval_*) follow sorted.
_FIRST = ("d_loss", "g_loss", "d_acc")


def format_seconds(seconds: float) -> str:
    """`42s`, `3:05` or `1:02:03`."""
    seconds = int(round(max(seconds, 0.0)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def format_step_time(seconds: float) -> str:
    """Time per training step: `1.25s/step`, `3.40ms/step` or `496us/step`."""
    if seconds >= 1.0:
        return f"{seconds:.2f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_rate(per_second: float) -> str:
    """A rate with 3 significant digits or more: `0.53`, `16.2`, `122,368`."""
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.1f}" if per_second >= 10 else f"{per_second:.2f}"


def format_metrics(logs) -> str:
    """`d_loss: 1.2345 - g_loss: 0.9876 - d_acc: 0.6543 - ...` from epoch logs."""
    logs = dict(logs or {})
    names = [n for n in _FIRST if n in logs] + sorted(n for n in logs if n not in _FIRST)
    parts = []
    for name in names:
        value = logs[name]
        try:
            parts.append(f"{name}: {float(value):.4f}")
        except (TypeError, ValueError):
            parts.append(f"{name}: {value}")
    return " - ".join(parts)


class TrainingProgress(keras.callbacks.Callback):
    """Shows training progress in training steps; pass `verbose=0` to `fit`.

    `verbose=1` draws a live line while an epoch trains (on a terminal; in a
    log file only the final line) and ends each epoch with

        937/937 [==============================] 0.49s - 523us/step - 122,368 samples/s - d_loss: 1.2345 - g_loss: 0.9876 - d_acc: 0.6543

    `verbose=2` writes one line per epoch:

        Epoch 3/1000 - 937 steps - 0.49s - 523us/step - 1,912 steps/s - 122,368 samples/s - d_loss: ...

    Each batch callback of `fit` (or of `distribute.fit_custom_loop`) stands
    for `steps_per_call` training steps: the `batch` index `i` Keras passes
    means `min((i + 1) * steps_per_call, steps_per_epoch)` steps are done, so
    a shorter last stack is counted right. Times are host wall-clock times
    from the start of the epoch (the first epoch includes compilation).

    Args:
        steps_per_epoch: Training steps per epoch; None: Keras' `steps`
            parameter (batches per epoch) times `steps_per_call`.
        batch_size: Examples per training step (the global batch), for the
            examples per second; None: not shown.
        steps_per_call: Training steps per batch callback: K for stacks of K
            batches or K steps per call, 1 for plain `fit`.
        verbose: 1 (live line and a final line per epoch) or 2 (one line per
            epoch).
        interval: Least seconds between two redraws of the live line.
        stream: Text stream to write to (None: `sys.stdout` when writing).
        clock: Monotonic clock in seconds (tests pass a fake one).
        dynamic: Redraw a live line (None: only if the stream is a terminal).
        bar_width: Characters of the bar.
    """

    # Batch ends touch no tensor and no model state: Keras may run them on
    # its callback thread, so they never hold up the next call.
    async_safe = True

    def __init__(
        self,
        steps_per_epoch=None,
        batch_size=None,
        steps_per_call=1,
        verbose=1,
        interval=0.25,
        stream=None,
        clock=time.perf_counter,
        dynamic=None,
        bar_width=30,
    ):
        super().__init__()
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 1 or 2, got {verbose}")
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.steps_per_call = int(steps_per_call)
        self.verbose = verbose
        self.interval = float(interval)
        self.stream = stream
        self.clock = clock
        self.dynamic = dynamic
        self.bar_width = int(bar_width)
        self._lock = threading.Lock()
        self._skip = 0
        self._offset = 0
        self._done = 0
        self._start = 0.0
        self._last_draw = 0.0
        self._drawn = 0  # Length of the live line drawn this epoch (0: none).

    def skip_steps(self, steps):
        """The next epoch starts `steps` steps in (a run resumed mid-epoch)."""
        self._skip = int(steps)

    # Geometry.
    def _total(self):
        if self.steps_per_epoch is not None:
            return int(self.steps_per_epoch)
        return int((self.params or {}).get("steps") or 0) * self.steps_per_call + self._offset

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _is_dynamic(self):
        if self.dynamic is not None:
            return self.dynamic
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def _rates(self, now):
        """`(elapsed_s, s_per_step, examples_per_s)` of the steps run this epoch."""
        elapsed = max(now - self._start, 1e-9)
        ran = self._done - self._offset
        per_step = elapsed / ran if ran else 0.0
        samples = ran * self.batch_size / elapsed if self.batch_size and ran else None
        return elapsed, per_step, samples

    def _speed(self, per_step, samples, steps_per_s=False):
        parts = [format_step_time(per_step)]
        if steps_per_s and per_step:
            parts.append(f"{format_rate(1.0 / per_step)} steps/s")
        if samples is not None:
            parts.append(f"{format_rate(samples)} samples/s")
        return " - ".join(parts)

    def _bar(self):
        total = self._total()
        width = len(str(total))
        head = f"{self._done:>{width}}/{total}"
        if not total:
            return head
        filled = min(self.bar_width, self.bar_width * self._done // total)
        arrow = ">" if filled < self.bar_width else ""
        rest = self.bar_width - filled - len(arrow)
        return f"{head} [{'=' * filled}{arrow}{'.' * rest}]"

    # Keras hooks.
    def on_epoch_begin(self, epoch, logs=None):
        self._offset, self._skip = self._skip, 0
        self._done = self._offset
        self._start = self._last_draw = self.clock()
        self._drawn = 0
        if self.verbose == 1:
            epochs = (self.params or {}).get("epochs")
            self._write(f"Epoch {epoch + 1}/{epochs}\n" if epochs else f"Epoch {epoch + 1}\n")

    def on_train_batch_end(self, batch, logs=None):
        done = min(self._offset + (batch + 1) * self.steps_per_call, self._total())
        with self._lock:
            self._done = max(self._done, done)
            if self.verbose != 1 or not self._is_dynamic():
                return
            now = self.clock()
            if now - self._last_draw < self.interval:
                return
            self._last_draw = now
            _, per_step, samples = self._rates(now)
            eta = per_step * (self._total() - self._done)
            line = f"{self._bar()} ETA {format_seconds(eta)} - {self._speed(per_step, samples)}"
            self._write(f"\r{line}")
            self._drawn = max(self._drawn, len(line))

    def on_epoch_end(self, epoch, logs=None):
        with self._lock:
            elapsed, per_step, samples = self._rates(self.clock())
            metrics = format_metrics(logs)
            if self.verbose == 1:
                line = f"{self._bar()} {elapsed:.2f}s - {self._speed(per_step, samples)}"
                line += f" - {metrics}" if metrics else ""
                # Over the live line (padded to hide the rest of a longer one).
                prefix = "\r" if self._drawn else ""
                self._write(f"{prefix}{line.ljust(self._drawn)}\n")
            else:
                epochs = (self.params or {}).get("epochs")
                parts = [
                    f"Epoch {epoch + 1}/{epochs}" if epochs else f"Epoch {epoch + 1}",
                    f"{self._done - self._offset} steps",
                    f"{elapsed:.2f}s",
                    self._speed(per_step, samples, steps_per_s=True),
                ]
                if metrics:
                    parts.append(metrics)
                self._write(" - ".join(parts) + "\n")

    def _write(self, text):
        out = self._out()
        out.write(text)
        out.flush()
