"""Checkpoints, exact resume, kill safety, signals and the divergence guard."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from helpers import REPO_ROOT, TINY_RUN_FLAGS, one_error_line, run_cli
from keras_cgan import builder, checkpoint, export, train
from keras_cgan.errors import ConfigError


def _state(workdir):
    path = checkpoint.find_checkpoint(os.path.join(workdir, "checkpoints"))
    with np.load(os.path.join(path, "state.npz")) as f:
        return {k: f[k] for k in f.files}


def _assert_same_state(a, b, atol=1e-6):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)


@pytest.mark.slow
def test_resumed_run_equals_a_straight_run(tmp_path):
    resumed, straight = str(tmp_path / "resumed"), str(tmp_path / "straight")
    for workdir, epochs in ((resumed, 2), (resumed, 4), (straight, 4)):
        result = run_cli("main", *TINY_RUN_FLAGS, f"--epochs={epochs}", f"--workdir={workdir}")
        assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_state(_state(resumed), _state(straight))
    info = json.load(open(os.path.join(resumed, "checkpoints", "latest", "state.json")))
    assert (info["epoch"], info["step"]) == (4, 0)
    rows = open(os.path.join(resumed, "metrics.csv")).read().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "1", "2", "3", "4"]
    assert rows == open(os.path.join(straight, "metrics.csv")).read().splitlines()
    samples = sorted(os.listdir(os.path.join(resumed, "samples")))
    assert samples == [f"epoch_000{i}.png" for i in range(1, 5)] + ["progress.gif"]
    assert json.load(open(os.path.join(resumed, "config.json")))["epochs"] == 4

    # Same epochs again: nothing to train, nothing lost.
    result = run_cli("main", *TINY_RUN_FLAGS, "--epochs=4", f"--workdir={resumed}", "--verbose=2")
    assert result.returncode == 0 and "already trained 4 epochs" in result.stdout
    _assert_same_state(_state(resumed), _state(straight))


def test_a_different_model_config_is_refused(tiny_config):
    train.train(tiny_config.replace(epochs=1))
    for change in ({"hidden_units": 32}, {"learning_rate": 0.01}, {"arch": "dcgan"}, {"seed": 9}):
        key = next(iter(change))
        with pytest.raises(ConfigError, match=f"holds a run with {key}="):
            train.train(tiny_config.replace(epochs=2, **change))
    assert (
        checkpoint.read_checkpoint_info(
            checkpoint.find_checkpoint(os.path.join(tiny_config.workdir, "checkpoints"))
        )[0]
        == 1
    )


def test_noresume_moves_the_old_run_aside(tiny_config):
    train.train(tiny_config.replace(epochs=1))
    old_state = _state(tiny_config.workdir)
    train.train(tiny_config.replace(epochs=1, hidden_units=32, resume=False))
    moved = [d for d in os.listdir(tiny_config.workdir) if d.startswith("replaced-")]
    assert len(moved) == 1
    kept = os.path.join(tiny_config.workdir, moved[0])
    _assert_same_state(_state(kept), old_state)
    assert os.path.isfile(os.path.join(kept, "export", "saved_model.pb"))
    assert json.load(open(os.path.join(tiny_config.workdir, "config.json")))["hidden_units"] == 32


def test_an_interrupted_swap_still_leaves_a_loadable_checkpoint(tiny_config):
    gan = train.train(tiny_config.replace(epochs=1))
    ckpt_dir = os.path.join(tiny_config.workdir, "checkpoints")
    latest = os.path.join(ckpt_dir, "latest")
    os.replace(latest, latest + ".old")  # Killed between the two renames.
    os.makedirs(os.path.join(ckpt_dir, ".tmp-123-4"))  # A half-written one.
    found = checkpoint.find_checkpoint(ckpt_dir)
    assert found == latest + ".old"
    fresh = builder.build_gan(tiny_config)
    assert checkpoint.restore_checkpoint(found, fresh)[:2] == (1, 0)
    for a, b in zip(gan.weights, fresh.weights, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    checkpoint.save_checkpoint(ckpt_dir, fresh, tiny_config, epoch=1)
    assert checkpoint.find_checkpoint(ckpt_dir) == latest
    assert not os.path.exists(latest + ".old")


class _PoisonAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.discriminator.trainable_variables[0]
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_divergence_stops_cleanly_and_keeps_the_last_good_state(tiny_config):
    config = tiny_config.replace(epochs=2)
    train.train(config)
    good_state = _state(config.workdir)
    export_pb = open(os.path.join(config.workdir, "export", "saved_model.pb"), "rb").read()
    export_vars = os.path.join(
        config.workdir, "export", "variables", "variables.data-00000-of-00001"
    )
    export_weights = open(export_vars, "rb").read()

    with pytest.raises(checkpoint.TrainingDiverged) as info:
        train.train(config.replace(epochs=4), callbacks=[_PoisonAtEpoch(2)])
    message = str(info.value)
    steps = 64 // 16
    assert f"training diverged in epoch 3 (steps {2 * steps + 1}-{3 * steps})" in message
    assert "last good checkpoint (epoch 2)" in message and "\n" not in message
    _assert_same_state(_state(config.workdir), good_state, atol=0)
    assert open(os.path.join(config.workdir, "export", "saved_model.pb"), "rb").read() == export_pb
    assert open(export_vars, "rb").read() == export_weights
    assert not os.path.exists(os.path.join(config.workdir, "samples", "epoch_0003.png"))


def test_divergence_reports_the_checkpoint_written_in_the_background(tiny_config, tmp_path):
    # One run: epochs 1-2 checkpointed on the background writer, NaN in epoch 3.
    # The report waits for the epoch-2 write, which holds the same state as a
    # clean 2-epoch run.
    config = tiny_config.replace(epochs=4)
    with pytest.raises(checkpoint.TrainingDiverged, match=r"last good checkpoint \(epoch 2\)"):
        train.train(config, callbacks=[_PoisonAtEpoch(2)])
    clean = tiny_config.replace(epochs=2, workdir=str(tmp_path / "clean"))
    train.train(clean)
    _assert_same_state(_state(config.workdir), _state(clean.workdir), atol=0)
    assert os.path.exists(os.path.join(config.workdir, "samples", "epoch_0002.png"))
    assert not os.path.exists(os.path.join(config.workdir, "samples", "epoch_0003.png"))


def test_absurd_learning_rate_stops_with_one_line(tmp_path):
    result = run_cli(
        "main", *TINY_RUN_FLAGS, "--learning_rate=1e38", "--epochs=3", f"--workdir={tmp_path / 'r'}"
    )
    assert result.returncode == 2
    line = one_error_line(result)
    assert "training diverged in epoch 1" in line and "lower the learning rate" in line
    assert not os.path.exists(tmp_path / "r" / "export")


# Runs long enough to be stopped mid-epoch: 800 steps an epoch on real MNIST.
LONG_RUN_FLAGS = (
    "--train_examples=12800",
    "--hidden_units=16",
    "--latent_dim=8",
    "--batch_size=16",
    "--seed=5",
    "--verbose=0",
    "--epochs=3",
    # One step per call, no XLA: slow enough (~1.5 s an epoch) to be stopped
    # mid-epoch, and a signal is handled after every step.
    "--steps_per_execution=1",
    "--nojit_compile",
)
LONG_RUN_STEPS = 800


@pytest.fixture(scope="module")
def straight_long_run(tmp_path_factory):
    mnist_dir = os.environ.get("KERAS_CGAN_MNIST_DIR")
    if not mnist_dir:
        pytest.fail("set KERAS_CGAN_MNIST_DIR to real MNIST (bash .ci/run does)")
    workdir = str(tmp_path_factory.mktemp("straight") / "run")
    result = run_cli("main", *LONG_RUN_FLAGS, f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return _state(workdir)


def _start_and_stop(workdir, signum):
    """Starts a long run, waits for its first checkpoint, then sends `signum` mid-epoch."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_cgan.main", *LONG_RUN_FLAGS, f"--workdir={workdir}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state_json = os.path.join(workdir, "checkpoints", "latest", "state.json")
    deadline = time.time() + 240
    while not os.path.exists(state_json) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped"
    time.sleep(0.3)  # Into epoch 2.
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=240)
    return proc.returncode, err


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_finishes_the_same_run(tmp_path, straight_long_run):
    workdir = str(tmp_path / "killed")
    returncode, _ = _start_and_stop(workdir, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    ckpt = checkpoint.find_checkpoint(os.path.join(workdir, "checkpoints"))
    epoch, step, _ = checkpoint.read_checkpoint_info(ckpt)
    assert epoch >= 1 and step == 0
    result = run_cli("main", *LONG_RUN_FLAGS, f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_state(_state(workdir), straight_long_run)
    loaded = export.ExportedGenerator(os.path.join(workdir, "export"))
    assert loaded.generate([1, 2], seed=0).shape == (2, 28, 28, 1)


@pytest.mark.slow
def test_sigterm_checkpoints_mid_epoch_and_resume_skips_consumed_batches(
    tmp_path, straight_long_run
):
    workdir = str(tmp_path / "terminated")
    returncode, err = _start_and_stop(workdir, signal.SIGTERM)
    assert returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err and "SIGTERM: stopped after epoch" in err
    ckpt = checkpoint.find_checkpoint(os.path.join(workdir, "checkpoints"))
    epoch, step, _ = checkpoint.read_checkpoint_info(ckpt)
    assert 1 <= epoch < 3 and 0 <= step < LONG_RUN_STEPS
    result = run_cli("main", *LONG_RUN_FLAGS, f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_same_state(_state(workdir), straight_long_run)
    rows = open(os.path.join(workdir, "metrics.csv")).read().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "1", "2", "3"]
