"""The bare section: the training math in a minimal loop, without Keras `fit`."""

import time
from typing import Sequence

from keras_cgan.benchmarks.timing import inverted, scaled, summarize
from keras_cgan.config import TrainConfig


def _memory_batches(images, labels, batch_size, stack):
    """Stacks `[K, B, 28, 28, 1]` of uint8 images and `[K, B]` int32 labels, in memory.

    The format the training pipeline hands `fit` (`make_dataset(raw=True)`).
    """
    import numpy as np
    import tensorflow as tf

    n = len(images) // (batch_size * stack) * batch_size * stack
    xs = images[:n].reshape((-1, stack, batch_size) + images.shape[1:])
    ys = labels[:n].astype(np.int32).reshape(-1, stack, batch_size)
    return [(tf.constant(xs[i]), tf.constant(ys[i])) for i in range(len(xs))]


def xla_label(jit_compile) -> str:
    """How a `jit_compile` value (True, False or "step") is shown in the tables."""
    return {True: "XLA", False: "no XLA", "step": "XLA per step"}[jit_compile]


def make_bare_loop(gan, jit_compile):
    """A `tf.function(images uint8 [K,B,28,28,1], labels int32 [K,B])` running K train steps.

    The same math as `fit` (`ConditionalGAN.run_step`: input scaling, noise
    draw, update, EMA update, step counter) in a `tf.while_loop`; no Keras
    `fit`, callbacks or metrics.

    `jit_compile`: True (the whole call is one XLA program), False, or "step"
    (each step its own XLA program, launched from a TensorFlow loop).
    """
    import tensorflow as tf

    one_step = gan.run_step
    if jit_compile == "step":
        one_step = tf.function(one_step, jit_compile=True)

    def run(images, labels):
        def body(i):
            one_step(images[i], labels[i])
            return (i + 1,)

        tf.while_loop(
            lambda i: i < tf.shape(images)[0], body, (tf.constant(0),), parallel_iterations=1
        )
        return gan.train_steps.value

    return tf.function(run, jit_compile=jit_compile is True)


def bare_loop_runner(config: TrainConfig, steps: int, jit_compile, stack: int):
    """A callable running one epoch of the bare loop; returns its seconds.

    The epoch is `steps` steps rounded down to a multiple of K = `stack`
    (capped at `steps`), over batches already in memory.

    Returns:
        `(runner, info)`: `info` holds `steps_per_call` and `steps`.
    """
    from keras_cgan import data, train

    stack = min(stack, steps)
    images, labels = data.load_mnist(
        "train", mnist_dir=config.mnist_dir, num_examples=steps * config.batch_size
    )
    gan = train.build_gan(config.replace(jit_compile=False))
    loop = make_bare_loop(gan, jit_compile)
    batches = _memory_batches(images, labels, config.batch_size, stack)

    def runner():
        start = time.perf_counter()
        for x, y in batches:
            out = loop(x, y)
        out.numpy()
        return time.perf_counter() - start

    return runner, {"steps_per_call": stack, "steps": len(batches) * stack}


def bench_bare(
    config: TrainConfig, steps: int, warmup: int, repeats: int, variants: Sequence[tuple]
) -> list:
    """The bare-loop variants `(jit_compile, K)` alone, one epoch each in turn per repeat."""
    runners = [bare_loop_runner(config, steps, jit, k) for jit, k in variants]
    seconds = [[] for _ in runners]
    for _ in range(warmup + repeats):
        for i, (runner, _) in enumerate(runners):
            seconds[i].append(runner())
    results = []
    for (jit, _), (_, info), times in zip(variants, runners, seconds, strict=True):
        times = summarize(times[warmup:])
        results.append(
            {
                "jit_compile": jit,
                **info,
                "ms_per_step": scaled(times, 1e3 / info["steps"]),
                "samples_per_s": inverted(times, info["steps"] * config.batch_size),
            }
        )
    return results


def bare_variants(arch: str, jit, stacks: Sequence[int], default_stack: int, steps: int):
    """`(jit_compile, K)` pairs of the bare loop.

    mlp (or XLA asked for): XLA and not, at the largest swept K and at the
    run's K. Conv presets on a CPU: XLA per step and no XLA, since XLA's CPU
    code for their step is 15-20x slower inside a multi-step XLA loop (the
    sweep measures that on a few steps).
    """
    ks = sorted({min(k, steps) for k in (max(stacks), default_stack)})
    if arch == "mlp" or jit is True:
        return [(j, k) for j in (True, False) for k in ks]
    return [(j, k) for j in ("step", False) for k in ks]
