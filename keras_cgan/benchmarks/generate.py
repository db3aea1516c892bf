"""The generate and memory sections: images/s of sampling, peak memory of a run."""

import os
import subprocess
import sys
import tempfile
import time

from keras_cgan.benchmarks.timing import inverted, summarize
from keras_cgan.config import TrainConfig


def bench_generate(config: TrainConfig, warmup: int, repeats: int, sizes=(1, 1000)) -> dict:
    """images/s through the exported SavedModel's `serving_default` and `generate`."""
    import numpy as np

    from keras_cgan import train

    gan = train.build_gan(config.replace(jit_compile=False))
    rng = np.random.default_rng(0)

    def rate(fn, n):
        labels = rng.integers(0, 10, size=n).astype(np.int32)
        times = []
        for r in range(warmup + repeats):
            start = time.perf_counter()
            fn(labels)
            if r >= warmup:
                times.append(time.perf_counter() - start)
        return inverted(summarize(times), n)

    result = {"generate": {str(n): rate(lambda lab: gan.generate(lab, seed=0), n) for n in sizes}}
    import tensorflow as tf

    from keras_cgan import export

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "generator")
        export.export_generator(gan, path)
        serving = tf.saved_model.load(path).signatures["serving_default"]

        def call(labels):
            return serving(labels=tf.constant(labels, tf.int32))["images"].numpy()

        result["saved_model"] = {str(n): rate(call, n) for n in sizes}
    return result


def bench_memory(preset: str, config: TrainConfig, steps: int) -> dict:
    """Peak RSS (and wall time) of `python -m keras_cgan.main --flagfile=PRESET --epochs=1`."""
    with tempfile.TemporaryDirectory() as workdir:
        argv = [
            sys.executable,
            "-m",
            "keras_cgan.main",
            f"--flagfile={preset}",
            "--epochs=1",
            f"--workdir={workdir}",
            "--verbose=0",
            "--seed=0",
        ]
        if steps < (config.train_examples or 60000) // config.batch_size:
            argv.append(f"--train_examples={steps * config.batch_size}")
        if config.mnist_dir:
            argv.append(f"--mnist_dir={config.mnist_dir}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        # A small Python parent spawns the run and reports its children's peak
        # RSS: a child forked from this (large) process would count our pages.
        launcher = (
            "import resource, subprocess, sys; "
            "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.exit(code)"
        )
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", launcher, *argv], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{child.stderr[-2000:]}")
    peak_kib = int(child.stdout.split()[-1])  # Linux reports KiB.
    return {
        "peak_rss_mib": peak_kib / 1024.0,
        "wall_s": seconds,
        "steps": steps,
    }
