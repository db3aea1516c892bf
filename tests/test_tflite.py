"""TFLite export: equal to the SavedModel, any batch size, inputs checked."""

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf

from conftest import make_tiny_gan, one_error_line, run_cli
from keras_cgan import export, tflite
from keras_cgan.export import ExportError
from keras_cgan.tflite import ConversionError


@pytest.fixture(scope="module")
def dcgan_export(tmp_path_factory):
    gan = make_tiny_gan(arch="dcgan", latent_dim=6, hidden_units=4, seed=3)
    return export.export_generator(gan, str(tmp_path_factory.mktemp("dcgan") / "export"))


def _plain_interpreter(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(model_path=path)


def _saved_model_images(loaded, noise, labels):
    gen = loaded.signatures["generate"]
    return gen(noise=tf.constant(noise), labels=tf.constant(labels))["images"].numpy()


@pytest.mark.parametrize("which", ["mlp", "dcgan"])
def test_tflite_matches_the_saved_model_at_any_batch_size(
    which, served_export, dcgan_export, tmp_path
):
    directory = served_export if which == "mlp" else dcgan_export
    path = export.export_file(directory, str(tmp_path / "g.tflite"), "tflite")
    loaded, metadata = export.load_export(directory)
    width = metadata["latent_dim"]
    interpreter = _plain_interpreter(path)
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    noise_in = next(d for name, d in inputs.items() if "noise" in name)
    labels_in = next(d for name, d in inputs.items() if "labels" in name)
    assert list(noise_in["shape_signature"]) == [-1, width]
    runner = tflite.TFLiteGenerator(path)
    for n in (1, 7, 64):
        rng = np.random.default_rng(n)
        noise = rng.standard_normal((n, width), dtype=np.float32)
        labels = rng.integers(0, 10, n).astype(np.int32)
        expected = _saved_model_images(loaded, noise, labels)
        # The plain interpreter, as a user without keras_cgan would run it.
        interpreter.resize_tensor_input(noise_in["index"], [n, width])
        interpreter.resize_tensor_input(labels_in["index"], [n])
        interpreter.allocate_tensors()
        interpreter.set_tensor(noise_in["index"], noise)
        interpreter.set_tensor(labels_in["index"], labels)
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert out.shape == (n, 28, 28, 1)
        np.testing.assert_allclose(out, expected, atol=1e-5)
        np.testing.assert_allclose(runner.generate(labels, noise=noise), expected, atol=1e-5)
    # Seeded noise: the same draws as ExportedGenerator.generate.
    np.testing.assert_allclose(
        runner.generate([3, 1, 4], seed=8),
        export.ExportedGenerator(directory).generate([3, 1, 4], seed=8),
        atol=1e-5,
    )
    assert runner.generate(np.zeros(0, np.int32)).shape == (0, 28, 28, 1)


def test_metadata_travels_in_the_file(served_export, tmp_path):
    path = export.export_file(served_export, str(tmp_path / "g.tflite"), "tflite")
    with open(path, "rb") as f:
        meta = tflite.read_tflite_metadata(f.read())
    assert meta == dict(export.read_metadata(served_export), tflite_signature="generate")
    assert tflite.TFLiteGenerator(path).num_classes == 10


@pytest.mark.parametrize(
    "labels,noise,needle",
    [
        ([1, 10], np.zeros((2, 8)), "label 10 is out of range"),
        ([-1, 2], np.zeros((2, 8)), "label -1 is out of range"),
        ([1, 2], np.zeros((2, 5)), "noise must have shape [N, 8]"),
        ([1, 2], np.zeros((3, 8)), "noise must have shape [N, 8]"),
        ([1.5, 2.0], np.zeros((2, 8)), "labels must be integers"),
        ([[1, 2]], np.zeros((2, 8)), "labels must be integers of shape [N]"),
        ([1, 2], np.full((2, 8), np.nan), "noise must be finite"),
    ],
)
def test_runner_rejects_bad_input_in_one_line(
    served_export, tmp_path_factory, labels, noise, needle
):
    path = str(tmp_path_factory.getbasetemp() / "checked.tflite")
    import os

    if not os.path.exists(path):
        export.export_file(served_export, path, "tflite")
    with pytest.raises(ConversionError) as info:
        tflite.TFLiteGenerator(path).generate(labels, noise=noise)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_foreign_or_missing_files_are_one_line_errors(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def double(x):
        return {"y": 2.0 * x}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([double.get_concrete_function()])
    foreign = tmp_path / "foreign.tflite"
    foreign.write_bytes(converter.convert())
    for path, needle in (
        (foreign, "no keras_cgan metadata"),
        (tmp_path / "none.tflite", "cannot read"),
    ):
        with pytest.raises(ConversionError) as info:
            tflite.TFLiteGenerator(str(path))
        assert needle in str(info.value)
    with pytest.raises(ExportError, match="must end in .tflite"):
        export.export_file(str(tmp_path), str(tmp_path / "g.bin"), "tflite")


@pytest.mark.slow
def test_cli_writes_tflite_from_a_keras_file_and_rejects_bad_out(tmp_path):
    gan = make_tiny_gan(latent_dim=8, hidden_units=8, seed=5)
    keras_file = str(tmp_path / "m.keras")
    gan.save(keras_file)
    out = str(tmp_path / "g.tflite")
    result = run_cli("export", f"--model={keras_file}", "--format=tflite", f"--out={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    labels = np.arange(10) % 10
    expected = np.asarray(
        gan.generator(
            [
                np.random.default_rng(1).standard_normal((10, 8), dtype=np.float32),
                np.eye(10)[labels],
            ]
        )
    )
    np.testing.assert_allclose(
        tflite.TFLiteGenerator(out).generate(labels, seed=1), expected, atol=1e-5
    )
    bad = run_cli(
        "export", f"--model={keras_file}", "--format=tflite", f"--out={tmp_path / 'g.txt'}"
    )
    assert bad.returncode == 2 and "must end in .tflite" in one_error_line(bad)


@pytest.mark.parametrize("which", ["mlp", "dcgan"])
def test_onnx_matches_the_saved_model_at_any_batch_size(
    which, served_export, dcgan_export, tmp_path
):
    import onnx
    import onnxruntime

    directory = served_export if which == "mlp" else dcgan_export
    path = export.export_file(directory, str(tmp_path / "g.onnx"), "onnx")
    loaded, metadata = export.load_export(directory)
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(props["keras_cgan"]) == metadata
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = sorted(i.name for i in session.get_inputs())
    assert names == ["labels", "noise"]
    for n in (1, 7, 64):
        rng = np.random.default_rng(n)
        noise = rng.standard_normal((n, metadata["latent_dim"]), dtype=np.float32)
        labels = rng.integers(0, 10, n).astype(np.int32)
        out = session.run(None, {"noise": noise, "labels": labels})[0]
        np.testing.assert_allclose(out, _saved_model_images(loaded, noise, labels), atol=1e-5)
    with pytest.raises(ExportError, match="must end in .onnx"):
        export.export_file(directory, str(tmp_path / "g.tflite"), "onnx")
