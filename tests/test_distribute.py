"""tf.distribute (mirrored, multi-worker) and mixed precision, on CPU."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import FIXTURE_MNIST, REPO_ROOT, TINY_RUN_FLAGS, fake_batch, one_error_line, run_cli
from keras_cgan import builder, checkpoint, distribute, export, train
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError


@pytest.mark.slow
def test_mirrored_over_two_cpus_equals_one_device():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "mirrored_check.py"), FIXTURE_MNIST],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["replicas"] == 2
    for noise in ("fed", "drawn"):
        r = report[noise]
        assert r["steps"] == 3
        assert r["weights_moved"] > 1e-3  # Training did something...
        assert r["weight_diff"] < 1e-5, noise  # ...and the same on 1 and 2 replicas.
        assert r["ema_moved"] > 1e-4 and r["ema_diff"] < 1e-5, noise  # The EMA generator too.
        for name in ("d_loss", "g_loss", "d_acc"):
            assert r["mirrored"][name] == pytest.approx(r["single"][name], rel=1e-5), (noise, name)
    assert report["train"] == {"jit_compile": False, "steps": 4, "exported": True}


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_cluster(workdir, epochs):
    """Runs the CLI as a 2-worker MultiWorkerMirroredStrategy cluster on 127.0.0.1."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CONFIG=tf_config)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "keras_cgan.main",
                    *TINY_RUN_FLAGS,
                    "--strategy=multi_worker",
                    f"--epochs={epochs}",
                    f"--workdir={workdir}",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            outputs.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            proc.kill()
    for returncode, _, err in outputs:
        assert returncode == 0, err[-3000:]
    return outputs


def _rows(workdir):
    lines = open(os.path.join(workdir, "metrics.csv")).read().splitlines()
    return [[float(v) for v in line.split(",")] for line in lines[1:]]


@pytest.mark.slow
def test_multi_worker_cluster_trains_resumes_and_matches_one_device(tmp_path):
    cluster_dir, single_dir = str(tmp_path / "cluster"), str(tmp_path / "single")
    _run_cluster(cluster_dir, epochs=1)
    outputs = _run_cluster(cluster_dir, epochs=2)  # Resumes after epoch 1.
    assert "chief writes the artifacts" in outputs[1][1]
    result = run_cli("main", *TINY_RUN_FLAGS, "--epochs=2", f"--workdir={single_dir}")
    assert result.returncode == 0, result.stderr[-3000:]

    np.testing.assert_allclose(_rows(cluster_dir), _rows(single_dir), rtol=1e-5, atol=1e-6)
    states = []
    for workdir in (cluster_dir, single_dir):
        with np.load(os.path.join(workdir, "checkpoints", "latest", "state.npz")) as f:
            states.append({k: f[k] for k in f.files})
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        np.testing.assert_allclose(states[0][key], states[1][key], atol=1e-5, err_msg=key)
    assert int(states[0]["counters/000/train_steps"]) == 2 * (300 // 16)
    generator = export.ExportedGenerator(os.path.join(cluster_dir, "export"))
    assert generator.generate([0, 9], seed=1).dtype == np.float32
    assert sorted(os.listdir(cluster_dir)) == sorted(
        [
            "checkpoints",
            "config.json",
            "export",
            "metrics.csv",
            "metrics.png",
            "model.keras",
            "samples",
        ]
    )


def test_chief_is_read_from_tf_config(monkeypatch):
    cluster = {"worker": ["a:1", "b:2"]}
    for task, chief in ((0, True), (1, False)):
        monkeypatch.setenv(
            "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": task}})
        )
        assert distribute.is_chief() is chief
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {"cluster": {"chief": ["c:0"], **cluster}, "task": {"type": "worker", "index": 0}}
        ),
    )
    assert distribute.is_chief() is False
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.is_chief() is True


def test_mixed_bfloat16_trains_and_exports_float32(tiny_config):
    config = tiny_config.replace(mixed_precision="mixed_bfloat16", epochs=1)
    gan = train.train(config)
    hidden = gan.generator.get_layer("hidden")
    assert hidden.compute_dtype == "bfloat16" and hidden.variable_dtype == "float32"
    assert gan.discriminator.get_layer("logit").compute_dtype == "float32"
    assert not isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    rows = open(os.path.join(config.workdir, "metrics.csv")).read().splitlines()
    assert all(np.isfinite(float(v)) for v in rows[1].split(","))
    images = export.ExportedGenerator(os.path.join(config.workdir, "export")).generate(
        [1, 2], seed=0
    )
    assert images.dtype == np.float32 and images.shape == (2, 28, 28, 1)


def test_mixed_float16_wraps_both_optimizers_and_scales_the_loss(tiny_config):
    gan = builder.build_gan(tiny_config.replace(mixed_precision="mixed_float16"))
    assert gan.uses_float16
    assert gan.generator.get_layer("hidden").compute_dtype == "float16"
    for opt in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
        assert float(np.asarray(opt.dynamic_scale)) == 2.0**15
    calls = []
    for name in ("d_optimizer", "g_optimizer"):
        opt = getattr(gan, name)
        original = opt.scale_loss

        def spy(loss, original=original, name=name):
            calls.append(name)
            return original(loss)

        opt.scale_loss = spy
    images, one_hot, noise = fake_batch(latent_dim=tiny_config.latent_dim)
    before = [np.array(v) for v in gan.trainable_weights]
    logs = gan.train_on_batch(
        {"images": images, "labels": one_hot, "noise": noise}, return_dict=True
    )
    assert sorted(set(calls)) == ["d_optimizer", "g_optimizer"]
    assert all(np.isfinite(v) for v in logs.values())
    changed = [
        not np.array_equal(b, np.array(v))
        for b, v in zip(before, gan.trainable_weights, strict=True)
    ]
    assert all(changed)
    # Saved and restored with the wrappers and their loss scale.
    state = checkpoint.state_variables(gan)
    assert any("dynamic_scale" in key for key in state)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"strategy": "horovod"}, "unknown strategy 'horovod'"),
        ({"mixed_precision": "float8"}, "unknown mixed_precision 'float8'"),
    ],
)
def test_bad_strategy_or_precision(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_tpu_without_a_tpu_is_one_clear_line(tmp_path):
    result = run_cli("main", *TINY_RUN_FLAGS, "--strategy=tpu", f"--workdir={tmp_path / 'r'}")
    assert result.returncode == 2
    assert "--strategy=tpu: no TPU found" in one_error_line(result)
    assert not (tmp_path / "r").exists()
