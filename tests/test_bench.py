"""The benchmark: a tiny end-to-end run, its statistics, targets and errors."""

import json

import pytest

from helpers import run_cli
from keras_cgan.benchmarks.presets import default_presets, preset_path
from keras_cgan.benchmarks.report import report
from keras_cgan.benchmarks.targets import check_targets
from keras_cgan.benchmarks.timing import inverted, scaled, summarize


def _run_bench(*args, env_extra=None, timeout=900):
    return run_cli("bench", *args, env_extra=env_extra, timeout=timeout)


def _check_stat(stat):
    assert stat["n"] >= 1
    assert 0 < stat["min"] <= stat["median"] <= stat["max"]


@pytest.mark.slow
def test_bench_smoke_run_writes_every_section(real_mnist_dir, tmp_path):
    out = tmp_path / "bench.json"
    result = _run_bench(
        "--presets=smoke",
        "--batch_sizes=16",
        "--repeats=2",
        "--stacks=4",
        "--max_epoch_steps=8",
        f"--json={out}",
        env_extra={"KERAS_CGAN_MNIST_DIR": real_mnist_dir},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())

    (fit,) = figures["fit"]
    assert (fit["preset"], fit["batch_size"], fit["steps_per_epoch"]) == ("smoke", 16, 8)
    for key in ("epoch_s", "ms_per_step", "samples_per_s", "callbacks_ms_per_epoch"):
        _check_stat(fit[key])
        assert fit[key]["n"] == 2
    # samples/s and ms/step describe the same epochs.
    assert fit["samples_per_s"]["median"] == pytest.approx(
        16 * 1e3 / fit["ms_per_step"]["median"], rel=1e-6
    )
    assert 0 < fit["callbacks_share"]["median"] < 1

    (bare,) = figures["bare"]
    # XLA and not, at the largest swept K and at the preset's (200, cut to 8 steps).
    assert sorted((v["jit_compile"], v["steps_per_call"]) for v in bare["variants"]) == [
        (False, 4),
        (False, 8),
        (True, 4),
        (True, 8),
    ]
    for v in bare["variants"]:
        _check_stat(v["ms_per_step"])
        assert v["steps"] == 8

    (sweep,) = figures["sweep"]
    labels = [v["label"] for v in sweep["variants"]]
    assert labels[0].startswith("Keras defaults") and "defaults: XLA, 200 steps/call" in labels
    assert any("Keras steps_per_execution" in label for label in labels)
    for v in sweep["variants"]:
        _check_stat(v["ms_per_step"])

    (pipe,) = figures["pipeline"]
    assert [v["batches_per_element"] for v in pipe["variants"]] == [200, 1, 4]
    for v in pipe["variants"]:
        _check_stat(v["batches_per_s"])

    (gen,) = figures["generate"]
    for n in ("1", "1000"):
        _check_stat(gen["generate"][n])
        _check_stat(gen["saved_model"][n])

    assert figures["norm"] == [{"preset": "smoke", "batch_size": 16, "layers": []}]  # mlp.

    (memory,) = figures["memory"]
    assert memory["peak_rss_mib"] > 100 and memory["steps"] == 8

    assert figures["targets"] == []  # They are judged at batch 64 only.
    text = result.stdout
    for heading in ("fit, exactly as keras_cgan.main runs it", "bare loop", "sweep", "memory"):
        assert heading in text
    assert "SavedModel serving_default" in text


@pytest.mark.slow
def test_norm_section_times_each_generator_batch_norm_both_ways(tmp_path):
    preset = tmp_path / "tiny_conv.cfg"
    preset.write_text(
        "--arch=dcgan_proj\n--hidden_units=4\n--latent_dim=8\n--mixed_precision=mixed_bfloat16\n"
    )
    out = tmp_path / "bench.json"
    result = _run_bench(
        f"--presets={preset}", "--sections=norm", "--batch_sizes=16", "--repeats=2", f"--json={out}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (norm,) = json.loads(out.read_text())["norm"]
    assert (norm["preset"], norm["batch_size"]) == (str(preset), 16)
    # dcgan with 4 base filters: a [B, 7*7*8] projection, then [B, 14, 14, 4] maps.
    assert [(r["layer"], r["shape"]) for r in norm["layers"]] == [
        ("project_bn", [16, 392]),
        ("up1_bn", [16, 14, 14, 4]),
    ]
    for row in norm["layers"]:
        _check_stat(row["keras_ms"])
        _check_stat(row["fused_ms"])
        assert row["speedup"] == pytest.approx(
            row["keras_ms"]["median"] / row["fused_ms"]["median"]
        )
    assert "generator batch norm, training forward + backward" in result.stdout
    assert "up1_bn" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--presets=no_such_preset"], "preset not found"),
        (["--sections=fit,speed"], "unknown bench section 'speed'"),
        (["--batch_sizes=0"], "--batch_sizes takes integers >= 1"),
        (["--stacks=ten"], "--stacks takes integers"),
        (["--mnist_dir=/no/such"], "MNIST folder not found: /no/such"),
    ],
)
def test_bench_bad_input_is_one_clear_line(args, message, no_tensorflow_env):
    # Refused before TensorFlow loads (see no_tensorflow_env).
    result = _run_bench(*args, "--repeats=1", env_extra=no_tensorflow_env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


def test_statistics():
    stat = summarize([3.0, 1.0, 2.0, 10.0])
    assert stat == {"median": 2.5, "min": 1.0, "max": 10.0, "n": 4}
    rate = inverted(summarize([0.5, 1.0, 2.0]), 100.0)
    assert (rate["median"], rate["min"], rate["max"]) == (100.0, 50.0, 200.0)
    ms = scaled(summarize([0.5, 1.0]), 1e3)
    assert (ms["min"], ms["max"]) == (500.0, 1000.0)


def _stat(value):
    return {"median": value, "min": value, "max": value, "n": 1}


def test_targets_are_judged_from_the_figures():
    def figures(fit_ms, bare_ms, keras_ms, default_ms, epoch_s, share):
        return {
            "fit": [
                {
                    "preset": "seed",
                    "batch_size": 64,
                    "ms_per_step": _stat(fit_ms),
                    "epoch_s": _stat(epoch_s),
                    "callbacks_share": _stat(share),
                    "steps_per_epoch": 937,
                }
            ],
            "bare": [
                {
                    "preset": "seed",
                    "batch_size": 64,
                    "variants": [{"ms_per_step": _stat(bare_ms)}, {"ms_per_step": _stat(9.0)}],
                }
            ],
            "sweep": [
                {
                    "preset": "seed",
                    "batch_size": 64,
                    "variants": [
                        {"label": "Keras defaults: ...", "ms_per_step": _stat(keras_ms)},
                        {
                            "label": "defaults: XLA, 200 steps/call",
                            "ms_per_step": _stat(default_ms),
                        },
                    ],
                }
            ],
        }

    met = check_targets(figures(1.0, 0.96, 2.0, 1.0, 1.2, 0.02))
    assert [t["met"] for t in met] == [True, True, True, True]
    assert met[0]["value"] == pytest.approx(0.96) and met[1]["value"] == pytest.approx(2.0)
    missed = check_targets(figures(1.0, 0.9, 1.5, 1.0, 1.6, 0.06))
    assert [t["met"] for t in missed] == [False, False, False, False]
    text = report(
        {
            "environment": {
                "tensorflow": "x",
                "keras": "y",
                "cpu_count": 2,
                "processor": "cpu",
                "gpu": False,
                "load_average_start": (1.0, 1.0, 1.0),
            },
            "fit": [],
            "bare": [],
            "sweep": [],
            "pipeline": [],
            "generate": [],
            "memory": [],
            "targets": missed,
        }
    )
    assert text.count("MISSED") == 4


def test_default_presets_prefer_best(tmp_path):
    (tmp_path / "seed.cfg").write_text("--epochs=1\n")
    assert default_presets(str(tmp_path)) == ["seed", "dcgan"]
    (tmp_path / "best.cfg").write_text("--epochs=1\n")
    assert default_presets(str(tmp_path)) == ["seed", "best"]
    assert preset_path("best", str(tmp_path)).endswith("best.cfg")


def test_readme_fit_target_is_judged_on_full_epochs_only():
    def figures(ratio, steps):
        return {
            "fit": [],
            "bare": [],
            "sweep": [],
            "readme": [
                {
                    "preset": "seed",
                    "batch_size": 64,
                    "steps_per_epoch": steps,
                    "cli_jit_compile": True,
                    "cli_batches_per_element": 200,
                    "cli_epoch_s": _stat(1.0),
                    "variants": [
                        {
                            "label": "README example (defaults)",
                            "jit_compile": True,
                            "batches_per_element": 200,
                            "epoch_s": _stat(ratio),
                            "ratio": _stat(ratio),
                        },
                        {
                            "label": "README example, float unstacked data, no XLA",
                            "jit_compile": False,
                            "batches_per_element": 1,
                            "epoch_s": _stat(5.0),
                            "ratio": _stat(5.0),
                        },
                    ],
                }
            ],
        }

    (met,) = check_targets(figures(1.2, 937))
    assert met["target"] == "README fit example vs CLI epoch time"
    assert met["met"] and met["value"] == pytest.approx(1.2) and met["bound"] == 1.3
    (missed,) = check_targets(figures(1.4, 937))
    assert not missed["met"]
    assert check_targets(figures(1.4, 8)) == []  # A few steps per epoch: not judged.
    text = report(
        {
            "environment": {
                "tensorflow": "x",
                "keras": "y",
                "cpu_count": 2,
                "processor": "cpu",
                "gpu": False,
                "load_average_start": (1.0, 1.0, 1.0),
            },
            **figures(1.4, 937),
            "pipeline": [],
            "generate": [],
            "memory": [],
            "targets": [missed],
        }
    )
    assert "README fit example vs the command line" in text
    assert "README example, float unstacked data, no XLA" in text and "5.00" in text
    assert "MISSED" in text
