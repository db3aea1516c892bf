"""A counter-based normal RNG (Philox-4x32-10) that is fast under XLA.

The train step draws its noise here rather than with `keras.random.normal`,
for two reasons measured by `python -m keras_cgan.bench`:

* TensorFlow's stateless random ops compile under XLA on the CPU to code that
  takes ~2.3 ms for the 6,400 normals of one batch of 64, more than the whole
  rest of the training step; this Philox, written in plain integer ops, costs
  a few nanoseconds per number.
* `keras.random` draws differ between XLA and non-XLA runs; this function is
  always compiled with XLA (as its own small cluster when the caller is not),
  so the same `(key, counter)` gives the same noise whatever `jit_compile` is.
  A training run is then the same computation with or without XLA.

Each output element `i` of a draw is `sqrt(2) * erfinv(u)` of the uniform
`u` in (-1, 1) made from 23 bits of the first word of `Philox4x32-10(counter=(i, counter_lo,
counter_hi, 0), key=(key_lo, key_hi))` (Salmon et al., 2011, "Parallel random
numbers: as easy as 1, 2, 3"): a pure function of `(key, counter, i)`.
"""

import tensorflow as tf

_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # Philox-4x32 multipliers.
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # Key schedule increments (Weyl).
_ROUNDS = 10


def _mulhilo(a, multiplier):
    """High and low 32-bit words of `a * multiplier` (uint32 in, uint32 out)."""
    product = tf.cast(a, tf.uint64) * tf.constant(multiplier, tf.uint64)
    return tf.cast(tf.bitwise.right_shift(product, tf.constant(32, tf.uint64)), tf.uint32), tf.cast(
        product, tf.uint32
    )


def philox4x32(counter, key, rounds=_ROUNDS):
    """The Philox-4x32 block function.

    Args:
        counter: Four uint32 tensors of one broadcastable shape.
        key: Two uint32 tensors (scalars or the same shape).
        rounds: Number of rounds (10 is the standard, crush-resistant choice).

    Returns:
        Four uint32 tensors: the random words.
    """
    c0, c1, c2, c3 = counter
    k0, k1 = key
    xor = tf.bitwise.bitwise_xor
    for r in range(rounds):
        hi0, lo0 = _mulhilo(c0, _M0)
        hi1, lo1 = _mulhilo(c2, _M1)
        c0, c1, c2, c3 = xor(xor(hi1, c1), k0), lo1, xor(xor(hi0, c3), k1), lo0
        if r < rounds - 1:
            k0 = k0 + tf.constant(_W0, tf.uint32)
            k1 = k1 + tf.constant(_W1, tf.uint32)
    return c0, c1, c2, c3


def _split64(value):
    """Low and high uint32 words of an int64 scalar tensor."""
    value = tf.cast(value, tf.int64)
    lo = tf.cast(tf.bitwise.bitwise_and(value, tf.constant(0xFFFFFFFF, tf.int64)), tf.uint32)
    hi = tf.cast(tf.bitwise.right_shift(value, tf.constant(32, tf.int64)), tf.uint32)
    return lo, hi


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _normal(shape, seed):
    size = tf.reduce_prod(shape)
    index = tf.cast(tf.range(size), tf.uint32)
    zero = tf.zeros_like(index)
    key = _split64(seed[0])
    counter_lo, counter_hi = _split64(seed[1])
    bits, _, _, _ = philox4x32((index, zero + counter_lo, zero + counter_hi, zero), key)
    # 23 random bits m -> u = (2m + 1 - 2^23) / 2^23, exact in float32, symmetric
    # about 0 and never +-1 (so |normal| < 5.4).
    m = tf.cast(tf.bitwise.right_shift(bits, tf.constant(9, tf.uint32)), tf.int32)
    u = tf.cast(2 * m + (1 - 2**23), tf.float32) * (1.0 / 2**23)
    return tf.reshape(tf.math.sqrt(2.0) * tf.math.erfinv(u), shape)


def normal(shape, seed, dtype=tf.float32):
    """Standard normal noise, a pure function of `seed`.

    Args:
        shape: Output shape: int32 tensor or list (may hold tensors).
        seed: int64 (or int32) `[2]`: `(key, counter)`. A `keras.random.SeedGenerator`'s
            `next()` gives `(seed, step)`, so each call draws fresh noise and a
            run is repeatable from its seed.
        dtype: Output dtype (computed in float32, then cast).

    Returns:
        `dtype` tensor of `shape` with i.i.d. N(0, 1) entries.
    """
    shape = tf.cast(tf.stack(shape) if isinstance(shape, (list, tuple)) else shape, tf.int32)
    values = _normal(shape, tf.cast(seed, tf.int64))
    return tf.cast(values, dtype)
