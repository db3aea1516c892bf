"""A full disk at any writer of a run: one WriteError naming the file, nothing saved lost."""

import builtins
import errno
import fnmatch
import io
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from helpers import REPO_ROOT, TINY_RUN_FLAGS, one_error_line, tiny_train_config
from keras_cgan import checkpoint, fileio, train
from keras_cgan.errors import KerasCganError, WriteError


def _fail_opening(monkeypatch, pattern):
    """Makes opening a file named like `pattern` for writing raise ENOSPC."""
    real_open = builtins.open
    hits = []

    def full_disk_open(file, mode="r", *args, **kwargs):
        name = os.path.basename(os.fspath(file)) if isinstance(file, (str, os.PathLike)) else ""
        if fnmatch.fnmatch(name, pattern) and any(c in mode for c in "wax+"):
            hits.append(name)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_disk_open)
    monkeypatch.setattr(io, "open", full_disk_open)
    return hits


def _fail_export(monkeypatch):
    """TensorFlow's own report of a full disk while writing a SavedModel."""
    import tensorflow as tf

    hits = []

    def full_disk_save(obj, export_dir, *args, **kwargs):
        hits.append(export_dir)
        os.makedirs(os.path.join(export_dir, "variables"))
        with open(os.path.join(export_dir, "variables", "partial"), "wb") as f:
            f.write(b"x" * 100)
        raise tf.errors.ResourceExhaustedError(  # As TensorFlow words it.
            None,
            None,
            "{{function_node __wrapped__SaveV2_dtypes_6_device_/job:localhost/replica:0/task:0/"
            f"device:CPU:0}}}} {export_dir}/variables/variables_temp/part-00000-of-00001.data-"
            "00000-of-00001.tempstate1234; No space left on device [Op:SaveV2]",
        )

    monkeypatch.setattr(tf.saved_model, "save", full_disk_save)
    return hits


def _tree(path):
    """`{relative path: bytes}` of every file under `path` (or of the file `path`)."""
    if os.path.isfile(path):
        return {"": open(path, "rb").read()}
    return {
        os.path.relpath(os.path.join(root, name), path): open(os.path.join(root, name), "rb").read()
        for root, _, names in os.walk(path)
        for name in names
    }


def _leftovers(workdir):
    return [
        os.path.join(root, name)
        for root, dirs, names in os.walk(workdir)
        for name in names + dirs
        if ".tmp" in name or name.startswith(".export-tmp")
    ]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished one-epoch run (checkpoint, export, model, logs), copied per test."""
    config = tiny_train_config(tmp_path_factory.mktemp("finished") / "run", epochs=1)
    train.train(config)
    return config


# The file whose writer fails, the pattern of the name it opens, and the epoch
# of the checkpoint expected afterwards (1: the previous one, untouched; 2:
# the resumed run's, written before the failing file).
WRITERS = [
    ("config.json", "*config*.json", 1),
    ("checkpoints/latest", "state.npz", 1),
    ("samples/epoch_0002.png", "*epoch_0002*.png", 2),
    ("metrics.csv", "*metrics*.csv", 2),
    ("samples/progress.gif", "*progress*.gif", 2),
    ("metrics.png", "*metrics*.png", 2),
    ("model.keras", "*model*.keras", 2),
    ("export", None, 2),
]


@pytest.mark.slow
@pytest.mark.parametrize("target, pattern, checkpoint_epoch", WRITERS)
def test_a_full_disk_names_the_file_and_keeps_what_was_saved(
    finished_run, tmp_path, monkeypatch, target, pattern, checkpoint_epoch
):
    workdir = str(tmp_path / "run")
    shutil.copytree(finished_run.workdir, workdir)
    config = finished_run.replace(workdir=workdir, epochs=2)
    ckpt_dir = os.path.join(workdir, "checkpoints", "latest")
    before = {
        name: _tree(os.path.join(workdir, name))
        if os.path.exists(os.path.join(workdir, name))
        else {}
        for name, _, _ in WRITERS
    }
    hits = _fail_export(monkeypatch) if pattern is None else _fail_opening(monkeypatch, pattern)

    with pytest.raises(WriteError) as caught:
        train.train(config)
    monkeypatch.undo()

    assert hits, f"the {target} writer was never reached"
    message = str(caught.value)
    assert isinstance(caught.value, KerasCganError) and "\n" not in message
    assert f"cannot write {os.path.join(workdir, target)}:" in message
    assert "the disk is full (No space left on device)" in message and "--workdir" in message
    # The failed file keeps its previous version (a grid of a new epoch had none).
    assert _tree(os.path.join(workdir, target)) == before[target]
    # The export of the finished run is untouched in every case.
    assert _tree(os.path.join(workdir, "export")) == before["export"]
    epoch, step, _ = checkpoint.read_checkpoint_info(ckpt_dir)
    assert (epoch, step) == (checkpoint_epoch, 0)
    if checkpoint_epoch == 1:
        assert _tree(ckpt_dir) == before["checkpoints/latest"]
    assert _leftovers(workdir) == []


@pytest.mark.slow
def test_the_run_resumes_once_there_is_space_again(finished_run, tmp_path, monkeypatch):
    workdir = str(tmp_path / "run")
    shutil.copytree(finished_run.workdir, workdir)
    config = finished_run.replace(workdir=workdir, epochs=2)
    _fail_opening(monkeypatch, "*model*.keras")
    with pytest.raises(WriteError):
        train.train(config)
    monkeypatch.undo()
    train.train(config)
    assert os.path.isfile(os.path.join(workdir, "model.keras"))
    epoch, _, _ = checkpoint.read_checkpoint_info(os.path.join(workdir, "checkpoints", "latest"))
    assert epoch == 2


def test_write_atomic_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    path = str(tmp_path / "a.csv")
    fileio.write_atomic(path, lambda tmp: open(tmp, "w").write("old"))

    def partial(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match=r"cannot write .*a\.csv: the disk is full") as caught:
        fileio.write_atomic(path, partial)
    assert caught.value.errno == errno.ENOSPC
    assert open(path).read() == "old"
    assert os.listdir(tmp_path) == ["a.csv"]


def test_other_write_failures_name_the_file_and_the_reason(tmp_path):
    path = str(tmp_path / "x.json")

    def denied(tmp):
        raise PermissionError(errno.EACCES, "Permission denied", tmp)

    with pytest.raises(WriteError, match=r"x\.json: PermissionError: Permission denied; check"):
        fileio.write_atomic(path, denied)
    with pytest.raises(ValueError, match="not a write failure"):
        with fileio.writing(path):
            raise ValueError("not a write failure")


# A full disk at metrics.csv, injected into the real command line program.
_BOOTSTRAP = textwrap.dedent(
    """
    import builtins, errno, fnmatch, os, runpy, sys
    real_open = builtins.open
    def full_disk_open(file, mode="r", *args, **kwargs):
        name = os.path.basename(file) if isinstance(file, str) else ""
        if fnmatch.fnmatch(name, "*metrics*.csv") and any(c in mode for c in "wax+"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), file)
        return real_open(file, mode, *args, **kwargs)
    builtins.open = full_disk_open
    sys.argv[0] = "keras_cgan.main"
    runpy.run_module("keras_cgan.main", run_name="__main__", alter_sys=True)
    """
)


@pytest.mark.slow
def test_the_command_line_prints_one_line_and_exits_2(tmp_path):
    workdir = str(tmp_path / "run")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")])
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _BOOTSTRAP,
            *TINY_RUN_FLAGS,
            "--epochs=2",
            "--train_examples=64",
            f"--workdir={workdir}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    line = one_error_line(result)
    assert f"cannot write {os.path.join(workdir, 'metrics.csv')}: the disk is full" in line
    # The epoch-1 checkpoint, queued before the log row, was written.
    assert checkpoint.find_checkpoint(os.path.join(workdir, "checkpoints")) is not None


def _mount_tiny_tmpfs(path, size):
    os.makedirs(path)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


@pytest.mark.slow
def test_a_real_full_disk(tmp_path):
    mount = str(tmp_path / "tiny")
    if shutil.which("mount") is None or not _mount_tiny_tmpfs(mount, "1500k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected tests cover the writers")
    try:
        workdir = os.path.join(mount, "run")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "keras_cgan.main",
                *TINY_RUN_FLAGS,
                "--epochs=3",
                "--hidden_units=256",
                "--train_examples=64",
                f"--workdir={workdir}",
            ],
            cwd=REPO_ROOT,
            env=dict(os.environ, PYTHONPATH=REPO_ROOT),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 2, result.stderr[-3000:]
        line = one_error_line(result)
        assert f"cannot write {workdir}" in line and "the disk is full" in line
        assert _leftovers(workdir) == []
    finally:
        subprocess.run(["umount", mount], check=False)
