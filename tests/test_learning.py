"""Learning on real MNIST: the seed model's digits are of the requested class."""

import time

import numpy as np
import pytest

from keras_cgan import train
from keras_cgan.config import TrainConfig

SEED_EPOCHS = 10  # Measured: ~0.12 after 2 epochs, ~0.8 from epoch 9 on (seed 0).
REQUIRED_ACCURACY = 0.70


@pytest.mark.slow
def test_seed_model_generates_the_requested_digits(real_mnist_dir, reference_classifier, tmp_path):
    start = time.time()
    config = TrainConfig(
        epochs=SEED_EPOCHS,
        mnist_dir=real_mnist_dir,
        workdir=str(tmp_path / "seed"),
        seed=0,
        verbose=0,
    )
    gan = train.train(config)
    train_seconds = time.time() - start

    # The evaluation's reference classifier (test accuracy about 0.992).
    classifier_accuracy = reference_classifier.test_accuracy
    assert classifier_accuracy >= 0.97

    labels = np.repeat(np.arange(10), 100)
    images = gan.generate(labels, seed=123)
    predicted = reference_classifier.predict(images)[1].argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    per_class = [float(np.mean(predicted[labels == k] == k)) for k in range(10)]
    print(
        f"\nseed model, {SEED_EPOCHS} epochs ({train_seconds:.1f} s): {accuracy:.3f} of 1,000 "
        f"digits classified as requested (classifier test accuracy {classifier_accuracy:.4f}); "
        f"per class {np.round(per_class, 2).tolist()}"
    )
    assert accuracy >= REQUIRED_ACCURACY
