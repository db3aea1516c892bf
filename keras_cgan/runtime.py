"""How a run executes: XLA, steps per compiled call and training loop, resolved once.

`resolve(config, strategy)` is the one place that turns the requested
`jit_compile`, `steps_per_execution`, `mixed_precision` and strategy into
settings that can run together. A combination that cannot work either stops
with a `ConfigError` before anything is built, or is adjusted with a one-line
notice (`Runtime.notices`).

Two training loops:

* One device (TensorFlow's default strategy): Keras `fit` on stacks of K
  batches; `ConditionalGAN.train_step` loops over each stack inside one
  compiled call (with `jit_compile=True`, one XLA program per call).
* A replicated strategy (mirrored, multi_worker, tpu), whatever its replica
  count: `distribute.fit_custom_loop` on per-step batches, K calls of
  `strategy.run` per compiled call. A step's gradient all-reduce and its EMA
  update synchronise the replicas (`merge_call`), which TensorFlow does not
  allow inside a loop that runs within a replica, so the K-step loop has to
  run outside `strategy.run`. XLA then compiles each step on its own
  (`jit_compile="step"`).
"""

import dataclasses
from typing import Tuple, Union

from keras_cgan import distribute, perf
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Runtime:
    """The effective execution settings of a run.

    Attributes:
        jit_compile: True (each call, its K-step loop included, is one XLA
            program), False (no XLA) or "step" (each step is its own XLA
            program).
        steps_per_execution: Training steps per compiled call (>= 1).
        custom_loop: True: train with `distribute.fit_custom_loop` on
            per-step batches; False: Keras `fit` on stacks of
            `steps_per_execution` batches.
        notices: One line per setting that was changed from what the config
            asked for, for the user to read.
    """

    jit_compile: Union[bool, str]
    steps_per_execution: int
    custom_loop: bool
    notices: Tuple[str, ...] = ()

    def apply(self, config: TrainConfig) -> TrainConfig:
        """`config` with the effective settings (what `config.json` records)."""
        return config.replace(
            jit_compile=self.jit_compile, steps_per_execution=self.steps_per_execution
        )


def resolve(config: TrainConfig, strategy) -> Runtime:
    """The settings `config` runs with under `strategy`.

    Args:
        config: The run configuration (`jit_compile` may be None: auto).
        strategy: The `tf.distribute.Strategy` the run trains under.

    Returns:
        A `Runtime`.

    Raises:
        ConfigError: `batch_size` is not a multiple of the replica count.
    """
    jit = perf.resolve_jit_compile(config.arch, config.jit_compile, config.batch_size)
    steps = config.steps_per_execution
    notices = []
    if not distribute.is_replicated(strategy):
        return Runtime(jit, steps, custom_loop=False)

    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ConfigError(
            f"batch_size {config.batch_size} is not divisible by the {replicas} replicas of "
            f"--strategy={config.strategy}: use a multiple of {replicas}"
        )
    if jit and not distribute.xla_supported(strategy):
        notices.append(
            f"XLA cannot span several CPU devices: {replicas} replicas train without jit_compile"
        )
        jit = False
    elif jit is True and steps > 1:
        if config.jit_compile is True:  # Asked for, not chosen by auto: say so.
            notices.append(
                f"under --strategy={config.strategy} XLA compiles each step on its own "
                f"(jit_compile=step); the {steps}-step loop runs outside XLA"
            )
        jit = "step"
    return Runtime(jit, steps, custom_loop=True, notices=tuple(notices))
