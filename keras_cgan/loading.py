"""One loader for every tool's `--model`: a run folder, an export, or a `.keras` file.

* an export folder (`<workdir>/export`, see `keras_cgan.export`): loaded with
  plain TensorFlow as an `export.ExportedGenerator`;
* a run folder (a training workdir): to sample from, its `export/` (the
  finished run's generator), else its latest checkpoint, else its
  `model.keras`; to re-export (`load_gan`), its latest checkpoint, else its
  `model.keras`;
* a `.keras` file saved by `ConditionalGAN.save` (a run's `model.keras`).

`load_generator` returns an object with `latent_dim`, `num_classes`,
`class_names`, `metadata` and `generate` / `generate_soft`, whatever the source; the noise of
`generate(labels, seed=s)` is drawn the same way for all three, so a run, its
`model.keras` and its export draw the same images. `load_gan` gives the
`ConditionalGAN` itself (for re-exporting). `check_model_path` says what a
path is without loading TensorFlow, so tools can refuse a bad `--model` at once.
"""

import os

import numpy as np

from keras_cgan import export
from keras_cgan.errors import ModelError
from keras_cgan.sampling import as_class_ids

EXPORT, RUN, KERAS = "export", "run", "keras"


def check_model_path(path):
    """Says what `path` holds, without TensorFlow.

    Args:
        path: A run folder, an export folder or a `.keras` file.

    Returns:
        `(kind, metadata)`: kind is "export", "run" or "keras"; metadata is the
        export's metadata dict for an export, else None.

    Raises:
        ModelError: nothing loadable at `path` (the message says what is there).
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        if path.endswith(".keras"):
            return KERAS, None
        raise ModelError(f"{path} is a file, not a keras_cgan export, run folder or .keras file")
    if not os.path.exists(path) and not os.path.isdir(path + ".old"):
        raise ModelError(
            f"model not found: {path}: no run folder or .keras file, nor an export there"
        )
    if _is_run(path):
        return RUN, None
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ModelError(
            f"{path} is not a keras_cgan export: it has no saved_model.pb, and it holds neither "
            "checkpoints/latest nor model.keras: pass a run folder, its export/ or a .keras file"
        )
    return EXPORT, export.read_metadata(path)


def model_facts(path):
    """The class names and image shape of the model at `path`, without TensorFlow.

    What `load_generator(path)` will sample from: an export's metadata (a run
    folder's `export/` if it holds one), else the run's `config.json`.

    Args:
        path: A run folder, an export folder or a `.keras` file.

    Returns:
        A dict with "class_names" (list of str), "image_shape" (`[H, W, C]`)
        and, for an export, "num_classes"; None for a `.keras` file or a run
        whose `config.json` is missing or unreadable (known once loaded).

    Raises:
        ModelError: nothing loadable at `path`.
    """
    kind, metadata = check_model_path(path)
    if kind != RUN:
        return metadata
    if os.path.isfile(os.path.join(path, "export", "saved_model.pb")):
        return export.read_metadata(os.path.join(path, "export"))
    from keras_cgan.config import TrainConfig

    try:
        config = TrainConfig.load_json(os.path.join(path, "config.json"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"class_names": list(config.class_names), "image_shape": list(config.image_shape)}


def _is_run(path):
    """Whether `path` is a training workdir (checked by name: no TensorFlow here)."""
    return any(
        os.path.exists(os.path.join(path, name))
        for name in ("checkpoints", "model.keras", "export", "config.json")
    )


def load_gan(path):
    """Loads a `ConditionalGAN` from a run folder or a `.keras` file.

    A run folder gives its latest checkpoint or, failing that, its
    `model.keras` (with its `config.json`).

    Returns:
        `(gan, config)`: config is the run's `TrainConfig`, or None for a bare
        `.keras` file.

    Raises:
        ModelError: nothing loadable at `path` (an export holds only the
            generator: pass the run folder).
    """
    from keras_cgan import checkpoint
    from keras_cgan.config import TrainConfig

    kind, _ = check_model_path(path)
    if kind == KERAS:
        return _load_keras(path), None
    if kind == EXPORT:
        raise ModelError(
            f"{path} is an export (the generator only): pass its run folder or a .keras file"
        )
    run = checkpoint.load_run(path)
    if run is not None:
        return run
    keras_file = os.path.join(path, "model.keras")
    if os.path.isfile(keras_file):
        config_path = os.path.join(path, "config.json")
        config = TrainConfig.load_json(config_path) if os.path.isfile(config_path) else None
        return _load_keras(keras_file), config
    raise ModelError(
        f"{path} holds neither checkpoints/latest nor model.keras: is it a keras_cgan run folder?"
    )


def _load_keras(path):
    import keras

    from keras_cgan.model import ConditionalGAN

    try:
        gan = keras.models.load_model(path)
    except Exception as e:  # zip, JSON or Keras errors all mean "not loadable".
        reason = (str(e).strip().splitlines() or [""])[0][:200]
        raise ModelError(f"cannot load {path} ({type(e).__name__}: {reason})") from None
    if not isinstance(gan, ConditionalGAN):
        raise ModelError(f"{path} holds a {type(gan).__name__}, not a keras_cgan ConditionalGAN")
    return gan


def load_generator(path):
    """Loads whatever `path` holds as a generator to sample from.

    Args:
        path: A run folder, an export folder or a `.keras` file.

    Returns:
        An `export.ExportedGenerator` for an export (or a run folder that
        holds one), else a `GanGenerator`.

    Raises:
        ModelError: nothing loadable at `path`.
    """
    kind, _ = check_model_path(path)
    if kind == RUN and (os.path.isdir(os.path.join(path, "export")) or not _has_weights(path)):
        path, kind = os.path.join(path, "export"), EXPORT
    if kind == EXPORT:
        return export.ExportedGenerator(path)
    gan, config = load_gan(path)
    return GanGenerator(gan, config)


def _has_weights(run_dir):
    from keras_cgan import checkpoint

    return checkpoint.find_checkpoint(
        os.path.join(run_dir, "checkpoints")
    ) is not None or os.path.isfile(os.path.join(run_dir, "model.keras"))


class GanGenerator:
    """A `ConditionalGAN` behind the interface of `export.ExportedGenerator`.

    Args:
        gan: The model; it samples with `gan.sampling_generator` (the EMA
            generator if it has one).
        config: Its `TrainConfig`, if known (recorded in `metadata`).
    """

    def __init__(self, gan, config=None):
        self.gan = gan
        self.latent_dim = int(gan.latent_dim)
        self.num_classes = int(gan.num_classes)
        self.metadata = export.export_metadata(gan, config)
        self.class_names = tuple(self.metadata["class_names"])

    def generate(self, labels, noise=None, seed=None):
        """Images float32 `[N, H, W, C]` in [0, 1]; see `ExportedGenerator.generate`."""
        labels = as_class_ids(labels, self.class_names)
        if noise is None:
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal((len(labels), self.latent_dim), dtype=np.float32)
        return self.gan.generate(labels, noise=noise)

    def generate_soft(self, one_hot, noise):
        """float32 images for soft labels `one_hot` `[N, num_classes]` and `noise` `[N, latent_dim]`."""
        return self.gan.generate_soft(one_hot, noise)
