"""keras_cgan: a conditional GAN (Mirza & Osindero, 2014) for TensorFlow/Keras 3.

Metadata lives here; pyproject.toml names the build backend. The version is
`keras_cgan.__version__` (read, not imported). The presets in the top-level
`flags/` folder are installed as package data (`keras_cgan/flags/*.cfg`).
"""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as f:
        return f.read()


def _version():
    return re.search(r'^__version__ = "([^"]+)"', _read("keras_cgan", "__init__.py"), re.M).group(1)


def _long_description():
    """The README without its pictures (relative paths do not resolve on a package index)."""
    lines = [line for line in _read("README.md").splitlines() if not line.startswith("![")]
    return "\n".join(lines) + "\n"


setup(
    name="keras_cgan",
    version=_version(),
    description="Conditional GAN (Mirza & Osindero, 2014) with TensorFlow/Keras 3: "
    "train, evaluate, export and serve class-conditional image generators",
    long_description=_long_description(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    packages=find_packages(include=["keras_cgan", "keras_cgan.*"]) + ["keras_cgan.flags"],
    package_dir={"keras_cgan.flags": "flags"},
    package_data={"keras_cgan.flags": ["*.cfg"], "keras_cgan.server": ["static/*"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets' builders import it; current etils no longer installs it.
        "importlib_resources",
        "matplotlib>=3.5",
        "absl-py>=1.0",
        "tensorboard",
        "numpy",
        "pillow",
    ],
    extras_require={
        "cuda": ["tensorflow[and-cuda]>=2.16"],
        "serve": ["fastapi>=0.100", "uvicorn>=0.20"],
        "onnx": ["tf2onnx>=1.16", "onnxruntime"],
        "test": ["pytest>=7", "pytest-xdist>=3.2", "httpx", "playwright"],
    },
    entry_points={
        "console_scripts": [
            "keras-cgan-train=keras_cgan.main:run",
            "keras-cgan-evaluate=keras_cgan.evaluate:run",
            "keras-cgan-export=keras_cgan.export.__main__:run",
            "keras-cgan-generate=keras_cgan.generate:run",
            "keras-cgan-bench=keras_cgan.bench:cli_main",
            "keras-cgan-serve=keras_cgan.serve:run",
        ],
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
