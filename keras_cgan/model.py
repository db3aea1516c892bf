"""`ConditionalGAN`: a `keras.Model` whose `train_step` trains D, then G."""

import keras
import tensorflow as tf

from keras_cgan import (
    augment,
    batches,
    ema,
    fused_norm,  # noqa: F401  Registers the layer saved generators hold.
    losses,
    networks,
    perf,
    rng,
)
from keras_cgan.config import parse_diffaugment
from keras_cgan.errors import ConfigError
from keras_cgan.generation import SamplingMixin


def _is_distributed(optimizer):
    """Whether the optimizer's variables were made under a distribution strategy."""
    return isinstance(
        getattr(optimizer.iterations, "_value", None), tf.distribute.DistributedValues
    )


def _in_replica_threads():
    """Whether this runs inside `strategy.run` of a (multi-worker) MirroredStrategy."""
    return tf.distribute.in_cross_replica_context() is False and isinstance(
        tf.distribute.get_strategy(),
        (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy),
    )


def _require(ok, message):
    """Raises `ConfigError(message)` unless `ok`."""
    if not ok:
        raise ConfigError(message)


@keras.saving.register_keras_serializable(package="keras_cgan")
class ConditionalGAN(SamplingMixin, keras.Model):
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

    Metrics (reset each epoch): `d_loss` (BCE on the real batch + BCE on the
    fake batch, as in the tutorial), `g_loss`, and `d_acc` (the discriminator's
    binary accuracy on real and fake together).

    Noise is counter-based: each step draws the whole global batch's noise
    with Philox (`keras_cgan.rng`) from `(seed, step)`, each replica keeping
    its own rows. The same step therefore sees the same noise with or without
    XLA, whatever the stacking, on one device or many, and after a resume;
    every replica draws different noise.

    Distribution (`tf.distribute`): build and compile the model inside
    `strategy.scope()`. Losses are averaged over the global batch before the
    gradients are summed across replicas, and the metrics report the global
    batch's values (not one replica's, not divided by the replica count).

    Mixed precision: build the networks with a `mixed_float16` or
    `mixed_bfloat16` dtype policy; logits and losses are computed in float32,
    and under float16 both optimizers are wrapped in a `LossScaleOptimizer`.

    EMA generator (`ema_decay`): a copy of the generator, `ema_generator`,
    tracks a moving average of all its variables after every train step
    (`keras_cgan.ema.update`, with a warm-up). It never trains; `generate`,
    `call` (not training), the grids, the evaluator and the export sample from
    `sampling_generator`, the EMA copy when there is one.

    Args:
        generator: Model `[noise, one_hot] -> images [B, 28, 28, 1]` in [0, 1].
        discriminator: Model `[images, one_hot] -> logits [B, 1]`.
        latent_dim: Width of the noise vector.
        num_classes: Number of label classes.
        seed: Seed of the noise drawn in `train_step` (None: random).
        ema_decay: Decay of the EMA generator, in (0, 1); None or 0: no EMA.
        r1_gamma: Weight of the R1 penalty (Mescheder et al., 2018),
            `r1_gamma / 2 * E ||grad_x D(x)||^2` on the real batch, added to
            the discriminator's loss (not to the logged `d_loss`); 0: off.
        r1_interval: Lazy R1 (Karras et al., 2020): the penalty is computed on
            steps t with `t % r1_interval == 0` only, weighted `r1_interval`
            times, so its average weight stays `r1_gamma`; 1: every step.
        diffaugment: DiffAugment policy (`keras_cgan.augment`), e.g.
            "translation,cutout", applied to every batch the discriminator
            sees; "": off.
        top_k: Top-k generator updates (Sinha et al., 2020): in epoch e
            (from 0) the generator's loss keeps only the fraction
            `max(top_k_min, top_k ** e)` of its batch that the discriminator
            scores highest, so the least realistic samples stop pulling the
            generator; a per-epoch decay in (0, 1], 0: off.
        top_k_min: The smallest fraction top-k keeps, in (0, 1].
        steps_per_epoch: Training steps per epoch, the unit of top-k's
            decay (required with `top_k`).
        aux_classifier: Weight of an auxiliary classifier's loss for the
            generator (as in AC-GAN, Odena et al., 2017); 0: off. A softmax
            head `aux_head` on the discriminator's "features" layer (the
            projection discriminators') learns the real digits' classes
            (cross-entropy, weight 1, added to the discriminator's loss), and
            the generator is pushed, with this weight, to make digits it
            classifies as their label. Neither term enters the logged losses.
        **kwargs: Passed to `keras.Model` (name, dtype, ...).
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=100,
        num_classes=10,
        seed=None,
        ema_decay=None,
        r1_gamma=0.0,
        diffaugment="",
        r1_interval=1,
        top_k=0.0,
        top_k_min=0.5,
        steps_per_epoch=None,
        aux_classifier=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.r1_gamma = float(r1_gamma or 0.0)
        _require(self.r1_gamma >= 0, f"r1_gamma must be >= 0 (0 = off), got {r1_gamma}")
        self.r1_interval = int(r1_interval)
        _require(self.r1_interval >= 1, f"r1_interval must be an integer >= 1, got {r1_interval}")
        self.diffaugment = ",".join(parse_diffaugment(diffaugment))
        self.top_k, self.top_k_min = float(top_k or 0.0), float(top_k_min)
        self.steps_per_epoch = int(steps_per_epoch) if steps_per_epoch else None
        _require(0 <= self.top_k <= 1, f"top_k must be in [0, 1] (0 = off), got {top_k}")
        _require(0 < self.top_k_min <= 1, f"top_k_min must be in (0, 1], got {top_k_min}")
        _require(not self.top_k or self.steps_per_epoch, "top_k needs steps_per_epoch")
        self.aux_classifier = float(aux_classifier or 0.0)
        _require(self.aux_classifier >= 0, f"aux_classifier must be >= 0, got {aux_classifier}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        self.aux_head = self._aux_head() if self.aux_classifier else None
        self.seed = seed
        self.ema_decay = float(ema_decay) if ema_decay else None
        ok = self.ema_decay is None or 0.0 < self.ema_decay < 1.0
        _require(ok, f"ema_decay must be in (0, 1) (or 0/None: off), got {ema_decay}")
        self.ema_generator = ema.ema_copy(generator) if self.ema_decay else None
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_accuracy = keras.metrics.BinaryAccuracy(name="d_acc", threshold=0.0)
        # Training steps taken (resume and checkpoints count on it; a
        # LossScaleOptimizer's `iterations` skips steps with non-finite grads).
        self.train_steps = keras.Variable(
            0, dtype="int64", trainable=False, name="train_steps", aggregation="only_first_replica"
        )
        self.d_optimizer = None
        self.g_optimizer = None
        self.loss_fn = None
        self.auto_scale_loss = True
        self.build()

    def _aux_head(self):
        """The auxiliary classifier `features -> class logits`; also keeps the features' view as `_d_view`."""
        view = networks.with_features(self.discriminator)
        # Untracked: the view's variables are the discriminator's own.
        object.__setattr__(self, "_d_view", view)
        features = view.outputs[1]
        policy = self.discriminator.get_layer("features").dtype_policy
        head = keras.layers.Dense(self.num_classes, name="aux_head", dtype=policy)
        head.build(tuple(features.shape))
        return head

    @property
    def d_variables(self):
        """The variables the discriminator's optimizer trains: its network's and the aux head's."""
        extra = self.aux_head.trainable_variables if self.aux_head is not None else []
        return self.discriminator.trainable_variables + extra

    def build(self, input_shape=None):
        # Both networks are functional models, built when they were created.
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_accuracy]

    def compile(
        self,
        d_optimizer="adam",
        g_optimizer="adam",
        loss_fn=None,
        auto_scale_loss=True,
        step_jit_compile=False,
        jit_compile="auto",
        arch=None,
        **kwargs,
    ):
        """Configures the two optimizers, the loss and how the train step is compiled.

        Both optimizers are built on their network's variables here (inside
        the model's distribution strategy), so their state exists before `fit`
        and is saved and restored with the model.

        The default `jit_compile="auto"` makes the command line's choice
        (`keras_cgan.perf.resolve_jit_compile`), not Keras' (which never uses
        XLA on a CPU): XLA for the mlp networks, and for conv networks where
        a GPU is present; on a CPU, conv networks compile each step as its own
        XLA program (`step_jit_compile`). No XLA with `run_eagerly`, nor
        across the CPU devices of a multi-replica strategy. Pair it with
        stacked batches (`keras_cgan.data.mnist_dataset`'s default), which
        run many steps per compiled call.

        Args:
            d_optimizer: Discriminator optimizer (instance, name or config).
            g_optimizer: Generator optimizer (instance, name or config).
            loss_fn: `loss(y_true, logits)` averaged over the examples it is
                given; default binary cross-entropy from logits.
            auto_scale_loss: If a network computes in float16, wrap both
                optimizers in `keras.optimizers.LossScaleOptimizer`.
            step_jit_compile: With `jit_compile=False`, still compile each
                training step with XLA, on its own: the loop over a stack of
                K batches runs as a TensorFlow loop that launches one XLA
                program per step. For conv networks on a CPU this is the
                fastest (XLA's code for a conv step inside an XLA loop is
                much slower; `python -m keras_cgan.bench`).
            jit_compile: "auto" (see above), True (each call, with its loop
                over a stack of batches, is one XLA program), False, or
                "step" (the same as False with `step_jit_compile=True`).
            arch: For "auto": the networks' family, "mlp" or a conv one
                ("dcgan", "dcgan_proj"); None reads it off the networks'
                layers (any convolution: conv).
            **kwargs: Passed to `keras.Model.compile` (`steps_per_execution`,
                `run_eagerly`).

        Raises:
            ConfigError: `jit_compile` is none of the values above, or both
                optimizers are the same object.
        """
        xla = perf.compile_jit_mode(
            jit_compile,
            step_jit_compile,
            (self.generator, self.discriminator),
            arch=arch,
            strategy=self._distribute_strategy,
            run_eagerly=kwargs.get("run_eagerly"),
        )
        super().compile(optimizer=None, jit_compile=xla is True, **kwargs)
        # What was asked for, saved by `get_compile_config`: a model saved
        # with "auto" resolves it again where it is loaded.
        setting = {"jit_compile": jit_compile, "step_jit_compile": bool(step_jit_compile)}
        if arch is not None:
            setting["arch"] = arch
        object.__setattr__(self, "_jit_setting", setting)  # Plain config, not tracked state.
        d_optimizer = keras.optimizers.get(d_optimizer)
        g_optimizer = keras.optimizers.get(g_optimizer)
        if d_optimizer is g_optimizer:
            raise ConfigError(
                "d_optimizer and g_optimizer are the same object: pass two optimizers"
            )
        self.auto_scale_loss = auto_scale_loss
        self.step_jit_compile = xla == "step"
        object.__setattr__(self, "_cached_xla_step", None)  # Remade for the new optimizers.
        if auto_scale_loss and self.uses_float16:
            d_optimizer, g_optimizer = (
                opt
                if isinstance(opt, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(opt, name=f"{opt.name}_loss_scale")
                for opt in (d_optimizer, g_optimizer)
            )
        if self._distribute_strategy is not None:
            # keras-team/keras#17187: an optimizer made outside the strategy's
            # scope has plain variables; remake it in scope (it holds no state yet).
            with self._distribute_strategy.scope():
                d_optimizer, g_optimizer = (
                    opt
                    if opt.built or _is_distributed(opt)
                    else opt.__class__.from_config(opt.get_config())
                    for opt in (d_optimizer, g_optimizer)
                )
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        if loss_fn is None:
            loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.loss_fn = keras.losses.get(loss_fn)
        with self.distribute_strategy.scope():
            for optimizer, variables in (
                (self.d_optimizer, self.d_variables),
                (self.g_optimizer, self.generator.trainable_variables),
            ):
                if not optimizer.built:
                    optimizer.build(variables)

    @property
    def uses_float16(self):
        """Whether either network computes in float16 (and needs loss scaling)."""
        return any(
            layer.compute_dtype == "float16"
            for network in (self.generator, self.discriminator)
            for layer in network.layers
        )

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss_fn": keras.saving.serialize_keras_object(self.loss_fn),
            "auto_scale_loss": self.auto_scale_loss,
            "steps_per_execution": self.steps_per_execution,
            **self._jit_setting,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer", "loss_fn"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def call(self, inputs, training=False):
        """Maps `(noise, one_hot)` to images float32 `[B, 28, 28, 1]` in [0, 1].

        Training calls the trained generator, inference `sampling_generator`.
        """
        noise, one_hot = inputs
        generator = self.generator if training else self.sampling_generator
        return generator([noise, one_hot], training=training)

    @staticmethod
    def _replicas(local_batch):
        """`(sizes [R], replica_id)`: every replica's batch size, and this replica's index."""
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            return tf.reshape(local_batch, [1]), 0
        return ctx.all_gather(tf.reshape(local_batch, [1]), axis=0), ctx.replica_id_in_sync_group

    def draw_noise(self, local_batch, sizes=None, replica_id=0):
        """This replica's rows of the step's noise: float32 `[local_batch, latent_dim]`, N(0, 1).

        The whole global batch's noise is a pure function of `(seed, step)`
        (counter-based Philox, `keras_cgan.rng`): the same with or without
        XLA, whatever the stacking or the replica count, and after a resume.

        Args:
            local_batch: This replica's batch size.
            sizes: int `[R]`, every replica's batch size (None: one replica).
            replica_id: This replica's index.
        """
        if sizes is None:
            sizes = tf.reshape(local_batch, [1])
        seed = tf.stack(
            [tf.cast(self.seed_generator.state[0], tf.int64), tf.cast(self.train_steps, tf.int64)]
        )
        noise = rng.normal(tf.stack([tf.reduce_sum(sizes), self.latent_dim]), seed)
        start = tf.reduce_sum(sizes[:replica_id])
        return noise[start : start + local_batch]

    def _loss(self, target, logits, kept=None):
        """This replica's mean loss, float32 scalar (over the `kept` [B, 1] mask's examples).

        A `keras.losses.Loss` is evaluated per example through its `call` (its
        `__call__` would also divide by the replica count under a strategy),
        then averaged here; the global-batch weighting is the train step's.
        """
        logits = tf.cast(logits, tf.float32)
        targets = tf.fill(tf.shape(logits), target)
        fn = self.loss_fn.call if isinstance(self.loss_fn, keras.losses.Loss) else self.loss_fn
        values = tf.reshape(tf.cast(fn(targets, logits), tf.float32), [-1])
        if kept is None:
            return tf.reduce_mean(values)
        return tf.reduce_sum(values * tf.reshape(kept, [-1])) / tf.reduce_sum(kept)

    def apply_step(self, real_images, labels, noise, weight=1.0):
        """One training step's math, without metrics: D update, then G update.

        (1) The discriminator is updated on the real batch (target 1) and the
        generated batch (target 0), the generated images not back-propagated
        into the generator; (2) the generator is updated to make the updated
        discriminator call the same generated images real. The generator runs
        forward once per step: its weights do not change between the phases.

        Args:
            real_images: float32 `[B, 28, 28, 1]` in [0, 1].
            labels: one-hot float32 `[B, num_classes]`.
            noise: float32 `[B, latent_dim]`.
            weight: This replica's share of the global batch (1 on one device):
                each replica's mean loss times it, summed over replicas by the
                gradient all-reduce, is the global-batch mean.

        Returns:
            `(d_loss, g_loss, real_logits, fake_logits)`: this replica's mean
            losses (float32 scalars) and logits `[B, 1]`.
        """
        with tf.GradientTape() as g_tape:
            fake_images = self.generator([noise, labels], training=True)

        # Phase 1, discriminator: real -> 1, fake -> 0.
        with tf.GradientTape() as d_tape:
            real_in, fake_in = real_images, tf.stop_gradient(fake_images)
            if self.diffaugment:
                real_in, fake_in = self._augment(real_in, 0), self._augment(fake_in, 1)
            if self.r1_gamma:
                real_out, penalty = self._real_outputs_and_r1(real_in, labels)
            else:
                real_out, penalty = self._d_network()([real_in, labels], training=True), 0.0
            real_logits, real_classes = self._split(real_out)
            fake_logits = self.discriminator([fake_in, labels], training=True)
            d_loss = self._loss(1.0, real_logits) + self._loss(0.0, fake_logits)
            d_total = d_loss + penalty if self.r1_gamma else d_loss
            if self.aux_head is not None:
                d_total += losses.class_loss(labels, real_classes)
            d_scaled = self.d_optimizer.scale_loss(d_total * weight)  # Scales for float16 only.
        d_vars = self.d_variables
        d_grads = d_tape.gradient(d_scaled, d_vars)
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars, strict=True))

        # Phase 2, generator: make the updated discriminator call the fakes real.
        with g_tape:  # The tape already holds the generator's forward pass.
            g_in = self._augment(fake_images, 2) if self.diffaugment else fake_images
            g_logits, g_classes = self._split(self._d_network()([g_in, labels], training=True))
            g_loss = self._loss(1.0, g_logits, self._kept(g_logits))
            g_total = g_loss
            if self.aux_head is not None:
                g_total += self.aux_classifier * losses.class_loss(labels, g_classes)
            g_scaled = self.g_optimizer.scale_loss(g_total * weight)
        g_vars = self.generator.trainable_variables
        g_grads = g_tape.gradient(g_scaled, g_vars)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars, strict=True))
        return d_loss, g_loss, real_logits, fake_logits

    def _augment(self, images, stream):
        """DiffAugment of one batch; `stream` tells apart the step's batches."""
        return augment.diff_augment(
            images,
            parse_diffaugment(self.diffaugment),
            self.seed_generator.state[0],
            self.train_steps,
            stream,
        )

    def _d_network(self):
        """The discriminator, or with the aux classifier its view that also outputs features."""
        return self.discriminator if self.aux_head is None else self._d_view

    def _split(self, outputs):
        """`_d_network`'s outputs as `(logits [B, 1], class logits [B, C] or None)`."""
        if self.aux_head is None:
            return outputs, None
        return outputs[0], self.aux_head(outputs[1])  # (logits, features) -> class logits

    def _kept(self, logits):
        """The mask of the examples the generator's loss keeps: None (all), or top-k's."""
        if not self.top_k:
            return None
        epoch = self.train_steps // self.steps_per_epoch
        return losses.top_k_mask(logits, epoch, self.top_k, self.top_k_min)

    def _real_outputs_and_r1(self, real_images, labels):
        """`_d_network`'s outputs on the real batch and this step's R1 penalty (0 between lazy steps)."""
        d, n = self._d_network(), self.r1_interval
        if n == 1:
            return losses.logits_with_r1(d, real_images, labels, self.r1_gamma)
        return tf.cond(
            tf.equal(self.train_steps % n, 0),
            lambda: losses.logits_with_r1(d, real_images, labels, self.r1_gamma * n),
            lambda: (d([real_images, labels], training=True), tf.constant(0.0)),
        )

    def run_step(self, real_images, labels, noise=None):
        """One whole training step on one batch, without metrics.

        The inputs converted (`batches.prepare`), the noise drawn unless given
        (`draw_noise`), the update (`apply_step`), the EMA generator's update
        and the step counter that keys the next step's noise.

        Args:
            real_images: `[B, 28, 28, 1]`, float32 in [0, 1] or uint8 in 0..255.
            labels: one-hot `[B, num_classes]` or integer `[B]`.
            noise: Optional float32 `[B, latent_dim]`.

        Returns:
            `(d_loss, g_loss, real_logits, fake_logits)` as `apply_step`.
        """
        real_images, labels, noise = batches.prepare(real_images, labels, noise, self.num_classes)
        local_batch = tf.shape(real_images)[0]
        sizes, replica_id = self._replicas(local_batch)
        weight = tf.cast(local_batch, tf.float32) / tf.cast(tf.reduce_sum(sizes), tf.float32)
        if noise is None:
            noise = self.draw_noise(local_batch, sizes, replica_id)
        outputs = self.apply_step(real_images, labels, noise, weight)
        if self.ema_generator is not None:
            ema.update(self.ema_generator, self.generator, self.train_steps, self.ema_decay)
        self.train_steps.assign_add(1)
        return outputs

    def _step_with_metrics(self, real_images, labels, noise):
        d_loss, g_loss, real_logits, fake_logits = self.run_step(real_images, labels, noise)
        # Metrics: this replica's mean weighted by its batch size; Keras sums
        # totals and counts over replicas, giving the global-batch mean.
        batch_weight = tf.cast(tf.shape(real_logits)[0], tf.float32)
        self.d_loss_tracker.update_state(d_loss, sample_weight=batch_weight)
        self.g_loss_tracker.update_state(g_loss, sample_weight=batch_weight)
        logits = tf.concat([real_logits, fake_logits], axis=0)
        targets = tf.concat([tf.ones_like(real_logits), tf.zeros_like(fake_logits)], axis=0)
        self.d_accuracy.update_state(targets, tf.cast(logits, tf.float32))

    def _cached(self, key, make):
        """`make()`, made once per model and kept out of Keras' attribute tracking.

        For compiled functions: a cache, not state (`compile` drops the step's).
        """
        fn = self.__dict__.get(key)
        if fn is None:
            fn = make()
            object.__setattr__(self, key, fn)
        return fn

    def _one_step_function(self):
        """`_step_with_metrics`, or with `step_jit_compile` that step as its own XLA program."""
        if not self.step_jit_compile or self.jit_compile:
            return self._step_with_metrics
        return self._cached(
            "_cached_xla_step",
            lambda: tf.function(self._step_with_metrics, jit_compile=True, reduce_retracing=True),
        )

    def train_step(self, data):
        real_images, labels, noise, stacked = batches.unpack(data)
        if _in_replica_threads() and (stacked or (self.step_jit_compile and not self.jit_compile)):
            # The step's cross-replica updates (merge_call) cannot run in a
            # loop or nested function inside `strategy.run`.
            raise ConfigError(
                "under a mirrored or multi-worker strategy, train on single batches "
                "(not stacks of K) without step_jit_compile: for K steps per call use "
                "compile(steps_per_execution=K), or keras_cgan.distribute.fit_custom_loop"
            )
        step = self._one_step_function()
        if not stacked:
            step(real_images, labels, noise)
        else:
            # K steps inside one compiled call (`data.make_dataset(stack=K)`):
            # no per-step launch, variable or iterator overhead.
            def body(i):
                step(real_images[i], labels[i], None if noise is None else noise[i])
                return (i + 1,)

            tf.while_loop(
                lambda i: i < tf.shape(real_images)[0],
                body,
                (tf.constant(0),),
                parallel_iterations=1,
            )
        return {m.name: m.result() for m in self.metrics}

    @property
    def sampling_generator(self):
        """The generator to sample from: the EMA copy if there is one."""
        return self.generator if self.ema_generator is None else self.ema_generator

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
            "ema_decay": self.ema_decay,
            "r1_gamma": self.r1_gamma,
            "r1_interval": self.r1_interval,
            "diffaugment": self.diffaugment,
            "top_k": self.top_k,
            "top_k_min": self.top_k_min,
            "steps_per_epoch": self.steps_per_epoch,
            "aux_classifier": self.aux_classifier,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["dtype"] = keras.saving.deserialize_keras_object(config.get("dtype"))
        return cls(**config)
