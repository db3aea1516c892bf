"""The norm section: the generator's batch norms, fused kernel against Keras' own ops."""

import time

from keras_cgan.benchmarks.timing import summarize
from keras_cgan.config import TrainConfig

CALLS_PER_REPEAT = 20


def bench_norm(config: TrainConfig, warmup: int, repeats: int) -> list:
    """Training-mode forward and backward of each batch norm in the preset's generator.

    For every `FusedBatchNormalization` in the generator, at the preset's
    batch size and dtype policy: ms per forward + backward pass of that layer
    and of `keras.layers.BatchNormalization` built from the same config, in
    turn (repeat by repeat), so their ratio is fair on a loaded machine.

    Returns:
        One row per layer: `{"layer", "shape", "keras_ms", "fused_ms",
        "speedup"}`, the times as `summarize` statistics, `speedup` the ratio
        of their medians. Empty for generators without batch norm (mlp).
    """
    import keras
    import tensorflow as tf

    from keras_cgan import builder
    from keras_cgan.fused_norm import FusedBatchNormalization

    generator, _ = builder.build_networks(config)
    rows = []
    for layer in generator.layers:
        if not isinstance(layer, FusedBatchNormalization):
            continue
        shape = (config.batch_size, *layer.input.shape[1:])
        x = tf.cast(tf.random.stateless_normal(shape, seed=(0, 1)), layer.compute_dtype)
        layer_config = layer.get_config()
        steps = {
            "keras": _pass(keras.layers.BatchNormalization.from_config(layer_config), x),
            "fused": _pass(FusedBatchNormalization.from_config(layer_config), x),
        }
        times = {name: [] for name in steps}
        for r in range(warmup + repeats):
            for name, step in steps.items():
                start = time.perf_counter()
                for _ in range(CALLS_PER_REPEAT):
                    out = step()
                out.numpy()
                if r >= warmup:
                    times[name].append((time.perf_counter() - start) / CALLS_PER_REPEAT * 1e3)
        keras_ms, fused_ms = summarize(times["keras"]), summarize(times["fused"])
        rows.append(
            {
                "layer": layer.name,
                "shape": list(shape),
                "keras_ms": keras_ms,
                "fused_ms": fused_ms,
                "speedup": keras_ms["median"] / fused_ms["median"],
            }
        )
    return rows


def _pass(layer, x):
    """A compiled forward + backward of `layer` on `x`; returns the input's gradient sum."""
    import tensorflow as tf

    layer.build(x.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(tf.cast(layer(x, training=True), tf.float32)))
        grads = tape.gradient(loss, [x, *layer.trainable_variables])
        return tf.reduce_sum(tf.cast(grads[0], tf.float32))

    return step
