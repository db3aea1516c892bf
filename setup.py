"""keras_cgan: a conditional GAN for MNIST in TensorFlow/Keras 3."""

import os

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    long_description = f.read()

setup(
    name="keras_cgan",
    version="0.1.0",
    description="Conditional GAN (Mirza & Osindero, 2014) on MNIST with TensorFlow/Keras 3",
    long_description=long_description,
    long_description_content_type="text/markdown",
    packages=find_packages(include=["keras_cgan", "keras_cgan.*"]),
    package_data={"keras_cgan.server": ["static/*"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
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
        "test": ["pytest>=7", "httpx", "playwright"],
    },
    entry_points={
        "console_scripts": [
            "keras-cgan-train=keras_cgan.main:run",
            "keras-cgan-evaluate=keras_cgan.evaluate:run",
            "keras-cgan-serve=keras_cgan.serve:run",
        ],
    },
)
