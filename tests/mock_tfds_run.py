"""Runs a keras_cgan command line tool with tensorflow-datasets mocked (no network).

    python tests/mock_tfds_run.py NUM_EXAMPLES MODULE [FLAGS...]

`tfds.testing.mock_data` makes every tensorflow-datasets dataset yield
NUM_EXAMPLES random examples of its real features (image shape, class count
and names), so the tools run end to end on fashion_mnist, cifar10, ... offline.
"""

import importlib
import sys

import tensorflow_datasets as tfds


def main():
    num_examples, module = int(sys.argv[1]), sys.argv[2]
    sys.argv = [f"keras_cgan.{module}", *sys.argv[3:]]
    with tfds.testing.mock_data(num_examples=num_examples):
        importlib.import_module(f"keras_cgan.{module}").run()


if __name__ == "__main__":
    main()
