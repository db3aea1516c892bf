"""The command line: flagfiles, flag validation, and an end-to-end smoke run."""

import glob
import json
import os

import pytest
from absl import flags

from helpers import REPO_ROOT, one_error_line, run_cli
from keras_cgan import config_flags
from keras_cgan.config import TrainConfig

FLAGFILES = sorted(glob.glob(os.path.join(REPO_ROOT, "flags", "*.cfg")))


@pytest.fixture
def parse():
    """Parses argv with the training flags; `parse.flags` holds the parsed flags."""

    def _parse(*args):
        _parse.flags = flags.FlagValues()
        config_flags.define_flags(_parse.flags)
        _parse.flags(["keras_cgan.main", *args])
        return config_flags.config_from_flags(_parse.flags)

    return _parse


def _settings(path):
    """The `--name=value` lines of a flagfile, as a dict of strings."""
    settings = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("--"):
            name, _, value = line[2:].partition("=")
            settings[name] = value
    return settings


def test_the_presets_exist():
    names = {os.path.basename(p) for p in FLAGFILES}
    assert {"seed.cfg", "dcgan.cfg", "smoke.cfg", "best.cfg", "fast.cfg"} <= names


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_every_flagfile_parses_into_a_valid_config(parse, path):
    config = parse(f"--flagfile={path}")
    assert isinstance(config, TrainConfig)
    settings = _settings(path)
    assert settings, f"{path} sets no flags"
    for name, value in settings.items():
        parsed = getattr(parse.flags, name)
        expected = parse.flags[name].parser.parse(value)
        assert parsed == expected, name
        if hasattr(config, name):
            assert getattr(config, name) == expected, name


def test_seed_preset_is_the_tutorial(parse):
    config = parse(f"--flagfile={os.path.join(REPO_ROOT, 'flags', 'seed.cfg')}")
    defaults = parse()
    for name in (
        "arch",
        "latent_dim",
        "hidden_units",
        "learning_rate",
        "beta_1",
        "batch_size",
        "epochs",
    ):
        assert getattr(config, name) == getattr(defaults, name), name
    assert (config.arch, config.hidden_units, config.latent_dim) == ("mlp", 128, 100)
    assert (config.learning_rate, config.batch_size, config.epochs) == (1e-3, 64, 1000)


def test_command_line_overrides_a_preset(parse):
    config = parse(f"--flagfile={os.path.join(REPO_ROOT, 'flags', 'dcgan.cfg')}", "--epochs=3")
    assert config.arch == "dcgan" and config.epochs == 3
    assert config.workdir.startswith("runs" + os.sep)


def _run_main(*args, env_extra=None):
    return run_cli("main", *args, env_extra=env_extra)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs=0"], "flag --epochs=0: 0 is not a positive integer"),
        (["--batch_size=-4"], "flag --batch_size=-4"),
        (
            ["--arch=resnet"],
            "flag --arch=resnet: value should be one of <mlp|dcgan|dcgan_proj|dcgan_cbn>",
        ),
        (["--learning_rate=0"], "--learning_rate must be > 0"),
        (["--beta_1=1.5"], "flag --beta_1=1.5"),
        (["--loss=wgan"], "flag --loss=wgan: value should be one of <bce|hinge>"),
        (["--ema_decay=1"], "flag --ema_decay=1"),
        (["--ema_decay=-0.5"], "flag --ema_decay=-0.5"),
        (["--mixed_precision=float8"], "flag --mixed_precision=float8: value should be one of"),
        (["--steps_per_execution=0"], "flag --steps_per_execution=0"),
        (["--flagfile=flags/no_such_preset.cfg"], "Unable to open flagfile"),
        (["--epochs=ten"], "flag --epochs=ten"),
        (["--lr_schedule=cosine"], "flag --lr_schedule=cosine: value should be one of"),
        (["--r1_gamma=-1"], "flag --r1_gamma=-1"),
        (["--diffaugment=flip"], "unknown diffaugment policy 'flip'"),
        (["stray"], "unexpected arguments 'stray'"),
        (["--preset=no_such_preset"], "unknown preset 'no_such_preset': choose one of best, "),
        (["--mnist_dir=/no/such/folder", "--epochs=1"], "MNIST folder not found: /no/such/folder"),
        (["--mnist_dir=HALF", "--epochs=1"], "MNIST file not found: HALF/train-labels-idx1-ubyte"),
        (["--mnist_dir=TRAIN", "--eval_every=1"], "MNIST file not found: TRAIN/t10k-images-idx3"),
        (["--dataset=fashion_mnist", "--data_dir=/no/such"], "no fashion_mnist files in /no/such"),
        (["--dataset=cifar10", "--data_dir=HALF"], "--data_dir reads local copies of mnist,"),
        (
            ["--dataset=folder:/no/such"],
            "dataset folder not found: /no/such (--dataset=folder:PATH",
        ),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(args, message, tmp_path, no_tensorflow_env):
    # Every case is refused before TensorFlow loads (see no_tensorflow_env).
    folders = {"HALF": ["train-images"], "TRAIN": ["train-images", "train-labels"]}
    for name, files in folders.items():
        (tmp_path / name).mkdir()
        for stem in files:  # Found, not read: the check looks for the files only.
            (tmp_path / name / f"{stem}-idx{3 if 'images' in stem else 1}-ubyte.gz").touch()
        args = [a.replace(name, str(tmp_path / name)) for a in args]
        message = message.replace(name, str(tmp_path / name))
    result = _run_main(*args, f"--workdir={tmp_path / 'run'}", env_extra=no_tensorflow_env)
    assert result.returncode == 2
    assert message in one_error_line(result)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_smoke_preset_end_to_end(real_mnist_dir, tmp_path):
    workdir = tmp_path / "smoke"
    result = _run_main(
        "--flagfile=flags/smoke.cfg",
        f"--workdir={workdir}",
        "--tensorboard",
        env_extra={"KERAS_CGAN_MNIST_DIR": real_mnist_dir},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((workdir / "config.json").read_text())
    assert config["epochs"] == 2 and config["train_examples"] == 640 and config["seed"] == 0
    assert config["mnist_dir"] == real_mnist_dir and config["tensorboard"] is True
    csv_lines = (workdir / "metrics.csv").read_text().splitlines()
    assert csv_lines[0] == "epoch,d_acc,d_loss,g_loss" and len(csv_lines) == 3
    for name in ("epoch_0001.png", "epoch_0002.png", "progress.gif"):
        assert (workdir / "samples" / name).stat().st_size > 1000, name
    assert (workdir / "metrics.png").stat().st_size > 1000
    assert (workdir / "model.keras").is_file()
    assert (workdir / "checkpoints" / "latest" / "state.npz").is_file()
    assert (workdir / "export" / "saved_model.pb").is_file()
    assert (workdir / "export" / "assets" / "keras_cgan.json").is_file()
    assert glob.glob(str(workdir / "tensorboard" / "samples" / "events.out.tfevents.*"))
    assert glob.glob(str(workdir / "tensorboard" / "train" / "events.out.tfevents.*"))


def test_presets_by_name_list_and_version(tmp_path):
    listed = run_cli("main", "--list_presets", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == sorted(os.path.basename(p)[: -len(".cfg")] for p in FLAGFILES)
    assert all(len(line.split(None, 1)) == 2 for line in listed.stdout.splitlines())
    version = run_cli("main", "--version", cwd=tmp_path)
    import keras_cgan

    assert version.stdout.strip() == f"keras_cgan {keras_cgan.__version__}"
    unknown = run_cli("main", "--preset=nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert all(name in one_error_line(unknown) for name in names)


@pytest.mark.parametrize("path", FLAGFILES, ids=os.path.basename)
def test_a_preset_by_name_equals_its_flagfile_and_takes_overrides(path):
    from keras_cgan import presets

    name = os.path.basename(path)[: -len(".cfg")]
    by_name = presets.load_preset(name, "--epochs=3", "--workdir=w")
    by_file = config_flags.parse_config([f"--flagfile={path}", "--epochs=3", "--workdir=w"])
    assert by_name == by_file and by_name.epochs == 3
    assert presets.expand(["--preset", name, "--epochs=3"]) == [f"--flagfile={path}", "--epochs=3"]
