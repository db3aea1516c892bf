"""Exceptions that keras_cgan raises for bad user input.

Each carries a one-line message that names the problem and the fix. The command
line tools print that line and exit with status 2 instead of a traceback.
"""


class KerasCganError(Exception):
    """Base class: a user-facing, one-line error."""


class DataError(KerasCganError, ValueError):
    """MNIST could not be found or read (missing, truncated or corrupt files)."""


class ConfigError(KerasCganError, ValueError):
    """A configuration value is out of range or inconsistent."""


class EvaluationError(KerasCganError, ValueError):
    """A model to evaluate, its samples or the evaluation settings are unusable."""


class ModelError(KerasCganError, ValueError):
    """A model path (run folder, export, `.keras` file) is missing or unusable."""


class WriteError(KerasCganError, OSError):
    """A file could not be written (disk full, no permission...); earlier files are kept."""
