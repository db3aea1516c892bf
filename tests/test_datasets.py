"""Datasets as a choice: folder reading, held-out splits, shapes, class names, errors."""

import json
import os

import numpy as np
import pytest

from keras_cgan import datasets, folders
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError, DataError


def _png(path, array):
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "L" if array.ndim == 2 else "RGB"
    Image.fromarray(np.asarray(array, np.uint8), mode=mode).save(path)


def _grey_folder(root, labels, size=(6, 6), seed=0):
    """Writes one image per label as root/<label>/<index:03d>.png; returns the images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (len(labels), *size), dtype=np.uint8)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        _png(os.path.join(root, f"c{label}", f"{i:03d}.png"), image)
    return images


def test_a_folder_reads_back_as_the_array_it_was_written_from(tmp_path):
    labels = [2, 0, 1, 1, 0, 2, 2, 0]
    images = _grey_folder(str(tmp_path), labels)
    got, got_labels, names = folders.read_folder(str(tmp_path))
    assert names == ("c0", "c1", "c2")
    assert got.shape == (8, 6, 6, 1) and got.dtype == np.uint8
    np.testing.assert_array_equal(got[..., 0], images)
    np.testing.assert_array_equal(got_labels, labels)


def test_a_folder_with_any_colour_image_is_rgb_and_resizes_to_image_size(tmp_path):
    _png(str(tmp_path / "a" / "1.png"), np.full((10, 10), 200))
    _png(str(tmp_path / "b" / "2.jpg"), np.full((12, 8, 3), [255, 0, 0]))
    images, labels, names = folders.read_folder(str(tmp_path), image_size=8)
    assert images.shape == (2, 8, 8, 3) and names == ("a", "b")
    assert labels.tolist() == [0, 1]
    assert abs(int(images[0, 4, 4, 0]) - 200) <= 1  # Grey becomes R = G = B.
    assert images[1, 4, 4, 0] > 200 and images[1, 4, 4, 1] < 40


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda r: os.makedirs(r), "has no class subfolders"),
        (lambda r: os.makedirs(os.path.join(r, "empty")), "holds no images"),
        (
            lambda r: (
                _png(os.path.join(r, "a", "1.png"), np.zeros((4, 4)))
                or _png(os.path.join(r, "a", "2.png"), np.zeros((6, 6)))
            ),
            "have different sizes .*pass --image_size=N",
        ),
        (
            lambda r: (
                _png(os.path.join(r, "a", "1.png"), np.zeros((4, 4)))
                or open(os.path.join(r, "a", "notes.txt"), "w").close()
            ),
            "notes.txt is not an image",
        ),
        (
            lambda r: (
                os.makedirs(os.path.join(r, "a"))
                or open(os.path.join(r, "a", "broken.png"), "w").write("not a png")
            ),
            "cannot read image .*broken.png",
        ),
    ],
    ids=["no-classes", "empty-class", "mixed-sizes", "non-image", "corrupt"],
)
def test_folder_errors_are_one_line(tmp_path, setup, message):
    root = str(tmp_path / "data")
    setup(root)
    with pytest.raises(DataError, match=message) as info:
        datasets.load_dataset(datasets.DataSource(dataset=f"folder:{root}"))
    assert "\n" not in str(info.value)


def test_missing_folder_and_empty_names_are_errors(tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        datasets.load_dataset(datasets.DataSource(dataset=f"folder:{tmp_path}/nope"))
    with pytest.raises(DataError, match="needs a path"):
        datasets.load_dataset(datasets.DataSource(dataset="folder:"))


def test_hidden_files_are_skipped(tmp_path):
    _grey_folder(str(tmp_path), [0, 1])
    open(tmp_path / "c0" / ".DS_Store", "w").write("x")
    os.makedirs(tmp_path / ".git")
    images, _, names = folders.read_folder(str(tmp_path))
    assert len(images) == 2 and names == ("c0", "c1")


def test_holdout_is_a_fixed_part_of_each_class_in_order(tmp_path):
    labels = np.repeat([0, 1, 2], [20, 10, 3])
    images = np.arange(len(labels))
    train_x, train_y = datasets.holdout_split(images, labels, 3, 0.2, "train")
    test_x, test_y = datasets.holdout_split(images, labels, 3, 0.2, "test")
    assert sorted(np.concatenate([train_x, test_x]).tolist()) == images.tolist()
    assert np.all(np.diff(train_x) > 0) and np.all(np.diff(test_x) > 0)  # Order kept.
    assert np.bincount(test_y).tolist() == [4, 2, 1]
    again = datasets.holdout_split(images, labels, 3, 0.2, "test")
    np.testing.assert_array_equal(again[0], test_x)
    all_x, _ = datasets.holdout_split(images, labels, 3, 0.0, "test")
    assert len(all_x) == len(images)


def test_a_folder_source_trains_without_its_held_out_images(tmp_path):
    labels = [0, 1] * 10
    _grey_folder(str(tmp_path), labels)
    source = datasets.DataSource(dataset=f"folder:{tmp_path}", eval_holdout=0.2)
    train, test = source.load("train"), source.load("test")
    assert len(train) == 16 and len(test) == 4
    assert not {x.tobytes() for x in train.images} & {x.tobytes() for x in test.images}
    assert train.class_names == ("c0", "c1") and train.image_shape == (6, 6, 1)


def test_mnist_from_its_files_is_unchanged(small_mnist_dir):
    from keras_cgan import data

    dataset = datasets.DataSource(mnist_dir=small_mnist_dir).load("train", 50)
    images, labels = data.load_mnist("train", mnist_dir=small_mnist_dir, num_examples=50)
    np.testing.assert_array_equal(dataset.images, images)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.class_names == tuple("0123456789") and dataset.labels.dtype == labels.dtype


def test_data_dir_reads_fashion_mnist_files_in_the_mnist_format(small_mnist_dir, tmp_path):
    dataset = datasets.DataSource(dataset="fashion_mnist", data_dir=small_mnist_dir).load("test")
    assert dataset.class_names[7] == "Sneaker" and dataset.image_shape == (28, 28, 1)
    with pytest.raises(DataError, match="no kmnist files"):
        datasets.DataSource(dataset="kmnist", data_dir=str(tmp_path)).load()
    with pytest.raises(DataError, match="--data_dir reads local copies of"):
        datasets.DataSource(dataset="cifar10", data_dir=str(tmp_path)).load()


def test_image_size_resizes_any_source(small_mnist_dir):
    dataset = datasets.DataSource(mnist_dir=small_mnist_dir, image_size=32).load("test", 8)
    assert dataset.images.shape == (8, 32, 32, 1) and dataset.images.dtype == np.uint8


@pytest.mark.parametrize(
    "name, message",
    [
        ("no_such_dataset_xyz", "unknown dataset 'no_such_dataset_xyz'"),
        ("celeb_a", "has no class 'label' feature"),
    ],
)
def test_tfds_names_without_labelled_images_are_refused(name, message):
    with pytest.raises(DataError, match=message) as info:
        datasets.DataSource(dataset=name).load()
    assert "\n" not in str(info.value)


def test_configure_records_the_shape_and_names_and_survives_json(tmp_path):
    dataset = datasets.Dataset(
        np.zeros((4, 8, 8, 3), np.uint8), np.arange(4) % 2, tuple(f"k{i}" for i in range(47)), "x"
    )
    config = datasets.configure(TrainConfig(), dataset)
    assert config.image_shape == (8, 8, 3) and config.num_classes == 47
    assert config.eval_samples == 2021  # The default 2000, rounded up to split over 47 classes.
    path = str(tmp_path / "config.json")
    config.save_json(path)
    assert TrainConfig.load_json(path) == config
    assert json.load(open(path))["class_names"][46] == "k46"


def test_class_names_of_fall_back_to_ids():
    assert datasets.class_names_of({"num_classes": 3}) == ("0", "1", "2")
    assert datasets.class_names_of({"num_classes": 2, "class_names": ["a", "b"]}) == ("a", "b")
    assert datasets.short_name("T-shirt/top") == "T-shirt"
    assert datasets.short_name("a very long name", 8) == "a very ."


def test_parse_classes_takes_names_and_ids():
    from keras_cgan.sampling import GenerateError, as_class_ids, parse_classes, parse_pair

    names = datasets.KNOWN_CLASS_NAMES["fashion_mnist"]
    assert parse_classes("sneaker,bag", names) == [7, 8]
    assert parse_classes("Sneaker, 0 ,t-shirt", names) == [7, 0, 0]
    assert parse_classes("3,8", tuple("0123456789")) == [3, 8]
    assert parse_pair("sneaker,bag", 10, names) == (7, 8)
    with pytest.raises(GenerateError, match="'hat' is not a class name or an id in 0..9"):
        parse_classes("sneaker,hat", names)
    assert as_class_ids(["sneaker", "Bag", 3], names).tolist() == [7, 8, 3]
    assert as_class_ids(np.array([1, 2]), names).tolist() == [1, 2]
    with pytest.raises(GenerateError, match="'hat' is not a class name"):
        as_class_ids(["hat"], names)


def test_grids_of_rgb_images_are_rgb_with_class_name_labels():
    from keras_cgan.callbacks import compose_grid

    rgb = np.random.default_rng(0).uniform(size=(6, 8, 8, 3))
    grid = compose_grid(rgb, 2, ["sneaker", "bag"], scale=1)
    assert grid.ndim == 3 and grid.shape[-1] == 3
    grey = compose_grid(rgb[..., :1], 2, ["0", "1"], scale=1)
    assert grey.ndim == 2 and grey.shape[1] == 8 + 3 * (8 + 2) + 2
    assert grid.shape[1] > grey.shape[1]  # Long names get a wider label column.


@pytest.mark.parametrize(
    "shape, start, blocks",
    [((28, 28, 1), 7, 2), ((32, 32, 3), 8, 2), ((64, 64, 3), 8, 3), ((128, 128, 1), 8, 4)],
)
def test_conv_depth_follows_the_image_size(shape, start, blocks):
    from keras_cgan import networks

    assert networks.conv_blocks(shape) == (start, blocks)
    for arch in ("dcgan", "dcgan_proj"):
        g, d = networks.build_networks(arch, 4, 3, 4, image_shape=shape)
        assert g.output_shape == (None, *shape)
        assert d.input_shape[0] == (None, *shape) and d.output_shape == (None, 1)
        assert [layer.name for layer in g.layers].count("up1") == 1
        assert f"down{blocks}" in {layer.name for layer in d.layers}
        assert f"down{blocks + 1}" not in {layer.name for layer in d.layers}


def test_mnist_conv_networks_keep_their_layers():
    from keras_cgan import networks

    g, d = networks.build_networks("dcgan_proj", 64, 10, 32)
    gp = {layer.name: layer.count_params() for layer in g.layers}
    dp = {layer.name: layer.count_params() for layer in d.layers}
    assert gp["project"] == (64 + 10) * 7 * 7 * 64
    assert gp["up1"] == 4 * 4 * 64 * 32 and "up2" not in gp
    assert gp["images"] == 4 * 4 * 32 * 1 + 1
    assert dp["down2"] == 4 * 4 * 32 * 64 + 64 and "down3" not in dp
    assert dp["label_embedding"] == 10 * 7 * 7 * 64


@pytest.mark.parametrize("shape", [(30, 30, 1), (32, 28, 1), (32, 32, 4)])
def test_a_shape_the_conv_networks_cannot_build_names_the_flag(shape):
    from keras_cgan import networks

    with pytest.raises(ConfigError, match="pass --image_size=N .* or --arch=mlp") as info:
        networks.build_networks("dcgan", 4, 3, 4, image_shape=shape)
    assert "\n" not in str(info.value)
    g, _ = networks.build_networks("mlp", 4, 3, 4, image_shape=shape)
    assert g.output_shape == (None, *shape)


class _Flags:
    """A stand-in for parsed absl flags: `flags[name].value/.present` and `flags.name`."""

    def __init__(self, present=(), **values):
        self._values = dict(
            model=None,
            dataset="mnist",
            data_dir=None,
            mnist_dir=None,
            tfds_data_dir=None,
            image_size=0,
            eval_holdout=0.1,
        )
        self._values.update(values)
        self._present = set(present)

    def __getitem__(self, name):
        import types

        return types.SimpleNamespace(value=self._values[name], present=name in self._present)

    def __getattr__(self, name):
        return self._values[name]


def test_evaluate_uses_the_models_recorded_dataset_unless_told_otherwise(tmp_path):
    from keras_cgan.evaluate import data_source

    run = tmp_path / "run"
    run.mkdir()
    recorded = {"dataset": "folder:/data/flowers", "image_size": 64, "eval_holdout": 0.2}
    (run / "config.json").write_text(json.dumps(recorded))
    source = data_source(_Flags(model=str(run)))
    assert (source.dataset, source.image_size, source.eval_holdout) == (
        "folder:/data/flowers",
        64,
        0.2,
    )
    meta = {"training_config": {"dataset": "cifar10"}}
    assert data_source(_Flags(model="export"), meta).dataset == "cifar10"
    told = _Flags(model=str(run), dataset="fashion_mnist", present=("dataset",))
    assert data_source(told).dataset == "fashion_mnist" and data_source(told).image_size == 0
    assert data_source(_Flags()).dataset == "mnist"
