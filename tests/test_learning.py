"""Learning on real MNIST: the seed model's digits are of the requested class."""

import time

import keras
import numpy as np
import pytest

from keras_cgan import data, train
from keras_cgan.config import TrainConfig

SEED_EPOCHS = 10  # Measured: ~0.12 after 2 epochs, ~0.8 from epoch 9 on (seed 0).
REQUIRED_ACCURACY = 0.70


def _train_classifier(mnist_dir):
    """A small MLP classifier on MNIST train; returns it and its test accuracy."""
    keras.utils.set_random_seed(0)
    x, y = data.load_mnist("train", mnist_dir=mnist_dir)
    x_test, y_test = data.load_mnist("test", mnist_dir=mnist_dir)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x / 255.0, y, batch_size=128, epochs=3, verbose=0)
    _, accuracy = model.evaluate(x_test / 255.0, y_test, batch_size=1000, verbose=0)
    return model, accuracy


@pytest.mark.slow
def test_seed_model_generates_the_requested_digits(real_mnist_dir, tmp_path):
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

    classifier, classifier_accuracy = _train_classifier(real_mnist_dir)
    assert classifier_accuracy >= 0.97

    labels = np.repeat(np.arange(10), 100)
    images = gan.generate(labels, seed=123)
    predicted = classifier.predict(images, batch_size=1000, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    per_class = [float(np.mean(predicted[labels == k] == k)) for k in range(10)]
    print(
        f"\nseed model, {SEED_EPOCHS} epochs ({train_seconds:.1f} s): {accuracy:.3f} of 1,000 "
        f"digits classified as requested (classifier test accuracy {classifier_accuracy:.4f}); "
        f"per class {np.round(per_class, 2).tolist()}"
    )
    assert accuracy >= REQUIRED_ACCURACY
