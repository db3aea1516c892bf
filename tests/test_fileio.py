"""Folder swaps, the background writer of the per-epoch files, and what a kill leaves."""

import glob
import os
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from helpers import make_tiny_gan
from keras_cgan import callbacks, checkpoint, fileio
from keras_cgan.config import TrainConfig
from keras_cgan.errors import WriteError
from keras_cgan.fileio import BackgroundWriter, numbered_files, run_job


def test_background_writer_runs_jobs_in_order_off_the_calling_thread():
    writer = BackgroundWriter()
    done, threads = [], []

    def job(i):
        time.sleep(0.01 * (3 - i))  # Later jobs are quicker: order must still hold.
        threads.append(threading.current_thread())
        done.append(i)

    for i in range(3):
        writer.submit(job, i)
    writer.wait()
    assert done == [0, 1, 2]
    assert threading.current_thread() not in threads
    writer.close()
    writer.submit(job, 3)  # A closed writer starts a new thread.
    writer.close()
    assert done == [0, 1, 2, 3]


def test_a_failed_job_is_raised_by_the_next_call():
    writer = BackgroundWriter()

    def fail():
        raise OSError("disk full")

    writer.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writer.wait()
    writer.submit(fail)
    time.sleep(0.1)
    with pytest.raises(OSError, match="disk full"):
        writer.submit(lambda: None)
    writer.close()


def test_run_job_without_a_writer_runs_now():
    done = []
    run_job(None, done.append, 1)
    assert done == [1]


def _batches(n=4, batch=8):
    rng = np.random.default_rng(0)
    images = rng.random((n * batch, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, n * batch)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch)


def test_background_checkpoint_equals_a_direct_one(tmp_path):
    gan = make_tiny_gan()
    writer = BackgroundWriter()
    guard = checkpoint.CheckpointCallback(
        str(tmp_path / "background"), TrainConfig(), 4, handle_signals=False, writer=writer
    )
    gan.fit(_batches(), epochs=2, callbacks=[guard], verbose=0)
    guard.finish()
    direct = checkpoint.save_checkpoint(str(tmp_path / "direct"), gan, TrainConfig(), epoch=2)
    background = checkpoint.find_checkpoint(str(tmp_path / "background"))
    with np.load(f"{background}/state.npz") as a, np.load(f"{direct}/state.npz") as b:
        assert a.files == b.files and len(a.files) > 10
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_failed_background_checkpoint_write_is_raised(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    guard = checkpoint.CheckpointCallback(
        str(not_a_folder), TrainConfig(), 4, handle_signals=False, writer=BackgroundWriter()
    )
    with pytest.raises(WriteError, match=f"cannot write {not_a_folder}/latest: FileExistsError"):
        make_tiny_gan().fit(_batches(), epochs=2, callbacks=[guard], verbose=0)


def test_numbered_files_skip_the_leftovers_of_killed_writes(tmp_path):
    names = ("epoch_0010.png", "epoch_0001.png", ".epoch_0002.tmp.png", "epoch_0003.tmp.png")
    for name in (*names, "epoch_x.png"):
        (tmp_path / name).write_bytes(b"not a png")
    assert numbered_files(str(tmp_path), "epoch_", ".png") == [
        str(tmp_path / "epoch_0001.png"),
        str(tmp_path / "epoch_0010.png"),
    ]
    assert numbered_files(str(tmp_path / "missing"), "epoch_", ".png") == []


def test_the_gif_skips_a_grid_a_kill_left_half_written(tmp_path):
    from PIL import Image

    for epoch in (1, 2):
        callbacks.save_png(
            np.full((28, 28), 40 * epoch, np.uint8), str(tmp_path / f"epoch_000{epoch}.png")
        )
    (tmp_path / ".epoch_0003.tmp.png").write_bytes(b"\x89PNG\r\n")  # Killed mid-write.
    callbacks.write_gif(str(tmp_path))
    with Image.open(tmp_path / "progress.gif") as gif:
        assert gif.n_frames == 2


def test_what_a_killed_write_leaves_matches_no_glob_of_the_finished_files(tmp_path):
    path = str(tmp_path / "epoch_0003.png")
    used = []

    def write(tmp):
        used.append(tmp)
        with open(tmp, "wb") as f:
            f.write(b"png")

    fileio.write_atomic(path, write)
    (tmp_path / os.path.basename(used[0])).write_bytes(b"half")  # A SIGKILL mid-write.
    assert used[0].endswith(".png")  # Writers that pick the format by extension still work.
    assert glob.glob(str(tmp_path / "epoch_*.png")) == [path]
    assert glob.glob(str(tmp_path / "*.png")) == [path]
