"""Wires data, networks, model, callbacks, checkpoints and export into a run."""

import contextlib
import os
import secrets
import shutil
import tempfile
import time

import keras

from keras_cgan import callbacks as callbacks_lib
from keras_cgan import (
    checkpoint,
    data,
    datasets,
    distribute,
    export,
    fileio,
    perf,
    progress,
    runtime,
    workdir_lock,
)
from keras_cgan.builder import build_gan
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError
from keras_cgan.model import ConditionalGAN

# What a run writes into its workdir (moved aside together by resume=False).
RUN_ARTIFACTS = (
    "config.json",
    "metrics.csv",
    "metrics.png",
    "model.keras",
    "samples",
    "checkpoints",
    "export",
    "tensorboard",
)


def resolve_seed(config: TrainConfig) -> TrainConfig:
    """Returns `config` with a concrete seed (a fresh one if it had None)."""
    if config.seed is not None:
        return config
    return config.replace(seed=secrets.randbelow(2**31))


def make_callbacks(
    config: TrainConfig, steps_per_epoch, grid_noise=None, chief=True, evaluator=None
):
    """The callbacks of a CLI run, the checkpoint/divergence guard first.

    Args:
        config: The run configuration.
        steps_per_epoch: Batches per epoch.
        grid_noise: Sample-grid noise restored from a checkpoint, or None.
        chief: False for a non-chief worker: it only guards against
            divergence and writes nothing into the workdir (its checkpoints
            go to a temporary folder, as TensorFlow recommends).
        evaluator: With `config.eval_every` > 0, the `Evaluator` whose metrics
            are added to the epoch logs (before the loggers see them).

    Returns:
        `(callbacks, checkpoint_callback)`. With `config.verbose`, the last
        callback is the `progress.TrainingProgress` of the run (it counts
        `config.steps_per_execution` steps per call).
    """
    shown = []
    if config.verbose:
        shown.append(
            progress.TrainingProgress(
                steps_per_epoch,
                batch_size=config.batch_size,
                steps_per_call=config.steps_per_execution,
                verbose=config.verbose,
            )
        )
    if not chief:
        guard = checkpoint.CheckpointCallback(
            tempfile.mkdtemp(prefix="keras_cgan-worker-"),
            config,
            steps_per_epoch,
            every=config.checkpoint_every,
            handle_signals=False,
        )
        return [guard] + shown, guard
    workdir = config.workdir
    csv_path = os.path.join(workdir, "metrics.csv")
    tb_dir = os.path.join(workdir, "tensorboard") if config.tensorboard else None
    # Sample grids and epoch checkpoints are written on one background thread,
    # in order, while the next epoch trains; `guard.finish()` waits for them.
    writer = fileio.BackgroundWriter()
    grid = callbacks_lib.SampleGrid(
        os.path.join(workdir, "samples"),
        every=config.sample_every,
        seed=config.seed,
        row_labels=[datasets.short_name(n) for n in datasets.class_names_of(config)],
        tensorboard_dir=tb_dir and os.path.join(tb_dir, "samples"),
        writer=writer,
    )
    grid.noise = grid_noise
    guard = checkpoint.CheckpointCallback(
        os.path.join(workdir, "checkpoints"),
        config,
        steps_per_epoch,
        every=config.checkpoint_every,
        sample_grid=grid,
        writer=writer,
    )
    result = [guard, grid]
    if evaluator is not None and config.eval_every:
        result.append(
            callbacks_lib.EvaluateCallback(
                evaluator, every=config.eval_every, num_samples=config.eval_samples
            )
        )
    result += [
        callbacks_lib.CSVLog(csv_path),
        callbacks_lib.MetricsPlot(os.path.join(workdir, "metrics.png"), csv_path=csv_path),
    ]
    if tb_dir:
        result.append(keras.callbacks.TensorBoard(tb_dir, write_graph=False))
    return result + shown, guard


def _move_run_aside(workdir):
    """Moves a previous run's artifacts into `<workdir>/replaced-<time>/`."""
    present = [name for name in RUN_ARTIFACTS if os.path.exists(os.path.join(workdir, name))]
    if not present:
        return None
    target = os.path.join(workdir, time.strftime("replaced-%Y%m%d-%H%M%S"))
    os.makedirs(target)
    for name in present:
        os.replace(os.path.join(workdir, name), os.path.join(target, name))
    return target


def _save_model(gan, path):
    fileio.write_atomic(path, gan.save)


def _say(config, message):
    if config.verbose:
        print(f"keras_cgan: {message}", flush=True)


def train(config: TrainConfig, callbacks=(), strategy=None, evaluator=None) -> ConditionalGAN:
    """Trains a conditional GAN on `config.dataset`, resuming the run in `config.workdir`.

    The dataset's image shape, class count and class names are filled into
    the config (`datasets.configure`) before anything is built or written.

    Writes `config.json` (the effective config, seed included), `metrics.csv`
    (with `eval_*` columns every `eval_every` epochs), `metrics.png`, `samples/epoch_NNNN.png`, `samples/progress.gif`,
    `checkpoints/latest/` (every `checkpoint_every` epochs), and at the end
    `model.keras` and the SavedModel `export/`; with `tensorboard`, also
    `tensorboard/`.

    If the workdir holds a checkpoint and `config.resume` is true, training
    continues from it: same weights, optimizer state, noise stream and data
    order as an uninterrupted run. A finished run given more `epochs`
    continues from its last epoch.

    Under a distribution strategy (`config.strategy`, or `strategy`), the
    model, optimizers and metrics are built in its scope, `batch_size` is the
    global batch, and only the chief writes into the workdir.

    Args:
        config: The run configuration.
        callbacks: Extra Keras callbacks, run after the built-in ones.
        strategy: A `tf.distribute.Strategy` to use instead of the one
            `config.strategy` names (e.g. a MirroredStrategy over chosen
            devices).
        evaluator: With `config.eval_every` > 0, the
            `keras_cgan.evaluation.Evaluator` that measures sample quality
            every `eval_every` epochs (`Evaluator.for_config(config)`); None
            skips the evaluation.

    Returns:
        The trained `ConditionalGAN`.

    Raises:
        DataError: the dataset could not be loaded (the message says how to fix it).
        ConfigError: the workdir's run was made with another model or
            optimizer configuration.
        TrainingDiverged: a loss or weight became NaN/Inf (last good
            checkpoint kept).
        TrainingInterrupted: SIGTERM/SIGINT; a checkpoint was written.
        WorkdirBusy: another live process is training in `config.workdir`.
        WriteError: a file of the run could not be written (e.g. a full disk);
            the files written before, the last checkpoint and export included,
            are kept.
    """
    if config.eval_every and evaluator is None and distribute.is_chief(strategy):
        raise ConfigError(
            f"eval_every={config.eval_every} needs an evaluator: pass "
            "train(config, evaluator=keras_cgan.Evaluator.for_config(config))"
        )
    # One run per workdir; the workers of a multi-worker run other than the
    # chief write nothing there and must not take the chief's lock.
    if strategy is not None:
        chief = distribute.is_chief(strategy)
    else:
        chief = config.strategy != "multi_worker" or distribute.is_chief()
    lock = workdir_lock.WorkdirLock(config.workdir) if chief else contextlib.nullcontext()
    with lock:
        return _train(config, callbacks, strategy, evaluator)


def _train(config, callbacks, strategy, evaluator):
    if strategy is None:
        strategy = distribute.make_strategy(config.strategy, tpu=config.tpu)
    # The effective settings, written to config.json; a combination that
    # cannot run stops here, before anything is moved or written.
    settings = runtime.resolve(config, strategy)
    dataset = datasets.load_dataset(
        datasets.DataSource.from_config(config), "train", config.train_examples
    )
    config = datasets.configure(config, dataset)
    workdir = config.workdir
    ckpt_dir = os.path.join(workdir, "checkpoints")
    ckpt = checkpoint.find_checkpoint(ckpt_dir)
    if ckpt is not None and config.resume:
        _, _, saved = checkpoint.read_checkpoint_info(ckpt)
        checkpoint.check_resumable(saved, config, workdir)
        config = config.replace(seed=saved.seed)
    else:
        if not config.resume:
            moved = _move_run_aside(workdir) if os.path.isdir(workdir) else None
            if moved:
                _say(config, f"--noresume: the previous run in {workdir} was moved to {moved}")
        ckpt = None
        config = resolve_seed(config)

    chief = distribute.is_chief(strategy)
    for notice in settings.notices:
        _say(config, notice)
    config = settings.apply(config)

    if not chief:
        evaluator = None
    images, labels = dataset.images, dataset.labels
    steps = len(images) // config.batch_size
    if chief:
        os.makedirs(workdir, exist_ok=True)
        config.save_json(os.path.join(workdir, "config.json"))
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        gan = build_gan(config, steps_per_epoch=steps, custom_loop=settings.custom_loop)
    epoch, step, grid_noise = 0, 0, None
    if ckpt is not None:
        epoch, step, grid_noise = checkpoint.restore_checkpoint(ckpt, gan)
        _say(config, f"resuming {workdir} after epoch {epoch}" + (f", step {step}" if step else ""))

    if epoch >= config.epochs:
        _say(config, f"{workdir} already trained {epoch} epochs (--epochs={config.epochs})")
    else:
        run_callbacks, guard = make_callbacks(
            config, steps, grid_noise, chief=chief, evaluator=evaluator
        )
        run_callbacks += list(callbacks)
        # A run stopped mid-epoch first finishes that epoch's remaining batches.
        phases = []
        if step:
            phases.append((epoch, epoch + 1, step))
            epoch += 1
        if epoch < config.epochs:
            phases.append((epoch, config.epochs, 0))
        try:
            for start, end, skip in phases:
                _fit(
                    gan,
                    strategy,
                    config,
                    settings,
                    images,
                    labels,
                    start,
                    end,
                    skip,
                    steps,
                    run_callbacks,
                )
        finally:
            guard.finish()
            if not chief:
                shutil.rmtree(guard.directory, ignore_errors=True)

    if chief:
        _save_model(gan, os.path.join(workdir, "model.keras"))
        export.export_generator(gan, os.path.join(workdir, "export"), config)
    return gan


def _fit(gan, strategy, config, settings, images, labels, start, end, skip, steps, callbacks):
    """Trains epochs `start..end-1` (skipping `skip` batches of the first)."""
    per_call = settings.steps_per_execution
    # Keras `fit` gets stacks of `per_call` batches; the custom loop, single batches.
    stack = 1 if settings.custom_loop else per_call

    def make(replica_slice=None):
        return data.make_dataset(
            images,
            labels,
            config.batch_size,
            seed=config.seed,
            epochs=(start, end),
            skip_batches=skip,
            replica_slice=replica_slice,
            stack=stack,
            **perf.PIPELINE,
        )

    for callback in callbacks:
        if isinstance(callback, progress.TrainingProgress):
            callback.skip_steps(skip)
    # Progress in training steps is `TrainingProgress`'s: Keras' bar counts calls.
    kwargs = dict(initial_epoch=start, epochs=end, callbacks=callbacks, verbose=0)
    if settings.custom_loop:
        dataset = distribute.distributed_dataset(strategy, make, config.batch_size)
        distribute.fit_custom_loop(
            gan,
            strategy,
            dataset,
            steps_per_epoch=steps - skip,
            steps_per_execution=per_call,
            jit_compile=settings.jit_compile,
            **kwargs,
        )
    else:
        # Elements: stacks of `stack` batches.
        gan.fit(make(), shuffle=False, steps_per_epoch=-(-(steps - skip) // stack), **kwargs)
