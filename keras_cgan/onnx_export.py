"""ONNX export of a generator through tf2onnx (the `onnx` extra).

`write_onnx(loaded, metadata, out)` writes one ONNX graph with inputs
`noise float32 [N, latent_dim]` and `labels int32 [N]` and output
`images float32 [N, H, W, C]` in [0, 1], equal to the SavedModel's `generate`
within float rounding; N is free. The export metadata is stored as the model
metadata property `keras_cgan` (JSON). Like TFLite, ONNX runtimes skip the
SavedModel's input checks: check labels and noise before calling
(`keras_cgan.tflite.TFLiteGenerator.check` shows how).

    python -m keras_cgan.export --model=runs/a --format=onnx --out=g.onnx
"""

import json
import os

from keras_cgan import fileio
from keras_cgan.tflite import ConversionError, first_line, generate_module

METADATA_KEY = "keras_cgan"
OPSET = 17


def write_onnx(loaded, metadata, out):
    """Converts a loaded export's `generate` signature to an ONNX file at `out`.

    Args:
        loaded: The export, loaded with `tf.saved_model.load`.
        metadata: Its metadata dict (`keras_cgan.export.read_metadata`).
        out: Destination `.onnx` path.

    Returns:
        `out` as an absolute path.

    Raises:
        ConversionError: tf2onnx is missing, or the conversion failed.
    """
    try:
        import onnx
        import tf2onnx
    except ImportError as e:
        raise ConversionError(
            f'ONNX export needs the onnx extra ({e.name} is missing): pip install -e ".[onnx]"'
        ) from None
    module = generate_module(loaded, metadata["latent_dim"])
    try:
        proto, _ = tf2onnx.convert.from_function(
            module.generate, input_signature=module.generate.input_signature, opset=OPSET
        )
    except Exception as e:
        raise ConversionError(f"ONNX conversion failed: {first_line(e)}") from None
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, sort_keys=True)
    out = os.path.abspath(out)
    return fileio.write_atomic(out, lambda tmp: onnx.save(proto, tmp))
