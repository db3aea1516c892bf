"""The EMA generator: a frozen copy of the generator and its moving-average update."""

import keras
import tensorflow as tf


def ema_copy(generator):
    """A non-trainable copy of `generator` (same architecture and weights) for its EMA.

    Args:
        generator: Model `[noise, one_hot] -> images`.

    Returns:
        A functional `keras.Model` named "ema_generator", `trainable=False`.
    """
    copy = keras.models.clone_model(generator)
    copy.name = "ema_generator"
    copy.set_weights(generator.get_weights())
    copy.trainable = False
    return copy


def update(ema_generator, generator, step, ema_decay):
    """ema <- d * ema + (1 - d) * weights, d = min(ema_decay, (1 + t) / (10 + t)).

    The warm-up is `tf.train.ExponentialMovingAverage`'s, so early averages
    are not dominated by the initial weights. Runs in cross-replica context
    (like the optimizers' updates), so under a distribution strategy every
    replica's copy gets the same update. Integer variables (a seed
    generator's state) are copied.

    Args:
        ema_generator: The copy from `ema_copy`.
        generator: The trained generator.
        step: Training steps taken, an int64 scalar tensor or variable.
        ema_decay: The decay, a float in (0, 1).
    """
    step = tf.cast(step, tf.float32)
    decay = tf.minimum(ema_decay, (1.0 + step) / (10.0 + step))
    pairs = [
        (ema.value, var.value)
        for ema, var in zip(ema_generator.variables, generator.variables, strict=True)
    ]

    def apply(strategy, pairs):
        def move(ema, var):
            if not ema.dtype.is_floating:
                return ema.assign(var)
            d = tf.cast(decay, ema.dtype)
            return ema.assign(d * ema + (1.0 - d) * tf.cast(var, ema.dtype))

        for ema, var in pairs:
            strategy.extended.update(ema, move, args=(var,), group=False)

    tf.__internal__.distribute.interim.maybe_merge_call(apply, tf.distribute.get_strategy(), pairs)
