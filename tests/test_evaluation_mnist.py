"""The evaluator with the real reference classifier on real MNIST (slow).

The classifier is trained once per session by the `reference_classifier`
fixture (about 1.5 minutes on 2 CPU cores).
"""

import numpy as np
import pytest

from keras_cgan import classifier, data, evaluation, samplers

NUM_SAMPLES = 2000  # The callback's default: what a training run sees.


@pytest.mark.slow
def test_reference_classifier_reaches_its_target_and_is_cached(
    reference_classifier, real_mnist_dir
):
    info = reference_classifier.info
    print(
        f"\nreference classifier: test accuracy {info['test_accuracy']:.4f} on "
        f"{info['test_examples']} images, trained on {info['train_examples']} in "
        f"{info['train_seconds']:.0f} s ({reference_classifier.load_seconds:.0f} s in all)"
    )
    assert reference_classifier.trained_this_run  # By this test worker or another.
    assert info["train_examples"] == 60000 and info["test_examples"] == 10000
    assert info["test_accuracy"] >= classifier.TARGET_TEST_ACCURACY
    cached = classifier.load_or_train(reference_classifier.cache_root, mnist_dir=real_mnist_dir)
    assert not cached.trained and cached.info == info
    images, labels = data.load_mnist("test", mnist_dir=real_mnist_dir)
    _, probs = cached.predict(images)
    assert np.mean(probs.argmax(axis=1) == labels) == pytest.approx(info["test_accuracy"], abs=1e-4)


@pytest.fixture(scope="module")
def mnist_results(reference_classifier):
    import os

    mnist_dir = os.environ["KERAS_CGAN_MNIST_DIR"]
    evaluator = evaluation.Evaluator(reference_classifier, mnist_dir=mnist_dir)
    train_images, train_labels = data.load_mnist("train", mnist_dir=mnist_dir)
    baselines = samplers.baseline_samplers(train_images, train_labels)
    results = {name: evaluator.evaluate(s, NUM_SAMPLES, seed=0) for name, s in baselines.items()}
    print(f"\n{NUM_SAMPLES} samples against MNIST test:\n" + evaluation.format_table(results))
    return evaluator, baselines, results


@pytest.mark.slow
def test_real_digits_score_near_the_ceiling(mnist_results):
    _, _, results = mnist_results
    real = results[samplers.BASELINE_NAMES[0]]
    assert real.accuracy >= 0.98 and min(real.accuracy_per_class) >= 0.95
    assert real.precision >= 0.75 and real.recall >= 0.75
    assert 0.9 <= real.diversity <= 1.1
    assert all(0.8 <= d <= 1.2 for d in real.diversity_per_class)
    assert real.score >= 9.5


@pytest.mark.slow
def test_noise_fails_accuracy_fid_precision_and_score(mnist_results):
    _, _, results = mnist_results
    real, noise = results[samplers.BASELINE_NAMES[0]], results[samplers.BASELINE_NAMES[1]]
    assert noise.accuracy <= 0.2  # Chance is 0.1.
    assert noise.fid > 20 * real.fid and noise.class_fid > 20 * real.class_fid
    assert noise.precision <= 0.1 and noise.recall <= 0.1
    assert noise.score <= 2.0
    assert abs(noise.diversity - 1.0) > 0.5


@pytest.mark.slow
def test_collapse_fails_fid_recall_and_diversity(mnist_results):
    _, _, results = mnist_results
    real, collapsed = results[samplers.BASELINE_NAMES[0]], results[samplers.BASELINE_NAMES[2]]
    assert collapsed.fid > 20 * real.fid and collapsed.class_fid > 20 * real.class_fid
    assert collapsed.recall <= 0.05
    assert collapsed.diversity <= 0.01 and max(collapsed.diversity_per_class) <= 0.01
    # What the other metrics are for: each class's one image is a clean digit,
    # so accuracy and the MNIST score cannot see the collapse.
    assert collapsed.accuracy >= 0.9 and collapsed.score >= 9.0


@pytest.mark.slow
def test_real_mnist_evaluation_is_deterministic(mnist_results):
    evaluator, baselines, results = mnist_results
    name = samplers.BASELINE_NAMES[0]
    again = evaluator.evaluate(baselines[name], NUM_SAMPLES, seed=0)
    assert again == results[name]
    other = evaluator.evaluate(baselines[name], NUM_SAMPLES, seed=1)
    assert other.summary() != again.summary()
