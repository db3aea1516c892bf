"""ONNX export of a generator through tf2onnx (the `onnx` extra).

`export_onnx(model, out)` writes one ONNX graph with inputs
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
import tempfile

from keras_cgan.export import ExportError

METADATA_KEY = "keras_cgan"
OPSET = 17


def convert_export(export_dir, out):
    """Converts an export folder's `generate` signature to an ONNX file at `out`.

    Raises:
        ExportError: tf2onnx is missing, `export_dir` is not an export, or
            conversion failed.
    """
    try:
        import onnx
        import tf2onnx
    except ImportError as e:
        raise ExportError(
            f"ONNX export needs the onnx extra ({e.name} is missing): pip install -e \".[onnx]\""
        ) from None
    from keras_cgan.export import _first_line, load_export
    from keras_cgan.tflite import _wrapper_module

    loaded, metadata = load_export(export_dir)
    module = _wrapper_module(loaded, metadata["latent_dim"])
    try:
        proto, _ = tf2onnx.convert.from_function(
            module.generate, input_signature=module.generate.input_signature, opset=OPSET
        )
    except Exception as e:
        raise ExportError(f"ONNX conversion failed: {_first_line(e)}") from None
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, sort_keys=True)
    out = os.path.abspath(out)
    tmp = out + ".tmp"
    onnx.save(proto, tmp)
    os.replace(tmp, out)
    return out


def export_onnx(model, out):
    """Writes an ONNX generator for `model`: an export folder, a run folder or a `.keras` file.

    Returns:
        `out`.
    """
    from keras_cgan import export

    if not out.endswith(".onnx"):
        raise ExportError(f"--out={out!r}: an ONNX file name must end in .onnx")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ExportError(f"--out={out!r}: folder {parent} does not exist")
    if os.path.isdir(model) and os.path.isfile(os.path.join(model, export.METADATA_PATH)):
        return convert_export(model, out)
    gan, config = export.load_gan_for_export(model)
    with tempfile.TemporaryDirectory() as scratch:
        saved = export.export_generator(gan, os.path.join(scratch, "export"), config)
        return convert_export(saved, out)
