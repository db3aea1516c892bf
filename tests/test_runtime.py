"""runtime.resolve: strategy, precision, XLA and stacking settings that run together."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from helpers import FIXTURE_MNIST, REPO_ROOT, fake_batch, make_tiny_gan, run_cli
from keras_cgan import distribute, runtime
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError


def _config(**changes):
    return TrainConfig(**{"arch": "mlp", "batch_size": 16, "steps_per_execution": 5, **changes})


def test_one_device_keeps_what_the_config_asks_for():
    strategy = tf.distribute.get_strategy()
    for jit in (True, False, "step"):
        settings = runtime.resolve(_config(jit_compile=jit), strategy)
        assert settings == runtime.Runtime(jit, 5, custom_loop=False)
    # Auto: the mlp networks compile whole calls.
    assert runtime.resolve(_config(), strategy).jit_compile is True


def test_a_one_replica_mirrored_strategy_uses_the_custom_loop():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    asked = runtime.resolve(_config(jit_compile=True, strategy="mirrored"), strategy)
    assert (asked.jit_compile, asked.steps_per_execution, asked.custom_loop) == ("step", 5, True)
    assert asked.notices == (
        "under --strategy=mirrored XLA compiles each step on its own (jit_compile=step); "
        "the 5-step loop runs outside XLA",
    )
    auto = runtime.resolve(_config(strategy="mirrored"), strategy)  # Chosen, not asked: no notice.
    assert (auto.jit_compile, auto.notices) == ("step", ())
    single = runtime.resolve(_config(jit_compile=True, steps_per_execution=1), strategy)
    assert (single.jit_compile, single.notices) == (True, ())
    plain = runtime.resolve(_config(jit_compile=False), strategy)
    assert plain == runtime.Runtime(False, 5, custom_loop=True)
    config = _config(jit_compile=None)
    applied = asked.apply(config)
    assert (applied.jit_compile, applied.steps_per_execution) == ("step", 5)


class _TwoCpuReplicas:
    num_replicas_in_sync = 2


def test_two_cpu_replicas_drop_xla_and_need_a_divisible_batch(monkeypatch):
    monkeypatch.setattr(distribute, "is_replicated", lambda strategy: True)
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [])
    settings = runtime.resolve(_config(jit_compile=True, strategy="mirrored"), _TwoCpuReplicas())
    assert settings == runtime.Runtime(
        False,
        5,
        custom_loop=True,
        notices=("XLA cannot span several CPU devices: 2 replicas train without jit_compile",),
    )
    with pytest.raises(ConfigError, match="batch_size 15 is not divisible by the 2 replicas"):
        runtime.resolve(_config(batch_size=15, strategy="mirrored"), _TwoCpuReplicas())


def test_stacked_batches_under_a_mirrored_fit_are_one_clear_error():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        gan = make_tiny_gan()
    images, one_hot, _ = fake_batch(batch_size=8)
    stacked = tf.data.Dataset.from_tensors((images[None].repeat(2, 0), one_hot[None].repeat(2, 0)))
    with pytest.raises(ConfigError, match="train on single batches"):
        gan.fit(stacked, epochs=1, verbose=0)


# An orthogonal array of the four factors: 9 runs in which every pair of values
# of any two factors (strategy and XLA, precision and stacking, ...) appears at
# least once, instead of all 54 combinations. Row (i, j) takes strategy i, XLA j,
# precision (i + j) % 3 and stacking (i + 2j) % 3 (0 -> 1 step per call, else 2),
# which includes the one three-way case with its own rule: a one-CPU mirrored
# run asked for XLA over stacked steps gets XLA per step.
STRATEGIES = ("default", "mirrored1", "mirrored2")
JITS = ("true", "false", "step")
PRECISIONS = ("none", "mixed_float16", "mixed_bfloat16")
MATRIX = [
    f"{s}:{PRECISIONS[(i + j) % 3]}:{jit}:{1 if (i + 2 * j) % 3 == 0 else 2}"
    for i, s in enumerate(STRATEGIES)
    for j, jit in enumerate(JITS)
]


def test_the_matrix_covers_every_pair_of_settings():
    rows = [spec.split(":") for spec in MATRIX]
    levels = [STRATEGIES, PRECISIONS, JITS, ("1", "2")]
    for a in range(4):
        for b in range(a + 1, 4):
            pairs = {(row[a], row[b]) for row in rows}
            assert len(pairs) == len(levels[a]) * len(levels[b]), (a, b, pairs)
    assert "mirrored1" in {r[0] for r in rows if r[2] == "true" and r[3] == "2"}


@pytest.mark.slow
def test_every_pair_of_strategy_precision_xla_and_stacking_trains():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "runtime_matrix_check.py")]
        + [FIXTURE_MNIST, *MATRIX, "mirrored2:none:false:2:15"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *runs, odd_batch = [json.loads(line) for line in result.stdout.splitlines()]
    assert odd_batch == {
        "spec": "mirrored2:none:false:2:15",
        "error": "batch_size 15 is not divisible by the 2 replicas of --strategy=mirrored: "
        "use a multiple of 2",
        "written": [],  # Stopped before training wrote anything.
    }
    assert [r["spec"] for r in runs] == MATRIX
    for r in runs:
        strategy, _, jit, steps = r["spec"].split(":")
        assert "error" not in r, r
        assert r["train_steps"] == 5 and r["finite"] and r["exported"], r
        assert r["steps_per_execution"] == int(steps), r
        asked = {"true": True, "false": False, "step": "step"}[jit]
        if strategy == "mirrored2":  # XLA cannot span two CPU devices.
            assert r["jit_compile"] is False, r
            assert bool(r["notices"]) == (asked is not False), r
        elif strategy == "mirrored1" and asked is True and steps == "2":
            assert r["jit_compile"] == "step" and len(r["notices"]) == 1, r
        else:
            assert r["jit_compile"] == asked and r["notices"] == [], r


@pytest.mark.slow
def test_readme_mirrored_command_trains_like_one_device(tmp_path):
    rows = {}
    for name, extra in (("mirrored", ["--strategy=mirrored"]), ("default", [])):
        workdir = tmp_path / name
        result = run_cli(
            "main",
            "--flagfile=flags/smoke.cfg",
            *extra,
            f"--mnist_dir={FIXTURE_MNIST}",
            f"--workdir={workdir}",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        lines = (workdir / "metrics.csv").read_text().splitlines()
        rows[name] = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert rows["mirrored"].shape == (2, 4)  # Both epochs of the preset.
    np.testing.assert_allclose(rows["mirrored"], rows["default"], rtol=1e-5, atol=1e-6)
