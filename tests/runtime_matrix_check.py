"""Run by test_runtime.py in a fresh process: every strategy / precision / XLA / stacking mix.

Splits the CPU into two logical devices (before TensorFlow starts), then
trains a tiny run with `train.train` under each combination given on the
command line and prints one JSON line per run: the effective settings it
recorded, the training steps taken and whether its metrics are finite, or
the error it stopped with.

Usage: runtime_matrix_check.py MNIST_DIR STRATEGY:PRECISION:JIT:STEPS[:BATCH] ...
  STRATEGY: default, mirrored1 (one CPU) or mirrored2 (two CPUs);
  PRECISION: none, mixed_float16 or mixed_bfloat16; JIT: true, false or step;
  BATCH: the global batch size (default 16).
"""

import contextlib
import io
import json
import math
import os
import sys
import tempfile

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import numpy as np  # noqa: E402

from keras_cgan import train  # noqa: E402
from keras_cgan.config import TrainConfig  # noqa: E402
from keras_cgan.errors import KerasCganError  # noqa: E402

DEVICES = {"default": None, "mirrored1": ["/cpu:0"], "mirrored2": ["/cpu:0", "/cpu:1"]}
JIT = {"true": True, "false": False, "step": "step"}
EXAMPLES, BATCH = 80, 16  # 5 steps per epoch: a stack of 2 leaves a shorter last one.


def run_one(spec, mnist_dir):
    name, precision, jit, steps, batch = (spec + f":{BATCH}").split(":")[:5]
    devices = DEVICES[name]
    strategy = None if devices is None else tf.distribute.MirroredStrategy(devices)
    with tempfile.TemporaryDirectory() as workdir:
        config = TrainConfig(
            epochs=1,
            batch_size=int(batch),
            latent_dim=8,
            hidden_units=8,
            train_examples=EXAMPLES,
            mnist_dir=mnist_dir,
            workdir=workdir,
            seed=1,
            verbose=1,
            strategy="default" if devices is None else "mirrored",
            mixed_precision=None if precision == "none" else precision,
            jit_compile=JIT[jit],
            steps_per_execution=int(steps),
        )
        out = io.StringIO()
        result = {"spec": spec}
        try:
            with contextlib.redirect_stdout(out):
                gan = train.train(config, strategy=strategy)
        except KerasCganError as e:
            result["error"] = str(e)
            result["written"] = sorted(os.listdir(workdir))
            return result
        saved = TrainConfig.load_json(os.path.join(workdir, "config.json"))
        with open(os.path.join(workdir, "metrics.csv")) as f:
            row = f.read().splitlines()[1].split(",")
        result.update(
            jit_compile=saved.jit_compile,
            steps_per_execution=saved.steps_per_execution,
            train_steps=int(np.asarray(gan.train_steps)),
            finite=all(math.isfinite(float(v)) for v in row),
            exported=os.path.isfile(os.path.join(workdir, "export", "saved_model.pb")),
            notices=[
                line for line in out.getvalue().splitlines() if line.startswith("keras_cgan:")
            ],
        )
    return result


for spec in sys.argv[2:]:
    print(json.dumps(run_one(spec, sys.argv[1])), flush=True)
