"""Writes the small MNIST subset that tests use: tests/fixtures/mnist_small/.

Usage: python scripts/make_test_fixture.py --mnist_dir=../shared/data/mnist

Takes the first 300 training and 100 test examples of a local MNIST copy and
writes them as the four standard gzipped IDX files.
"""

import argparse
import gzip
import os
import struct

from keras_cgan import mnist_files

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "mnist_small")
COUNTS = {"train": 300, "test": 100}
NAMES = {"train": "train", "test": "t10k"}


def write_idx(path, array, magic):
    header = struct.pack(">ii", magic, len(array))
    if array.ndim == 3:
        header += struct.pack(">ii", *array.shape[1:])
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(header + array.astype("uint8").tobytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mnist_dir", required=True)
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    for split, count in COUNTS.items():
        images, labels = mnist_files.load(args.mnist_dir, split)
        prefix = os.path.join(OUT, NAMES[split])
        write_idx(f"{prefix}-images-idx3-ubyte.gz", images[:count, :, :, 0], 2051)
        write_idx(f"{prefix}-labels-idx1-ubyte.gz", labels[:count], 2049)


if __name__ == "__main__":
    main()
