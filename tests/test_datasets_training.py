"""Training on other datasets end to end: tensorflow-datasets (mocked), folders, errors.

tensorflow-datasets cannot download here: `tfds.testing.mock_data` gives each
dataset random examples of its real features (shape, class count, names), and
`tests/mock_tfds_run.py` runs the command line tools under it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO_ROOT, one_error_line, run_cli

MOCK_RUN = os.path.join(REPO_ROOT, "tests", "mock_tfds_run.py")
TINY = (
    "--hidden_units=8",
    "--latent_dim=8",
    "--batch_size=16",
    "--seed=3",
    "--verbose=0",
    "--nojit_compile",
)


def _mock_cli(num_examples, module, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, MOCK_RUN, str(num_examples), module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _check_export(export_dir, shape, num_classes, latent_dim=8):
    import tensorflow as tf

    from keras_cgan.export import ExportedGenerator

    gen = ExportedGenerator(export_dir)
    assert tuple(gen.metadata["image_shape"]) == shape and gen.num_classes == num_classes
    assert len(gen.class_names) == num_classes
    images = gen.generate(np.arange(3) % num_classes, seed=0)
    assert images.shape == (3, *shape) and images.dtype == np.float32
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures["generate_soft"](
        noise=tf.zeros([2, latent_dim]), one_hot=tf.one_hot([0, num_classes - 1], num_classes)
    )["images"]
    assert tuple(out.shape) == (2, *shape)
    spec = loaded.signatures["serving_default"].structured_outputs["images"]
    assert tuple(spec.shape) == (None, *shape)
    described = gen.metadata["signatures"]["generate"]["outputs"]["images"]
    assert described == "float32 [N, " + ", ".join(map(str, shape)) + "]"
    return gen


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, arch, shape, num_classes, first_class",
    [
        ("fashion_mnist", "dcgan", (28, 28, 1), 10, "T-shirt/top"),
        ("cifar10", "dcgan_proj", (32, 32, 3), 10, "airplane"),
        ("emnist/balanced", "mlp", (28, 28, 1), 47, "0"),
    ],
)
def test_a_tfds_dataset_trains_resumes_and_exports_through_the_cli(
    tmp_path, name, arch, shape, num_classes, first_class
):
    from PIL import Image

    workdir = str(tmp_path / "run")
    args = (f"--dataset={name}", f"--arch={arch}", f"--workdir={workdir}", *TINY)
    first = _mock_cli(64, "main", *args, "--epochs=1")
    assert first.returncode == 0, first.stderr[-3000:]
    config = json.load(open(os.path.join(workdir, "config.json")))
    assert config["dataset"] == name and tuple(config["image_shape"]) == shape
    assert config["num_classes"] == num_classes and config["class_names"][0] == first_class
    state = json.load(open(os.path.join(workdir, "checkpoints", "latest", "state.json")))
    assert state["config"]["class_names"] == config["class_names"]
    grid = Image.open(os.path.join(workdir, "samples", "epoch_0001.png"))
    assert grid.mode == ("RGB" if shape[-1] == 3 else "L")
    assert grid.size[1] >= num_classes * shape[0]  # One row per class.

    again = _mock_cli(64, "main", *args, "--epochs=2")
    assert again.returncode == 0, again.stderr[-3000:]
    rows = open(os.path.join(workdir, "metrics.csv")).read().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]  # Resumed after epoch 1.
    gen = _check_export(os.path.join(workdir, "export"), shape, num_classes)
    assert gen.metadata["dataset"] == name and gen.class_names[0] == first_class


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, shape, num_classes",
    [
        ("fashion_mnist", (28, 28, 1), 10),
        ("cifar10", (32, 32, 3), 10),
        ("emnist/balanced", (28, 28, 1), 47),
    ],
)
def test_the_reference_classifier_is_built_per_dataset(tmp_path, name, shape, num_classes):
    import tensorflow_datasets as tfds

    from keras_cgan import classifier, datasets, evaluation, samplers

    recipe = classifier.ClassifierRecipe(epochs=1, batch_size=16, filters=(4, 8), feature_units=16)
    source = datasets.DataSource(dataset=name)
    with tfds.testing.mock_data(num_examples=20 * num_classes):
        ref = classifier.load_or_train(str(tmp_path), source=source, recipe=recipe)
        assert ref.model.input_shape == (None, *shape)
        assert ref.model.output_shape == (None, num_classes)
        assert ref.info["dataset"] == name and ref.info["image_shape"] == list(shape)
        mnist_key = classifier.cache_key(recipe, ref.info["data_sha256"], "mnist")
        assert os.path.basename(ref.path) != mnist_key  # The dataset is part of the key.
        evaluator = evaluation.Evaluator(ref, source=source)
    assert evaluator.image_shape == shape and evaluator.num_classes == num_classes
    result = evaluator.evaluate(samplers.noise_sampler(shape, num_classes), 10 * num_classes)
    assert len(result.accuracy_per_class) == num_classes and 0 <= result.accuracy <= 1
    with pytest.raises(Exception, match="returned images of shape"):
        evaluator.evaluate(samplers.noise_sampler((8, 8, 1), num_classes), 10 * num_classes)


def _write_mnist_folder_and_idx(images, labels, folder, idx_dir):
    """The same examples as a class-folder tree of PNGs and as MNIST IDX train files."""
    import gzip

    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        os.makedirs(os.path.join(folder, str(label)), exist_ok=True)
        Image.fromarray(image[..., 0], mode="L").save(
            os.path.join(folder, str(label), f"{i:05d}.png")
        )
    os.makedirs(idx_dir)
    n = len(labels)
    header = np.array([2051, n, 28, 28], ">i4").tobytes()
    with gzip.open(os.path.join(idx_dir, "train-images-idx3-ubyte.gz"), "wb") as f:
        f.write(header + images.tobytes())
    with gzip.open(os.path.join(idx_dir, "train-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(np.array([2049, n], ">i4").tobytes() + labels.astype(np.uint8).tobytes())
    for stem in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        os.symlink(
            os.path.join(idx_dir, stem.replace("t10k", "train")), os.path.join(idx_dir, stem)
        )


@pytest.mark.slow
def test_a_folder_of_mnist_pngs_trains_exactly_like_the_idx_files(real_mnist_dir, tmp_path):
    from keras_cgan import data, datasets, train
    from keras_cgan.config import TrainConfig

    images, labels = data.load_mnist("test", mnist_dir=real_mnist_dir, num_examples=320)
    folder, idx_dir = str(tmp_path / "pngs"), str(tmp_path / "idx")
    _write_mnist_folder_and_idx(images, labels, folder, idx_dir)

    from_folder = datasets.DataSource(dataset=f"folder:{folder}", eval_holdout=0.0).load()
    np.testing.assert_array_equal(from_folder.images, images)  # Same examples, same order.
    np.testing.assert_array_equal(from_folder.labels, labels)
    assert from_folder.class_names == tuple("0123456789")

    common = dict(epochs=1, batch_size=32, latent_dim=8, hidden_units=16, seed=5, verbose=0)
    runs = {
        "idx": TrainConfig(mnist_dir=idx_dir, workdir=str(tmp_path / "a"), **common),
        "folder": TrainConfig(
            dataset=f"folder:{folder}", eval_holdout=0.0, workdir=str(tmp_path / "b"), **common
        ),
    }
    for config in runs.values():
        train.train(config)
    a, b = (
        np.load(os.path.join(c.workdir, "checkpoints", "latest", "state.npz"))
        for c in runs.values()
    )
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    csv_a, csv_b = (open(os.path.join(c.workdir, "metrics.csv")).read() for c in runs.values())
    assert csv_a == csv_b and len(csv_a.splitlines()) == 2


def _rgb_folder(root, size_of):
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
    for c, (name, rgb) in enumerate(colours.items()):
        os.makedirs(os.path.join(root, name))
        for i in range(16):
            side = size_of(c, i)
            noise = rng.integers(-20, 20, (side, side, 3))
            pixels = np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode="RGB").save(os.path.join(root, name, f"{i:02d}.png"))


@pytest.mark.slow
def test_a_small_rgb_folder_trains_exports_and_generates_by_class_name(tmp_path):
    from PIL import Image

    from keras_cgan import train
    from keras_cgan.config import TrainConfig

    root = str(tmp_path / "colours")
    _rgb_folder(root, lambda c, i: 40 if i % 2 else 36)  # Mixed sizes: --image_size=32.
    config = TrainConfig(
        dataset=f"folder:{root}",
        image_size=32,
        arch="dcgan",
        epochs=1,
        batch_size=8,
        latent_dim=8,
        hidden_units=8,
        seed=2,
        verbose=0,
        workdir=str(tmp_path / "run"),
    )
    gan = train.train(config)
    assert gan.generator.output_shape == (None, 32, 32, 3)
    export_dir = os.path.join(config.workdir, "export")
    gen = _check_export(export_dir, (32, 32, 3), 3)
    assert gen.class_names == ("blue", "green", "red")
    saved = json.load(open(os.path.join(config.workdir, "config.json")))
    assert saved["eval_holdout"] == 0.1 and saved["image_shape"] == [32, 32, 3]

    out, npz = str(tmp_path / "g.png"), str(tmp_path / "g.npz")
    args = [f"--model={export_dir}", "--classes=red,Blue", "--per_class=4", "--seed=1"]
    result = run_cli("generate", *args, f"--out={out}", f"--npz={npz}")
    assert result.returncode == 0, result.stderr[-3000:]
    grid = Image.open(out)
    assert grid.mode == "RGB" and grid.size[1] == (2 * (32 + 2) + 2) * 2  # 2 rows, scale 2.
    with np.load(npz) as f:
        assert f["images"].shape == (8, 32, 32, 3) and f["labels"].tolist() == [2] * 4 + [0] * 4
    bad = run_cli("generate", f"--model={export_dir}", "--classes=red,purple", f"--out={out}")
    assert bad.returncode == 2 and "'purple' is not a class name" in one_error_line(bad)


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, message",
    [
        (None, "unknown dataset 'no_such_dataset_xyz'"),
        (lambda root: os.makedirs(os.path.join(root, "empty")), "holds no images"),
    ],
    ids=["unknown-tfds-name", "empty-class-folder"],
)
def test_dataset_errors_stop_the_cli_with_one_line(tmp_path, make, message):
    if make is None:
        dataset = "no_such_dataset_xyz"
    else:
        root = str(tmp_path / "data")
        make(root)
        dataset = f"folder:{root}"
    result = run_cli("main", f"--dataset={dataset}", f"--workdir={tmp_path / 'run'}", "--epochs=1")
    assert result.returncode == 2
    assert message in one_error_line(result)
    assert not os.path.exists(tmp_path / "run" / "config.json")
