"""Loading a trained model the ways users do: in a new process, and through `--model`.

Every tool's `--model` takes a run folder, its export or a `.keras` file
through one loader (`keras_cgan.loading`); all three draw the same images.
"""

import os

import numpy as np
import pytest

from helpers import one_error_line, run_cli, run_python, tiny_train_config
from keras_cgan import loading, samplers, train
from keras_cgan.errors import ModelError


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    config = tiny_train_config(tmp_path_factory.mktemp("run") / "a", epochs=1, ema_decay=0.9)
    train.train(config)
    return config.workdir


@pytest.mark.slow
@pytest.mark.parametrize(
    "imports", ["import keras, keras_cgan", "import keras_cgan, keras", "import keras_cgan"]
)
def test_load_model_in_a_new_process_right_after_import_keras_cgan(finished_run, imports):
    code = (
        f"{imports}\n"
        "import keras\n"
        "gan = keras.models.load_model('model.keras')\n"
        "print(type(gan).__name__, gan.generate([3, 7]).shape)\n"
    )
    result = run_python(code, cwd=finished_run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["ConditionalGAN", "(2,", "28,", "28,", "1)"]


def test_import_keras_cgan_stays_light(tmp_path):
    result = run_python("import sys, keras_cgan; print('tensorflow' in sys.modules)", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "False"


def test_run_folder_export_and_keras_file_draw_the_same_images(finished_run):
    labels = np.repeat(np.arange(10), 2)
    sources = {
        "run": finished_run,
        "export": os.path.join(finished_run, "export"),
        "keras": os.path.join(finished_run, "model.keras"),
    }
    images = {}
    for kind, path in sources.items():
        assert loading.check_model_path(path)[0] == kind
        generator = loading.load_generator(path)
        assert (generator.latent_dim, generator.num_classes) == (8, 10)
        images[kind] = generator.generate(labels, seed=5)
    assert images["run"].shape == (20, 28, 28, 1)
    np.testing.assert_allclose(images["run"], images["export"], atol=1e-5)
    np.testing.assert_allclose(images["run"], images["keras"], atol=1e-5)
    assert not np.allclose(
        images["run"], loading.load_generator(finished_run).generate(labels, seed=6)
    )
    one_hot = np.eye(10, dtype=np.float32)[labels]
    noise = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    np.testing.assert_allclose(
        loading.load_generator(finished_run).generate_soft(one_hot, noise),
        loading.load_generator(sources["export"]).generate_soft(one_hot, noise),
        atol=1e-5,
    )


def test_the_evaluator_takes_a_run_folder(finished_run):
    labels = np.arange(10)
    np.testing.assert_allclose(
        samplers.as_sampler(finished_run)(labels, 3),
        samplers.as_sampler(os.path.join(finished_run, "export"))(labels, 3),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: str(d / "missing"), "model not found"),
        (lambda d: (d / "notes.txt").write_text("x") and str(d / "notes.txt"), "is a file, not"),
        (lambda d: (d / "broken.keras").write_text("x") and str(d / "broken.keras"), "cannot load"),
    ],
)
def test_bad_model_paths_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(ModelError, match=message) as info:
        loading.load_generator(make(tmp_path))
    assert "\n" not in str(info.value)


def test_an_export_cannot_be_re_exported(finished_run):
    with pytest.raises(ModelError, match="is an export .*pass its run folder"):
        loading.load_gan(os.path.join(finished_run, "export"))


@pytest.mark.slow
def test_generate_takes_a_run_folder_and_a_keras_file(finished_run, tmp_path):
    arrays = []
    for path in (finished_run, os.path.join(finished_run, "model.keras")):
        out = tmp_path / f"{len(arrays)}.npz"
        result = run_cli("generate", f"--model={path}", "--digits=38", "--seed=2", f"--npz={out}")
        assert result.returncode == 0, result.stderr[-3000:]
        arrays.append(np.load(out)["images"])
    np.testing.assert_allclose(arrays[0], arrays[1], atol=1e-5)
    result = run_cli("generate", f"--model={tmp_path}", f"--npz={tmp_path / 'x.npz'}")
    assert result.returncode == 2
    assert "is not a keras_cgan export" in one_error_line(result)
