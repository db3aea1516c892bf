"""Crash-safe writes of files and folders (checkpoints, exports), and background writes.

Every writer of a run's files goes through `writing` or `write_atomic`: a
failed write (a full disk, a read-only folder) removes its temporary file and
raises one `WriteError` that names the file, while the previous version of
that file stays in place. Needs no TensorFlow, so tools can check an export
before loading it.
"""

import concurrent.futures
import contextlib
import errno
import json
import os
import re
import shutil

from keras_cgan.errors import WriteError

# TensorFlow's C++ file writers report errno failures as these `OpError`s
# (ENOSPC is ResourceExhaustedError); matched by name so as not to import TF.
_TF_IO_ERRORS = frozenset(
    {"ResourceExhaustedError", "PermissionDeniedError", "NotFoundError", "DataLossError"}
)
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "File too large")


def _is_write_failure(error):
    if isinstance(error, WriteError):
        return False  # Already says which file.
    if isinstance(error, OSError):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    return "OpError" in names and bool(names & _TF_IO_ERRORS)


def write_error(path, error):
    """The one-line `WriteError` for a failure `error` while writing `path`."""
    text = getattr(error, "strerror", None) or str(error)
    text = re.sub(r"\{\{.*?\}\}\s*", "", text)  # TensorFlow's "{{function_node ...}}".
    reason = next((line.strip() for line in text.splitlines() if line.strip()), "")
    full_text = next((t for t in _DISK_FULL_TEXT if t in text), None)
    if full_text or getattr(error, "errno", None) in _DISK_FULL:
        problem = f"the disk is full ({full_text or reason[:200]}); free space on it"
    else:
        problem = f"{type(error).__name__}: {reason[:200]}; check that its folder is writable"
    result = WriteError(
        f"cannot write {path}: {problem} or write elsewhere (another --workdir or --out); "
        "the files saved before are kept"
    )
    result.errno = getattr(error, "errno", None)
    return result


def _remove(path):
    if path is None:
        return
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


@contextlib.contextmanager
def writing(path, tmp=None):
    """Reports a failed write of `path` as one `WriteError`, removing `tmp` first.

    Args:
        path: The file or folder being written (named in the message).
        tmp: Optional temporary file or folder of this write, deleted if the
            block raises anything, so a full disk gets its space back.

    Raises:
        WriteError: an `OSError` (or a TensorFlow file-system error) was raised
            inside the block.
    """
    try:
        yield
    except BaseException as e:
        _remove(tmp)  # Whatever stopped the write (Ctrl-C too): no partial file left.
        if not _is_write_failure(e):
            raise
        raise write_error(path, e) from e


def write_atomic(path, write):
    """Writes `path` by calling `write(tmp)` and renaming `tmp` onto `path`.

    `tmp` is a hidden file beside `path` with `.tmp` before its extension
    (`.metrics.tmp.csv`): writers that pick the format from the extension still
    work, and what a killed write leaves behind matches no pattern of the
    finished files (`epoch_*.png`). A failure leaves the previous `path`, if
    any, untouched.

    Raises:
        WriteError: the write or the rename failed (the message names `path`).
    """
    directory, name = os.path.split(path)
    root, ext = os.path.splitext(name)
    tmp = os.path.join(directory, f".{root}.tmp{ext}")
    with writing(path, tmp):
        write(tmp)
        os.replace(tmp, path)
    return path


def write_json(path, payload):
    """Writes `payload` as indented JSON to `path` (atomically; `WriteError` if it fails)."""

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")

    return write_atomic(path, write)


def numbered_files(directory, prefix, ext):
    """The finished `<directory>/<prefix>NNNN<ext>` files, sorted by name.

    Whatever else is there is not listed: the hidden `.tmp` file a killed
    `write_atomic` may leave (`.epoch_0003.tmp.png`), or a user's
    `epoch_0003 copy.png`; a missing `directory` lists nothing.
    """
    if not os.path.isdir(directory):
        return []
    pattern = re.compile(re.escape(prefix) + r"\d+" + re.escape(ext))
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if pattern.fullmatch(n))


def replace_dir(tmp_dir, final_dir):
    """Moves the finished folder `tmp_dir` to `final_dir`, atomically enough.

    An existing `final_dir` is first renamed to `final_dir.old`, then `tmp_dir`
    is renamed into place, then the old copy is deleted. At every instant one
    complete copy exists (`resolve_dir` finds it).
    """
    old = final_dir + ".old"
    if os.path.isdir(final_dir):
        if os.path.isdir(old):
            shutil.rmtree(old)
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    shutil.rmtree(old, ignore_errors=True)


def resolve_dir(final_dir):
    """Returns `final_dir`, or its `.old` copy if a swap was cut short, or None."""
    for path in (final_dir, final_dir + ".old"):
        if os.path.isdir(path):
            return path
    return None


class BackgroundWriter:
    """Runs file-writing jobs on one background thread, one at a time, in order.

    Training hands the slow part of its per-epoch writes (PNG encoding, the
    checkpoint files) to this thread and goes on with the next epoch. Jobs
    must replace their files atomically (`replace_dir`, write-then-rename), so
    a job that fails or is cut short leaves the previous file in place. A
    failed job's error is raised by the next `submit` or by `wait`.
    """

    def __init__(self):
        self._executor = None
        self._futures = []

    def submit(self, fn, *args, **kwargs):
        """Queues `fn(*args, **kwargs)` after the jobs already queued."""
        self._raise_failed()
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="keras_cgan-writer"
            )
        self._futures.append(self._executor.submit(fn, *args, **kwargs))

    def _raise_failed(self):
        finished, pending = [], []
        for future in self._futures:
            (finished if future.done() else pending).append(future)
        self._futures = pending
        for future in finished:
            future.result()  # Raises the job's error, if any.

    def wait(self):
        """Blocks until every queued job is done; raises the first job error."""
        futures, self._futures = self._futures, []
        errors = [future.exception() for future in futures]  # Waits for each.
        for error in errors:
            if error is not None:
                raise error

    def close(self):
        """`wait`, then stops the thread (a later `submit` starts a new one)."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None


def run_job(writer, fn, *args, **kwargs):
    """`fn(*args, **kwargs)` on `writer` (a `BackgroundWriter`), or now if it is None."""
    if writer is None:
        fn(*args, **kwargs)
    else:
        writer.submit(fn, *args, **kwargs)
