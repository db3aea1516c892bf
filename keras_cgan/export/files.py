"""One-file generators (TFLite, ONNX) from any model a tool's `--model` names."""

import os
import tempfile

from keras_cgan import loading
from keras_cgan.export import ExportError, export_generator, load_export

FORMATS = ("tflite", "onnx")


def export_file(model, out, fmt):
    """Writes a one-file generator (TFLite or ONNX) for `model`.

    Args:
        model: An export folder, a run folder or a `.keras` file; the last two
            are exported (into a temporary folder) from their latest state first.
        out: Destination path, ending in `.tflite` or `.onnx`.
        fmt: "tflite" or "onnx" (the onnx extra).

    Returns:
        `out` as an absolute path.

    Raises:
        KerasCganError: a bad `out`, nothing loadable at `model`, or a failed
            conversion (one line).
    """
    if fmt == "tflite":
        from keras_cgan.tflite import write_tflite as write
    elif fmt == "onnx":
        from keras_cgan.onnx_export import write_onnx as write
    else:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not out.endswith(f".{fmt}"):
        raise ExportError(f"--out={out!r}: a {fmt} file name must end in .{fmt}")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ExportError(f"--out={out!r}: folder {parent} does not exist")
    kind, _ = loading.check_model_path(model)
    if kind == loading.EXPORT:
        return write(*load_export(model), out)
    gan, config = loading.load_gan(model)
    with tempfile.TemporaryDirectory() as scratch:
        saved = export_generator(gan, os.path.join(scratch, "export"), config)
        return write(*load_export(saved), out)
