"""The presets: absl flagfiles, found in a checkout or in the installed package.

A preset is a flagfile `NAME.cfg` whose first line, a comment, describes it. The
repository keeps them in `flags/`; an installed package carries the same files
as package data (`keras_cgan/flags/`), so `--preset=NAME` works from any
folder. `load_preset` gives the `TrainConfig` a preset stands for.
"""

import os

from keras_cgan import config_flags
from keras_cgan.errors import ConfigError

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# Installed: package data beside the modules. Checkout: the top-level flags/.
_SEARCH = (os.path.join(_PACKAGE, "flags"), os.path.join(os.path.dirname(_PACKAGE), "flags"))
PRESET_FLAG = "--preset"


def presets_dir() -> str:
    """The folder holding the preset flagfiles.

    Raises:
        ConfigError: neither the installed presets nor a checkout's flags/ exist.
    """
    for folder in _SEARCH:
        if os.path.isdir(folder) and any(n.endswith(".cfg") for n in os.listdir(folder)):
            return folder
    raise ConfigError(f"no presets found (looked in {' and '.join(_SEARCH)}): reinstall keras_cgan")


def list_presets() -> dict:
    """`{name: one-line description}` of every preset, sorted by name."""
    folder = presets_dir()
    result = {}
    for file_name in sorted(os.listdir(folder)):
        if file_name.endswith(".cfg"):
            result[file_name[: -len(".cfg")]] = _description(os.path.join(folder, file_name))
    return result


def _description(path):
    """A flagfile's first line, a comment describing it."""
    with open(path, encoding="utf-8") as f:
        first = f.readline().strip()
    return first.lstrip("#").strip().rstrip(".") if first.startswith("#") else ""


def preset_path(name: str) -> str:
    """The flagfile of preset `name`.

    Raises:
        ConfigError: no such preset (the message lists the known ones).
    """
    known = list_presets()
    if name not in known:
        raise ConfigError(
            f"unknown preset {name!r}: choose one of {', '.join(known)} (--list_presets)"
        )
    return os.path.join(presets_dir(), f"{name}.cfg")


def expand(argv):
    """Replaces `--preset=NAME` (or `--preset NAME`) in `argv` by `--flagfile=PATH`.

    A preset is a flagfile, so flags after it override it.
    """
    out, args = [], list(argv)
    while args:
        arg = args.pop(0)
        if arg == PRESET_FLAG and args:
            arg = f"{PRESET_FLAG}={args.pop(0)}"
        if arg.startswith(PRESET_FLAG + "="):
            arg = f"--flagfile={preset_path(arg[len(PRESET_FLAG) + 1 :])}"
        out.append(arg)
    return out


def load_preset(name: str, *overrides: str):
    """The `TrainConfig` that `keras-cgan-train --preset=NAME OVERRIDES...` trains.

    Args:
        name: A preset name (`list_presets()`), or a path to a flagfile.
        *overrides: Further flags, e.g. `"--epochs=3"`.

    Raises:
        ConfigError: unknown preset, or a bad flag in it or in `overrides`.
    """
    path = name if os.path.isfile(name) else preset_path(name)
    return config_flags.parse_config([f"--flagfile={path}", *overrides])
