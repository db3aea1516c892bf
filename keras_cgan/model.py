"""`ConditionalGAN`: a `keras.Model` whose `train_step` trains D, then G."""

import keras
import numpy as np
import tensorflow as tf

from keras_cgan import rng
from keras_cgan.errors import ConfigError, KerasCganError


class LabelError(KerasCganError, ValueError):
    """Labels or noise passed to `generate` are out of range or malformed."""


@keras.saving.register_keras_serializable(package="keras_cgan")
class ConditionalGAN(keras.Model):
    """A conditional GAN (Mirza & Osindero, 2014) trained with `fit`.

    Each training step (1) updates the discriminator on a real batch (target 1)
    and a generated batch (target 0), the generated images not back-propagated
    into the generator, then (2) updates the generator to make the
    discriminator call its images real. Each network has its own optimizer.

    Data for `fit` are `(images, labels)` or `(images, labels, noise)` batches
    (or dicts with those keys):
    images float32 `[B, 28, 28, 1]` in [0, 1] (or uint8 in 0..255, scaled in
    the step); labels one-hot float32 `[B, num_classes]` (integer `[B]` labels
    are one-hot encoded for you); optional noise float32 `[B, latent_dim]`
    replaces the noise the step would draw (tests use it to compare variants
    on identical inputs). Stacks of K batches (images `[K, B, 28, 28, 1]`,
    labels `[K, B, ...]`, noise `[K, B, latent_dim]`) run K steps in one call
    (`keras_cgan.data.make_dataset(stack=K)`), with the same result as K
    single steps.

    The step draws its noise with a counter-based Philox (`keras_cgan.rng`)
    from `(seed, step)`, so the draws are the same with or without XLA,
    whatever the stacking, and after saving and loading the model.

    Metrics (reset each epoch): `d_loss` (BCE on the real batch + BCE on the
    fake batch, as in the tutorial), `g_loss`, and `d_acc` (the discriminator's
    binary accuracy on real and fake together).

    Args:
        generator: Model `[noise, one_hot] -> images [B, 28, 28, 1]` in [0, 1].
        discriminator: Model `[images, one_hot] -> logits [B, 1]`.
        latent_dim: Width of the noise vector.
        num_classes: Number of label classes.
        seed: Seed of the noise drawn in `train_step` (None: random).
        **kwargs: Passed to `keras.Model` (name, dtype, ...).
    """

    def __init__(
        self, generator, discriminator, latent_dim=100, num_classes=10, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_accuracy = keras.metrics.BinaryAccuracy(name="d_acc", threshold=0.0)
        self.d_optimizer = None
        self.g_optimizer = None
        self.loss_fn = None
        self.build()

    def build(self, input_shape=None):
        # Both networks are functional models, built when they were created.
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_accuracy]

    def compile(self, d_optimizer="adam", g_optimizer="adam", loss_fn=None, **kwargs):
        """Configures the two optimizers and the loss.

        Both optimizers are built on their network's variables here, so their
        state exists before `fit` and is saved and restored with the model.

        Args:
            d_optimizer: Discriminator optimizer (instance, name or config).
            g_optimizer: Generator optimizer (instance, name or config).
            loss_fn: `loss(y_true, logits)`; default binary cross-entropy from
                logits, averaged over the batch.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `run_eagerly`).
        """
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        if self.d_optimizer is self.g_optimizer:
            raise ConfigError(
                "d_optimizer and g_optimizer are the same object: pass two optimizers"
            )
        if loss_fn is None:
            loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.loss_fn = keras.losses.get(loss_fn)
        for optimizer, network in (
            (self.d_optimizer, self.discriminator),
            (self.g_optimizer, self.generator),
        ):
            if not optimizer.built:
                optimizer.build(network.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss_fn": keras.saving.serialize_keras_object(self.loss_fn),
            "steps_per_execution": self.steps_per_execution,
            "jit_compile": self.jit_compile,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer", "loss_fn"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def call(self, inputs, training=False):
        """Maps `(noise, one_hot)` to images float32 `[B, 28, 28, 1]` in [0, 1]."""
        noise, one_hot = inputs
        return self.generator([noise, one_hot], training=training)

    def _unpack(self, data):
        """Returns `(images, one_hot, noise_or_None, stacked)` in the compute dtype."""
        x, y, extra = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict):  # fit(x={"images": ..., "labels": ..., "noise": ...})
            real_images, labels, noise = x["images"], x["labels"], x.get("noise")
        elif y is not None:  # (images, labels) or (images, labels, noise)
            real_images, labels, noise = x, y, extra
        elif isinstance(x, (tuple, list)) and len(x) in (2, 3):  # fit(x=(images, labels))
            real_images, labels, noise = (tuple(x) + (None,))[:3]
        else:
            raise KerasCganError(
                "training data must be (images, labels) or (images, labels, noise) batches"
            )
        real_images, labels = tf.convert_to_tensor(real_images), tf.convert_to_tensor(labels)
        stacked = real_images.shape.rank == 5  # [K, B, 28, 28, 1]: K steps in one call.
        if real_images.dtype == tf.uint8:  # Raw MNIST pixels, 0..255.
            real_images = tf.cast(real_images, tf.float32) / 255.0
        if labels.shape.rank == (2 if stacked else 1):  # Integer class ids.
            labels = tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)
        labels = tf.cast(labels, self.compute_dtype)
        real_images = tf.cast(real_images, self.compute_dtype)
        if noise is not None:
            noise = tf.cast(noise, self.compute_dtype)
        return real_images, labels, noise, stacked

    def draw_noise(self, batch_size):
        """Draws the noise of one training step: `[batch_size, latent_dim]` N(0, 1).

        A pure function of `(seed, step)`, the step being the discriminator
        optimizer's iteration count (counter-based Philox, `keras_cgan.rng`):
        identical with and without XLA, whatever the stacking, and a model
        saved and loaded again continues the very same noise sequence.
        """
        seed = tf.stack(
            [self.seed_generator.state[0], tf.cast(self.d_optimizer.iterations, tf.int64)]
        )
        return rng.normal([batch_size, self.latent_dim], seed, dtype=self.compute_dtype)

    def _loss(self, target, logits):
        logits = tf.cast(logits, tf.float32)
        return self.loss_fn(tf.fill(tf.shape(logits), target), logits)

    def apply_step(self, real_images, labels, noise):
        """One training step's math, without metrics: D update, then G update.

        (1) The discriminator is updated on the real batch (target 1) and the
        generated batch (target 0), the generated images not back-propagated
        into the generator; (2) the generator is updated to make the updated
        discriminator call the same generated images real. The generator runs
        forward once per step: its weights do not change between the phases.

        Args:
            real_images: float `[B, 28, 28, 1]` in [0, 1].
            labels: one-hot float `[B, num_classes]`.
            noise: float `[B, latent_dim]`.

        Returns:
            `(d_loss, g_loss, real_logits, fake_logits)`: scalars and `[B, 1]`.
        """
        with tf.GradientTape() as g_tape:
            fake_images = self.generator([noise, labels], training=True)

        # Phase 1, discriminator: real -> 1, fake -> 0.
        with tf.GradientTape() as d_tape:
            real_logits = self.discriminator([real_images, labels], training=True)
            fake_logits = self.discriminator([tf.stop_gradient(fake_images), labels], training=True)
            d_loss = self._loss(1.0, real_logits) + self._loss(0.0, fake_logits)
            scaled = self.d_optimizer.scale_loss(d_loss)  # Mixed float16 only.
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(scaled, d_vars), d_vars, strict=True))

        # Phase 2, generator: make the updated discriminator call fakes real.
        with g_tape:  # The tape already holds the generator's forward pass.
            g_logits = self.discriminator([fake_images, labels], training=True)
            g_loss = self._loss(1.0, g_logits)
            scaled = self.g_optimizer.scale_loss(g_loss)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, g_vars), g_vars, strict=True))
        return d_loss, g_loss, real_logits, fake_logits

    def _step_with_metrics(self, real_images, labels, noise):
        if noise is None:
            noise = self.draw_noise(tf.shape(real_images)[0])
        d_loss, g_loss, real_logits, fake_logits = self.apply_step(real_images, labels, noise)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        logits = tf.concat([real_logits, fake_logits], axis=0)
        targets = tf.concat([tf.ones_like(real_logits), tf.zeros_like(fake_logits)], axis=0)
        self.d_accuracy.update_state(targets, tf.cast(logits, tf.float32))

    def train_step(self, data):
        real_images, labels, noise, stacked = self._unpack(data)
        if not stacked:
            self._step_with_metrics(real_images, labels, noise)
        else:
            # K steps inside one compiled call (`data.make_dataset(stack=K)`):
            # no per-step launch, variable or iterator overhead.
            def body(i):
                self._step_with_metrics(
                    real_images[i], labels[i], None if noise is None else noise[i]
                )
                return (i + 1,)

            tf.while_loop(
                lambda i: i < tf.shape(real_images)[0],
                body,
                (tf.constant(0),),
                parallel_iterations=1,
            )
        return {m.name: m.result() for m in self.metrics}

    def generate(self, labels, noise=None, seed=None, batch_size=1024):
        """Generates one image per label.

        Args:
            labels: Integer class ids, shape `[N]`, each in `0..num_classes-1`.
            noise: Optional float `[N, latent_dim]`; drawn from N(0, 1) if None.
            seed: Seed for the drawn noise (None: from NumPy's global RNG, so
                `keras.utils.set_random_seed` makes it repeatable).
            batch_size: Images generated per forward pass.

        Returns:
            float32 NumPy array `[N, 28, 28, 1]` in [0, 1].

        Raises:
            LabelError: a label is not an integer in range, or `noise` has the
                wrong shape.
        """
        labels = np.asarray(labels)
        if labels.size == 0:
            labels = labels.astype(np.int64)
        if labels.ndim == 0:
            labels = labels[None]
        if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
            raise LabelError(
                f"labels must be a 1-D list of integers in 0..{self.num_classes - 1}, "
                f"got shape {labels.shape} dtype {labels.dtype}"
            )
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise LabelError(
                f"label {bad[0]} is out of range: labels must be in 0..{self.num_classes - 1}"
            )
        n = len(labels)
        if noise is None:
            rng = np.random.default_rng(seed if seed is not None else np.random.randint(2**31))
            noise = rng.standard_normal((n, self.latent_dim), dtype=np.float32)
        noise = np.asarray(noise, dtype=np.float32)
        if noise.shape != (n, self.latent_dim):
            raise LabelError(
                f"noise has shape {noise.shape}, expected ({n}, {self.latent_dim}) "
                "(one row of latent_dim values per label)"
            )
        one_hot = np.eye(self.num_classes, dtype=np.float32)[labels]
        outputs = [
            keras.ops.convert_to_numpy(
                self.generator(
                    [noise[i : i + batch_size], one_hot[i : i + batch_size]], training=False
                )
            ).astype(np.float32)
            for i in range(0, n, batch_size)
        ]
        if not outputs:
            return np.zeros((0,) + tuple(self.generator.output_shape[1:]), np.float32)
        return np.concatenate(outputs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["dtype"] = keras.saving.deserialize_keras_object(config.get("dtype"))
        return cls(**config)
