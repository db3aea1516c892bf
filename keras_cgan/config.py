"""The frozen training configuration shared by the CLI and library code.

`main.py` turns absl flags into a `TrainConfig`; everything below it takes the
config object and never reads flags.
"""

import dataclasses
import json
import os
from typing import Optional, Union

from keras_cgan.errors import ConfigError

ARCHS = ("mlp", "dcgan", "dcgan_proj", "dcgan_cbn")
LOSSES = ("bce", "hinge")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
LR_SCHEDULES = ("constant", "linear")
DIFFAUGMENT_POLICIES = ("translation", "cutout")  # keras_cgan.augment.POLICIES
MNIST_DIR_ENV = "KERAS_CGAN_MNIST_DIR"
# Chosen with `python -m keras_cgan.bench` (README, "Performance").
DEFAULT_STEPS_PER_EXECUTION = 200


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Attributes:
        epochs: Total number of epochs (>= 1).
        batch_size: Examples per training step (>= 1).
        latent_dim: Width of the noise vector z (>= 1).
        hidden_units: Width of the hidden layer (mlp) or base filter count
            (dcgan, dcgan_proj, dcgan_cbn).
        arch: Network pair, one of `ARCHS`.
        learning_rate: Adam learning rate of the generator (and of the
            discriminator unless `d_learning_rate` is set).
        d_learning_rate: Adam learning rate of the discriminator; None means
            `learning_rate`.
        beta_1: Adam beta_1 for both optimizers.
        beta_2: Adam beta_2 for both optimizers.
        loss: GAN loss, one of `LOSSES`: "bce" (binary cross-entropy from
            logits, the tutorial's) or "hinge" (`keras_cgan.losses.Hinge`).
        ema_decay: Decay of the EMA copy of the generator that samples, grids,
            evaluation and the export use; 0 = no EMA (sample the trained
            generator).
        num_classes: Number of label classes (10 for MNIST).
        train_examples: Use only the first N training examples (0 = all).
        mnist_dir: Folder with the IDX files or `mnist.npz`; None uses
            tensorflow-datasets.
        tfds_data_dir: tensorflow-datasets data directory (None = its default).
        workdir: Folder that receives every artifact of the run.
        sample_every: Write a sample grid every this many epochs (>= 1).
        seed: Seed for weights, noise and data order; None picks one (recorded in
            config.json so the run can be repeated).
        tensorboard: Also write TensorBoard logs under `<workdir>/tensorboard`.
        jit_compile: Compile the train step with XLA: True (each call, with
            its loop over the stacked steps, is one XLA program), False, or
            "step" (each step is its own XLA program inside a TensorFlow loop).
            None (auto): True for the mlp networks and, where a GPU is present,
            for the conv networks; for the conv networks on a CPU, where XLA
            runs the conv step inside the multi-step loop 15-20x slower, "step"
            up to batch 128 and False above (`perf.resolve_jit_compile`).
            config.json records the choice.
        steps_per_execution: Training steps per compiled call: the input
            pipeline stacks this many batches and the train step loops over
            them inside one (XLA) call.
        verbose: Keras `fit` verbosity (0, 1 or 2).
        checkpoint_every: Write a checkpoint every this many epochs (>= 1).
        resume: Continue the run found in `workdir`, if any; False moves an
            existing run aside and starts afresh.
        strategy: tf.distribute strategy, one of `STRATEGIES`; `batch_size`
            is the global batch over all replicas.
        tpu: TPU address for `strategy="tpu"` ("" on a TPU VM).
        mixed_precision: None, "mixed_float16" or "mixed_bfloat16".
        eval_every: Measure sample quality (`keras_cgan.evaluation`) every this
            many epochs and log it with the losses; 0 = never.
        eval_samples: Digits generated per evaluation, a multiple of
            `num_classes`, at least 10 per class.
        classifier_dir: Cache folder of the evaluation's reference classifier
            (None: `~/.cache/keras_cgan/classifier`).
        lr_schedule: Learning-rate schedule of both optimizers, one of
            `LR_SCHEDULES`: "constant", or "linear" (decays linearly to 0 at
            the last step of `epochs`; a resumed run must keep `epochs`).
        r1_gamma: Weight of the R1 gradient penalty on real images (>= 0;
            0 = off).
        diffaugment: DiffAugment policy for the discriminator's inputs, a
            comma-separated subset of "translation,cutout" ("" = off).
    """

    epochs: int = 1000
    batch_size: int = 64
    latent_dim: int = 100
    hidden_units: int = 128
    arch: str = "mlp"
    learning_rate: float = 1e-3
    d_learning_rate: Optional[float] = None
    beta_1: float = 0.9
    beta_2: float = 0.999
    loss: str = "bce"
    ema_decay: float = 0.0
    num_classes: int = 10
    train_examples: int = 0
    mnist_dir: Optional[str] = None
    tfds_data_dir: Optional[str] = None
    workdir: str = "runs/default"
    sample_every: int = 1
    seed: Optional[int] = None
    tensorboard: bool = False
    jit_compile: Union[None, bool, str] = None
    steps_per_execution: int = DEFAULT_STEPS_PER_EXECUTION
    verbose: int = 1
    checkpoint_every: int = 1
    resume: bool = True
    strategy: str = "default"
    tpu: str = ""
    mixed_precision: Optional[str] = None
    eval_every: int = 0
    eval_samples: int = 2000
    classifier_dir: Optional[str] = None
    # Sample-quality options (docs/quality_experiments.md); the defaults
    # leave training exactly as without them.
    lr_schedule: str = "constant"
    r1_gamma: float = 0.0
    diffaugment: str = ""

    def __post_init__(self):
        positive = (
            "epochs",
            "batch_size",
            "latent_dim",
            "hidden_units",
            "num_classes",
            "sample_every",
            "steps_per_execution",
            "checkpoint_every",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ConfigError(
                f"eval_every must be an integer >= 0 (0 = never), got {self.eval_every!r}"
            )
        if (
            not isinstance(self.eval_samples, int)
            or self.eval_samples < 10 * self.num_classes
            or self.eval_samples % self.num_classes
        ):
            raise ConfigError(
                f"eval_samples must be a multiple of {self.num_classes} and at least "
                f"{10 * self.num_classes}, got {self.eval_samples!r}"
            )
        if self.train_examples < 0:
            raise ConfigError(f"train_examples must be >= 0 (0 = all), got {self.train_examples}")
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}: choose one of {', '.join(ARCHS)}")
        for name in ("learning_rate", "d_learning_rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}: choose one of {', '.join(LOSSES)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1) (0 = no EMA), got {self.ema_decay}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}"
            )
        if self.mixed_precision not in PRECISIONS:
            raise ConfigError(
                f"unknown mixed_precision {self.mixed_precision!r}: "
                "use mixed_float16, mixed_bfloat16 or none"
            )
        if not (self.jit_compile is None or isinstance(self.jit_compile, bool)) and (
            self.jit_compile != "step"
        ):
            raise ConfigError(
                f"jit_compile must be true, false, 'step' or None (auto), got {self.jit_compile!r}"
            )
        if self.verbose not in (0, 1, 2):
            raise ConfigError(f"verbose must be 0, 1 or 2, got {self.verbose}")
        self._check_quality_options()

    def _check_quality_options(self):
        """Validates the sample-quality block (`lr_schedule`, `r1_gamma`, `diffaugment`)."""
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"unknown lr_schedule {self.lr_schedule!r}: choose one of {', '.join(LR_SCHEDULES)}"
            )
        if isinstance(self.r1_gamma, bool) or not self.r1_gamma >= 0.0:
            raise ConfigError(f"r1_gamma must be >= 0 (0 = off), got {self.r1_gamma!r}")
        names = [p.strip() for p in str(self.diffaugment).split(",") if p.strip()]
        unknown = [p for p in names if p not in DIFFAUGMENT_POLICIES]
        if unknown:
            raise ConfigError(
                f"unknown diffaugment policy {unknown[0]!r}: use a comma-separated subset of "
                f"{','.join(DIFFAUGMENT_POLICIES)} (empty = off)"
            )

    @property
    def discriminator_learning_rate(self) -> float:
        """The discriminator's Adam learning rate."""
        if self.d_learning_rate is None:
            return self.learning_rate
        return self.d_learning_rate

    def replace(self, **changes) -> "TrainConfig":
        """Returns a copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save_json(self, path: str) -> None:
        """Writes the config as pretty JSON to `path` (atomically)."""
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Builds a config from a dict, ignoring keys this version does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @classmethod
    def load_json(cls, path: str) -> "TrainConfig":
        with open(path) as f:
            return cls.from_dict(json.load(f))
