"""Crash-safe replacement of a folder (checkpoints, exports), and background writes.

Needs no TensorFlow, so tools can check an export before loading it.
"""

import concurrent.futures
import os
import shutil


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
