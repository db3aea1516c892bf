"""The fast settings compute the same training math as the plain ones.

Fast: XLA, K steps per compiled call (stacked batches in a `tf.while_loop`),
uint8 pixels and integer labels converted inside the step. Plain: no XLA, one
step per call, float32 images and one-hot labels from the pipeline. The noise
is either fed in or drawn by the counter-based Philox of `keras_cgan.rng`,
which gives the same draws with and without XLA.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import fake_batch, make_tiny_gan
from keras_cgan import builder, data, perf, rng, train
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError


def _weights(gan):
    return [np.array(v) for v in gan.trainable_weights]


def _norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(a)) for a in arrays)))


def _assert_same_training(initial, a, b, rel=1e-2):
    """`a` and `b` moved their weights from `initial` the same way.

    Float reassociation (XLA fusions, Adam dividing tiny gradients by their own
    size) makes bit equality too strict; a difference of 1% of how far training
    moved the weights is far below what a wrong noise draw or one batch out of
    three differing gives (10% to 25%, measured), and far above rounding
    (below 0.1%).
    """
    difference = _norm([x - y for x, y in zip(_weights(a), _weights(b), strict=True)])
    moved = _norm([x - w for x, w in zip(_weights(a), initial, strict=True)])
    assert moved > 0.0
    assert difference <= rel * moved, (difference, moved)


def _relative_difference(initial, a, b):
    difference = _norm([x - y for x, y in zip(_weights(a), _weights(b), strict=True)])
    return difference / _norm([x - w for x, w in zip(_weights(a), initial, strict=True)])


@pytest.fixture
def plain_config(tiny_config, tmp_path):
    # All 300 fixture examples at batch 16: 18 steps per epoch, so stacks of 5
    # end with a stack of 3 in every epoch.
    return tiny_config.replace(
        train_examples=0,
        workdir=str(tmp_path / "plain"),
        seed=3,
        jit_compile=False,
        steps_per_execution=1,
    )


@pytest.mark.slow
def test_fast_run_trains_the_same_weights_as_a_plain_run(plain_config, tmp_path):
    initial = _weights(builder.build_gan(plain_config))
    plain = train.train(plain_config)
    fast = train.train(
        plain_config.replace(
            workdir=str(tmp_path / "fast"), jit_compile=True, steps_per_execution=5
        )
    )
    assert int(fast.d_optimizer.iterations) == int(plain.d_optimizer.iterations) == 36
    _assert_same_training(initial, plain, fast)
    for x, y in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5, rtol=0)
    plain_log = np.loadtxt(f"{plain_config.workdir}/metrics.csv", delimiter=",", skiprows=1)
    fast_log = np.loadtxt(str(tmp_path / "fast" / "metrics.csv"), delimiter=",", skiprows=1)
    np.testing.assert_allclose(plain_log, fast_log, rtol=1e-4)

    # The comparison can fail: another seed trains visibly different weights.
    other = train.train(plain_config.replace(workdir=str(tmp_path / "other"), seed=4))
    assert _relative_difference(initial, plain, other) > 0.1


def _stack(*batches):
    return tuple(np.stack(parts) for parts in zip(*batches, strict=True))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("jit", [False, True, "step"])
def test_stacked_steps_equal_single_steps_with_fed_noise(arch, jit):
    batches = [fake_batch(8, seed=s) for s in range(3)]
    single = make_tiny_gan(arch)
    initial = _weights(single)
    single_logs = [single.train_on_batch(b, return_dict=True) for b in batches]
    # "step": each step its own XLA program inside a TensorFlow loop.
    stacked = make_tiny_gan(arch, jit_compile=jit is True, step_jit_compile=jit == "step")
    logs = stacked.train_on_batch(_stack(*batches), return_dict=True)
    assert int(stacked.d_optimizer.iterations) == int(stacked.g_optimizer.iterations) == 3
    _assert_same_training(initial, single, stacked)
    # The stacked call's metrics average its three steps.
    for name in ("d_loss", "g_loss", "d_acc"):
        expected = np.mean([step[name] for step in single_logs])
        assert logs[name] == pytest.approx(expected, rel=1e-3), name
    # One batch out of three differing is caught.
    wrong = make_tiny_gan(arch)
    wrong.train_on_batch(_stack(*batches[:2], fake_batch(8, seed=9)))
    assert _relative_difference(initial, single, wrong) > 0.05


def test_uint8_images_and_integer_labels_equal_float_and_one_hot():
    images, one_hot, noise = fake_batch(8)
    pixels = np.round(images * 255).astype(np.uint8)
    as_float = make_tiny_gan()
    initial = _weights(as_float)
    as_float.train_on_batch((pixels.astype(np.float32) / 255.0, one_hot, noise))
    as_raw = make_tiny_gan(jit_compile=True)
    as_raw.train_on_batch((pixels, one_hot.argmax(1).astype(np.int32), noise))
    _assert_same_training(initial, as_float, as_raw, rel=1e-4)


def test_drawn_noise_is_the_same_with_and_without_xla():
    """Without fed noise, both draw from the same Philox stream: same weights."""
    images, one_hot, _ = fake_batch(8)
    plain, fast = make_tiny_gan(seed=5), make_tiny_gan(seed=5, jit_compile=True)
    initial = _weights(plain)
    other = make_tiny_gan(seed=5)
    other.seed_generator.state.assign([6, 0])  # Same weights, another noise stream.
    for _ in range(3):
        for gan in (plain, fast, other):
            gan.train_on_batch((images, one_hot))
    _assert_same_training(initial, plain, fast, rel=1e-4)
    # The stream is (seed, step): the seed stays, the step counter advanced.
    assert list(np.array(fast.seed_generator.state)) == [5, 0]
    assert int(np.asarray(fast.train_steps)) == int(np.asarray(plain.train_steps)) == 3
    assert _relative_difference(initial, plain, other) > 0.05


def test_a_loaded_model_continues_the_same_noise_sequence(tmp_path):
    images, one_hot, _ = fake_batch(8)
    straight = make_tiny_gan(seed=7)
    initial = _weights(straight)
    for _ in range(4):
        straight.train_on_batch((images, one_hot))
    first = make_tiny_gan(seed=7)
    for _ in range(2):
        first.train_on_batch((images, one_hot))
    first.save(str(tmp_path / "gan.keras"))
    resumed = keras.models.load_model(str(tmp_path / "gan.keras"))
    for _ in range(2):
        resumed.train_on_batch((images, one_hot))
    _assert_same_training(initial, straight, resumed, rel=1e-4)
    # The noise is that of step 2, not a restart at step 0.
    loaded = keras.models.load_model(str(tmp_path / "gan.keras"))
    np.testing.assert_array_equal(loaded.draw_noise(8), first.draw_noise(8))
    assert not np.allclose(loaded.draw_noise(8), make_tiny_gan(seed=7).draw_noise(8))


# --- the pipeline options -------------------------------------------------


def _pixels(n=100, seed=0):
    r = np.random.default_rng(seed)
    return r.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), r.integers(0, 10, n)


def test_stacked_pipeline_yields_the_same_batches_in_stacks():
    images, labels = _pixels()
    plain = list(
        data.make_dataset(images, labels, 8, seed=1, epochs=(0, 2), stack=1).as_numpy_iterator()
    )
    stacked = list(
        data.make_dataset(images, labels, 8, seed=1, epochs=(0, 2), stack=5).as_numpy_iterator()
    )
    # 12 batches per epoch: stacks of 5, 5, 2 in each epoch, never across epochs.
    assert [len(x) for x, _ in stacked] == [5, 5, 2, 5, 5, 2]
    assert data.steps_per_epoch(len(images), 8, 5) == 3
    assert data.steps_per_epoch(len(images), 8, 1) == 12
    np.testing.assert_array_equal(np.concatenate([x for x, _ in stacked]), [x for x, _ in plain])
    np.testing.assert_array_equal(np.concatenate([y for _, y in stacked]), [y for _, y in plain])


def test_raw_pipeline_matches_the_float_one():
    images, labels = _pixels()
    floats = data.make_dataset(images, labels, 10, seed=2, epochs=(0, 1))
    raws = data.make_dataset(images, labels, 10, seed=2, epochs=(0, 1), raw=True, parallel=False)
    for (x, y), (px, ids) in zip(floats.as_numpy_iterator(), raws.as_numpy_iterator(), strict=True):
        assert px.dtype == np.uint8 and ids.dtype == np.int32 and ids.shape == (10,)
        np.testing.assert_array_equal(px.astype(np.float32) / 255.0, x)
        np.testing.assert_array_equal(np.eye(10)[ids], y)


def test_stack_must_be_positive():
    images, labels = _pixels()
    with pytest.raises(ValueError, match="stack must be >= 1"):
        data.make_dataset(images, labels, 8, stack=0)


# --- the counter-based RNG ------------------------------------------------


def test_philox_known_answers():
    """Philox-4x32-10 test vectors of Random123 (kat_vectors)."""
    u = lambda *v: tuple(tf.constant(x, tf.uint32) for x in v)  # noqa: E731
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ]
    for counter, key, expected in cases:
        assert tuple(int(w) for w in rng.philox4x32(u(*counter), u(*key))) == expected


def test_normal_is_standard_normal_and_a_function_of_its_seed():
    draw = rng.normal([1000, 1000], tf.constant([3, 0], tf.int64)).numpy()
    assert draw.dtype == np.float32 and draw.shape == (1000, 1000)
    assert abs(draw.mean()) < 0.005 and abs(draw.std() - 1.0) < 0.005
    assert np.abs(draw).max() < 5.4
    assert abs(np.mean(np.abs(draw) > 1.96) - 0.05) < 0.002
    again = rng.normal([1000, 1000], tf.constant([3, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(draw, again)
    next_counter = rng.normal([1000, 1000], tf.constant([3, 1], tf.int64)).numpy()
    other_key = rng.normal([1000, 1000], tf.constant([4, 0], tf.int64)).numpy()
    for other in (next_counter, other_key):
        assert abs(np.corrcoef(draw.ravel(), other.ravel())[0, 1]) < 0.005


def test_normal_is_the_same_inside_xla_and_graph_functions():
    seed = tf.constant([7, 11], tf.int64)
    eager = rng.normal([64, 100], seed).numpy()
    graph = tf.function(lambda s: rng.normal([64, 100], s))(seed).numpy()
    xla = tf.function(lambda s: rng.normal([64, 100], s), jit_compile=True)(seed).numpy()
    np.testing.assert_allclose(graph, eager, atol=1e-6)
    np.testing.assert_allclose(xla, eager, atol=1e-6)
    assert rng.normal([2, 3], seed, dtype=tf.bfloat16).dtype == tf.bfloat16


# --- settings: XLA rule and precision -------------------------------------


def test_jit_compile_auto_rule(monkeypatch):
    assert perf.resolve_jit_compile("dcgan", True) is True
    assert perf.resolve_jit_compile("mlp", False) is False
    assert perf.resolve_jit_compile("mlp", None) is True
    assert perf.resolve_jit_compile("dcgan_proj", "step") == "step"
    monkeypatch.setattr(perf, "gpu_available", lambda: False)
    assert perf.resolve_jit_compile("dcgan", None) == "step"
    assert perf.resolve_jit_compile("dcgan", None, 64) == "step"
    assert perf.resolve_jit_compile("dcgan_proj", None, 256) is False
    assert perf.resolve_jit_compile("mlp", None, 256) is True
    monkeypatch.setattr(perf, "gpu_available", lambda: True)
    assert perf.resolve_jit_compile("dcgan", None) is True


def test_step_xla_mode_is_built_and_recorded(tiny_config, monkeypatch):
    monkeypatch.setattr(perf, "gpu_available", lambda: False)
    config = tiny_config.replace(arch="dcgan", hidden_units=8, epochs=1)
    gan = builder.build_gan(config)
    assert gan.jit_compile is False and gan.step_jit_compile is True
    assert gan.get_compile_config()["step_jit_compile"] is True
    train.train(config)
    with open(os.path.join(config.workdir, "config.json")) as f:
        assert json.load(f)["jit_compile"] == "step"
    assert TrainConfig.from_dict({"jit_compile": "step"}).jit_compile == "step"


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_leaves_the_global_policy_alone(precision, tiny_config):
    before = keras.config.dtype_policy().name
    config = tiny_config.replace(mixed_precision=precision, latent_dim=8)
    gan = builder.build_gan(config)
    assert keras.config.dtype_policy().name == before
    assert gan.generator.layers[-2].compute_dtype == precision.split("_")[1]
    assert all(v.dtype == "float32" for v in gan.trainable_weights)
    if precision == "mixed_float16":
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    images, one_hot, noise = fake_batch(8)
    before_weights = _weights(gan)
    logs = gan.train_on_batch((images, one_hot, noise), return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before_weights, _weights(gan), strict=True))
    assert gan.generate([1, 2], seed=0).dtype == np.float32


def test_bad_performance_settings_are_rejected():
    with pytest.raises(ConfigError, match="unknown mixed_precision 'float8'"):
        TrainConfig(mixed_precision="float8")
    with pytest.raises(
        ConfigError, match="unknown jit_compile 'yes': choose one of true, false, 'step' or None"
    ):
        TrainConfig(jit_compile="yes")
    with pytest.raises(ConfigError, match="steps_per_execution must be an integer >= 1"):
        TrainConfig(steps_per_execution=0)
