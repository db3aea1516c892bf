"""The fast training settings, chosen with `python -m keras_cgan.bench`.

The numbers behind each choice are in the README, section "Performance".
Nothing here assumes a CPU: the same settings run on a GPU, where XLA is on
for both architectures.
"""

# `make_dataset` options of a training run: uint8 pixels and integer labels
# (scaled and one-hot encoded inside the compiled step), elements mapped on
# tf.data's parallel threads and prefetched (tf.data tunes the depth).
PIPELINE = {"raw": True, "parallel": True, "prefetch": -1}


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_jit_compile(arch: str, jit_compile=None) -> bool:
    """The `jit_compile` a run uses: `jit_compile` itself unless it is None (auto).

    Auto: XLA for the mlp networks (per-step overhead dominates them, and XLA
    compiles the whole K-step loop into one call); for dcgan only on a GPU:
    on a CPU, XLA's code for the conv step inside the K-step loop is 20-30x
    slower than TensorFlow's oneDNN kernels, and with one step per call it is
    no faster than them (`python -m keras_cgan.bench`, README). Keras' own
    `jit_compile="auto"` never turns XLA on for a CPU-only machine, so the
    choice is made here.
    """
    if jit_compile is not None:
        return bool(jit_compile)
    if arch == "mlp":
        return True
    return gpu_available()
