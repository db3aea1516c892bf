"""The evaluation command line: one-line errors and an end-to-end run on an export."""

import json

import numpy as np
import pytest

from helpers import mnist_flags, run_cli, save_random_export
from keras_cgan import samplers


def _run_evaluate(*args, env_extra=None):
    return run_cli("evaluate", *args, env_extra=env_extra)


def _run_evaluate_cached(reference_classifier, mnist_dir, *args):
    """`_run_evaluate` on real MNIST with the session's cached reference classifier."""
    return _run_evaluate(
        *args, f"--classifier_dir={reference_classifier.cache_root}", *mnist_flags(mnist_dir)
    )


def _not_an_export(tmp_path):
    (tmp_path / "empty").mkdir()
    return str(tmp_path / "empty")


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "nothing to evaluate: pass --model=PATH and/or --baseline"),
        (["--model={tmp}/missing"], "model not found: "),
        (["--model={empty}"], "is not a keras_cgan export: it has no saved_model.pb"),
        (["--model=README.md"], "README.md is a file, not a keras_cgan export"),
        (["--baseline", "--num_samples=0"], "num_samples must be a multiple of 10"),
        (["--baseline", "--num_samples=2005"], "num_samples must be a multiple of 10"),
        (["--baseline", "--num_samples=abc"], "flag --num_samples=abc"),
        (["--baseline", "--num_sampels=100"], "Unknown command line flag 'num_sampels'"),
        (["--baseline", "--draws=0"], "flag --draws=0"),
        (["--baseline", "--json={tmp}/no/such/dir/out.json"], "--json: folder"),
        (["stray", "--baseline"], "unexpected arguments 'stray'"),
        (["--baseline", "--mnist_dir={tmp}/none"], "MNIST folder not found: "),
        (["--baseline", "--dataset=folder:{tmp}/none"], "dataset folder not found: "),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message, tmp_path, no_tensorflow_env):
    # Every case is refused before TensorFlow loads (see no_tensorflow_env).
    empty = _not_an_export(tmp_path)
    args = [a.format(tmp=tmp_path, empty=empty) for a in args]
    result = _run_evaluate(*args, env_extra=no_tensorflow_env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keras_cgan: error: ") and message in lines[0]


@pytest.mark.slow
def test_evaluate_an_export_with_baselines_end_to_end(
    reference_classifier, real_mnist_dir, tmp_path
):
    export = save_random_export(tmp_path / "export", seed=0)
    out = tmp_path / "metrics.json"
    result = _run_evaluate_cached(
        reference_classifier,
        real_mnist_dir,
        f"--model={export}",
        "--num_samples=200",
        "--baseline",
        f"--json={out}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training the reference classifier" not in result.stderr  # The cache was used.
    report = json.loads(out.read_text())
    assert report["num_samples"] == 200 and report["seed"] == 0
    assert report["classifier"]["key"] == reference_classifier.info["key"]
    assert list(report["results"]) == [export, *samplers.BASELINE_NAMES]
    for name, metrics in report["results"].items():
        assert metrics["num_samples"] == 200 and len(metrics["fid_per_class"]) == 10, name
    # Random weights draw no digits: far worse than real data on every count.
    model, real = report["results"][export], report["results"][samplers.BASELINE_NAMES[0]]
    assert model["fid"] > 10 * real["fid"] and model["accuracy"] < 0.5
    for name in (export, *samplers.BASELINE_NAMES):
        assert f"| {name}" in result.stdout
    assert "per class" in result.stdout


@pytest.mark.slow
def test_draws_report_the_mean_and_spread_of_each_metric(
    reference_classifier, real_mnist_dir, tmp_path
):
    export = save_random_export(tmp_path / "export", seed=1)
    out = tmp_path / "metrics.json"
    result = _run_evaluate_cached(
        reference_classifier,
        real_mnist_dir,
        f"--model={export}",
        "--num_samples=100",
        "--seed=4",
        "--draws=3",
        f"--json={out}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["draws"] == 3 and "seeds 4-6" in result.stdout
    draws, mean = report["per_draw"][export], report["results"][export]
    assert len(draws) == 3 and len({d["fid"] for d in draws}) == 3  # Three different draws.
    fids = [d["fid"] for d in draws]
    assert mean["fid"] == pytest.approx(np.mean(fids))
    assert report["spread"][export]["fid"] == pytest.approx(np.std(fids, ddof=1))
    assert f"{np.mean(fids):.2f} ± {np.std(fids, ddof=1):.2f}" in result.stdout
