"""Helpers shared by the command line tools (`main`, `export`, `generate`, ...).

Library code does not use this module: it holds only what a command line
program needs at its boundary (quiet TensorFlow start-up, one-line errors).
"""

import contextlib
import functools
import os
import sys
import tempfile

EXIT_USER_ERROR = 2


def quiet_tensorflow():
    """Imports TensorFlow without its C++ start-up chatter on stderr.

    TensorFlow prints oneDNN/CUDA notices from C++ before its log level applies
    (TF_CPP_MIN_LOG_LEVEL is read too late for them). They are captured while
    TensorFlow loads and shown only if the import fails. Set
    TF_CPP_MIN_LOG_LEVEL yourself to see TensorFlow's own C++ logs.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _quiet_absl_info()
    if "tensorflow" in sys.modules:
        return
    with tempfile.TemporaryFile() as captured, _redirect_fd(2, captured.fileno()):
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            _replay(captured)
            raise


def _quiet_absl_info():
    """TensorFlow's Python INFO logs (SavedModel writing...) unless --verbosity was given."""
    from absl import flags, logging

    if "verbosity" in flags.FLAGS and flags.FLAGS["verbosity"].present:
        return
    logging.set_verbosity(logging.WARNING)


@contextlib.contextmanager
def _redirect_fd(fd, target_fd):
    sys.stderr.flush()
    saved = os.dup(fd)
    os.dup2(target_fd, fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)


def _replay(captured):
    captured.seek(0)
    sys.stderr.write(captured.read().decode(errors="replace"))


def fail(message):
    """Prints `keras_cgan: error: message` on stderr and exits with status 2."""
    print(f"keras_cgan: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def parse_flags(argv, expand_argv=None):
    """An absl `flags_parser` for `app.run`: a bad flag is one line and exit status 2.

    absl's own parser prints `FATAL Flags parsing error: ...` and exits with
    status 1; the tools promise status 2 for every kind of bad input.

    Args:
        argv: The command line.
        expand_argv: Rewrites `argv` first (e.g. `presets.expand`).
    """
    from absl import flags

    from keras_cgan.errors import KerasCganError

    try:
        if expand_argv is not None:
            argv = [argv[0], *expand_argv(argv[1:])]
        return flags.FLAGS(argv)
    except flags.Error as e:
        fail(f"{e} (see --helpshort)")
    except KerasCganError as e:
        fail(e)


def run(main, define_flags=None, expand_argv=None):
    """Runs a tool: defines its flags, then absl's `main(argv)` with one-line errors.

    Args:
        main: The tool's `main(argv)`.
        define_flags: Defines the tool's flags; called here, so that merely
            importing a tool (tests, another tool) defines nothing.
        expand_argv: Rewrites the command line before absl parses it.
    """
    from absl import app

    if define_flags is not None:
        define_flags()
    app.run(
        exits_on_user_error(main),
        flags_parser=functools.partial(parse_flags, expand_argv=expand_argv),
    )


def exits_on_user_error(main):
    """Wraps an absl `main(argv)`: a `KerasCganError` becomes one line + exit 2."""

    @functools.wraps(main)
    def wrapper(argv):
        from keras_cgan.errors import KerasCganError

        if len(argv) > 1:
            fail(f"unexpected arguments {' '.join(argv[1:])!r}: flags are written --name=value")
        try:
            return main(argv)
        except KerasCganError as e:
            fail(e)
        except BrokenPipeError:  # Output piped into `head` or `grep -q`: not an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)

    return wrapper
