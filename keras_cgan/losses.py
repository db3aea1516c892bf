"""GAN losses for `ConditionalGAN.compile(loss_fn=...)`.

The train step evaluates `loss_fn(target, logits)` per example with a constant
target: 1.0 for real images and for the generator's fakes in its own phase,
0.0 for fakes in the discriminator's phase, and averages the result. So the
discriminator minimises `loss(1, D(x)) + loss(0, D(G(z)))` and the generator
`loss(1, D(G(z)))`. Both losses here take logits, float32 `[B, 1]`, and return
per-example values float32 `[B, 1]`.

One-sided label smoothing was measured for the best preset (a smoothed BCE,
real target 0.9) and made no difference, so it is not offered.
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


def make_loss(name="bce"):
    """The `loss_fn` for a `TrainConfig.loss` name.

    Args:
        name: "bce" or "hinge".

    Returns:
        A `keras.losses.Loss`: for "bce" exactly the tutorial's
        `BinaryCrossentropy(from_logits=True)`.
    """
    if name == "bce":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if name == "hinge":
        return Hinge()
    raise ValueError(f"unknown loss {name!r}")


def logits_with_r1(discriminator, images, labels, gamma):
    """The discriminator's logits on real images and their R1 penalty (Mescheder et al., 2018).

    Args:
        discriminator: Model `[images, one_hot] -> logits [B, 1]`.
        images: The real batch, float `[B, H, W, C]` in [0, 1].
        labels: One-hot float32 `[B, num_classes]`.
        gamma: The penalty's weight.

    Returns:
        `(logits, penalty)`: logits `[B, 1]` (in training mode) and
        `gamma / 2 * mean_b ||grad_x D(x_b)||^2`, a float32 scalar.
    """
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = discriminator([images, labels], training=True)
        total = tf.reduce_sum(tf.cast(logits, tf.float32))
    grads = tf.cast(tape.gradient(total, images), tf.float32)
    squared = tf.reduce_sum(tf.square(grads), axis=list(range(1, grads.shape.rank)))
    return logits, 0.5 * gamma * tf.reduce_mean(squared)
