"""The opt-in extra metrics on real MNIST: CAS and the memorisation check.

Each must pass real held-out digits and fail the generator it is meant to
catch: CAS one that ignores the label, the memorisation check one that
returns training digits. Small counts keep them to seconds (after the
session's reference classifier).
"""

import json

import numpy as np
import pytest

from helpers import run_cli, save_random_export
from keras_cgan import cas, data, memorisation
from keras_cgan.errors import EvaluationError
from keras_cgan.evaluation import Evaluator
from keras_cgan.samplers import Sampler, real_data_sampler

CAS_SAMPLES = 3000  # 23 classifier steps per epoch: seconds.
EVAL_SAMPLES = 500


@pytest.fixture(scope="module")
def mnist(real_mnist_dir_module):
    return (
        data.load_mnist("train", mnist_dir=real_mnist_dir_module),
        data.load_mnist("test", mnist_dir=real_mnist_dir_module),
    )


@pytest.fixture(scope="module")
def real_mnist_dir_module():
    import os

    path = os.environ.get("KERAS_CGAN_MNIST_DIR")
    if not path or not os.path.isdir(path):
        pytest.fail("this test needs real MNIST: set KERAS_CGAN_MNIST_DIR")
    return path


@pytest.fixture(scope="module")
def evaluator(reference_classifier, mnist):
    (train_images, train_labels), _ = mnist
    return Evaluator(
        classifier=reference_classifier,
        reference=mnist[1],
        extra_metrics=[
            cas.CasMetric(CAS_SAMPLES, class_counts=np.bincount(train_labels)),
            memorisation.MemorisationMetric(train_images),
        ],
    )


def _held_out(mnist):
    """Real digits the classifier and the memorisation reference never trained on.

    The second half of MNIST test (the thresholds come from all of it: a
    held-out generator should land about where the test digits do).
    """
    _, (test_images, test_labels) = mnist
    return real_data_sampler(test_images[5000:], test_labels[5000:])


def _label_ignoring(mnist):
    """Real test digits of a random class, whatever the label asks for."""
    _, (test_images, _) = mnist
    pool = test_images[5000:]

    def sample(labels, seed):
        rng = np.random.default_rng(seed)
        return pool[rng.integers(0, len(pool), len(labels))].astype(np.float32) / 255.0

    return Sampler(sample, 10, "label-ignoring")


def _memorising(mnist):
    """Training digits of the asked-for class."""
    (train_images, train_labels), _ = mnist
    return real_data_sampler(train_images, train_labels)


@pytest.mark.slow
def test_held_out_digits_pass_both_checks(evaluator, mnist):
    result = evaluator.evaluate(_held_out(mnist), EVAL_SAMPLES, seed=0)
    extra = result.extra
    print("held out:", extra)
    assert set(extra) == {"cas", "cas_real", "memorised_p1", "memorised_p5", "nn_ratio"}
    assert extra["cas_real"] == evaluator.classifier.test_accuracy
    assert extra["cas"] > 0.9  # 3,000 real digits train a good classifier.
    assert extra["memorised_p1"] < 0.04 and extra["memorised_p5"] < 0.12
    assert 0.8 < extra["nn_ratio"] < 1.25
    assert result.summary()["cas"] == extra["cas"]  # Extras join the summary.


@pytest.mark.slow
def test_a_generator_that_ignores_the_label_fails_cas(evaluator, mnist):
    extra = evaluator.evaluate(_label_ignoring(mnist), EVAL_SAMPLES, seed=0).extra
    print("label-ignoring:", extra)
    assert extra["cas"] < 0.25  # Near chance (0.1).
    assert extra["memorised_p1"] < 0.04  # Not copies: the memorisation check passes it.


@pytest.mark.slow
def test_a_generator_of_training_digits_fails_the_memorisation_check(evaluator, mnist, tmp_path):
    metric = evaluator.extra_metrics[1]
    extra = evaluator.evaluate(_memorising(mnist), EVAL_SAMPLES, seed=0).extra
    print("memorising:", extra)
    assert extra["memorised_p1"] > 0.95 and extra["nn_ratio"] < 0.05
    # The closest pairs are the copies themselves: identical images.
    images, distances, indices = metric.last
    closest = int(np.argmin(distances))
    train_images = mnist[0][0]
    np.testing.assert_allclose(images[closest], train_images[indices[closest]] / 255.0, atol=1e-6)
    path = str(tmp_path / "pairs.png")
    metric.write_pairs_png(path, num_pairs=15)
    from PIL import Image

    png = np.asarray(Image.open(path))
    assert png.shape == (2 * 2 * (2 * 30 + 4), 2 * 10 * 30)  # Two bands of 10 pairs, 2x.


def test_balanced_counts_follow_the_class_balance_exactly():
    mnist_train = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    counts = cas.balanced_counts(60000, mnist_train)
    assert counts.sum() == 60000 and counts.tolist()[:2] == [5923, 6742]
    small = cas.balanced_counts(1000, [1, 1, 2])
    assert small.tolist() == [250, 250, 500]
    with pytest.raises(EvaluationError, match="at least one sample per class"):
        cas.balanced_counts(2, [1, 1, 1])
    with pytest.raises(EvaluationError, match="at least 128 samples"):
        cas.CasMetric(100)


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    queries, reference = rng.normal(size=(37, 5)), rng.normal(size=(53, 5))
    distances, indices = memorisation.nearest_neighbours(queries, reference, chunk=8)
    full = np.linalg.norm(queries[:, None] - reference[None], axis=2)
    np.testing.assert_array_equal(indices, full.argmin(axis=1))
    np.testing.assert_allclose(distances, full.min(axis=1), rtol=1e-4, atol=1e-5)


def test_memorisation_png_needs_a_model(tmp_path):
    result = run_cli("evaluate", "--baseline", f"--memorisation_png={tmp_path}/p.png")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--memorisation_png draws --model's samples" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_cli_reports_cas_and_memorisation_and_draws_the_pairs(
    reference_classifier, real_mnist_dir, tmp_path
):
    export = save_random_export(tmp_path / "export", seed=0)
    out, png = tmp_path / "metrics.json", tmp_path / "pairs.png"
    result = run_cli(
        "evaluate",
        f"--model={export}",
        "--num_samples=200",
        "--cas",
        "--cas_samples=256",
        f"--memorisation_png={png}",
        f"--classifier_dir={reference_classifier.cache_root}",
        f"--mnist_dir={real_mnist_dir}",
        f"--json={out}",
        timeout=900,  # The training digits' features and a classifier training.
    )
    assert result.returncode == 0, result.stderr[-3000:]
    extra = json.loads(out.read_text())["results"][export]["extra"]
    assert extra["cas"] < 0.5  # Random weights draw no digits.
    assert extra["cas_real"] == reference_classifier.test_accuracy
    assert 0.0 <= extra["memorised_p1"] <= 1.0 and png.stat().st_size > 0
    header = next(line for line in result.stdout.splitlines() if line.startswith("| generator"))
    assert "cas" in header and "memorised_p1" in header


def test_extra_metrics_reach_the_summary_and_the_callback_logs(small_mnist_dir):
    """Wiring, with the instant stub classifier on the 300/100-digit fixture."""
    from helpers import PixelClassifier, make_tiny_gan
    from keras_cgan import callbacks

    train_images, train_labels = data.load_mnist("train", mnist_dir=small_mnist_dir)
    reference = data.load_mnist("test", mnist_dir=small_mnist_dir)
    tiny_recipe = cas.classifier_lib.ClassifierRecipe(epochs=1, batch_size=32)
    evaluator = Evaluator(
        PixelClassifier(train_images, train_labels),
        reference=reference,
        extra_metrics=[
            cas.CasMetric(200, recipe=tiny_recipe),
            memorisation.MemorisationMetric(train_images),
        ],
    )
    result = evaluator.evaluate(real_data_sampler(train_images, train_labels), 100, seed=0)
    assert list(result.summary())[-5:] == [
        "cas",
        "cas_real",
        "memorised_p1",
        "memorised_p5",
        "nn_ratio",
    ]
    assert result.extra["memorised_p1"] == 1.0  # Training digits: copies, by definition.
    assert result.to_dict()["extra"] == result.extra
    evaluate = callbacks.EvaluateCallback(evaluator, every=1, num_samples=100)
    gan = make_tiny_gan()
    x = np.random.default_rng(0).uniform(size=(16, 28, 28, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[np.arange(16) % 10]
    history = gan.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[evaluate])
    assert 0.0 <= history.history["eval_cas"][0] <= 1.0
    assert history.history["eval_memorised_p1"][0] < 1.0  # An untrained model copies nothing.
