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


def define_mnist_flags():
    """Defines --mnist_dir and --tfds_data_dir, the MNIST source of every tool."""
    from absl import flags

    from keras_cgan.config import MNIST_DIR_ENV

    flags.DEFINE_string(
        "mnist_dir",
        os.environ.get(MNIST_DIR_ENV) or None,
        f"Local folder with the four MNIST IDX files or mnist.npz (default: ${MNIST_DIR_ENV}); "
        "unset uses tensorflow-datasets.",
    )
    flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data directory.")


def parse_flags(argv):
    """An absl `flags_parser` for `app.run`: a bad flag is one line and exit status 2.

    absl's own parser prints `FATAL Flags parsing error: ...` and exits with
    status 1; the tools promise status 2 for every kind of bad input.
    """
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        fail(f"{e} (see --helpshort)")


def run(main):
    """Runs an absl `main(argv)` with one-line errors for flags and user input."""
    from absl import app

    app.run(exits_on_user_error(main), flags_parser=parse_flags)


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

    return wrapper
