"""Kill-safe training checkpoints, exact resume, and the divergence guard.

A checkpoint is a folder `<workdir>/checkpoints/latest/` holding

* `state.npz`: every variable of the run: both networks (BatchNorm statistics
  included), the EMA generator if the run has one, both optimizers (iteration counts and slots, loss scale), the
  noise `SeedGenerator` state (which `model.save` does not keep), the step
  counter, and the fixed sample-grid noise;
* `state.json`: the epoch and step it was taken at and the config it belongs to.

It is written to a temporary folder first and swapped in with renames, so a
process killed at any moment (SIGKILL included) leaves a loadable checkpoint:
either the new one or the previous one (`latest.old`, picked up on load).
Writing costs a few milliseconds for the seed model; with a
`fileio.BackgroundWriter`, the epoch checkpoints are written while the next
epoch trains.

Before each write, `CheckpointCallback` checks the epoch's losses and all
weights; a NaN or Inf stops training with `TrainingDiverged` and leaves the
last good checkpoint and export untouched. SIGTERM or Ctrl-C finish the
current step, write a mid-epoch checkpoint and raise `TrainingInterrupted`;
the resumed run skips the batches already consumed.
"""

import json
import os
import shutil
import signal
import threading

import keras
import numpy as np

from keras_cgan.builder import build_gan
from keras_cgan.config import RESUME_KEYS, TrainConfig
from keras_cgan.errors import ConfigError, KerasCganError
from keras_cgan.fileio import replace_dir, resolve_dir, run_job, writing

LATEST = "latest"
_STATE_NPZ = "state.npz"
_STATE_JSON = "state.json"
_GRID_NOISE = "sample_grid/noise"


class TrainingDiverged(KerasCganError):
    """A loss or weight became NaN/Inf; the last good checkpoint is kept."""


class TrainingInterrupted(KerasCganError):
    """SIGTERM/SIGINT stopped training after a checkpoint was written."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.signum = signum


def state_variables(gan):
    """All variables a checkpoint holds, as an ordered `{key: variable}` dict."""
    groups = [
        ("generator", gan.generator.variables),
        ("discriminator", gan.discriminator.variables),
        ("d_optimizer", gan.d_optimizer.variables),
        ("g_optimizer", gan.g_optimizer.variables),
        ("seed_generator", [gan.seed_generator.state]),
        ("counters", [gan.train_steps]),
    ]
    if getattr(gan, "ema_generator", None) is not None:
        groups.append(("ema_generator", gan.ema_generator.variables))
    if getattr(gan, "aux_head", None) is not None:
        groups.append(("aux_head", gan.aux_head.variables))
    return {
        f"{group}/{i:03d}/{v.path}": v
        for group, variables in groups
        for i, v in enumerate(variables)
    }


def snapshot_state(gan, grid_noise=None):
    """The values a checkpoint holds: `{key: np.ndarray}` (see `state_variables`).

    Args:
        gan: A compiled `ConditionalGAN`.
        grid_noise: Optional float32 `[N, latent_dim]` sample-grid noise.
    """
    arrays = {key: np.asarray(v) for key, v in state_variables(gan).items()}
    if grid_noise is not None:
        arrays[_GRID_NOISE] = np.asarray(grid_noise, np.float32)
    return arrays


def _non_finite(arrays):
    """Keys of the floating-point `snapshot_state` arrays holding a NaN or Inf."""
    return [
        key
        for key, value in arrays.items()
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value))
    ]


def save_checkpoint(directory, gan, config, *, epoch, step=0, grid_noise=None):
    """Writes a checkpoint to `<directory>/latest` atomically.

    Args:
        directory: The checkpoints folder.
        gan: A compiled `ConditionalGAN`.
        config: The run's `TrainConfig`.
        epoch: Completed epochs.
        step: Batches of epoch `epoch + 1` already trained (0 at a boundary).
        grid_noise: Optional float32 `[N, latent_dim]` sample-grid noise.

    Returns:
        The checkpoint folder.
    """
    return write_checkpoint(
        directory, snapshot_state(gan, grid_noise), config, epoch=epoch, step=step
    )


def write_checkpoint(directory, arrays, config, *, epoch, step=0):
    """Writes `snapshot_state` arrays as `<directory>/latest` atomically; returns that folder.

    Needs no TensorFlow, so it can run on a background thread while training
    goes on (`CheckpointCallback(writer=...)`).
    """
    final = os.path.join(directory, LATEST)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{threading.get_ident()}")
    with writing(final, tmp):  # A failed write: one WriteError, the previous checkpoint kept.
        os.makedirs(directory, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        with open(os.path.join(tmp, _STATE_NPZ), "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        with open(os.path.join(tmp, _STATE_JSON), "w") as f:
            state = {"epoch": int(epoch), "step": int(step), "config": config.to_dict()}
            json.dump(state, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        replace_dir(tmp, final)
    return final


def find_checkpoint(directory):
    """The latest complete checkpoint folder under `directory`, or None."""
    path = resolve_dir(os.path.join(directory, LATEST))
    if path and os.path.isfile(os.path.join(path, _STATE_JSON)):
        return path
    return None


def read_checkpoint_info(path):
    """Returns `(epoch, step, TrainConfig)` recorded in a checkpoint folder."""
    with open(os.path.join(path, _STATE_JSON)) as f:
        info = json.load(f)
    return info["epoch"], info["step"], TrainConfig.from_dict(info["config"])


def restore_checkpoint(path, gan):
    """Loads a checkpoint's variables into `gan` (built with the same config).

    Returns:
        `(epoch, step, grid_noise)`; `grid_noise` is None if none was saved.

    Raises:
        KerasCganError: the checkpoint is unreadable or does not match `gan`.
    """
    epoch, step, _ = read_checkpoint_info(path)
    npz_path = os.path.join(path, _STATE_NPZ)
    try:
        with np.load(npz_path) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # zipfile/OS errors: a damaged file.
        raise KerasCganError(f"cannot read checkpoint {npz_path} ({e})") from None
    variables = state_variables(gan)
    missing = sorted(set(variables) - set(arrays))
    if missing:
        raise KerasCganError(
            f"checkpoint {path} does not match the model: it lacks {missing[0]} "
            f"({len(missing)} variables missing); was it written by another configuration?"
        )
    for key, v in variables.items():
        if tuple(arrays[key].shape) != tuple(v.shape):
            raise KerasCganError(
                f"checkpoint {path} does not match the model: {key} has shape "
                f"{arrays[key].shape}, the model {tuple(v.shape)}"
            )
        v.assign(arrays[key])
    return epoch, step, arrays.get(_GRID_NOISE)


def load_run(run_dir):
    """Restores the latest checkpoint of a run folder into a freshly built GAN.

    Args:
        run_dir: A training run's workdir (it holds `checkpoints/latest/`).

    Returns:
        `(gan, config)`: the compiled `ConditionalGAN` with every variable of
        the checkpoint (EMA generator and optimizer state included), and the
        run's `TrainConfig`; or None if the folder holds no checkpoint.

    Raises:
        KerasCganError: the checkpoint is unreadable or does not match its config.
    """
    path = find_checkpoint(os.path.join(run_dir, "checkpoints"))
    if path is None:
        return None
    _, _, config = read_checkpoint_info(path)
    gan = build_gan(config)
    restore_checkpoint(path, gan)
    return gan, config


def check_resumable(saved: TrainConfig, wanted: TrainConfig, workdir):
    """Raises ConfigError if `wanted` cannot continue the run of `saved`."""
    keys = RESUME_KEYS
    if saved.lr_schedule != "constant":
        keys += ("epochs",)  # The schedule's length is part of the optimizers' state.
    for key in keys:
        old, new = getattr(saved, key), getattr(wanted, key)
        if key == "seed" and new is None:
            continue  # No seed asked for: keep the run's.
        if old != new:
            raise ConfigError(
                f"workdir {workdir} holds a run with {key}={old!r} but the flags ask for "
                f"{key}={new!r}: use a new --workdir, pass --{key}={old!r} to resume, "
                "or --noresume to start over (the old run is moved aside)"
            )


class CheckpointCallback(keras.callbacks.Callback):
    """Guards against divergence and writes checkpoints; put it first in the list.

    At the end of every epoch it checks the epoch's logged losses and all
    weights for NaN/Inf and raises `TrainingDiverged` (before later callbacks
    could write grids or logs of the broken state). Every `every` epochs, and
    at the end of training, it writes a checkpoint. While training it turns
    SIGTERM and SIGINT into "finish this step, checkpoint, stop": training
    ends with `TrainingInterrupted`; a second Ctrl-C interrupts at once. The
    caller should call `finish()` in a `finally` (an exception raised inside
    `fit` skips `on_train_end`).

    With a `writer`, the epoch checkpoints are written on its background
    thread: the weights are read and checked here, at the end of the epoch,
    and training goes on while the files are written. Checkpoints at the end
    of training, on a signal, and the divergence report wait for the writes.

    Args:
        directory: The checkpoints folder.
        config: The run's `TrainConfig` (saved with each checkpoint).
        steps_per_epoch: Batches per epoch.
        every: Checkpoint every this many epochs.
        sample_grid: Optional `SampleGrid` whose fixed noise is saved too.
        handle_signals: Install the SIGTERM/SIGINT handlers (main thread only).
        writer: Optional `keras_cgan.fileio.BackgroundWriter` for the epoch
            checkpoints (None: written before `on_epoch_end` returns).
        **kwargs: Passed to `keras.callbacks.Callback`.
    """

    def __init__(
        self,
        directory,
        config,
        steps_per_epoch,
        every=1,
        sample_grid=None,
        handle_signals=True,
        writer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.directory = directory
        self.config = config
        self.steps_per_epoch = int(steps_per_epoch)
        self.every = int(every)
        self.sample_grid = sample_grid
        self.handle_signals = handle_signals
        self.writer = writer
        self._signal = None
        self._previous_handlers = {}
        self._last_saved = None

    # Signals: the handler only asks Keras to stop after the current step
    # (`stop_training` is checked after every step), so no per-batch hook
    # slows training down.
    def _on_signal(self, signum, frame):
        if self._signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # Second Ctrl-C: stop now.
        self._signal = signum
        if self.model is not None:
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self._signal = None
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def restore_signal_handlers(self):
        """Puts back the handlers that were active before training."""
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def wait_for_writes(self):
        """Blocks until queued checkpoint writes are done; raises a failed write's error."""
        if self.writer is not None:
            self.writer.wait()

    def finish(self):
        """Restores the signal handlers and waits for the writes; call in a `finally`."""
        self.restore_signal_handlers()
        if self.writer is not None:
            self.writer.close()

    def _iterations(self):
        return int(np.asarray(self.model.train_steps))

    def _interrupted(self):
        done = self._iterations()
        epoch, step = divmod(done, self.steps_per_epoch)
        arrays = self._check_weights(f"epoch {epoch + 1} (before step {done + 1})")
        path = self._save(epoch, step, arrays)
        self.restore_signal_handlers()
        name = signal.Signals(self._signal).name
        return TrainingInterrupted(
            f"{name}: stopped after epoch {epoch}, step {step}/{self.steps_per_epoch} of the "
            f"next; checkpoint written to {path}; run the same command again to resume",
            self._signal,
        )

    # Divergence.
    def _check_weights(self, where):
        """The checkpoint arrays of the current state, after checking them for NaN/Inf."""
        arrays = snapshot_state(self.model, self._grid_noise())
        bad = _non_finite(arrays)
        if bad:
            raise TrainingDiverged(
                f"training diverged in {where}: {bad[0]} holds NaN/Inf ({len(bad)} variables); "
                f"{self._kept()}"
            )
        return arrays

    def _kept(self):
        try:
            self.wait_for_writes()  # The last good checkpoint may still be on its way.
        except Exception:  # noqa: BLE001 - the divergence is the error to report.
            pass
        ckpt = find_checkpoint(self.directory)
        if ckpt is None:
            return "no checkpoint had been written yet; lower the learning rate"
        epoch, _, _ = read_checkpoint_info(ckpt)
        return (
            f"the last good checkpoint (epoch {epoch}) is kept in {ckpt}; lower the learning rate"
        )

    def on_epoch_end(self, epoch, logs=None):
        if self._signal is not None and self._iterations() % self.steps_per_epoch:
            # Stopped mid-epoch: checkpoint there and skip the other callbacks'
            # end-of-epoch work (their grid or log row would be of a partial epoch).
            raise self._interrupted()
        first, last = epoch * self.steps_per_epoch + 1, (epoch + 1) * self.steps_per_epoch
        where = f"epoch {epoch + 1} (steps {first}-{last})"
        for name, value in (logs or {}).items():
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                raise TrainingDiverged(
                    f"training diverged in {where}: {name} is {value}; {self._kept()}"
                )
        arrays = self._check_weights(where)
        if (epoch + 1) % self.every == 0:
            self._save(epoch + 1, 0, arrays, wait=False)

    def on_train_end(self, logs=None):
        if self._signal is not None:
            raise self._interrupted()  # Stopped right at an epoch boundary.
        self.restore_signal_handlers()
        epoch, step = divmod(self._iterations(), self.steps_per_epoch)
        if self._last_saved != (epoch, step):
            arrays = snapshot_state(self.model, self._grid_noise())
            if not _non_finite(arrays):
                self._save(epoch, step, arrays)
        self.wait_for_writes()

    def _grid_noise(self):
        return self.sample_grid.noise if self.sample_grid is not None else None

    def _save(self, epoch, step, arrays, wait=True):
        """Writes `snapshot_state` arrays as the checkpoint of `(epoch, step)`.

        The write is queued on the writer after any earlier ones (or done now
        without one); with `wait`, it is finished when this returns.

        Returns:
            The checkpoint folder.
        """
        run_job(
            self.writer,
            write_checkpoint,
            self.directory,
            arrays,
            self.config,
            epoch=epoch,
            step=step,
        )
        self._last_saved = (epoch, step)
        if wait:
            self.wait_for_writes()
        return os.path.join(self.directory, LATEST)
