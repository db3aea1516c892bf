"""Training runs from a TrainConfig: artifacts, repeatability, callbacks."""

import json

import numpy as np
import pytest

from keras_cgan import callbacks, train
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError


def test_train_writes_artifacts_and_is_repeatable(tiny_config, tmp_path):
    first = train.train(tiny_config)
    second = train.train(tiny_config.replace(workdir=str(tmp_path / "again")))
    probe = np.random.default_rng(0).standard_normal((10, tiny_config.latent_dim))
    np.testing.assert_allclose(
        first.generate(range(10), noise=probe), second.generate(range(10), noise=probe), atol=1e-6
    )
    third = train.train(tiny_config.replace(seed=2, workdir=str(tmp_path / "other")))
    assert not np.allclose(
        first.generate(range(10), noise=probe), third.generate(range(10), noise=probe)
    )
    saved = json.loads(open(f"{tiny_config.workdir}/config.json").read())
    # The effective config: XLA resolved from "auto" (on for the mlp networks).
    assert saved["jit_compile"] is True
    assert TrainConfig.from_dict(saved) == tiny_config.replace(jit_compile=True)


def test_a_random_seed_is_recorded(tiny_config):
    config = tiny_config.replace(seed=None, epochs=1)
    train.train(config)
    saved = TrainConfig.load_json(f"{config.workdir}/config.json")
    assert isinstance(saved.seed, int)
    assert saved.replace(seed=None) == config.replace(jit_compile=True)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": 2.5}, "batch_size must be an integer"),
        ({"arch": "vae"}, "unknown arch 'vae'"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"beta_1": 1.0}, r"beta_1 must be in \[0, 1\)"),
        ({"train_examples": -1}, "train_examples must be an integer >= 0"),
    ],
)
def test_config_validation(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_compose_grid_layout():
    images = np.zeros((6, 28, 28, 1), np.float32)
    images[4] = 1.0  # Row 1 (0-based), column 1.
    grid = callbacks.compose_grid(images, rows=2, row_labels=["a", "b"], scale=1)
    tile = 28 + 2
    assert grid.shape == (2 * tile + 2, 28 + 3 * tile + 2) and grid.dtype == np.uint8
    body = grid[:, 28:]  # Drop the label column.
    assert body[tile + 2 : 2 * tile, tile + 2 : 2 * tile].min() == 255
    assert body[2:tile, 2:tile].max() == 0
    assert grid[:, :28].max() > 0  # The labels were drawn.
    assert callbacks.compose_grid(images, rows=2, scale=3).shape == (
        3 * (2 * tile + 2),
        3 * (3 * tile + 2),
    )


def test_csv_log_keeps_earlier_rows_and_adds_columns(tmp_path):
    path = str(tmp_path / "m.csv")
    log = callbacks.CSVLog(path)
    log.on_epoch_end(0, {"d_loss": 1.0})
    log.on_epoch_end(1, {"d_loss": 0.5})
    resumed = callbacks.CSVLog(path)
    resumed.on_epoch_end(1, {"d_loss": 0.25, "fid": 3.0})  # Epoch 2 again, replacing it.
    rows = callbacks.read_csv_log(path)
    assert rows == [{"epoch": 1, "d_loss": 1.0}, {"epoch": 2, "d_loss": 0.25, "fid": 3.0}]
    assert open(path).readline().strip() == "epoch,d_loss,fid"
