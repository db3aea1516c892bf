"""One training run per workdir: a second one is refused, a killed one leaves no stale lock."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from helpers import REPO_ROOT, TINY_RUN_FLAGS, one_error_line, run_cli
from keras_cgan import train, workdir_lock
from keras_cgan.workdir_lock import LOCK_FILE, WorkdirBusy, WorkdirLock

_HOLD = (
    "import sys, time\n"
    "from keras_cgan.workdir_lock import WorkdirLock\n"
    "WorkdirLock(sys.argv[1]).acquire()\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.fixture
def holder(tmp_path):
    """A separate process holding the lock of `tmp_path/run` (killed afterwards)."""
    workdir = str(tmp_path / "run")
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, workdir],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        proc.workdir = workdir
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_lock_is_refused_and_a_released_one_is_free_again(tmp_path):
    workdir = str(tmp_path / "run")
    with WorkdirLock(workdir):
        info = json.load(open(os.path.join(workdir, LOCK_FILE)))
        assert info["pid"] == os.getpid()
        with pytest.raises(WorkdirBusy, match=f"pid {os.getpid()} on host "):
            WorkdirLock(workdir).acquire()
    # Released: the file and the workdir it created (still empty) are gone.
    assert not os.path.exists(workdir)
    os.makedirs(workdir)
    with WorkdirLock(workdir):
        pass
    assert os.listdir(workdir) == []


def test_a_second_run_stops_at_once_naming_the_holder(holder, tiny_config):
    result = run_cli("main", *TINY_RUN_FLAGS, "--epochs=1", f"--workdir={holder.workdir}")
    assert result.returncode == 2, result.stderr[-3000:]
    line = one_error_line(result)
    assert f"workdir {holder.workdir} is in use by another training run" in line
    assert f"pid {holder.pid} on host {socket.gethostname()}" in line
    assert "--workdir" in line
    with pytest.raises(WorkdirBusy, match=f"pid {holder.pid} "):
        train.train(tiny_config.replace(workdir=holder.workdir))
    assert os.listdir(holder.workdir) == [LOCK_FILE]  # Nothing written, nothing moved.


@pytest.mark.slow
def test_a_run_proceeds_after_the_holder_was_killed(holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert os.path.exists(os.path.join(holder.workdir, LOCK_FILE))  # Left behind, unlocked.
    result = run_cli("main", *TINY_RUN_FLAGS, "--epochs=1", f"--workdir={holder.workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.isdir(os.path.join(holder.workdir, "export"))
    assert not os.path.exists(os.path.join(holder.workdir, LOCK_FILE))


@pytest.mark.parametrize("index, locks", [(0, True), (1, False)])
def test_only_the_chief_of_a_multi_worker_run_takes_the_lock(
    tiny_config, monkeypatch, index, locks
):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    task = {"type": "worker", "index": index}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    seen = []
    # Stands in for the training itself: only the lock decision is under test.
    monkeypatch.setattr(
        train,
        "_train",
        lambda config, callbacks, strategy, evaluator: seen.append(
            os.path.exists(os.path.join(config.workdir, workdir_lock.LOCK_FILE))
        ),
    )
    train.train(tiny_config.replace(strategy="multi_worker"))
    train.train(tiny_config)  # Not multi-worker: a single process always locks.
    assert seen == [locks, True]
