"""The frozen training configuration: the one home of every training setting.

Each `TrainConfig` field is declared once, with its default, its help text and
its checks (`setting`). Everything else follows from that declaration: the
command line flags of `python -m keras_cgan.main` (`keras_cgan.config_flags`),
their help and validation, the checks of `TrainConfig(...)` itself, which
settings a resumed run must share with its checkpoint (`RESUME_KEYS`), and the
README's flag table. Library code takes the config object and never reads
flags.
"""

import dataclasses
import json
import os
import typing
from typing import Optional, Union

from keras_cgan.errors import ConfigError

ARCHS = ("mlp", "dcgan", "dcgan_proj", "dcgan_cbn")
PROJECTION_ARCHS = ("dcgan_proj", "dcgan_cbn")  # The projection discriminator's families.
LOSSES = ("bce", "hinge")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
LR_SCHEDULES = ("constant", "linear")
DIFFAUGMENT_POLICIES = ("translation", "cutout")  # Implemented in keras_cgan.augment.
MNIST_DIR_ENV = "KERAS_CGAN_MNIST_DIR"
# Chosen with `python -m keras_cgan.bench` (docs/performance.md).
DEFAULT_STEPS_PER_EXECUTION = 200


def setting(
    default,
    help,
    *,
    at_least=None,
    above=None,
    below=None,
    at_most=None,
    choices=None,
    resume=False,
    flag=True,
    flag_default=dataclasses.MISSING,
    shown_default=None,
    choices_text=None,
    check=None,
):
    """Declares a `TrainConfig` field with its help and checks (the field's one home).

    Args:
        default: The config's default value.
        help: One line for `--help` and the README's flag table.
        at_least, above, below, at_most: Numeric bounds (inclusive, exclusive).
        choices: The allowed values (None among them allows "none").
        resume: A resumed run must agree with its checkpoint on this setting
            (it shapes the model, its optimizers or the data order).
        flag: Whether the command line has a flag for it.
        flag_default: The flag's default when it differs from `default`
            (e.g. a workdir named after the start time); a callable is
            called when the flags are defined.
        shown_default: How the README shows the default (else the value).
        choices_text: How messages list `choices` (else comma-separated).
        check: `check(value) -> message or None`, a further check (its
            message names the setting).

    Returns:
        A `dataclasses.field` whose metadata carries all of the above.
    """
    spec = dict(
        help=help,
        at_least=at_least,
        above=above,
        below=below,
        at_most=at_most,
        choices=choices,
        resume=resume,
        flag=flag,
        flag_default=default if flag_default is dataclasses.MISSING else flag_default,
        shown_default=shown_default,
        choices_text=choices_text,
        check=check,
    )
    return dataclasses.field(default=default, metadata=spec)


def _number_kind(annotation):
    """int, float, bool or str for a field's (maybe Optional) annotation, else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    return args[0] if len(args) == 1 and args[0] in (int, float, bool, str) else None


def check_value(field, value, label=None):
    """Checks one setting against its declaration; returns an error message or None.

    Args:
        field: A `dataclasses.Field` of `TrainConfig`.
        value: The value to check.
        label: How to name the setting in the message (default: its name;
            the command line passes `--name`).
    """
    spec, name = field.metadata, label or field.name
    if value is None and typing.get_origin(field.type) in (Union, typing.Union):
        if type(None) in typing.get_args(field.type):
            return None
    if spec.get("choices") is not None:
        if value not in spec["choices"]:
            shown = spec.get("choices_text") or ", ".join(
                "none" if c is None else str(c) for c in spec["choices"]
            )
            return f"unknown {name} {value!r}: choose one of {shown}"
        return None
    kind = _number_kind(field.type)
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        return f"{name} must be an integer, got {value!r}"
    if kind is float and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        return f"{name} must be a number, got {value!r}"
    if kind is bool and not isinstance(value, bool):
        return f"{name} must be true or false, got {value!r}"
    if kind is str and not isinstance(value, str):
        return f"{name} must be a string, got {value!r}"
    if spec.get("check") is not None:
        message = spec["check"](value)
        if message:
            return message
    lo, gt, lt, hi = spec.get("at_least"), spec.get("above"), spec.get("below"), spec.get("at_most")
    if kind is int and lo is not None and value < lo:
        return f"{name} must be an integer >= {lo}, got {value!r}"
    if lo is not None and lt is not None and not lo <= value < lt:
        return f"{name} must be in [{lo:g}, {lt:g}), got {value!r}"
    if lo is not None and value < lo:
        return f"{name} must be >= {lo}, got {value!r}"
    if gt is not None and not value > gt:
        return f"{name} must be > {gt}, got {value!r}"
    if lt is not None and not value < lt:
        return f"{name} must be < {lt}, got {value!r}"
    if hi is not None and value > hi:
        return f"{name} must be <= {hi}, got {value!r}"
    return None


def parse_diffaugment(value):
    """A `--diffaugment` value as policy names: "translation,cutout" -> `("translation", "cutout")`.

    Args:
        value: Comma-separated names from `DIFFAUGMENT_POLICIES`; "" or None is off.

    Returns:
        The names, a tuple of str (empty when off).

    Raises:
        ConfigError: an unknown policy name.
    """
    names = tuple(p.strip() for p in (value or "").split(",") if p.strip())
    for name in names:
        if name not in DIFFAUGMENT_POLICIES:
            raise ConfigError(
                f"unknown diffaugment policy {name!r}: use a comma-separated subset of "
                f"{','.join(DIFFAUGMENT_POLICIES)} (empty = off)"
            )
    return names


def _check_diffaugment(value):
    try:
        parse_diffaugment(value)
    except ConfigError as e:
        return str(e)
    return None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Each field's help and checks are in its `setting(...)` declaration below;
    `python -m keras_cgan.main --helpfull` lists them as flags.
    """

    epochs: int = setting(1000, "Training epochs.", at_least=1)
    batch_size: int = setting(
        64,
        "Examples per training step (the global batch under a strategy).",
        at_least=1,
        resume=True,
    )
    latent_dim: int = setting(100, "Width of the noise z.", at_least=1, resume=True)
    noise_scale: float = setting(
        1.0,
        "Scale of the noise z when sampling (grids, evaluation, model.keras, export): the "
        "generator trains on z ~ N(0, 1) and multiplies z by this at inference; above 1 trades "
        "precision for recall, below 1 the reverse (the truncation trick).",
        above=0.0,
    )
    hidden_units: int = setting(
        128,
        "Hidden width (mlp) or base filter count (dcgan, dcgan_proj, dcgan_cbn).",
        at_least=1,
        resume=True,
    )
    d_hidden: int = setting(
        0,
        "Width of a hidden Dense + LeakyReLU layer between the projection discriminator's conv "
        "features and its logit, projection and class head (0 = none; --arch=dcgan_proj or "
        "dcgan_cbn).",
        at_least=0,
        resume=True,
        shown_default="0 (none)",
    )
    arch: str = setting(
        "mlp",
        "Networks: mlp (the tutorial's), dcgan, dcgan_proj (the dcgan generator with a "
        "projection discriminator) or dcgan_cbn (class-conditional batch norm in the generator, "
        "projection discriminator).",
        choices=ARCHS,
        resume=True,
    )
    learning_rate: float = setting(
        1e-3,
        "Adam learning rate of the generator (both, unless --d_learning_rate).",
        above=0,
        resume=True,
    )
    d_learning_rate: Optional[float] = setting(
        None,
        "Adam learning rate of the discriminator.",
        above=0,
        resume=True,
        shown_default="= --learning_rate",
    )
    beta_1: float = setting(
        0.9, "Adam beta_1 of both optimizers.", at_least=0.0, below=1.0, resume=True
    )
    beta_2: float = setting(
        0.999, "Adam beta_2 of both optimizers.", at_least=0.0, below=1.0, resume=True
    )
    loss: str = setting(
        "bce",
        "GAN loss: bce (binary cross-entropy from logits, the tutorial's) or hinge.",
        choices=LOSSES,
        resume=True,
    )
    ema_decay: float = setting(
        0.0,
        "Keep an EMA copy of the generator with this decay (e.g. 0.99) and sample from it "
        "(grids, evaluation, model.keras, export); 0 = off. Step t uses "
        "min(decay, (1 + t) / (10 + t)), so early steps average over a short window.",
        at_least=0.0,
        below=1.0,
        resume=True,
    )
    num_classes: int = setting(
        10, "Label classes (from the dataset).", at_least=1, resume=True, flag=False
    )
    dataset: str = setting(
        "mnist",
        "Training images: mnist, a tensorflow-datasets image classification dataset "
        "(fashion_mnist, cifar10, emnist/balanced, ...) or folder:PATH (one subfolder per class).",
        resume=True,
    )
    image_size: int = setting(
        0,
        "Resize the images to this square side (needed for a folder of mixed sizes; "
        "dcgan/dcgan_proj need a multiple of 4); 0 = the dataset's own size.",
        at_least=0,
        resume=True,
        shown_default="0 (as is)",
    )
    data_dir: Optional[str] = setting(
        None,
        "Local folder of MNIST-format files (the four IDX files, or an .npz of x_train, "
        "y_train, x_test, y_test) for --dataset=mnist, fashion_mnist or kmnist.",
    )
    eval_holdout: float = setting(
        0.1,
        "Fraction of each class of a folder dataset held out from training as its test split "
        "(what the evaluator compares with); 0 = train on all and compare with them.",
        at_least=0.0,
        below=1.0,
        resume=True,
    )
    # Facts about the dataset, filled in by `train` (`datasets.configure`).
    image_shape: tuple = setting(
        (28, 28, 1), "Image shape [H, W, C] (from the dataset).", resume=True, flag=False
    )
    class_names: tuple = setting(
        tuple("0123456789"), "Class names in label order (from the dataset).", flag=False
    )
    train_examples: int = setting(
        0,
        "Train on the first N examples only (0 = all).",
        at_least=0,
        resume=True,
        shown_default="0 (all)",
    )
    mnist_dir: Optional[str] = setting(
        None,
        f"Local MNIST folder (the four IDX files or mnist.npz); unset: ${MNIST_DIR_ENV}, "
        "then tensorflow-datasets.",
        flag_default=lambda: os.environ.get(MNIST_DIR_ENV) or None,
        shown_default=f"${MNIST_DIR_ENV}",
    )
    tfds_data_dir: Optional[str] = setting(
        None, "tensorflow-datasets data directory.", shown_default="tfds default"
    )
    workdir: str = setting(
        "runs/default",
        "Where the run's files go.",
        flag_default=None,
        shown_default="runs/<timestamp>",
    )
    sample_every: int = setting(1, "Write a sample grid every N epochs.", at_least=1)
    seed: Optional[int] = setting(
        None,
        "Seed of weights, noise and data order (default: random, recorded in config.json).",
        at_least=0,
        resume=True,
        shown_default="random",
    )
    tensorboard: bool = setting(False, "Also log to <workdir>/tensorboard.")
    jit_compile: Union[None, bool, str] = setting(
        None,
        "Compile the train step with XLA (default auto: whole calls for mlp, and for the conv "
        "networks with a GPU; each step on its own for the conv networks on a CPU up to "
        "batch 128).",
        choices=(None, True, False, "step"),
        choices_text="true, false, 'step' or None (auto)",
        shown_default="auto",
    )
    steps_per_execution: int = setting(
        DEFAULT_STEPS_PER_EXECUTION,
        "Train steps per compiled call (stacked batches on one device; under a strategy, "
        "this many strategy steps per call).",
        at_least=1,
    )
    verbose: int = setting(
        1,
        "Progress in training steps: 0 silent, 1 live line with time/step, samples/s and ETA, "
        "2 one line per epoch.",
        choices=(0, 1, 2),
    )
    checkpoint_every: int = setting(1, "Write a kill-safe checkpoint every N epochs.", at_least=1)
    resume: bool = setting(
        True,
        "Continue the run in --workdir; --noresume moves it aside and starts over.",
    )
    strategy: str = setting(
        "default",
        "tf.distribute strategy: default (one device), mirrored (all local GPUs), multi_worker "
        "(a TF_CONFIG cluster), tpu.",
        choices=STRATEGIES,
    )
    tpu: str = setting(
        "", "TPU address for --strategy=tpu (empty on a TPU VM).", shown_default='""'
    )
    mixed_precision: Optional[str] = setting(
        None,
        "mixed_float16 (with loss scaling) or mixed_bfloat16; variables, logits and losses "
        "stay float32.",
        choices=PRECISIONS,
        resume=True,
        shown_default="none",
    )
    eval_every: int = setting(
        0,
        "Measure sample quality every N epochs and log it with the losses (0 = never).",
        at_least=0,
        shown_default="0 (off)",
    )
    eval_samples: int = setting(
        2000,
        "Images generated per evaluation (a multiple of the class count, at least 10 per class).",
        at_least=1,
    )
    classifier_dir: Optional[str] = setting(
        None,
        "Cache folder of the evaluation's reference classifier.",
        shown_default="~/.cache/keras_cgan/classifier",
    )
    lr_schedule: str = setting(
        "constant",
        "Learning-rate schedule of both optimizers: constant, or linear decay to 0 at the last "
        "step of --epochs (a resumed run then keeps --epochs).",
        choices=LR_SCHEDULES,
        resume=True,
    )
    r1_gamma: float = setting(
        0.0,
        "Weight of the R1 gradient penalty on real images (0 = off).",
        at_least=0.0,
        resume=True,
        shown_default="0 (off)",
    )
    r1_interval: int = setting(
        1,
        "Apply R1 every N steps with N times its weight (lazy regularisation, Karras et al., "
        "2020): the same average penalty for about 1/N of its cost.",
        at_least=1,
        resume=True,
    )
    top_k: float = setting(
        0.0,
        "Top-k generator updates (Sinha et al., 2020): the generator's loss keeps the fraction "
        "max(--top_k_min, top_k^epoch) of each batch the discriminator scores highest; the "
        "decay per epoch (0 = off).",
        at_least=0.0,
        at_most=1.0,
        resume=True,
        shown_default="0 (off)",
    )
    top_k_min: float = setting(
        0.5,
        "The smallest fraction of each batch that top-k training keeps.",
        above=0.0,
        at_most=1.0,
        resume=True,
    )
    aux_classifier: float = setting(
        0.0,
        "Weight of an auxiliary classifier's loss for the generator (AC-GAN, Odena et al., 2017): "
        "a class head on the projection discriminator's features learns the real digits' "
        "classes (0 = off; --arch=dcgan_proj or dcgan_cbn).",
        at_least=0.0,
        resume=True,
        shown_default="0 (off)",
    )
    diffaugment: str = setting(
        "",
        "DiffAugment policies for the discriminator's inputs, a comma-separated subset of "
        "translation,cutout (empty = off).",
        resume=True,
        check=_check_diffaugment,
        shown_default='"" (off)',
    )

    def __post_init__(self):
        # JSON gives lists: keep the tuples, so configs compare equal after a round trip.
        for name in ("image_shape", "class_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for field in dataclasses.fields(self):
            message = check_value(field, getattr(self, field.name))
            if message:
                raise ConfigError(message)
        if self.eval_samples < 10 * self.num_classes or self.eval_samples % self.num_classes:
            raise ConfigError(
                f"eval_samples must be a multiple of {self.num_classes} and at least "
                f"{10 * self.num_classes}, got {self.eval_samples!r}"
            )
        for name in ("aux_classifier", "d_hidden"):
            if getattr(self, name) and self.arch not in PROJECTION_ARCHS:
                raise ConfigError(
                    f"{name} needs a projection discriminator, not --arch={self.arch}: use "
                    f"--arch={' or --arch='.join(PROJECTION_ARCHS)}"
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
        """Writes the config as pretty JSON to `path` (atomically; `WriteError` if it fails)."""
        from keras_cgan.fileio import write_atomic

        def write(tmp):
            with open(tmp, "w") as f:
                json.dump(self.to_dict(), f, indent=2, sort_keys=True)
                f.write("\n")

        write_atomic(path, write)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Builds a config from a dict, ignoring keys this version does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @classmethod
    def load_json(cls, path: str) -> "TrainConfig":
        """Reads a config written by `save_json`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))


# Settings a resumed run must share with its checkpoint (`checkpoint.check_resumable`).
RESUME_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["resume"])
