"""The fast training settings, chosen with `python -m keras_cgan.bench`.

The numbers behind each choice are in the README, section "Performance".
Nothing here assumes a CPU: the same settings run on a GPU, where XLA is on
for both architectures.
"""

from keras_cgan.errors import ConfigError

# `make_dataset` options of a training run: uint8 pixels and integer labels
# (scaled and one-hot encoded inside the compiled step), elements mapped on
# tf.data's parallel threads and 2 of them prefetched, tf.data's autotuning
# off (its thread made the iterator's deletion at the end of `fit` block for
# ~4 s; the pipeline is >100x faster than training, nothing to tune).
PIPELINE = {"raw": True, "parallel": True, "prefetch": 2, "autotune": False}


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


# Conv networks on a CPU: the largest batch at which "XLA per step" beats no
# XLA (bench, best preset: 12.2 vs 14.4 ms/step at batch 64, 57.4 vs 49.4 at
# batch 256).
STEP_XLA_MAX_BATCH = 128


def resolve_jit_compile(arch: str, jit_compile=None, batch_size=None):
    """How a run uses XLA: `jit_compile` itself unless it is None (auto).

    Returns:
        True (each call, with its loop over K stacked steps, is one XLA
        program), False (no XLA), or "step" (each step is its own XLA
        program, launched from a TensorFlow loop over the stack).

    Auto: True for the mlp networks (per-step overhead dominates them, and XLA
    compiles the whole K-step loop into one call) and for the conv networks
    where a GPU is present. For the conv networks on a CPU, XLA's code for the
    conv step inside the K-step loop is 15-20x slower than TensorFlow's oneDNN
    kernels; one XLA program per step is ~15% faster than no XLA at batch 64
    but ~15% slower at batch 256, so auto is "step" up to
    `STEP_XLA_MAX_BATCH` (or when `batch_size` is None) and False above it
    (`python -m keras_cgan.bench`, README). Keras' own `jit_compile="auto"`
    never turns XLA on for a CPU-only machine, so the choice is made here.
    """
    if jit_compile is not None:
        return jit_compile if jit_compile == "step" else bool(jit_compile)
    if arch == "mlp" or gpu_available():
        return True
    return "step" if batch_size is None or batch_size <= STEP_XLA_MAX_BATCH else False


def network_arch(*networks) -> str:
    """ "conv" if any layer of `networks` (nested models included) convolves, else "mlp".

    The architecture family `resolve_jit_compile` needs, read off built
    networks (a `ConditionalGAN`'s generator and discriminator).
    """
    pending = list(networks)
    while pending:
        layer = pending.pop()
        if "Conv" in type(layer).__name__:
            return "conv"
        pending.extend(getattr(layer, "layers", ()))
    return "mlp"


def auto_jit_compile(networks, arch=None, strategy=None):
    """`resolve_jit_compile`'s auto choice for a model's networks, as a run makes it.

    Args:
        networks: The models whose layers decide mlp vs conv (`network_arch`).
        arch: An architecture name ("mlp", "dcgan", ...) to use instead.
        strategy: The model's `tf.distribute.Strategy` (None: the default).

    Returns:
        True, False or "step" (see `resolve_jit_compile`; the batch size is
        not known here, so the conv networks on a CPU get "step"). False
        where XLA cannot run: across the CPU devices of a multi-replica
        strategy.
    """
    jit = resolve_jit_compile(arch or network_arch(*networks))
    if jit and strategy is not None and strategy.num_replicas_in_sync > 1:
        import tensorflow as tf

        # As `distribute.xla_supported`: XLA cannot span several CPU devices.
        if not (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")):
            return False
    return jit


def compile_jit_mode(
    jit_compile, step_jit_compile, networks, arch=None, strategy=None, run_eagerly=False
):
    """`ConditionalGAN.compile`'s XLA arguments as one mode: True, False or "step".

    Args:
        jit_compile: "auto" (`auto_jit_compile`, or "step" when
            `step_jit_compile` is set), True, False or "step".
        step_jit_compile: With `jit_compile=False` (or "auto"): "step".
        networks: The model's networks (for "auto").
        arch: Architecture hint for "auto" (None: read off `networks`).
        strategy: The model's distribution strategy (for "auto").
        run_eagerly: No XLA at all.

    Raises:
        ConfigError: `jit_compile` is none of the values above.
    """
    if not (jit_compile in ("auto", "step") or isinstance(jit_compile, bool)):
        raise ConfigError(f"jit_compile must be True, False, 'step' or 'auto', got {jit_compile!r}")
    if run_eagerly:
        return False
    if jit_compile == "auto":
        return "step" if step_jit_compile else auto_jit_compile(networks, arch, strategy)
    if jit_compile is False and step_jit_compile:
        return "step"
    return jit_compile
