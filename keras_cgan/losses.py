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
        discriminator: Model `[images, one_hot] -> logits [B, 1]`, or one
            whose first output is the logits (`networks.with_features`).
        images: The real batch, float `[B, H, W, C]` in [0, 1].
        labels: One-hot float32 `[B, num_classes]`.
        gamma: The penalty's weight.

    Returns:
        `(outputs, penalty)`: the discriminator's outputs (in training mode),
        logits `[B, 1]` or the list that starts with them, and
        `gamma / 2 * mean_b ||grad_x D(x_b)||^2`, a float32 scalar.
    """
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = discriminator([images, labels], training=True)
        logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        total = tf.reduce_sum(tf.cast(logits, tf.float32))
    grads = tf.cast(tape.gradient(total, images), tf.float32)
    squared = tf.reduce_sum(tf.square(grads), axis=list(range(1, grads.shape.rank)))
    return outputs, 0.5 * gamma * tf.reduce_mean(squared)


def class_loss(one_hot, class_logits):
    """Mean softmax cross-entropy of class logits against one-hot labels.

    Args:
        one_hot: float32 `[B, C]`.
        class_logits: float `[B, C]` (any float dtype).

    Returns:
        A float32 scalar.
    """
    return tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(one_hot, tf.cast(class_logits, tf.float32))
    )


def top_k_mask(logits, epoch, decay, minimum):
    """Which generated examples top-k training keeps (Sinha et al., 2020).

    Static shapes only (ranks from a double argsort rather than a top-k of
    data-dependent size), so it compiles under XLA.

    Args:
        logits: The discriminator's logits on the generated batch, `[B, 1]`.
        epoch: The epoch being trained, counted from 0, an integer scalar tensor.
        decay: The kept fraction's decay per epoch, in (0, 1].
        minimum: The smallest kept fraction, in (0, 1].

    Returns:
        float32 `[B, 1]`: 1 for the k highest logits, 0 for the others, k =
        max(1, floor(B * max(minimum, decay ** epoch))).
    """
    fraction = tf.maximum(minimum, tf.pow(decay, tf.cast(epoch, tf.float32)))
    flat = tf.reshape(tf.cast(logits, tf.float32), [-1])
    k = tf.maximum(1, tf.cast(fraction * tf.cast(tf.size(flat), tf.float32), tf.int32))
    ranks = tf.argsort(tf.argsort(flat, direction="DESCENDING", stable=True), stable=True)
    return tf.cast(ranks < k, tf.float32)[:, None]
