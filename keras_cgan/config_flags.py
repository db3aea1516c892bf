"""Command line flags made from the `TrainConfig` fields, and the preset loader.

`define_flags` declares one absl flag per `TrainConfig` field (type, default,
help, choices and checks all read from the field's `config.setting`);
`config_from_flags` turns parsed flags back into a config; `parse_config`
does both on a private `FlagValues`, so a preset or any command line becomes a
`TrainConfig` without touching the global `absl.flags.FLAGS`:

    config = parse_config(["--flagfile=flags/best.cfg", "--epochs=3"])
"""

import dataclasses
import os
import time
import typing

from absl import flags

from keras_cgan.config import TrainConfig, check_value

_NONE = "none"  # How an enum flag spells a None choice (--mixed_precision=none).


def _fields(only=None):
    return [
        f
        for f in dataclasses.fields(TrainConfig)
        if f.metadata["flag"] and (only is None or f.name in only)
    ]


def _base_type(field):
    args = [a for a in typing.get_args(field.type) if a is not type(None)]
    return args[0] if len(args) == 1 else field.type


def define_flags(flag_values=flags.FLAGS, only=None):
    """Defines a flag for every command-line `TrainConfig` field in `flag_values`.

    Args:
        flag_values: Where to define them (absl's global `FLAGS` by default).
        only: Names of the fields to define (None: all); other tools share
            settings such as `mnist_dir` this way.

    Integer bounds use absl's own bounds (`flag --epochs=0: 0 is not a
    positive integer`); every other check is the field's, run as an absl
    validator, so a bad value stops the command before anything runs.
    """
    for field in _fields(only):
        spec = field.metadata
        name, default, help_text = field.name, spec["flag_default"], spec["help"]
        if callable(default):
            default = default()
        choices = spec["choices"]
        kind = _base_type(field)
        if name == "jit_compile":  # Tri-state: --jit_compile, --nojit_compile, unset = auto.
            flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
        elif choices is not None and kind is str:
            names = [_NONE if c is None else c for c in choices]
            shown = _NONE if default is None else default
            flags.DEFINE_enum(name, shown, names, help_text, flag_values=flag_values)
        elif kind is bool:
            flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(
                name,
                default,
                help_text,
                lower_bound=spec["at_least"],
                upper_bound=max(choices) if choices else spec["at_most"],
                flag_values=flag_values,
            )
        elif kind is float:
            flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
            flags.register_validator(
                name,
                _validator(field),
                flag_values=flag_values,
            )
        else:
            flags.DEFINE_string(name, default, help_text, flag_values=flag_values)
            if spec["check"] is not None:
                flags.register_validator(name, _validator(field), flag_values=flag_values)


def _validator(field):
    def check(value):
        message = value is not None and check_value(field, value, label=f"--{field.name}")
        if message:
            raise flags.ValidationError(message)
        return True

    return check


def config_from_flags(flag_values=flags.FLAGS) -> TrainConfig:
    """The `TrainConfig` that parsed flags describe (workdir default: runs/<timestamp>)."""
    values = {}
    for field in _fields():
        value = flag_values[field.name].value
        if value == _NONE and field.metadata["choices"] and None in field.metadata["choices"]:
            value = None
        values[field.name] = value
    if values["workdir"] is None:
        values["workdir"] = os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    return TrainConfig(**values)


def parse_config(argv=()) -> TrainConfig:
    """Parses command-line arguments into a `TrainConfig`, without global state.

    Args:
        argv: Flags as on the command line, e.g. `["--flagfile=flags/best.cfg",
            "--epochs=3"]`; later flags override earlier ones and flagfiles.

    Returns:
        The config `python -m keras_cgan.main ARGV` would train.

    Raises:
        ConfigError: a flag is unknown or its value is bad.
    """
    from keras_cgan.errors import ConfigError

    flag_values = flags.FlagValues()
    define_flags(flag_values)
    try:
        flag_values(["keras_cgan", *argv])
    except flags.Error as e:
        raise ConfigError(str(e)) from None
    return config_from_flags(flag_values)


def flag_table() -> str:
    """The README's flag table (Markdown), generated from the fields."""
    rows = ["| flag | default | meaning |", "| --- | --- | --- |"]
    for field in _fields():
        spec = field.metadata
        shown = spec["shown_default"]
        if shown is None:
            shown = field.default
            shown = "true" if shown is True else "false" if shown is False else shown
        rows.append(f"| `--{field.name}` | {shown} | {spec['help']} |")
    return "\n".join(rows)
