"""`FusedBatchNormalization` computes what `keras.layers.BatchNormalization` does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import make_tiny_gan, run_python
from keras_cgan import networks
from keras_cgan.fused_norm import FusedBatchNormalization

# Small batches: the moving variance of an (n - 1) variance would differ by n / (n - 1).
SHAPES = [(6, 5), (4, 3, 3, 2), (3, 2, 4, 3, 2)]


def _pair(shape, policy, **kwargs):
    layers = [keras.layers.BatchNormalization(dtype=policy, **kwargs)]
    layers.append(FusedBatchNormalization(dtype=policy, **kwargs))
    channels = shape[kwargs.get("axis", -1)]
    for layer in layers:
        layer.build(shape)
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 1.5, channels))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, channels))
    return layers


def _train_call(layer, x):
    weights = tf.cos(tf.reshape(tf.range(tf.size(x), dtype=tf.float32), x.shape))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
    return y, tape.gradient(loss, [x, *layer.trainable_variables])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("affine", [True, False])
def test_training_outputs_gradients_and_moving_statistics_match_keras(shape, policy, affine):
    keras_bn, fused = _pair(shape, policy, center=affine, scale=affine)
    # bfloat16 keeps 8 bits: compare to its rounding, float32 to its own.
    tol = dict(rtol=2e-2, atol=2e-2) if policy == "mixed_bfloat16" else dict(rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = tf.constant(rng.normal(1.0, 3.0, shape).astype(np.float32))
        (y_k, g_k), (y_f, g_f) = _train_call(keras_bn, x), _train_call(fused, x)
        assert y_f.dtype == y_k.dtype
        np.testing.assert_allclose(np.float32(y_f), np.float32(y_k), **tol)
        assert len(g_f) == len(g_k) == (3 if affine else 1)
        for a, b in zip(g_f, g_k, strict=True):
            np.testing.assert_allclose(np.float32(a), np.float32(b), **tol)
        for name in ("moving_mean", "moving_variance"):
            np.testing.assert_allclose(
                getattr(fused, name).numpy(),
                getattr(keras_bn, name).numpy(),
                rtol=1e-5,
                err_msg=name,
            )
    assert not np.allclose(fused.moving_variance.numpy(), 1.0)  # The statistics moved.
    x = tf.constant(rng.normal(size=shape).astype(np.float32))
    np.testing.assert_allclose(
        np.float32(fused(x, training=False)), np.float32(keras_bn(x, training=False)), **tol
    )


def test_other_cases_run_keras_own_code():
    keras_bn, fused = _pair((4, 3), "float64")
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 3)))
    np.testing.assert_allclose(fused(x, training=True), keras_bn(x, training=True))
    keras_bn, fused = _pair((4, 2, 3), "float32", axis=1)
    x = tf.constant(np.random.default_rng(2).normal(size=(4, 2, 3)).astype(np.float32))
    np.testing.assert_allclose(fused(x, training=True), keras_bn(x, training=True), rtol=1e-5)
    np.testing.assert_allclose(fused.moving_variance, keras_bn.moving_variance, rtol=1e-5)


def test_config_round_trips_to_the_same_layer():
    layer = FusedBatchNormalization(momentum=0.9, epsilon=1e-4, center=False, name="bn")
    config = keras.saving.serialize_keras_object(layer)
    copy = keras.saving.deserialize_keras_object(config)
    assert type(copy) is FusedBatchNormalization
    assert copy.get_config() == layer.get_config()
    assert set(layer.get_config()) == set(keras.layers.BatchNormalization().get_config())


@pytest.mark.parametrize("arch", ["dcgan", "dcgan_proj", "dcgan_cbn"])
def test_conv_generators_normalise_with_the_fused_layer(arch):
    g, _ = networks.build_networks(arch, latent_dim=8, num_classes=10, hidden_units=4)
    norms = [layer for layer in g.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 2
    assert all(type(layer) is FusedBatchNormalization for layer in norms)


@pytest.mark.slow
def test_a_saved_conv_gan_loads_in_a_new_process_after_import_keras_cgan(tmp_path):
    gan = make_tiny_gan("dcgan_cbn")
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    noise = np.random.default_rng(3).standard_normal((3, gan.latent_dim)).astype("float32")
    np.save(tmp_path / "noise.npy", noise)
    code = (
        "import keras_cgan, keras, numpy as np\n"
        "gan = keras.models.load_model('gan.keras')\n"
        "np.save('images.npy', gan.generate([1, 5, 9], noise=np.load('noise.npy')))\n"
    )
    result = run_python(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = gan.generate([1, 5, 9], noise=noise)
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), expected)
