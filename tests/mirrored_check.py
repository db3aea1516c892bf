"""Run by test_distribute.py in a fresh process: one device vs. MirroredStrategy.

Splits the CPU into two logical devices (which must happen before TensorFlow
starts), trains the same tiny GAN for a few steps on one device and mirrored
over both, and prints a JSON report of the differences.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_cgan import mnist_files, networks  # noqa: E402
from keras_cgan.model import ConditionalGAN  # noqa: E402

GLOBAL_BATCH, STEPS, LATENT = 16, 3, 8


def build(strategy):
    keras.utils.set_random_seed(0)
    # Optimizers made outside the scope on purpose (keras-team/keras#17187):
    # compile remakes them inside it.
    d_opt, g_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    with strategy.scope():
        g, d = networks.build_networks("mlp", LATENT, 10, 16)
        gan = ConditionalGAN(g, d, latent_dim=LATENT, seed=7, ema_decay=0.5)
        gan.compile(d_optimizer=d_opt, g_optimizer=g_opt)
    return gan


def dataset(feed_noise):
    rng = np.random.default_rng(1)
    n = GLOBAL_BATCH * STEPS
    images, labels = mnist_files.load(sys.argv[1], "train")
    x = {
        "images": images[:n].astype("float32") / 255.0,
        "labels": np.eye(10, dtype="float32")[labels[:n]],
    }
    if feed_noise:
        x["noise"] = rng.standard_normal((n, LATENT)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)


def run(strategy, feed_noise):
    gan = build(strategy)
    history = gan.fit(dataset(feed_noise), epochs=1, verbose=0, shuffle=False)
    return gan, {k: v[0] for k, v in history.history.items()}


report = {}
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
report["replicas"] = mirrored.num_replicas_in_sync
for feed_noise in (True, False):
    single, single_logs = run(tf.distribute.get_strategy(), feed_noise)
    multi, multi_logs = run(mirrored, feed_noise)
    fresh = build(tf.distribute.get_strategy())
    weight_diff = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(single.trainable_weights, multi.trainable_weights, strict=True)
    )
    moved = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(single.trainable_weights, fresh.trainable_weights, strict=True)
    )
    ema_diff = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(single.ema_generator.weights, multi.ema_generator.weights, strict=True)
    )
    ema_moved = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(multi.ema_generator.weights, fresh.ema_generator.weights, strict=True)
    )
    report["fed" if feed_noise else "drawn"] = {
        "weight_diff": weight_diff,
        "weights_moved": moved,
        "ema_diff": ema_diff,
        "ema_moved": ema_moved,
        "single": single_logs,
        "mirrored": multi_logs,
        "steps": int(multi.train_steps.numpy()),
    }

# The CLI path: train() under the mirrored strategy, XLA asked for but turned off.
import tempfile  # noqa: E402

from keras_cgan import train  # noqa: E402
from keras_cgan.config import TrainConfig  # noqa: E402

with tempfile.TemporaryDirectory() as workdir:
    config = TrainConfig(
        epochs=1,
        batch_size=16,
        latent_dim=LATENT,
        hidden_units=8,
        train_examples=64,
        mnist_dir=sys.argv[1],
        workdir=workdir,
        seed=1,
        verbose=0,
        jit_compile=True,
    )
    gan = train.train(config, strategy=mirrored)
    report["train"] = {
        "jit_compile": bool(gan.jit_compile),
        "steps": int(np.asarray(gan.train_steps)),
        "exported": os.path.isfile(os.path.join(workdir, "export", "saved_model.pb")),
    }
json.dump(report, sys.stdout)
