"""The reference classifier that sample-quality metrics are measured with.

A small CNN trained once per dataset on its train split (never on generated
data; MNIST by default) and cached on disk with its test accuracy next to it:

    <cache_root>/<key>/classifier.keras   the trained model
    <cache_root>/<key>/info.json          key, recipe, test accuracy, training time

`<key>` hashes everything the trained weights depend on: the training recipe
(architecture and optimisation settings, plus a version number bumped whenever
the code that builds or trains the model changes meaning), the dataset (its
`--dataset` name and `--image_size`) and the SHA-256 of the arrays it was
trained and tested on. Another recipe, dataset or copy of the data gets
another folder; an entry that cannot be read back (truncated
file, bad JSON, wrong key) is logged and retrained in place.

Training is deterministic without touching global random state: initialisers
and dropout carry their own seeds and the epoch order comes from a private
NumPy generator, so training (or not) never shifts the randomness of a GAN run
in the same process.
"""

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from typing import Optional

import keras
import numpy as np

from keras_cgan import data, datasets
from keras_cgan.errors import EvaluationError

logger = logging.getLogger(__name__)

MODEL_FILE = "classifier.keras"
INFO_FILE = "info.json"
FEATURES_LAYER = "features"
# The accuracy on the MNIST test split the default recipe is meant to reach.
TARGET_TEST_ACCURACY = 0.992


@dataclasses.dataclass(frozen=True)
class ClassifierRecipe:
    """How the reference classifier is built and trained (part of the cache key).

    The network: Conv(f1, k) -> ReLU -> MaxPool -> Conv(f2, k) -> ReLU -> MaxPool
    -> Flatten -> Dense(features, ReLU) ["features": the metrics' feature space]
    -> Dropout -> Dense(10) logits. Adam with a cosine-decayed learning rate.

    Attributes:
        version: Bump when the building or training code changes meaning.
        filters: Filters of the two convolutions.
        kernel_size: Their kernel size.
        feature_units: Width of the penultimate ("features") layer.
        dropout: Dropout rate after the features layer (training only).
        epochs: Training epochs over the train split.
        batch_size: Examples per step.
        learning_rate: Initial Adam learning rate (cosine decay to 0).
        seed: Seed of the weights, dropout and example order.
        train_examples: Train on the first N examples only (0 = all); for tests.
    """

    version: int = 1
    filters: tuple = (32, 64)
    kernel_size: int = 5
    feature_units: int = 128
    dropout: float = 0.4
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 2e-3
    seed: int = 0
    train_examples: int = 0

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["filters"] = list(self.filters)
        return values


DEFAULT_RECIPE = ClassifierRecipe()


def default_cache_dir() -> str:
    """`$XDG_CACHE_HOME/keras_cgan/classifier`, or `~/.cache/keras_cgan/classifier`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keras_cgan", "classifier")


def build_classifier(
    recipe: ClassifierRecipe = DEFAULT_RECIPE, num_classes: int = 10, image_shape=None
):
    """Builds the (untrained) reference CNN.

    Args:
        recipe: Architecture settings (and the seed of the initialisers).
        num_classes: Number of output logits.
        image_shape: `(H, W, C)` of its input (None: MNIST's 28x28x1).

    Returns:
        A functional `keras.Model`: float32 images `[B, H, W, C]` in [0, 1] ->
        float32 logits `[B, num_classes]`, with a layer named "features" whose
        output is float32 `[B, recipe.feature_units]`.
    """
    layers = keras.layers
    seed = recipe.seed

    def init(i):
        return keras.initializers.GlorotUniform(seed=seed * 100 + i)

    images = keras.Input(shape=tuple(image_shape or data.IMAGE_SHAPE), name="images")
    x = images
    for i, filters in enumerate(recipe.filters):
        x = layers.Conv2D(
            filters,
            recipe.kernel_size,
            padding="same",
            activation="relu",
            kernel_initializer=init(i),
            name=f"conv{i + 1}",
        )(x)
        x = layers.MaxPooling2D(name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(
        recipe.feature_units, activation="relu", kernel_initializer=init(10), name=FEATURES_LAYER
    )(x)
    x = layers.Dropout(recipe.dropout, seed=seed, name="dropout")(features)
    logits = layers.Dense(num_classes, kernel_initializer=init(11), name="logits")(x)
    return keras.Model(images, logits, name="reference_classifier")


def data_digest(*arrays) -> str:
    """SHA-256 (hex) of the arrays' shapes, dtypes and bytes, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(a.data)
    return h.hexdigest()


def cache_key(recipe: ClassifierRecipe, digest: str, dataset: str = "mnist") -> str:
    """The cache folder name: a hash of the recipe, the dataset and the data digest."""
    blob = json.dumps(
        {"recipe": recipe.to_dict(), "dataset": dataset, "data": digest}, sort_keys=True
    )
    return f"v{recipe.version}-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


class ReferenceClassifier:
    """A trained reference CNN and what is known about it.

    Attributes:
        model: The Keras model (images -> logits).
        info: Dict from `info.json`: `key`, `recipe`, `test_accuracy`,
            `train_seconds`, `train_examples`, `test_examples`, versions, ...
        path: The cache folder it was loaded from or saved to (None if neither).
        trained: Whether it was trained by this call (False: loaded from cache).
    """

    def __init__(self, model, info, path=None, trained=False):
        import tensorflow as tf

        self.model = model
        self.info = dict(info)
        self.path = path
        self.trained = trained
        features = model.get_layer(FEATURES_LAYER).output
        self._two_heads = keras.Model(model.inputs, [features, model.outputs[0]])
        self._forward = tf.function(
            lambda x: self._two_heads(x, training=False),
            input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)],
        )

    @property
    def test_accuracy(self) -> float:
        return float(self.info["test_accuracy"])

    @property
    def feature_dim(self) -> int:
        return int(self._two_heads.outputs[0].shape[-1])

    def predict(self, images, batch_size=1000):
        """Features and class probabilities of images.

        Args:
            images: float `[N, H, W, C]` in [0, 1] (uint8 0..255 is scaled), the
                shape the classifier was built for.
            batch_size: Images per forward pass.

        Returns:
            `(features, probs)`: float32 `[N, feature_dim]` (penultimate layer,
            ReLU so >= 0) and float32 `[N, num_classes]` (softmax, rows sum to 1).
        """
        images = _as_unit_float(images)
        features, probs = [], []
        for i in range(0, len(images), batch_size):
            f, logits = self._forward(images[i : i + batch_size])
            features.append(f.numpy())
            probs.append(_softmax(logits.numpy()))
        if not features:
            n_classes = int(self.model.outputs[0].shape[-1])
            return np.zeros((0, self.feature_dim), np.float32), np.zeros((0, n_classes), np.float32)
        return np.concatenate(features), np.concatenate(probs)


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _as_unit_float(images):
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32, copy=False)


def train_classifier(
    train_images,
    train_labels,
    test_images,
    test_labels,
    recipe: ClassifierRecipe = DEFAULT_RECIPE,
    verbose: int = 0,
    num_classes: int = 10,
):
    """Trains the reference CNN on a train split and measures it on the test split.

    Args:
        train_images: uint8 `[N, H, W, C]` in 0..255 (e.g. MNIST train).
        train_labels: integer `[N]` in `0..num_classes-1`.
        test_images: uint8 `[M, H, W, C]`.
        test_labels: integer `[M]`.
        recipe: What to build and how to train it.
        verbose: Keras `fit` verbosity.
        num_classes: Number of classes (output logits).

    Returns:
        `(model, info)`: the trained Keras model and a dict with
        `test_accuracy`, `train_seconds`, `train_examples`, `test_examples`.
    """
    if recipe.train_examples:
        train_images = train_images[: recipe.train_examples]
        train_labels = train_labels[: recipe.train_examples]
    import tensorflow as tf

    n, batch_size = len(train_labels), recipe.batch_size
    if n < batch_size:
        raise EvaluationError(
            f"the reference classifier needs at least {batch_size} training "
            f"examples, the train split has {n}"
        )
    model = build_classifier(recipe, num_classes, np.shape(train_images)[1:])
    steps = n // batch_size
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(recipe.learning_rate, recipe.epochs * steps)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # The order of every epoch comes from a private generator (no global state).
    rng = np.random.default_rng(recipe.seed)
    order = np.stack([rng.permutation(n)[: steps * batch_size] for _ in range(recipe.epochs)])
    images_t = tf.constant(np.asarray(train_images))
    labels_t = tf.constant(np.asarray(train_labels, np.int32))

    def batch(indices):
        images = tf.cast(tf.gather(images_t, indices), tf.float32)
        if images_t.dtype == tf.uint8:
            images = images / 255.0
        return images, tf.gather(labels_t, indices)

    batches = (
        tf.data.Dataset.from_tensor_slices(order.reshape(-1, batch_size))
        .map(batch)
        .prefetch(tf.data.AUTOTUNE)
    )
    start = time.perf_counter()
    model.fit(batches, epochs=recipe.epochs, steps_per_epoch=steps, shuffle=False, verbose=verbose)
    train_seconds = time.perf_counter() - start
    _, probs = ReferenceClassifier(model, {"test_accuracy": 0.0}).predict(test_images)
    accuracy = float(np.mean(probs.argmax(axis=1) == np.asarray(test_labels)))
    return model, {
        "test_accuracy": accuracy,
        "train_seconds": round(train_seconds, 1),
        "train_examples": int(n),
        "test_examples": int(len(test_labels)),
    }


def load_or_train(
    classifier_dir: Optional[str] = None,
    *,
    mnist_dir: Optional[str] = None,
    tfds_data_dir: Optional[str] = None,
    recipe: ClassifierRecipe = DEFAULT_RECIPE,
    verbose: int = 0,
    source: Optional[datasets.DataSource] = None,
) -> ReferenceClassifier:
    """The cached reference classifier for this dataset copy, training it if needed.

    Args:
        classifier_dir: Cache root (None: `default_cache_dir()`); the classifier
            lives in its subfolder `<key>` (see the module docstring).
        mnist_dir: Local MNIST folder (None: `$KERAS_CGAN_MNIST_DIR`, then
            tensorflow-datasets), as in `data.load_mnist`.
        tfds_data_dir: tensorflow-datasets data directory.
        recipe: Training recipe (part of the key).
        verbose: Keras `fit` verbosity while training.
        source: The dataset (None: MNIST from `mnist_dir` / `tfds_data_dir`);
            it trains on its train split and is tested on its test split.

    Returns:
        A `ReferenceClassifier`; `.trained` says whether it was trained now.

    Raises:
        DataError: the dataset could not be loaded.
        EvaluationError: the cache folder cannot be written.
    """
    if source is None:
        source = datasets.DataSource(mnist_dir=mnist_dir, tfds_data_dir=tfds_data_dir)
    root = classifier_dir or default_cache_dir()
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:
        raise _unwritable(root, e) from None
    train, test = source.load("train"), source.load("test")
    train_images, train_labels = train.images, train.labels
    test_images, test_labels = test.images, test.labels
    digest = data_digest(train_images, train_labels, test_images, test_labels)
    key = cache_key(recipe, digest, source.key)
    path = os.path.join(root, key)
    if os.path.exists(path):
        try:
            return _load(path, key)
        except Exception as e:  # Any unreadable entry is rebuilt from the data.
            logger.warning(
                "reference classifier cache %s is unreadable (%s: %s); retraining it",
                path,
                type(e).__name__,
                str(e).splitlines()[0][:200] if str(e) else "",
            )
    logger.info(
        "training the reference classifier on %d %s images (once; cached in %s)",
        len(train_images),
        source.dataset,
        path,
    )
    model, info = train_classifier(
        train_images,
        train_labels,
        test_images,
        test_labels,
        recipe,
        verbose=verbose,
        num_classes=train.num_classes,
    )
    info = {
        "key": key,
        "recipe": recipe.to_dict(),
        "dataset": source.key,
        "image_shape": list(train.image_shape),
        "class_names": list(train.class_names),
        "data_sha256": digest,
        **info,
        "keras_version": keras.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    logger.info(
        "reference classifier: test accuracy %.4f, trained in %.0f s",
        info["test_accuracy"],
        info["train_seconds"],
    )
    mnist = source.dataset == "mnist" and not source.image_size
    if info["test_accuracy"] < TARGET_TEST_ACCURACY and recipe == DEFAULT_RECIPE and mnist:
        logger.warning(
            "the reference classifier reaches only %.4f on MNIST test (target %.3f): "
            "metrics measured with it are less reliable",
            info["test_accuracy"],
            TARGET_TEST_ACCURACY,
        )
    _save(model, info, root, path)
    return ReferenceClassifier(model, info, path=path, trained=True)


def _unwritable(root, error):
    return EvaluationError(
        f"cannot write the reference classifier cache in {root} "
        f"({error.strerror or type(error).__name__}): pass --classifier_dir=A_WRITABLE_FOLDER"
    )


def _load(path, key):
    with open(os.path.join(path, INFO_FILE)) as f:
        info = json.load(f)
    if not isinstance(info, dict) or info.get("key") != key:
        raise ValueError(f"{INFO_FILE} does not belong to key {key}")
    float(info["test_accuracy"])
    model = keras.models.load_model(os.path.join(path, MODEL_FILE), compile=False)
    model.get_layer(FEATURES_LAYER)
    return ReferenceClassifier(model, info, path=path, trained=False)


def _save(model, info, root, path):
    """Writes the entry into a temporary sibling folder, then renames it into place."""
    try:
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=root)
    except OSError as e:
        raise _unwritable(root, e) from None
    try:
        model.save(os.path.join(tmp, MODEL_FILE))
        with open(os.path.join(tmp, INFO_FILE), "w") as f:
            json.dump(info, f, indent=2, sort_keys=True)
            f.write("\n")
        if os.path.exists(path):  # An unreadable entry being replaced.
            shutil.rmtree(path, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:
            if not os.path.isdir(path):  # Not a concurrent writer winning the race.
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
