"""GAN losses for `ConditionalGAN.compile(loss_fn=...)`.

The train step evaluates `loss_fn(target, logits)` per example with a constant
target: 1.0 for real images and for the generator's fakes in its own phase,
0.0 for fakes in the discriminator's phase, and averages the result. So the
discriminator minimises `loss(1, D(x)) + loss(0, D(G(z)))` and the generator
`loss(1, D(G(z)))`. Both losses here take logits, float32 `[B, 1]`, and return
per-example values float32 `[B, 1]`.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_cgan")
class Hinge(keras.losses.Loss):
    """The hinge GAN loss (Lim & Ye, 2017; Miyato et al., 2018) in target form.

    `relu(1 - logits)` for target 1 and `relu(1 + logits)` for target 0: the
    discriminator's loss is the usual hinge loss. The generator's loss, with
    target 1, is `relu(1 - D(G(z)))` rather than SAGAN's unbounded
    `-D(G(z))`: it stops pushing a fake once the discriminator scores it
    above the margin.
    """

    def __init__(self, name="gan_hinge", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        sign = 2.0 * tf.cast(y_true, y_pred.dtype) - 1.0
        return tf.nn.relu(1.0 - sign * y_pred)


@keras.saving.register_keras_serializable(package="keras_cgan")
class SmoothedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy from logits with one-sided label smoothing.

    Target 1 becomes `1 - smoothing`, target 0 stays 0 (Salimans et al., 2016,
    smooth only the positive side). The generator's target is the real
    target, so it too aims at `1 - smoothing`. `smoothing=0` is plain BCE.

    Args:
        smoothing: In [0, 1).
        name: Loss name.
        **kwargs: Passed to `keras.losses.Loss`.
    """

    def __init__(self, smoothing=0.1, name="smoothed_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        target = tf.cast(y_true, y_pred.dtype) * (1.0 - self.smoothing)
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=y_pred)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}


def make_loss(name="bce", label_smoothing=0.0):
    """The `loss_fn` for a `TrainConfig.loss` name.

    Args:
        name: "bce" or "hinge".
        label_smoothing: One-sided smoothing of the "real" target (bce only).

    Returns:
        A `keras.losses.Loss`: for "bce" without smoothing exactly the
        tutorial's `BinaryCrossentropy(from_logits=True)`.
    """
    if name == "bce":
        if label_smoothing:
            return SmoothedBinaryCrossentropy(label_smoothing)
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if name == "hinge":
        return Hinge()
    raise ValueError(f"unknown loss {name!r}")
