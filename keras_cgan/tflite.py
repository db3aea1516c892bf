"""TFLite export of a generator, and a checked runner for the file.

`write_tflite(loaded, metadata, out)` converts the `generate` signature of a
loaded export into a TFLite flatbuffer with one signature (the command line,
`python -m keras_cgan.export --format=tflite`, goes through
`keras_cgan.export.files.export_file`):

* `generate(noise float32 [N, latent_dim], labels int32 [N]) -> {"images": float32 [N, H, W, C]}`

in [0, 1], equal to the SavedModel's `generate` within float rounding. The
batch size N is free: resize the inputs with `Interpreter.resize_tensor_input`
(or use `TFLiteGenerator`). The export metadata (latent_dim, num_classes,
image shape, training config) travels inside the file as TFLite metadata named
`keras_cgan`.

TFLite drops the SavedModel's input checks, so a label out of range would
silently draw a blank class: `TFLiteGenerator` checks inputs before calling.
"""

import json
import os
import tempfile
import warnings

import numpy as np

from keras_cgan import fileio
from keras_cgan.errors import KerasCganError

METADATA_NAME = "keras_cgan"


class ConversionError(KerasCganError, ValueError):
    """A TFLite/ONNX conversion failed, a file is unreadable, or a runner got bad input."""


def first_line(error):
    """The informative line of a TensorFlow error (not "Graph execution error:")."""
    skip = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")
    lines = [line.strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith(skip)]
    return (lines or [type(error).__name__])[0][:200]


def generate_module(loaded, latent_dim):
    """A module whose `generate` calls the export's with the noise width declared.

    The declared `[None, latent_dim]` lets the converter fold away the
    export's shape checks, which TFLite has no kernels for.
    """
    import tensorflow as tf

    signature = loaded.signatures["generate"]
    module = tf.Module()
    module.loaded = loaded

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, latent_dim], tf.float32, name="noise"),
            tf.TensorSpec([None], tf.int32, name="labels"),
        ]
    )
    def generate(noise, labels):
        return {"images": signature(noise=noise, labels=labels)["images"]}

    module.generate = generate
    return module


def _with_metadata(flatbuffer, metadata):
    """`flatbuffer` with `metadata` (a dict) added as the TFLite metadata entry `keras_cgan`."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(flatbuffer):
    """The `keras_cgan` metadata dict stored in a TFLite flatbuffer (bytes).

    Raises:
        ConversionError: the file is not a TFLite model written by `write_tflite`.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAsModel(flatbuffer, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() is not None and entry.Name().decode() == METADATA_NAME:
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                return json.loads(bytes(data).decode())
    except Exception as e:  # A truncated or foreign file.
        raise ConversionError(
            f"not a readable TFLite model ({type(e).__name__}): re-export it"
        ) from None
    raise ConversionError(
        "the TFLite model has no keras_cgan metadata: write it with "
        "python -m keras_cgan.export --format=tflite"
    )


def write_tflite(loaded, metadata, out):
    """Converts a loaded export's `generate` signature to a TFLite file at `out`.

    Written atomically (a temporary file, then renamed).

    Args:
        loaded: The export, loaded with `tf.saved_model.load`.
        metadata: Its metadata dict (`keras_cgan.export.read_metadata`).
        out: Destination `.tflite` path.

    Returns:
        `out` as an absolute path.

    Raises:
        ConversionError: the conversion failed.
    """
    import tensorflow as tf

    module = generate_module(loaded, metadata["latent_dim"])
    with tempfile.TemporaryDirectory() as scratch:
        tf.saved_model.save(module, scratch, signatures={"generate": module.generate})
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=["generate"])
        try:
            flatbuffer = converter.convert()
        except Exception as e:
            raise ConversionError(f"TFLite conversion failed: {first_line(e)}") from None
    flatbuffer = _with_metadata(flatbuffer, dict(metadata, tflite_signature="generate"))
    out = os.path.abspath(out)

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(flatbuffer)

    return fileio.write_atomic(out, write)


class TFLiteGenerator:
    """Runs a TFLite generator with its inputs checked, for any batch size.

    Args:
        path: A `.tflite` file written by `write_tflite`.

    Attributes:
        latent_dim, num_classes, metadata: From the file's metadata.
    """

    def __init__(self, path):
        import tensorflow as tf

        try:
            with open(path, "rb") as f:
                flatbuffer = f.read()
        except OSError as e:
            raise ConversionError(f"cannot read the TFLite file {path} ({e.strerror})") from None
        self.metadata = read_tflite_metadata(flatbuffer)
        self.latent_dim = int(self.metadata["latent_dim"])
        self.num_classes = int(self.metadata["num_classes"])
        self.image_shape = tuple(int(d) for d in self.metadata["image_shape"])
        with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice.
            warnings.simplefilter("ignore")
            self.interpreter = tf.lite.Interpreter(model_content=flatbuffer)
        details = self.interpreter.get_signature_runner("generate").get_input_details()
        self._inputs = {name: d["index"] for name, d in details.items()}
        out = self.interpreter.get_signature_runner("generate").get_output_details()
        self._output = out["images"]["index"]
        self._batch = None

    def check(self, labels, noise):
        """Checked `(labels int32 [N], noise float32 [N, latent_dim])`; raises `ConversionError`."""
        labels = np.asarray(labels)
        if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
            raise ConversionError(
                f"labels must be integers of shape [N], got {labels.dtype} {list(labels.shape)}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = labels[(labels < 0) | (labels >= self.num_classes)][0]
            raise ConversionError(
                f"label {bad} is out of range: labels must be in 0..{self.num_classes - 1}"
            )
        noise = np.asarray(noise, np.float32)
        if noise.shape != (len(labels), self.latent_dim):
            raise ConversionError(
                f"noise must have shape [N, {self.latent_dim}] = [{len(labels)}, {self.latent_dim}] "
                f"(latent_dim is {self.latent_dim}), got {list(noise.shape)}"
            )
        if not np.isfinite(noise).all():
            raise ConversionError("noise must be finite (it holds NaN or inf)")
        return labels.astype(np.int32), noise

    def generate(self, labels, noise=None, seed=None):
        """Images float32 `[N, H, W, C]` in [0, 1] for class ids `labels` `[N]`.

        Args:
            labels: Integer class ids `[N]` in 0..num_classes-1.
            noise: float32 `[N, latent_dim]`; drawn from N(0, 1) with
                `np.random.default_rng(seed)` if None.
            seed: Seed of the drawn noise.

        Raises:
            ConversionError: a label out of range, or noise of the wrong shape.
        """
        labels = np.asarray(labels)
        if noise is None:
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal(
                (labels.reshape(-1).shape[0], self.latent_dim), dtype=np.float32
            )
        labels, noise = self.check(labels, noise)
        n = len(labels)
        if n == 0:
            return np.zeros((0,) + self.image_shape, np.float32)
        if self._batch != n:  # Resizing re-plans the interpreter: only when N changes.
            self.interpreter.resize_tensor_input(self._inputs["noise"], [n, self.latent_dim])
            self.interpreter.resize_tensor_input(self._inputs["labels"], [n])
            self.interpreter.allocate_tensors()
            self._batch = n
        self.interpreter.set_tensor(self._inputs["noise"], noise)
        self.interpreter.set_tensor(self._inputs["labels"], labels)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output).copy()
