"""keras_cgan: a conditional GAN (Mirza & Osindero, 2014) for MNIST in Keras 3.

Submodules and the main classes load on first use, so `import keras_cgan` (and
the command line's flag parsing) does not pay for importing TensorFlow. Keras
still finds `ConditionalGAN` when it loads a saved model: see
`_register_with_keras`.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

_SUBMODULES = (
    "builder",
    "callbacks",
    "checkpoint",
    "classifier",
    "config",
    "config_flags",
    "data",
    "datasets",
    "distribute",
    "errors",
    "evaluation",
    "export",
    "generation",
    "loading",
    "metrics",
    "model",
    "networks",
    "perf",
    "presets",
    "progress",
    "rng",
    "runtime",
    "samplers",
    "sampling",
    "sizes",
    "train",
    "workdir_lock",
)
_ATTRS = {
    "ConditionalGAN": "model",
    "LabelError": "generation",
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


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """A one-shot import hook: once `keras` has loaded, import `keras_cgan.model`.

    `keras.models.load_model` finds custom classes only in Keras' registry,
    which `keras_cgan.model` fills when it is imported (and it imports
    TensorFlow, which takes seconds).
    """

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")  # Found by the other finders.
        if spec is None or spec.loader is None:
            return spec
        exec_keras = spec.loader.exec_module

        def exec_module(module):
            exec_keras(module)
            importlib.import_module("keras_cgan.model")

        spec.loader.exec_module = exec_module
        return spec


def _register_with_keras():
    """Makes `keras.models.load_model("model.keras")` work right after `import keras_cgan`.

    With Keras already loaded the model module is imported now; otherwise as
    soon as Keras loads, so a bare `import keras_cgan` stays light.
    """
    if "keras" in sys.modules:
        importlib.import_module("keras_cgan.model")
    elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterKeras())


_register_with_keras()
