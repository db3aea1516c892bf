"""keras_cgan: a conditional GAN (Mirza & Osindero, 2014) for MNIST in Keras 3.

Submodules and the main classes load on first use, so `import keras_cgan` (and
the command line's flag parsing) does not pay for importing TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "callbacks",
    "checkpoint",
    "classifier",
    "config",
    "data",
    "distribute",
    "errors",
    "evaluation",
    "export",
    "model",
    "networks",
    "perf",
    "rng",
    "train",
)
_ATTRS = {
    "ConditionalGAN": "model",
    "LabelError": "model",
    "TrainConfig": "config",
    "ConfigError": "errors",
    "DataError": "errors",
    "EvaluationError": "errors",
    "Evaluator": "evaluation",
    "KerasCganError": "errors",
}

__all__ = sorted(_SUBMODULES + tuple(_ATTRS))


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_cgan.{name}")
    if name in _ATTRS:
        return getattr(importlib.import_module(f"keras_cgan.{_ATTRS[name]}"), name)
    raise AttributeError(f"module 'keras_cgan' has no attribute {name!r}")


def __dir__():
    return __all__
