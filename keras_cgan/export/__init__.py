r"""SavedModel export of a trained generator, loadable without keras_cgan.

`export_generator(gan, directory)` writes a SavedModel that plain
`tf.saved_model.load(directory)` serves in any process, with signatures:

* `serving_default(labels int32 [N]) -> {"images": float32 [N, H, W, C]}`
  in [0, 1] (the training images' shape, `[N, 28, 28, 1]` for MNIST), fresh noise drawn inside on every call and in every process;
* `generate(noise float32 [N, latent_dim], labels int32 [N]) -> {"images"}`:
  deterministic, equal to the in-memory generator;
* `generate_soft(noise float32 [N, latent_dim], one_hot float32 [N, classes])
  -> {"images"}`: any mix of classes (class interpolation).

Labels outside 0..num_classes-1, or noise of the wrong width, fail with an
InvalidArgument error that says so. Metadata (latent_dim, num_classes, class
names, dataset, image shape, value range, training config) is in `assets/keras_cgan.json` and in the
string variable `loaded.metadata`.

Command line, to (re-)export a run's latest state or a saved `.keras` model
(`keras_cgan/export/__main__.py`):

    python -m keras_cgan.export --model=RUN_DIR_OR_.keras_FILE [--out=DIR]
    python -m keras_cgan.export --model=RUN_OR_EXPORT_DIR --format=tflite --out=g.tflite
    python -m keras_cgan.export --model=RUN_OR_EXPORT_DIR --format=onnx --out=g.onnx

`keras_cgan.export.files.export_file` writes the one-file formats
(`keras_cgan.tflite`, `keras_cgan.onnx_export`).
"""

import json
import os
import re
import shutil
import tempfile

import numpy as np

from keras_cgan.datasets import class_names_of
from keras_cgan.errors import ModelError

# TensorFlow (and keras_cgan modules that import it) load inside functions, so
# that `read_metadata` and the command line's argument checks are cheap.

FORMAT = "keras_cgan.export/1"
METADATA_FILE = "keras_cgan.json"
METADATA_PATH = os.path.join("assets", METADATA_FILE)


class ExportError(ModelError):
    """A model to export, or an export to load, is missing or invalid."""


def _generator_module(generator, latent_dim, num_classes, metadata_json, metadata_path):
    """The exported object: the generator's variables plus serving functions."""
    import tensorflow as tf

    module = tf.Module(name="keras_cgan_generator")
    module.generator = generator
    module.metadata = tf.Variable(metadata_json, trainable=False, name="metadata")
    module.metadata_file = tf.saved_model.Asset(metadata_path)
    _add_signatures(module, generator, int(latent_dim), int(num_classes))
    return module


def _add_signatures(module, generator, width, n_classes):
    """Attaches the `serve`, `generate` and `generate_soft` functions to `module`."""
    import tensorflow as tf

    def check_labels(labels):
        return [
            tf.debugging.assert_greater_equal(
                labels, 0, message=f"labels must be integers in 0..{n_classes - 1}"
            ),
            tf.debugging.assert_less(
                labels, n_classes, message=f"labels must be integers in 0..{n_classes - 1}"
            ),
        ]

    def check_noise(noise, n):
        return [
            tf.debugging.assert_equal(
                tf.shape(noise)[1],
                width,
                message=f"noise must have shape [N, {width}] (latent_dim is {width})",
            ),
            tf.debugging.assert_equal(
                tf.shape(noise)[0],
                n,
                message="noise and labels must have the same number of rows N",
            ),
            tf.debugging.assert_all_finite(noise, message="noise must be finite"),
        ]

    def images(noise, one_hot):
        out = generator([noise, one_hot], training=False)
        return {"images": tf.cast(out, tf.float32, name="images")}

    # Never jit_compile these: XLA drops the assert ops above. The declared
    # widths ([None, latent_dim], [None, num_classes]) show in saved_model_cli,
    # but a loaded signature does not enforce them: the asserts do.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="labels")])
    def serve(labels):
        with tf.control_dependencies(check_labels(labels)):
            shape = tf.stack([tf.shape(labels)[0], width])
            # seed=seed2=0: seeded afresh per process, not frozen at export.
            noise = tf.raw_ops.RandomStandardNormal(shape=shape, dtype=tf.float32, seed=0, seed2=0)
            one_hot = tf.one_hot(labels, n_classes, dtype=tf.float32)
        return images(noise, one_hot)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, width], tf.float32, name="noise"),
            tf.TensorSpec([None], tf.int32, name="labels"),
        ]
    )
    def generate(noise, labels):
        with tf.control_dependencies(
            check_labels(labels) + check_noise(noise, tf.shape(labels)[0])
        ):
            noise = tf.identity(noise)
            one_hot = tf.one_hot(labels, n_classes, dtype=tf.float32)
        return images(noise, one_hot)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, width], tf.float32, name="noise"),
            tf.TensorSpec([None, n_classes], tf.float32, name="one_hot"),
        ]
    )
    def generate_soft(noise, one_hot):
        checks = check_noise(noise, tf.shape(one_hot)[0]) + [
            tf.debugging.assert_equal(
                tf.shape(one_hot)[1],
                n_classes,
                message=f"one_hot must have shape [N, {n_classes}]",
            ),
            tf.debugging.assert_all_finite(one_hot, message="one_hot must be finite"),
        ]
        with tf.control_dependencies(checks):
            noise, one_hot = tf.identity(noise), tf.identity(one_hot)
        return images(noise, one_hot)

    module.serve = serve
    module.generate = generate
    module.generate_soft = generate_soft


def export_metadata(gan, config=None):
    """The metadata dict stored with an export."""
    from keras_cgan import __version__

    shape = [int(d) for d in gan.generator.output_shape[1:]]
    images = "float32 [N, " + ", ".join(str(d) for d in shape) + "]"
    return {
        "format": FORMAT,
        "keras_cgan_version": __version__,
        "latent_dim": int(gan.latent_dim),
        "num_classes": int(gan.num_classes),
        "image_shape": shape,
        "dataset": config.dataset if config is not None else None,
        "class_names": list(
            class_names_of(config if config is not None else {"num_classes": gan.num_classes})
        ),
        "dtype": "float32",
        "value_range": [0.0, 1.0],
        "signatures": {
            "serving_default": {
                "inputs": {"labels": "int32 [N]"},
                "outputs": {"images": images},
            },
            "generate": {
                "inputs": {"noise": f"float32 [N, {gan.latent_dim}]", "labels": "int32 [N]"},
                "outputs": {"images": images},
            },
            "generate_soft": {
                "inputs": {
                    "noise": f"float32 [N, {gan.latent_dim}]",
                    "one_hot": f"float32 [N, {gan.num_classes}]",
                },
                "outputs": {"images": images},
            },
        },
        "training_config": config.to_dict() if config is not None else None,
    }


def export_generator(gan, directory, config=None):
    """Exports `gan`'s generator as a SavedModel at `directory`, atomically.

    The exported weights are those `gan` samples with (`sampling_generator`:
    the EMA generator if it has one).

    The export is written to a temporary folder next to `directory` and then
    swapped in, so an existing export is replaced only by a complete one.

    Args:
        gan: A `ConditionalGAN`.
        directory: Destination folder (created or replaced).
        config: Optional `TrainConfig`, stored in the metadata.

    Returns:
        `directory`.
    """
    import tensorflow as tf

    from keras_cgan.fileio import replace_dir, writing

    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    metadata = export_metadata(gan, config)
    metadata_json = json.dumps(metadata, indent=2, sort_keys=True)
    tmp = None
    try:
        # A failed write (a full disk): one WriteError, the previous export kept.
        with writing(directory), tempfile.TemporaryDirectory() as scratch:
            os.makedirs(parent, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=".export-tmp-", dir=parent)
            metadata_path = os.path.join(scratch, METADATA_FILE)
            with open(metadata_path, "w") as f:
                f.write(metadata_json + "\n")
            module = _generator_module(
                getattr(gan, "sampling_generator", gan.generator),
                gan.latent_dim,
                gan.num_classes,
                metadata_json,
                metadata_path,
            )
            out = os.path.join(tmp, "saved_model")
            tf.saved_model.save(
                module,
                out,
                signatures={
                    "serving_default": module.serve,
                    "generate": module.generate,
                    "generate_soft": module.generate_soft,
                },
            )
            replace_dir(out, directory)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


def read_metadata(directory):
    """Checks that `directory` is a keras_cgan export and returns its metadata.

    Needs no TensorFlow. A swap cut short by a crash (`DIR.old` left beside a
    missing `DIR`) is followed to the complete copy.

    Raises:
        ExportError: `directory` is missing, a file, not a SavedModel, lacks
            or has corrupt `assets/keras_cgan.json`, or is another format.
    """
    from keras_cgan.fileio import resolve_dir

    path = os.fspath(directory)
    if os.path.isfile(path):
        raise ExportError(f"{path} is a file, not a keras_cgan export: pass the export folder")
    resolved = resolve_dir(path)
    if resolved is None:
        raise ExportError(f"export folder not found: {path}")
    if not os.path.isfile(os.path.join(resolved, "saved_model.pb")):
        raise ExportError(
            f"{path} is not a keras_cgan export: it has no saved_model.pb "
            "(export one with python -m keras_cgan.export --model=RUN_DIR)"
        )
    meta_path = os.path.join(resolved, METADATA_PATH)
    if not os.path.isfile(meta_path):
        raise ExportError(
            f"{path} is not a keras_cgan export: {METADATA_PATH} is missing "
            "(a SavedModel from another program?)"
        )
    try:
        with open(meta_path) as f:
            metadata = json.load(f)
        metadata["latent_dim"] = int(metadata["latent_dim"])
        metadata["num_classes"] = int(metadata["num_classes"])
        metadata["image_shape"] = [int(d) for d in metadata["image_shape"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExportError(
            f"{meta_path} is corrupt ({type(e).__name__}: {e}): re-export the model"
        ) from None
    if metadata.get("format") != FORMAT:
        raise ExportError(
            f"{path} has export format {metadata.get('format')!r}, expected {FORMAT!r}: "
            "re-export it with this version"
        )
    return metadata


def load_export(directory):
    """Loads an export: returns `(loaded SavedModel, metadata dict)`.

    Raises:
        ExportError: `directory` is not a loadable keras_cgan export.
    """
    import tensorflow as tf

    from keras_cgan.fileio import resolve_dir

    metadata = read_metadata(directory)
    try:
        loaded = tf.saved_model.load(resolve_dir(os.fspath(directory)))
    except Exception as e:  # A damaged SavedModel: say so in one line.
        reason = _first_line(e)
        raise ExportError(
            f"cannot load the SavedModel in {directory} ({type(e).__name__}: {reason})"
        ) from None
    if "generate" not in loaded.signatures:
        raise ExportError(
            f"{directory} has no 'generate' signature (it has: "
            f"{', '.join(sorted(loaded.signatures)) or 'none'}): re-export the model"
        )
    return loaded, metadata


def _first_line(error):
    """The informative line of a TensorFlow error (not "Graph execution error:")."""
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")
    lines = [line.strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith(noise)]
    return (lines or [type(error).__name__])[0][:200]


def _failed_check(error):
    """The message of the export's own input check that `error` reports, or None.

    The checks fail with "assertion failed: [MESSAGE] [Condition ...] ...".
    """
    match = re.search(r"assertion failed: \[(.*?)\] \[Condition", str(error))
    return match.group(1)[:200] if match else None


class ExportedGenerator:
    """Calls an export like `ConditionalGAN.generate`, batch by batch.

    Args:
        directory: An export folder.
        batch_size: Images per signature call.

    Attributes:
        latent_dim, num_classes: From the export's metadata.
        class_names: The class names (the ids for an export that has none).
        metadata: The metadata dict.
    """

    def __init__(self, directory, batch_size=1000):
        self.directory = directory
        self.batch_size = int(batch_size)
        self.loaded, self.metadata = load_export(directory)
        self.latent_dim = self.metadata["latent_dim"]
        self.num_classes = self.metadata["num_classes"]
        self.class_names = class_names_of(self.metadata)

    def _call(self, name, **inputs):
        import tensorflow as tf

        try:
            outputs = self.loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        except Exception as e:  # The export's input checks, or a foreign signature.
            check = _failed_check(e)
            if check:
                raise ExportError(f"the export's '{name}' signature failed: {check}") from None
            reason = _first_line(e)
            raise ExportError(
                f"the export's '{name}' signature failed ({type(e).__name__}: {reason}): it must "
                f"take {', '.join(inputs)} as the metadata describes"
            ) from None
        if "images" not in outputs:
            raise ExportError(
                f"the export's '{name}' signature returns {sorted(outputs)}, not 'images'"
            )
        return outputs["images"].numpy()

    def _check_size(self, n):
        from keras_cgan import sizes

        shape = self.metadata["image_shape"]
        sizes.check_generate(n, shape, self.latent_dim, self.num_classes)

    def generate(self, labels, noise=None, seed=None):
        """Images float32 `[N, H, W, C]` in [0, 1] for `labels` `[N]` (ids or names).

        Args:
            labels: Class ids or class names (`["sneaker", "bag"]`) `[N]`.
            noise: float32 `[N, latent_dim]`; drawn from N(0, 1) with
                `np.random.default_rng(seed)` if None.
            seed: Seed of the drawn noise.

        Raises:
            TooLarge: the images would need more than
                `keras_cgan.sizes.MAX_GENERATE_BYTES` of memory.
            ExportError: the export's signature failed.
        """
        from keras_cgan.sampling import as_class_ids

        labels = np.asarray(as_class_ids(labels, self.class_names), np.int32)
        self._check_size(len(labels))
        if noise is None:
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal((len(labels), self.latent_dim), dtype=np.float32)
        noise = np.asarray(noise, np.float32)
        parts = [
            self._call(
                "generate",
                noise=noise[i : i + self.batch_size],
                labels=labels[i : i + self.batch_size],
            )
            for i in range(0, len(labels), self.batch_size)
        ]
        shape = tuple(self.metadata["image_shape"])
        return np.concatenate(parts) if parts else np.zeros((0,) + shape, np.float32)

    def generate_soft(self, one_hot, noise):
        """float32 images for soft labels `one_hot` `[N, num_classes]` and `noise`."""
        self._check_size(len(noise))
        return self._call(
            "generate_soft",
            noise=np.asarray(noise, np.float32),
            one_hot=np.asarray(one_hot, np.float32),
        )
