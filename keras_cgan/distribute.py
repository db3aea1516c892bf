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
    gan, strategy, dataset, *, initial_epoch, epochs, steps_per_epoch, callbacks, verbose
):
    """`fit` for strategies Keras' `fit` cannot drive (MultiWorkerMirroredStrategy).

    Keras 3's `fit` fails under MultiWorkerMirroredStrategy
    (keras-team/keras#20585), so this loop runs the same `gan.train_step`
    through `strategy.run` and calls the same Keras callbacks at the same
    points (train/epoch begin and end; `stop_training` checked after every
    step). Metrics are reset each epoch and read on every worker.

    Args:
        gan: A compiled `ConditionalGAN` built in `strategy.scope()`.
        strategy: The strategy.
        dataset: A distributed dataset (see `distributed_dataset`).
        initial_epoch: First epoch (0-based).
        epochs: End epoch (exclusive).
        steps_per_epoch: Steps per epoch.
        callbacks: Keras callbacks.
        verbose: 0 silent, otherwise Keras' progress output.

    Returns:
        The `keras.callbacks.History`.
    """
    import keras

    @tf.function
    def train_step(iterator):
        strategy.run(gan.train_step, args=(next(iterator),))

    callback_list = keras.callbacks.CallbackList(
        list(callbacks),
        model=gan,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
    )
    iterator = iter(dataset)
    gan.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        for metric in gan.metrics:
            metric.reset_state()
        callback_list.on_epoch_begin(epoch)
        for _ in range(steps_per_epoch):
            train_step(iterator)
            if gan.stop_training:
                break
        logs = {m.name: float(m.result()) for m in gan.metrics}
        callback_list.on_epoch_end(epoch, logs)
        if gan.stop_training:
            break
    callback_list.on_train_end(logs)
    return gan.history
