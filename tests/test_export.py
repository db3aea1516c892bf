"""SavedModel export: served without keras_cgan, deterministic, validated."""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from helpers import fake_batch, make_tiny_gan, one_error_line, run_cli
from keras_cgan import export

# Runs in a fresh interpreter that never imports keras_cgan.
SERVE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    export_dir, out = sys.argv[1], sys.argv[2]
    loaded = tf.saved_model.load(export_dir)
    result = {"signatures": sorted(loaded.signatures.keys())}
    noise = np.load(out + ".noise.npy")
    labels = np.arange(len(noise), dtype=np.int32) % 10
    gen = loaded.signatures["generate"]
    images = gen(noise=tf.constant(noise), labels=tf.constant(labels))["images"]
    np.save(out + ".generate.npy", images.numpy())
    serve = loaded.signatures["serving_default"]
    a = serve(labels=tf.constant([3, 3, 7], tf.int32))["images"].numpy()
    b = serve(labels=tf.constant([3, 3, 7], tf.int32))["images"].numpy()
    one = serve(labels=tf.constant([5], tf.int32))["images"].numpy()
    np.save(out + ".serve.npy", a)
    result["serve_shape"] = list(a.shape)
    result["serve_dtype"] = str(a.dtype)
    result["serve_range"] = [float(a.min()), float(a.max())]
    result["serve_calls_differ"] = bool(np.abs(a - b).max() > 1e-4)
    result["one_shape"] = list(one.shape)
    errors = {}
    for name, call in {
        "label_10": lambda: serve(labels=tf.constant([1, 10], tf.int32)),
        "label_-1": lambda: gen(noise=tf.constant(noise[:2]), labels=tf.constant([-1, 2], tf.int32)),
        "noise_width": lambda: gen(
            noise=tf.zeros([2, noise.shape[1] + 3]), labels=tf.constant([1, 2], tf.int32)),
        "noise_rows": lambda: gen(noise=tf.constant(noise[:3]), labels=tf.constant([1, 2], tf.int32)),
    }.items():
        try:
            call()
            errors[name] = None
        except tf.errors.InvalidArgumentError as e:
            errors[name] = e.message
    result["errors"] = errors
    result["metadata"] = json.loads(loaded.metadata.numpy().decode())
    result["imported"] = sorted(m for m in sys.modules if m.startswith("keras_cgan"))
    with open(out + ".json", "w") as f:
        json.dump(result, f)
    """
)


def _serve_in_fresh_process(export_dir, tmp_path, name, noise):
    script = tmp_path / "serve.py"
    script.write_text(SERVE_SCRIPT)
    out = str(tmp_path / name)
    np.save(out + ".noise.npy", noise)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(script), export_dir, out],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out + ".json") as f:
        info = json.load(f)
    return info, np.load(out + ".generate.npy"), np.load(out + ".serve.npy")


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_export_round_trip_in_a_process_without_keras_cgan(arch, tmp_path):
    gan = make_tiny_gan(arch)
    images, one_hot, noise = fake_batch()
    gan.train_on_batch({"images": images, "labels": one_hot, "noise": noise})
    export_dir = export.export_generator(gan, str(tmp_path / "export"))

    probe = np.random.default_rng(0).standard_normal((12, 8)).astype(np.float32)
    expected = gan.generate(np.arange(12) % 10, noise=probe)
    info, generated, served_a = _serve_in_fresh_process(export_dir, tmp_path, "a", probe)
    _, _, served_b = _serve_in_fresh_process(export_dir, tmp_path, "b", probe)

    assert info["imported"] == []
    assert info["signatures"] == ["generate", "generate_soft", "serving_default"]
    np.testing.assert_allclose(generated, expected, atol=1e-5)
    assert info["serve_shape"] == [3, 28, 28, 1] and info["serve_dtype"] == "float32"
    assert 0.0 <= info["serve_range"][0] and info["serve_range"][1] <= 1.0
    assert info["one_shape"] == [1, 28, 28, 1]
    assert info["serve_calls_differ"]
    assert np.abs(served_a - served_b).max() > 1e-4, "two fresh loads drew the same noise"
    errors = info["errors"]
    assert "labels must be integers in 0..9" in errors["label_10"]
    assert "labels must be integers in 0..9" in errors["label_-1"]
    assert "noise must have shape [N, 8]" in errors["noise_width"]
    assert "same number of rows" in errors["noise_rows"]
    meta = info["metadata"]
    assert (meta["latent_dim"], meta["num_classes"], meta["image_shape"]) == (8, 10, [28, 28, 1])
    assert meta["value_range"] == [0.0, 1.0]
    with open(os.path.join(export_dir, "assets", "keras_cgan.json")) as f:
        assert json.load(f) == meta


@pytest.mark.slow
def test_saved_model_cli_shows_the_signatures(tmp_path):
    export_dir = export.export_generator(make_tiny_gan(), str(tmp_path / "export"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "show", "--dir", export_dir, "--all"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['generate']", "images"):
        assert text in result.stdout, text
    # Each input's declared shape, as the tool prints it: the widths are there.
    shapes = re.findall(
        r"inputs\['(\w+)'\] tensor_info:\s+dtype: \w+\s+shape: (\([^)]*\))", result.stdout
    )
    assert sorted(set(shapes)) == [
        ("labels", "(-1)"),
        ("noise", "(-1, 8)"),
        ("one_hot", "(-1, 10)"),
    ]


def test_signatures_declare_widths_and_reject_a_wrong_width(tmp_path):
    gan = make_tiny_gan(latent_dim=6)
    export_dir = export.export_generator(gan, str(tmp_path / "export"))
    loaded = tf.saved_model.load(export_dir)
    declared = {
        name: {
            key: (spec.shape.as_list(), spec.dtype)
            for key, spec in loaded.signatures[name].structured_input_signature[1].items()
        }
        for name in ("serving_default", "generate", "generate_soft")
    }
    assert declared == {
        "serving_default": {"labels": ([None], tf.int32)},
        "generate": {"noise": ([None, 6], tf.float32), "labels": ([None], tf.int32)},
        "generate_soft": {"noise": ([None, 6], tf.float32), "one_hot": ([None, 10], tf.float32)},
    }
    # A loaded signature does not enforce its declared shapes; the export's check does.
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"noise must have shape \[N, 6\]"):
        loaded.signatures["generate"](noise=tf.zeros([2, 9]), labels=tf.constant([1, 2]))
    generator = export.ExportedGenerator(export_dir)
    with pytest.raises(export.ExportError) as info:
        generator.generate([1, 2], noise=np.zeros((2, 9), np.float32))
    assert str(info.value) == (
        "the export's 'generate' signature failed: noise must have shape [N, 6] (latent_dim is 6)"
    )


def test_soft_labels_match_hard_labels_at_the_corners(tmp_path):
    gan = make_tiny_gan()
    generator = export.ExportedGenerator(export.export_generator(gan, str(tmp_path / "e")))
    noise = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    labels = np.array([0, 3, 7, 9])
    hard = generator.generate(labels, noise=noise)
    soft = generator.generate_soft(np.eye(10, dtype=np.float32)[labels], noise)
    np.testing.assert_allclose(hard, soft, atol=1e-6)
    np.testing.assert_allclose(hard, gan.generate(labels, noise=noise), atol=1e-5)
    with pytest.raises(export.ExportError, match=r"one_hot must have shape \[N, 10\]") as info:
        generator.generate_soft(np.ones((4, 3), np.float32), noise)
    assert "\n" not in str(info.value)
    with pytest.raises(export.ExportError, match=r"labels must be integers in 0..9"):
        generator.generate([3, 12], seed=0)


def test_a_failed_export_keeps_the_previous_one(tmp_path, monkeypatch):
    gan = make_tiny_gan()
    target = str(tmp_path / "export")
    export.export_generator(gan, target)
    before = sorted(os.listdir(target))
    saved_pb = open(os.path.join(target, "saved_model.pb"), "rb").read()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export.export_generator(gan, target)
    assert sorted(os.listdir(target)) == before
    assert open(os.path.join(target, "saved_model.pb"), "rb").read() == saved_pb
    assert [p for p in os.listdir(tmp_path) if p.startswith(".export-tmp")] == []
    export.read_metadata(target)


def test_read_metadata_rejects_non_exports(tmp_path):
    with pytest.raises(export.ExportError, match="export folder not found"):
        export.read_metadata(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(export.ExportError, match="is not a keras_cgan export"):
        export.read_metadata(str(tmp_path / "empty"))


@pytest.mark.slow
def test_export_cli_from_a_keras_file_and_a_run(tmp_path, tiny_config, no_tensorflow_env):
    from keras_cgan import train

    gan = train.train(tiny_config.replace(epochs=1))
    keras_file = os.path.join(tiny_config.workdir, "model.keras")
    out = tmp_path / "from_keras"
    result = run_cli("export", f"--model={keras_file}", f"--out={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    probe = np.random.default_rng(2).standard_normal((10, 8)).astype(np.float32)
    expected = gan.generate(range(10), noise=probe)
    np.testing.assert_allclose(
        export.ExportedGenerator(str(out)).generate(range(10), noise=probe), expected, atol=1e-5
    )
    result = run_cli("export", f"--model={tiny_config.workdir}", f"--out={tmp_path / 'from_run'}")
    assert result.returncode == 0, result.stderr[-2000:]
    from_run = export.ExportedGenerator(str(tmp_path / "from_run"))
    np.testing.assert_allclose(from_run.generate(range(10), noise=probe), expected, atol=1e-5)
    assert from_run.metadata["training_config"]["hidden_units"] == tiny_config.hidden_units

    for args, message in [
        ([f"--model={tmp_path / 'nothing'}"], "no run folder or .keras file"),
        ([f"--model={tmp_path}"], "holds neither checkpoints/latest nor model.keras"),
        ([], "--model is required"),
    ]:  # Refused before TensorFlow loads (see no_tensorflow_env).
        result = run_cli("export", *args, env_extra=no_tensorflow_env)
        assert result.returncode == 2 and message in one_error_line(result)
