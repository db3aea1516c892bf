"""The presets a benchmark runs (`flags/NAME.cfg`) and the size of its epochs."""

import os
from typing import Optional

from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError

SHORT_EPOCH_STEPS = 100  # Epoch length of non-mlp presets unless --max_epoch_steps.


def preset_path(name: str, flags_dir: str) -> str:
    """`flags_dir/NAME.cfg`, or `name` itself when it names a `.cfg` file."""
    path = name if name.endswith(".cfg") else os.path.join(flags_dir, f"{name}.cfg")
    if not os.path.isfile(path):
        raise ConfigError(f"preset not found: {path}")
    return path


def default_presets(flags_dir: str) -> list:
    """seed plus best if `flags/best.cfg` exists, else seed plus dcgan."""
    best = "best" if os.path.isfile(os.path.join(flags_dir, "best.cfg")) else "dcgan"
    return ["seed", best]


def epoch_steps(config: TrainConfig, max_epoch_steps: Optional[int]) -> int:
    """Steps per benchmarked epoch: `max_epoch_steps`, else full for mlp, else 100."""
    if max_epoch_steps is None:
        max_epoch_steps = 0 if config.arch == "mlp" else SHORT_EPOCH_STEPS
    full = (config.train_examples or 60000) // config.batch_size
    return min(full, max_epoch_steps) if max_epoch_steps else full


def bench_config(config: TrainConfig, batch_size: int, steps: int, **changes) -> TrainConfig:
    """`config` at `batch_size` on `steps * batch_size` examples, seeded."""
    return config.replace(
        batch_size=batch_size,
        train_examples=steps * batch_size,
        seed=0 if config.seed is None else config.seed,
        **changes,
    )
