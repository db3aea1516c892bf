"""Crash-safe replacement of a folder (checkpoints, exports).

Needs no TensorFlow, so tools can check an export before loading it.
"""

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
