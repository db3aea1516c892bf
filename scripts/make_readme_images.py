"""Regenerates the pictures the README shows, under docs/.

Usage:
  python scripts/make_readme_images.py [--mnist_dir=DIR] [--epochs=30]

Trains the seed preset (the tutorial's model) for --epochs epochs with seed 0
in a temporary workdir and copies its last sample grid to
docs/seed_grid.png and its metrics plot to docs/seed_metrics.png.
"""

import argparse
import os
import shutil
import tempfile

from keras_cgan import cli

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist_dir", default=None)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    cli.quiet_tensorflow()
    from keras_cgan.config import TrainConfig
    from keras_cgan.train import train

    with tempfile.TemporaryDirectory() as workdir:
        config = TrainConfig(
            epochs=args.epochs, mnist_dir=args.mnist_dir, workdir=workdir, seed=0, verbose=2
        )
        train(config)
        os.makedirs(DOCS, exist_ok=True)
        shutil.copy(
            os.path.join(workdir, "samples", f"epoch_{args.epochs:04d}.png"),
            os.path.join(DOCS, "seed_grid.png"),
        )
        shutil.copy(os.path.join(workdir, "metrics.png"), os.path.join(DOCS, "seed_metrics.png"))


if __name__ == "__main__":
    main()
