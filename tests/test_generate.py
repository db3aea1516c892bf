"""The generate tool: grids, npz, interpolation, latent walks and bad input."""

import os

import numpy as np
import pytest
from PIL import Image

from helpers import make_tiny_gan, one_error_line, run_cli
from keras_cgan import export, sampling
from keras_cgan.config import TrainConfig


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return export.export_generator(make_tiny_gan(), str(tmp_path_factory.mktemp("e") / "export"))


def _png_shape(path):
    with Image.open(path) as image:
        return image.size[::-1]  # (height, width)


@pytest.mark.slow
def test_grid_and_npz(export_dir, tmp_path):
    out, npz = tmp_path / "grid.png", tmp_path / "s.npz"
    args = (f"--model={export_dir}", "--digits=372", "--per_digit=4", "--seed=1")
    result = run_cli("generate", *args, f"--out={out}", f"--npz={npz}")
    assert result.returncode == 0, result.stderr[-2000:]
    # 3 rows x 4 columns of 28+2 px tiles, a 28 px label column, 2x scale.
    assert _png_shape(out) == (2 * (3 * 30 + 2), 2 * (28 + 4 * 30 + 2))
    with np.load(npz) as f:
        images, labels = f["images"], f["labels"]
    assert images.shape == (12, 28, 28) and images.dtype == np.float32
    assert labels.tolist() == [3] * 4 + [7] * 4 + [2] * 4
    assert 0.0 <= images.min() and images.max() <= 1.0
    # Same seed, same samples: they are the export's `generate` on seeded noise.
    again = tmp_path / "again.npz"
    assert run_cli("generate", *args, f"--npz={again}").returncode == 0
    np.testing.assert_array_equal(np.load(again)["images"], images)
    noise = np.random.default_rng(1).standard_normal((12, 8), dtype=np.float32)
    expected = export.ExportedGenerator(export_dir).generate(labels, noise=noise)
    np.testing.assert_allclose(images, expected[..., 0], atol=1e-6)


@pytest.mark.slow
def test_interpolation_and_latent_walk(export_dir, tmp_path):
    strip = tmp_path / "morph.png"
    result = run_cli(
        "generate",
        f"--model={export_dir}",
        "--interpolate=3,8",
        "--steps=6",
        "--per_digit=2",
        f"--out={strip}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _png_shape(strip) == (2 * (2 * 30 + 2), 2 * (6 * 30 + 2))
    walk = tmp_path / "walk.png"
    result = run_cli(
        "generate",
        f"--model={export_dir}",
        "--latent_walk",
        "--digits=27",
        "--steps=5",
        f"--out={walk}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _png_shape(walk) == (2 * (2 * 30 + 2), 2 * (28 + 5 * 30 + 2))


def test_interpolation_strip_ends_are_the_two_classes(export_dir):
    generator = export.ExportedGenerator(export_dir)
    strip = sampling.interpolation_strip(generator, (3, 8), steps=5, rows=2, seed=0)
    noise = np.random.default_rng(0).standard_normal((2, 8), dtype=np.float32)
    ends = generator.generate([3, 8, 3, 8], noise=np.repeat(noise, 2, axis=0))
    np.testing.assert_allclose(strip[[0, 4, 5, 9]], ends, atol=1e-6)
    assert np.abs(strip[1] - strip[0]).max() > 0  # It moves.


def test_slerp_keeps_the_end_points():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    path = sampling.slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)


@pytest.mark.parametrize(
    "text, message",
    [("a", "'a' is not a digit"), ("", "is empty"), ("3x", "'x' is not a digit")],
)
def test_parse_digits_rejects(text, message):
    with pytest.raises(sampling.GenerateError, match=message):
        sampling.parse_digits(text)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--digits=a"], "--digits='a': 'a' is not a digit in 0..9"),
        (["--interpolate=3,12"], "'12' is not a single digit"),
        (["--interpolate=3"], "give two digits separated by a comma"),
        (["--per_digit=-2"], "flag --per_digit=-2"),
        (["--steps=1", "--latent_walk"], "flag --steps=1"),
        (["--per_digit=two"], "flag --per_digit=two"),
        (["MODEL=missing"], "--model={tmp}/missing"),
        (["MODEL=notexport"], "is not a keras_cgan export"),
        (["--out=grid.jpg"], "must end in .png"),
        (["--npz=x.npz", "--interpolate=1,2"], "use it without --interpolate"),
        (["NO_OUTPUT"], "nothing to write"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    export_dir, no_tensorflow_env, tmp_path, args, message
):
    # Every mistake here is caught before TensorFlow loads (it cannot: see
    # no_tensorflow_env); an export's metadata names its classes and shape.
    model = export_dir
    out = [f"--out={tmp_path / 'grid.png'}"]
    if args[0] == "MODEL=missing":
        model, args = str(tmp_path / "missing"), []
        message = f"model not found: {model}"
    elif args[0] == "MODEL=notexport":
        (tmp_path / "plain").mkdir()
        model, args = str(tmp_path / "plain"), []
    elif args[0] == "NO_OUTPUT":
        args, out = [], []
    elif any(a.startswith("--out=") for a in args):
        args, out = [args[0].replace("--out=", f"--out={tmp_path}/")], []
    elif any(a.startswith("--npz=") for a in args):
        args = [args[0].replace("--npz=", f"--npz={tmp_path}/"), *args[1:]]
    before = set(os.listdir(tmp_path))
    result = run_cli("generate", f"--model={model}", *out, *args, env_extra=no_tensorflow_env)
    assert result.returncode == 2
    assert message.format(tmp=tmp_path) in one_error_line(result)
    assert set(os.listdir(tmp_path)) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--classes=cat,fox"], "'fox'"),
        (["--per_class=100000"], "--per_class or --classes"),
    ],
)
def test_a_run_folder_refuses_a_bad_request_before_tensorflow_loads(
    no_tensorflow_env, tmp_path, args, message
):
    # A run without an export samples from its checkpoint; its config.json
    # names the classes and image shape, so the request is checked first.
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = TrainConfig(workdir=str(run), class_names=("cat", "dog"), image_shape=(32, 32, 3))
    config.save_json(str(run / "config.json"))
    out = tmp_path / "grid.png"
    result = run_cli(
        "generate", f"--model={run}", f"--out={out}", *args, env_extra=no_tensorflow_env
    )
    assert result.returncode == 2
    assert message in one_error_line(result)
    assert not out.exists()
