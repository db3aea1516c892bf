"""The evaluator's metric math, generator adapters, callback and wiring (fast, no real MNIST).

The reference classifier is replaced by `PixelClassifier` (pooled pixels and
nearest-centroid probabilities) where the CNN itself is not under test; the
tests against the real CNN and real MNIST are in test_evaluation_mnist.py.
"""

import json
import logging
import math
import os

import keras
import numpy as np
import pytest

from helpers import FIXTURE_MNIST, PixelClassifier, make_tiny_gan, save_tiny_export
from keras_cgan import callbacks, classifier, data, evaluation, metrics, networks, samplers, train
from keras_cgan.config import TrainConfig
from keras_cgan.errors import ConfigError, EvaluationError, KerasCganError
from keras_cgan.model import ConditionalGAN


@pytest.fixture(scope="module")
def small_mnist():
    train_set = data.load_mnist("train", mnist_dir=FIXTURE_MNIST)
    test_set = data.load_mnist("test", mnist_dir=FIXTURE_MNIST)
    return train_set, test_set


@pytest.fixture(scope="module")
def stub_evaluator(small_mnist):
    (x, y), reference = small_mnist
    return evaluation.Evaluator(PixelClassifier(x, y), reference=reference)


# ---------------------------------------------------------------- metric math


def _random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    mu, cov = rng.standard_normal(5), _random_spd(rng, 5)
    assert metrics.frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-8)
    # Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b = rng.uniform(0.5, 2.0, 4), rng.uniform(0.5, 2.0, 4)
    m1, m2 = rng.standard_normal(4), rng.standard_normal(4)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected)
    # Non-commuting covariances: tr sqrt(C1 C2) from the eigenvalues of C1 C2.
    c1, c2 = _random_spd(rng, 6), _random_spd(rng, 6)
    tr_sqrt = np.sqrt(np.linalg.eigvals(c1 @ c2).real).sum()
    expected = np.sum((m1[:1] - m2[:1]) ** 2) + np.trace(c1) + np.trace(c2) - 2 * tr_sqrt
    got = metrics.frechet_distance(np.r_[m1[:1], np.zeros(5)], c1, np.r_[m2[:1], np.zeros(5)], c2)
    assert got == pytest.approx(expected, rel=1e-9)
    # A collapsed sample (zero covariance) against a spread one.
    assert metrics.frechet_distance(mu, np.zeros((5, 5)), mu + 1, cov) == pytest.approx(
        5.0 + np.trace(cov)
    )


def _brute_precision_recall(real, fake, k):
    def radii(x):
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]

    def inside(points, centres, r):
        d = np.sqrt(((points[:, None] - centres[None]) ** 2).sum(-1))
        return (d <= r[None] + 1e-5).any(axis=1)

    return inside(fake, real, radii(real)).mean(), inside(real, fake, radii(fake)).mean()


def test_precision_recall_by_hand_on_a_line():
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    np.testing.assert_allclose(metrics.knn_radii(real, k=1), [1, 1, 1, 1, 7])
    fake = np.array([[0.5], [19.0], [2.6], [30.0]])
    # Fake radii (k=1): 2.1, 11, 2.1, 11. Inside the real balls: 0.5 and 2.6
    # (19 is 9 from 10, whose ball has radius 7). Real points inside the fake
    # balls: 0, 1, 2, 3 (within 2.1 of 0.5 or 2.6) and 10 (within 11 of 19).
    assert metrics.precision_recall(real, fake, k=1) == (0.5, 1.0)
    fake = np.array([[0.5], [0.6], [1.5], [40.0]])  # Radii 0.1, 0.1, 0.9, 38.5.
    # Precision: all but 40. Recall: 1 and 2 (within 0.9 of 1.5), 3 and 10 (within 38.5 of 40).
    assert metrics.precision_recall(real, fake, k=1) == (0.75, 0.8)


def test_chunked_distances_match_brute_force():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((120, 6)).astype(np.float32)
    fake = (rng.standard_normal((90, 6)) * 1.3 + 0.4).astype(np.float32)
    expected = _brute_precision_recall(real, fake, k=3)
    for chunk in (7, 64, 4096):
        got = metrics.precision_recall(real, fake, k=3, chunk=chunk)
        np.testing.assert_allclose(got, expected)
    d = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    brute_mean = d.sum() / (len(real) * (len(real) - 1))
    for chunk in (5, 4096):
        assert metrics.mean_pairwise_distance(real, chunk=chunk) == pytest.approx(
            brute_mean, rel=1e-5
        )


def test_precision_recall_tell_matching_shifted_and_collapsed_clouds_apart():
    rng = np.random.default_rng(2)
    real = rng.standard_normal((1000, 8))
    same = rng.standard_normal((1000, 8))
    shifted = rng.standard_normal((1000, 8)) + 6.0
    collapsed = np.repeat(rng.standard_normal((5, 8)) * 0.3, 200, axis=0)
    p, r = metrics.precision_recall(real, same)
    assert p > 0.6 and r > 0.6
    assert metrics.precision_recall(real, shifted) == (0.0, 0.0)
    p, r = metrics.precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.01


def test_mean_pairwise_distance_and_unit_rows():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert metrics.mean_pairwise_distance(points) == pytest.approx((5 + 10 + 5) / 3)
    assert metrics.mean_pairwise_distance(np.ones((4, 3))) == 0.0
    unit = metrics.unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(EvaluationError, match="at least 2 points"):
        metrics.mean_pairwise_distance(points[:1])


def test_classifier_score_bounds():
    eye = np.eye(10)
    assert metrics.classifier_score(np.tile(eye, (3, 1))) == pytest.approx(10.0)
    assert metrics.classifier_score(np.tile(eye[:2], (5, 1))) == pytest.approx(2.0)
    assert metrics.classifier_score(np.tile(eye[4], (7, 1))) == pytest.approx(1.0)
    assert metrics.classifier_score(np.full((6, 10), 0.1)) == pytest.approx(1.0)


# ------------------------------------------------------- the evaluator, stubbed


def test_evaluation_is_deterministic_given_a_seed(stub_evaluator):
    gan = make_tiny_gan()
    first = stub_evaluator.evaluate(gan, num_samples=200, seed=5)
    again = stub_evaluator.evaluate(gan, num_samples=200, seed=5)
    other = stub_evaluator.evaluate(gan, num_samples=200, seed=6)
    assert first == again
    assert first.summary() != other.summary()
    assert first.num_samples == 200 and len(first.accuracy_per_class) == 10
    assert list(first.summary()) == list(evaluation.SUMMARY_METRICS)
    for name, value in first.summary().items():
        assert math.isfinite(value), name


def test_draws_are_the_seeds_in_order_and_summarise_to_mean_and_spread(stub_evaluator):
    gan = make_tiny_gan()
    draws = stub_evaluator.evaluate_draws(gan, num_samples=100, seed=3, draws=3)
    assert draws == [stub_evaluator.evaluate(gan, 100, seed) for seed in (3, 4, 5)]
    mean, spread = evaluation.mean_and_spread(draws)
    for name in evaluation.SUMMARY_METRICS:
        values = [r.summary()[name] for r in draws]
        assert getattr(mean, name) == pytest.approx(np.mean(values)), name
        assert spread[name] == pytest.approx(np.std(values, ddof=1)), name
    assert spread["fid"] > 0  # Different noise, different samples.
    assert mean.fid_per_class == pytest.approx(np.mean([r.fid_per_class for r in draws], axis=0))
    single, no_spread = evaluation.mean_and_spread(draws[:1])
    assert single == draws[0] and set(no_spread.values()) == {0.0}
    table = evaluation.format_table({"gan": mean}, {"gan": spread})
    assert f"{mean.fid:.2f} ± {spread['fid']:.2f}" in table
    assert "±" not in evaluation.format_table({"gan": mean})
    for bad in (0, -1, 1.5, True):
        with pytest.raises(EvaluationError, match="draws must be an integer >= 1"):
            stub_evaluator.evaluate_draws(gan, 100, draws=bad)


def test_broken_generators_fail_with_the_stub_classifier_too(small_mnist, stub_evaluator):
    (x, y), _ = small_mnist
    results = {
        name: stub_evaluator.evaluate(sampler, num_samples=100, seed=0)
        for name, sampler in samplers.baseline_samplers(x, y).items()
    }
    real, noise, collapsed = (results[n] for n in samplers.BASELINE_NAMES)
    assert collapsed.diversity < 1e-3 and collapsed.recall == 0.0
    assert 0.6 < real.diversity < 1.5 and real.recall > 0.3
    assert noise.fid > 5 * real.fid and collapsed.fid > 2 * real.fid
    table = evaluation.format_table(results)
    assert all(name in table for name in samplers.BASELINE_NAMES)
    assert len(evaluation.format_per_class(real).splitlines()) == 12


@pytest.mark.parametrize("bad", [0, 15, 90, 1005, -10, 2.5, True, "100"])
def test_bad_num_samples_is_a_one_line_error(stub_evaluator, bad):
    with pytest.raises(EvaluationError, match="num_samples must be a multiple of 10") as info:
        stub_evaluator.evaluate(make_tiny_gan(), num_samples=bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "make_images, message",
    [
        (lambda n: np.zeros((n, 28, 28, 3), np.float32), r"shape \(\d+, 28, 28, 3\)"),
        (lambda n: np.zeros((n - 1, 28, 28, 1), np.float32), "expected"),
        (lambda n: np.zeros((n, 28, 28, 1), np.uint8), "uint8 images"),
        (lambda n: np.full((n, 28, 28, 1), np.nan, np.float32), "NaN"),
        (lambda n: np.full((n, 28, 28, 1), -1.0, np.float32), r"pixels in \[-1, -1\]"),
    ],
)
def test_unusable_generator_output_is_a_one_line_error(stub_evaluator, make_images, message):
    with pytest.raises(EvaluationError, match=message) as info:
        stub_evaluator.evaluate(lambda labels: make_images(len(labels)), num_samples=100)
    assert "\n" not in str(info.value)


def test_callables_with_and_without_seed(stub_evaluator):
    seen = []

    def with_seed(labels, seed):
        seen.append(seed)
        return np.random.default_rng(seed).uniform(size=(len(labels), 28, 28))

    first = stub_evaluator.evaluate(with_seed, num_samples=100, seed=11)
    assert seen == [11] and first == stub_evaluator.evaluate(with_seed, num_samples=100, seed=11)
    fixed = np.random.default_rng(0).uniform(size=(100, 28, 28, 1)).astype(np.float32)
    assert stub_evaluator.evaluate(lambda labels: fixed, 100) == stub_evaluator.evaluate(
        lambda labels: fixed, 100, seed=99
    )
    with pytest.raises(EvaluationError, match="cannot evaluate a int"):
        stub_evaluator.evaluate(3, 100)


def _linear_gan(latent_dim=4, seed=0):
    """A ConditionalGAN whose generator is one Dense(784, sigmoid) layer."""
    keras.utils.set_random_seed(seed)
    noise = keras.Input((latent_dim,))
    one_hot = keras.Input((10,))
    x = keras.layers.Concatenate()([noise, one_hot])
    x = keras.layers.Dense(784, activation="sigmoid", name="pixels")(x)
    generator = keras.Model([noise, one_hot], keras.layers.Reshape((28, 28, 1))(x))
    _, discriminator = networks.build_networks("mlp", latent_dim, 10, 4)
    return ConditionalGAN(generator, discriminator, latent_dim=latent_dim, num_classes=10)


def test_an_export_scores_like_its_model(stub_evaluator, tmp_path):
    gan = _linear_gan()
    kernel, bias = gan.generator.get_layer("pixels").get_weights()
    path = save_tiny_export(tmp_path / "export", kernel, bias, latent_dim=4)
    exported = samplers.as_sampler(path)
    assert exported.num_classes == 10
    labels = np.repeat(np.arange(10), 3)
    np.testing.assert_allclose(exported(labels, 7), samplers.as_sampler(gan)(labels, 7), atol=1e-6)
    from_export = stub_evaluator.evaluate(path, num_samples=200, seed=3)
    from_model = stub_evaluator.evaluate(gan, num_samples=200, seed=3)
    for name, value in from_model.summary().items():
        assert from_export.summary()[name] == pytest.approx(value, rel=1e-4, abs=0.01), name


def test_a_keras_file_scores_like_its_model(stub_evaluator, tmp_path):
    gan = make_tiny_gan()
    gan.save(tmp_path / "gan.keras")
    assert stub_evaluator.evaluate(str(tmp_path / "gan.keras"), 100, 2) == stub_evaluator.evaluate(
        gan, 100, 2
    )


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: None, "model not found"),
        (lambda d: _write(str(d) + ".txt", "x") or (str(d) + ".txt"), "is a file, not"),
        (lambda d: os.makedirs(d), "it has no saved_model.pb"),
        (lambda d: _write(f"{d}/saved_model.pb", ""), "assets/keras_cgan.json is missing"),
        (
            lambda d: (
                _write(f"{d}/saved_model.pb", "") or _write(f"{d}/assets/keras_cgan.json", "{")
            ),
            "is corrupt",
        ),
        (
            lambda d: (
                _write(f"{d}/saved_model.pb", "")
                or _write(
                    f"{d}/assets/keras_cgan.json",
                    json.dumps(
                        {
                            "format": "keras_cgan.export/1",
                            "latent_dim": 8,
                            "num_classes": 10,
                            "image_shape": [32, 32, 3],
                        }
                    ),
                )
            ),
            "the evaluator measures \\[28, 28, 1\\] images of 10 classes",
        ),
    ],
)
def test_check_model_path_errors(tmp_path, setup, message):
    target = tmp_path / "model"
    path = setup(str(target)) or str(target)
    with pytest.raises(EvaluationError, match=message) as info:
        samplers.as_sampler(path)
    assert "\n" not in str(info.value)


def test_an_export_with_a_generate_signature_of_another_shape_is_refused(tmp_path, stub_evaluator):
    path = save_tiny_export(
        tmp_path / "e",
        kernel=np.zeros((4 + 10, 784), np.float32),
        bias=np.zeros(784, np.float32),
        latent_dim=4,
        meta={"latent_dim": 5, "num_classes": 10, "image_shape": [28, 28, 1]},
    )
    with pytest.raises(KerasCganError, match="'generate' signature failed") as info:
        stub_evaluator.evaluate(path, 100)
    assert "\n" not in str(info.value)


def test_an_export_without_the_generate_signature_is_refused(tmp_path):
    import tensorflow as tf

    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def serve(self, labels):
            return {"images": tf.zeros([tf.shape(labels)[0], 28, 28, 1])}

    module = Other()
    tf.saved_model.save(module, str(tmp_path / "e"), signatures={"serving_default": module.serve})
    meta = {
        "format": "keras_cgan.export/1",
        "latent_dim": 4,
        "num_classes": 10,
        "image_shape": [28, 28, 1],
    }
    _write(str(tmp_path / "e" / "assets" / "keras_cgan.json"), json.dumps(meta))
    with pytest.raises(EvaluationError, match="no 'generate' signature .*serving_default"):
        samplers.as_sampler(str(tmp_path / "e"))


# ------------------------------------------------------- callback and wiring


class RecordingEvaluator:
    """Returns a fresh result per call and records what it was asked."""

    def __init__(self):
        self.calls = []

    def evaluate(self, model, num_samples, seed):
        self.calls.append((num_samples, seed))
        n = len(self.calls)

        class Result:
            def summary(self):
                return {"fid": 10.0 / n, "accuracy": 0.1 * n}

        return Result()


def test_evaluate_callback_logs_every_k_epochs_into_the_csv(tmp_path):
    gan = make_tiny_gan()
    x = np.random.default_rng(0).uniform(size=(32, 28, 28, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[np.arange(32) % 10]
    recorder = RecordingEvaluator()
    evaluate = callbacks.EvaluateCallback(recorder, every=2, num_samples=300, seed=4)
    path = str(tmp_path / "metrics.csv")
    history = gan.fit(
        x, y, batch_size=16, epochs=5, verbose=0, callbacks=[evaluate, callbacks.CSVLog(path)]
    )
    assert recorder.calls == [(300, 4), (300, 4)]
    assert evaluate.history == {
        2: {"eval_fid": 10.0, "eval_accuracy": 0.1},
        4: {"eval_fid": 5.0, "eval_accuracy": 0.2},
    }
    rows = callbacks.read_csv_log(path)
    assert [r.get("eval_fid") for r in rows] == [None, 10.0, None, 5.0, None]
    assert history.history["eval_accuracy"] == [0.1, 0.2]  # Keras' History saw them too.
    assert callbacks.plot_metrics(rows, str(tmp_path / "m.png"))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"eval_every": -1}, "eval_every must be an integer >= 0"),
        ({"eval_samples": 95}, "eval_samples must be a multiple of 10 and at least 100"),
        ({"eval_samples": 2005}, "eval_samples must be a multiple of 10"),
    ],
)
def test_eval_config_validation(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_training_with_evaluation_logs_metrics_and_trains_the_same(tiny_config, tmp_path):
    plain = train.train(tiny_config)
    config = tiny_config.replace(
        workdir=str(tmp_path / "eval"),
        eval_every=1,
        eval_samples=100,
        classifier_dir=str(tmp_path / "classifiers"),
        tensorboard=True,
    )
    evaluated = train.train(config, evaluator=evaluation.Evaluator.for_config(config))
    probe = np.random.default_rng(0).standard_normal((10, tiny_config.latent_dim))
    np.testing.assert_allclose(
        plain.generate(range(10), noise=probe), evaluated.generate(range(10), noise=probe)
    )
    rows = callbacks.read_csv_log(f"{config.workdir}/metrics.csv")
    assert len(rows) == tiny_config.epochs
    for row in rows:
        for name in evaluation.SUMMARY_METRICS:
            assert math.isfinite(row[f"eval_{name}"]), name
    assert "eval_fid" not in callbacks.read_csv_log(f"{tiny_config.workdir}/metrics.csv")[0]
    assert {f"epoch_eval_{name}" for name in evaluation.SUMMARY_METRICS} <= _tensorboard_tags(
        f"{config.workdir}/tensorboard/train"
    )
    saved = TrainConfig.load_json(f"{config.workdir}/config.json")
    assert saved == config.replace(jit_compile=True)  # The effective (auto) XLA setting.


def _tensorboard_tags(folder):
    import glob

    import tensorflow as tf

    tags = set()
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    return tags


# ------------------------------------------------------- the classifier cache


def test_classifier_cache_is_reused_and_a_corrupt_one_retrained(tmp_path, caplog):
    recipe = classifier.ClassifierRecipe(epochs=1)  # Trains in a second on the fixture.
    root = str(tmp_path / "cache")
    first = classifier.load_or_train(root, mnist_dir=FIXTURE_MNIST, recipe=recipe)
    assert first.trained and os.path.basename(first.path) == first.info["key"]
    info = json.loads(open(os.path.join(first.path, classifier.INFO_FILE)).read())
    assert info["test_accuracy"] == first.test_accuracy and info["train_examples"] == 300
    images = data.load_mnist("test", mnist_dir=FIXTURE_MNIST)[0][:20]
    features, probs = first.predict(images)
    assert features.shape == (20, 128) and probs.shape == (20, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    again = classifier.load_or_train(root, mnist_dir=FIXTURE_MNIST, recipe=recipe)
    assert not again.trained and again.info == first.info
    np.testing.assert_allclose(again.predict(images)[0], features, rtol=1e-5, atol=1e-5)

    other = classifier.load_or_train(
        root, mnist_dir=FIXTURE_MNIST, recipe=classifier.ClassifierRecipe(epochs=1, seed=1)
    )
    assert other.trained and other.path != first.path  # The recipe is part of the key.

    for corrupt in (classifier.MODEL_FILE, classifier.INFO_FILE):
        with open(os.path.join(first.path, corrupt), "w") as f:
            f.write("garbage")
        with caplog.at_level(logging.WARNING, logger="keras_cgan.classifier"):
            caplog.clear()
            rebuilt = classifier.load_or_train(root, mnist_dir=FIXTURE_MNIST, recipe=recipe)
        assert rebuilt.trained and rebuilt.path == first.path
        assert any("unreadable" in r.getMessage() for r in caplog.records), corrupt
        assert not classifier.load_or_train(root, mnist_dir=FIXTURE_MNIST, recipe=recipe).trained
    assert sorted(os.listdir(root)) == sorted([first.info["key"], other.info["key"]])


def test_classifier_training_leaves_global_randomness_alone():
    keras.utils.set_random_seed(3)
    expected = (np.random.rand(), keras.random.uniform(()).numpy())
    keras.utils.set_random_seed(3)
    (x, y), (xt, yt) = (data.load_mnist(s, mnist_dir=FIXTURE_MNIST) for s in ("train", "test"))
    classifier.train_classifier(x, y, xt, yt, classifier.ClassifierRecipe(epochs=1))
    assert (np.random.rand(), keras.random.uniform(()).numpy()) == expected


def test_unwritable_classifier_cache_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EvaluationError, match="cannot write the reference classifier cache"):
        classifier.load_or_train(
            str(blocker / "sub"),
            mnist_dir=FIXTURE_MNIST,
            recipe=classifier.ClassifierRecipe(epochs=1),
        )
