"""The quality presets on real MNIST: the fast recipe learns, and how it relates to best.

`flags/fast.cfg` trains the best preset's networks and losses at twice its
learning rates, with lazy R1 and a shorter EMA, for a few epochs; their full
results at 10,000 samples on three seeds are in docs/presets.md
(`scripts/make_preset_results.py`). This test trains the fast preset's
recipe for its first 2 epochs and measures 2,000 samples with the project's
evaluator (the reference classifier of the session): enough to catch a
recipe that stopped learning, in two thirds of the preset's training time.
"""

import dataclasses
import os
import time

import pytest

from helpers import mnist_flags
from keras_cgan import presets, train
from keras_cgan.evaluation import Evaluator

# The fast preset's recipe after 2 epochs, at 2,000 samples (seed 0), where
# real MNIST train digits score FID 1.29 and recall 0.876. Measured in
# bfloat16: accuracy 0.980, FID 3.6, recall 0.80, diversity 1.01 (after all 3
# epochs at 10,000 samples: accuracy 0.985, FID 2.1-2.4 on three seeds). The
# seed model after 1000 epochs (10,000 samples) has FID 18, recall 0.34 and
# diversity 0.72: it fails three of the four; the same networks at Adam 2e-4,
# beta_1 0.5 had FID 67 and accuracy 0.72 after 3 epochs.
TEST_EPOCHS = 2
BAR = {"accuracy": 0.92, "fid": 15.0, "recall": 0.6, "diversity": 0.85}


def _precision_for_this_cpu():
    """The preset's bfloat16 on CPUs that compute it natively, float32 elsewhere.

    Without AVX512-BF16 or AMX, bfloat16 is emulated (slower than float32);
    the presets' comments tell users to pass the same flag.
    """
    try:
        with open("/proc/cpuinfo") as f:
            cpu_flags = set(f.read().split())
    except OSError:
        cpu_flags = set()
    native = {"avx512_bf16", "amx_bf16"} & cpu_flags
    return [] if native else ["--mixed_precision=none"]


def test_fast_is_the_plain_projection_recipe_at_twice_the_best_rates_for_fewer_epochs():
    fast, best = presets.load_preset("fast"), presets.load_preset("best")
    differing = {
        f.name for f in dataclasses.fields(fast) if getattr(fast, f.name) != getattr(best, f.name)
    }
    # best adds class-conditional batch norm, a lighter R1, the auxiliary
    # classifier, top-k and the discriminator's hidden layer to fast's
    # networks and samples with wider noise; fast trains 3 epochs at twice
    # the rates and leaves them out: they cost more per step, which its
    # one-minute budget does not have. Both take R1 lazily.
    assert differing == {
        "epochs",
        "ema_decay",
        "learning_rate",
        "d_learning_rate",
        "arch",
        "r1_gamma",
        "top_k",
        "aux_classifier",
        "d_hidden",
        "noise_scale",
    }
    assert best.epochs > fast.epochs and best.ema_decay > fast.ema_decay > 0
    assert fast.learning_rate == 2 * best.learning_rate
    assert fast.d_learning_rate == 2 * best.d_learning_rate
    assert fast.r1_interval == best.r1_interval > 1
    assert (fast.arch, best.arch) == ("dcgan_proj", "dcgan_cbn")
    assert fast.r1_gamma > best.r1_gamma > 0
    assert best.top_k > 0 and best.aux_classifier > 0 == fast.top_k == fast.aux_classifier
    assert best.d_hidden > 0 == fast.d_hidden and best.noise_scale > 1 == fast.noise_scale


@pytest.mark.slow
def test_the_fast_recipe_learns_in_two_epochs_and_exports_its_ema_generator(
    real_mnist_dir, reference_classifier, tmp_path
):
    config = presets.load_preset(
        "fast",
        *_precision_for_this_cpu(),
        *mnist_flags(real_mnist_dir),
        f"--workdir={tmp_path / 'fast'}",
        "--seed=0",
        "--verbose=0",
        f"--epochs={TEST_EPOCHS}",
    )
    start = time.perf_counter()
    gan = train.train(config)
    seconds = time.perf_counter() - start

    evaluator = Evaluator(classifier=reference_classifier, mnist_dir=real_mnist_dir)
    result = evaluator.evaluate(os.path.join(config.workdir, "export"), 2000, seed=0)
    metrics = result.summary()
    print(
        f"\nfast preset's recipe, {config.epochs} epochs in {seconds:.0f} s: "
        + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
    )
    # The export samples what the in-memory model samples (the EMA generator).
    assert evaluator.evaluate(gan, 2000, seed=0) == result
    assert metrics["accuracy"] >= BAR["accuracy"]
    assert metrics["fid"] <= BAR["fid"]
    assert metrics["recall"] >= BAR["recall"]
    assert metrics["diversity"] >= BAR["diversity"]
