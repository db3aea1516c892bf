"""tf.distribute strategies: choosing one, and who writes what.

Training runs on TensorFlow's own distributed engine. `make_strategy` builds
the strategy a `--strategy` name stands for; `is_chief` says whether this
process writes the run's shared artifacts (grids, logs, checkpoints, export).

* `default`: one device (TensorFlow's default strategy).
* `mirrored`: `MirroredStrategy` over all local GPUs (or the given devices).
* `multi_worker`: `MultiWorkerMirroredStrategy`; every worker runs the same
  command with its own `TF_CONFIG` (TensorFlow's cluster spec, see
  https://www.tensorflow.org/guide/distributed_training). The chief (task
  type `chief`, or worker 0 when there is none) writes the artifacts; other
  workers compute and write nothing shared.
* `tpu`: `TPUStrategy` through `TPUClusterResolver` (`--tpu=ADDRESS`, empty on
  a TPU VM); the TPU system is initialised first. The tests need no TPU and do
  not cover this path.
"""

import json
import os

import tensorflow as tf

from keras_cgan.config import STRATEGIES
from keras_cgan.errors import ConfigError


def make_strategy(name="default", devices=None, tpu=""):
    """Builds the `tf.distribute.Strategy` that `name` stands for.

    Args:
        name: One of `STRATEGIES`.
        devices: For "mirrored": device names (None: all local GPUs, or the
            CPU if there are none).
        tpu: For "tpu": the TPU address or name ("" on a TPU VM).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ConfigError: unknown name, or no TPU to connect to.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ConfigError(
                f"--strategy=tpu: no TPU found ({reason}); run on a TPU VM or pass --tpu=ADDRESS"
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_replicated(strategy):
    """Whether `strategy` runs steps in replica threads or programs (mirrored, multi_worker, tpu).

    True even with a single replica: such a strategy's cross-replica updates
    (`merge_call`) cannot run inside a loop within `strategy.run`.
    """
    return isinstance(
        strategy,
        (
            tf.distribute.MirroredStrategy,
            tf.distribute.MultiWorkerMirroredStrategy,
            tf.distribute.TPUStrategy,
        ),
    )


def is_tpu(strategy):
    return isinstance(strategy, tf.distribute.TPUStrategy)


def task():
    """`(task_type, task_index)` from `TF_CONFIG`, or `(None, 0)` without one."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    spec = config.get("task") or {}
    return spec.get("type"), int(spec.get("index", 0))


def is_chief(strategy=None):
    """Whether this process writes the run's artifacts.

    True for a single process, and in a multi-worker cluster for the task of
    type "chief", or worker 0 when the cluster has no chief.
    """
    if strategy is not None and not is_multi_worker(strategy):
        return True
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task_type, index = task()
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and index == 0 and "chief" not in config.get("cluster", {})


def xla_supported(strategy):
    """XLA cannot span several CPU devices of a MirroredStrategy."""
    if strategy.num_replicas_in_sync <= 1:
        return True
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def distributed_dataset(strategy, make_batches, global_batch_size):
    """Distributes index batches so replica k of every step gets slice k.

    Args:
        strategy: The strategy.
        make_batches: `fn(replica_slice) -> tf.data.Dataset` building the
            pipeline that yields, per global batch, this input pipeline's
            replicas' slices in replica order (see `data.make_dataset`).
        global_batch_size: Examples per step over all replicas.

    Returns:
        A distributed dataset.
    """
    num_replicas = strategy.num_replicas_in_sync
    if global_batch_size % num_replicas:
        raise ConfigError(
            f"batch_size {global_batch_size} is not divisible by the {num_replicas} replicas: "
            f"use a multiple of {num_replicas}"
        )

    def dataset_fn(context):
        local = num_replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local
        return make_batches((first, local, num_replicas))

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(dataset_fn, options)


def fit_custom_loop(
    gan,
    strategy,
    dataset,
    *,
    initial_epoch,
    epochs,
    steps_per_epoch,
    callbacks,
    verbose=0,
    steps_per_execution=1,
    jit_compile=False,
):
    """`fit` for replicated strategies: K `strategy.run` steps per compiled call.

    Keras' `fit` runs `train_step` inside `strategy.run`, so stacked batches
    would loop inside a replica, where a step's cross-replica updates
    (gradient all-reduce, EMA) cannot run; and it fails under
    MultiWorkerMirroredStrategy (keras-team/keras#20585). This loop runs the
    same `gan.train_step` once per batch through `strategy.run`, up to
    `steps_per_execution` times in one compiled call (a TensorFlow loop in
    cross-replica context), and calls the Keras callbacks at the same points
    as `fit`: train/epoch begin and end, and batch begin/end once per call
    with the call's index (as `fit` does on stacked batches). `stop_training`
    is checked after every call. Metrics are reset each epoch and read on
    every worker.

    Args:
        gan: A compiled `ConditionalGAN` built in `strategy.scope()`, compiled
            without `jit_compile` or `step_jit_compile` (XLA is this loop's).
        strategy: The strategy.
        dataset: A distributed dataset of per-step batches (see
            `distributed_dataset`).
        initial_epoch: First epoch (0-based).
        epochs: End epoch (exclusive).
        steps_per_epoch: Training steps (batches) per epoch.
        callbacks: Keras callbacks.
        verbose: 0 silent, otherwise Keras' progress bar (counting calls).
        steps_per_execution: Training steps per compiled call; an epoch's
            last call runs the remainder.
        jit_compile: True or "step": compile each step with XLA (one program
            per step; on a TPU everything is compiled anyway).

    Returns:
        The `keras.callbacks.History`.
    """
    import keras

    step_fn = gan.train_step
    if jit_compile and not is_tpu(strategy):
        step_fn = tf.function(gan.train_step, jit_compile=True, reduce_retracing=True)

    @tf.function
    def run_steps(iterator, count):
        for _ in tf.range(count):
            strategy.run(step_fn, args=(next(iterator),))

    per_call = int(steps_per_execution)
    callback_list = keras.callbacks.CallbackList(
        list(callbacks),
        model=gan,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=-(-steps_per_epoch // per_call),
    )
    iterator = iter(dataset)
    gan.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        for metric in gan.metrics:
            metric.reset_state()
        callback_list.on_epoch_begin(epoch)
        for call, first in enumerate(range(0, steps_per_epoch, per_call)):
            callback_list.on_train_batch_begin(call)
            # A tensor: the shorter last call of an epoch reuses the same trace.
            run_steps(iterator, tf.constant(min(per_call, steps_per_epoch - first)))
            callback_list.on_train_batch_end(call)
            if gan.stop_training:
                break
        logs = {m.name: float(m.result()) for m in gan.metrics}
        callback_list.on_epoch_end(epoch, logs)
        if gan.stop_training:
            break
    callback_list.on_train_end(logs)
    return gan.history
