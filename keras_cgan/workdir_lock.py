"""One training run per workdir: an OS file lock that dies with its process.

`train.train` holds `<workdir>/.keras_cgan.lock` (`fcntl.flock`, exclusive)
while it runs. A second run started on the same workdir stops at once with
`WorkdirBusy`, naming the holder's pid and host. The kernel drops the lock
when the holder's process ends in any way (SIGKILL and crashes included), so
no stale lock ever blocks a later run; the file itself is removed by a holder
that ends normally and is harmless when left behind.
"""

import contextlib
import errno
import fcntl
import json
import os
import socket
import time

from keras_cgan.errors import KerasCganError
from keras_cgan.fileio import writing

LOCK_FILE = ".keras_cgan.lock"


class WorkdirBusy(KerasCganError):
    """Another live process is training in the same workdir."""


class WorkdirLock:
    """The exclusive lock of one workdir; use as a context manager.

    Args:
        workdir: The run folder (created if missing, and removed again on
            release if it is still empty then).
    """

    def __init__(self, workdir):
        self.workdir = os.fspath(workdir)
        self.path = os.path.join(self.workdir, LOCK_FILE)
        self._fd = None
        self._created_workdir = False

    def acquire(self):
        """Takes the lock, or raises `WorkdirBusy` naming the holder.

        Returns:
            self.

        Raises:
            WorkdirBusy: another process holds the lock.
            WriteError: the workdir or the lock file cannot be created.
        """
        with writing(self.path):
            self._created_workdir = not os.path.isdir(self.workdir)
            os.makedirs(self.workdir, exist_ok=True)
        while True:
            with writing(self.path):
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_holder(fd)
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    raise WorkdirBusy(
                        f"workdir {self.workdir} is in use by another training run ({holder}): "
                        "wait for it to end or stop it, or pass another --workdir"
                    ) from None
                return self  # No locking on this file system (ENOLCK...): train unguarded.
            # A holder that ended between our open and flock unlinks the file it
            # locked; ours would then be a detached copy. Lock the current one.
            if _same_file(fd, self.path):
                break
            os.close(fd)
        self._fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        with contextlib.suppress(OSError):  # Who holds it is a courtesy (full disk: none).
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        return self

    def release(self):
        """Drops the lock and removes the lock file (and a workdir left empty)."""
        if self._fd is None:
            return
        # Unlink while still holding the lock, so no other process is
        # waiting on this very file (see `acquire`).
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
        if self._created_workdir:
            with contextlib.suppress(OSError):
                os.rmdir(self.workdir)  # Only if empty: a run that stopped before writing.

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _same_file(fd, path):
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_holder(fd):
    """`pid N on host H, since T` from the lock file, or what is known."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        pid, host = int(info["pid"]), str(info["host"])
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown: it is still starting"
    return f"pid {pid} on host {host}, since {since}"
