"""TrainingProgress: training steps, time per step, samples/s, ETA and epoch metrics."""

import io

import numpy as np
import pytest
import tensorflow as tf

from helpers import make_tiny_gan
from keras_cgan import data, distribute, progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Untouchable:
    """Batch logs that fail if read: reading them would wait for the device."""

    def __getattr__(self, name):
        raise AssertionError(f"the progress callback read the batch logs ({name})")

    def __iter__(self):
        raise AssertionError("the progress callback iterated the batch logs")


LOGS = {"d_acc": 0.65432, "g_loss": 0.98765, "d_loss": 1.23456, "eval_fid": 12.5}


def _progress(verbose, **kwargs):
    clock, out = FakeClock(), io.StringIO()
    callback = progress.TrainingProgress(
        verbose=verbose, stream=out, clock=clock, bar_width=10, **kwargs
    )
    callback.set_params({"epochs": 3, "steps": 3})  # Keras' view: 3 calls per epoch.
    return callback, clock, out


def test_live_line_counts_steps_and_ends_with_the_metrics():
    callback, clock, out = _progress(
        1, steps_per_epoch=5, batch_size=64, steps_per_call=2, dynamic=True, interval=0.25
    )
    callback.on_epoch_begin(0)
    clock.now += 0.5
    callback.on_train_batch_end(0, Untouchable())  # 2 steps in 0.5 s.
    clock.now += 0.1
    callback.on_train_batch_end(1, Untouchable())  # 4 steps; too soon to redraw.
    clock.now += 0.4
    callback.on_train_batch_end(2, Untouchable())  # 5 steps (a shorter last stack).
    callback.on_epoch_end(0, LOGS)
    assert out.getvalue() == (
        "Epoch 1/3\n"
        "\r2/5 [====>.....] ETA 1s - 250.00ms/step - 256 samples/s"
        "\r5/5 [==========] ETA 0s - 200.00ms/step - 320 samples/s"
        "\r5/5 [==========] 1.00s - 200.00ms/step - 320 samples/s - d_loss: 1.2346 - "
        "g_loss: 0.9877 - d_acc: 0.6543 - eval_fid: 12.5000\n"
    )


def test_in_a_log_file_only_the_final_line_is_written():
    callback, clock, out = _progress(1, batch_size=10, steps_per_call=200)
    callback.on_epoch_begin(1)
    for batch in range(3):
        clock.now += 1.0
        callback.on_train_batch_end(batch)
    callback.on_epoch_end(1, {"d_loss": 0.5})
    # Without steps_per_epoch: Keras' 3 calls x 200 steps.
    assert out.getvalue() == (
        "Epoch 2/3\n600/600 [==========] 3.00s - 5.00ms/step - 2,000 samples/s - d_loss: 0.5000\n"
    )


def test_verbose_2_is_one_line_per_epoch_with_steps_per_second():
    callback, clock, out = _progress(2, steps_per_epoch=937, batch_size=64, steps_per_call=200)
    for epoch in range(2):
        callback.on_epoch_begin(epoch)
        for batch in range(5):
            clock.now += 0.0937
            callback.on_train_batch_end(batch, Untouchable())
        callback.on_epoch_end(epoch, {"d_loss": 1.0, "g_loss": 2.0, "d_acc": 0.5})
    lines = out.getvalue().splitlines()
    assert lines == [
        f"Epoch {e}/3 - 937 steps - 0.47s - 500us/step - 2,000 steps/s - 128,000 samples/s - "
        "d_loss: 1.0000 - g_loss: 2.0000 - d_acc: 0.5000"
        for e in (1, 2)
    ]


def test_redraws_at_most_once_per_interval():
    callback, clock, out = _progress(
        1, steps_per_epoch=11_000, steps_per_call=1, dynamic=True, interval=0.25
    )
    callback.on_epoch_begin(0)
    for batch in range(11_000):
        clock.now += 0.0001  # 1.1 s in all: redrawn after about 0.25, 0.5, 0.75 and 1 s.
        callback.on_train_batch_end(batch)
    assert out.getvalue().count("\r") == 4


def test_a_resumed_epoch_starts_at_its_skipped_steps():
    callback, clock, out = _progress(2, steps_per_epoch=10, batch_size=1, steps_per_call=4)
    callback.skip_steps(7)
    callback.on_epoch_begin(0)
    clock.now += 3.0
    callback.on_train_batch_end(0)  # 7 + 4 > 10: capped.
    callback.on_epoch_end(0, {})
    assert out.getvalue() == (
        "Epoch 1/3 - 3 steps - 3.00s - 1.00s/step - 1.00 steps/s - 1.00 samples/s\n"
    )
    callback.on_epoch_begin(1)  # The next epoch is whole again.
    clock.now += 1.0
    callback.on_train_batch_end(2)
    callback.on_epoch_end(1, {})
    assert out.getvalue().splitlines()[1].startswith("Epoch 2/3 - 10 steps - 1.00s - 100.00ms/step")


def test_format_helpers():
    assert [progress.format_seconds(s) for s in (0.4, 42, 185, 3723)] == [
        "0s",
        "42s",
        "3:05",
        "1:02:03",
    ]
    assert [progress.format_step_time(s) for s in (2.5, 0.0034, 0.000496)] == [
        "2.50s/step",
        "3.40ms/step",
        "496us/step",
    ]
    assert [progress.format_rate(r) for r in (0.534, 16.23, 122_368.4)] == [
        "0.53",
        "16.2",
        "122,368",
    ]
    with pytest.raises(ValueError, match="verbose must be 1 or 2"):
        progress.TrainingProgress(verbose=0)


def _images(n):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, n)


def test_fit_on_stacks_with_a_shorter_last_stack_counts_every_step():
    images, labels = _images(5 * 8)  # 5 batches of 8: stacks of 3 and 2.
    gan = make_tiny_gan()
    dataset = data.make_dataset(images, labels, 8, epochs=(0, 2), stack=3, raw=True)
    out = io.StringIO()
    callback = progress.TrainingProgress(5, batch_size=8, steps_per_call=3, verbose=2, stream=out)
    gan.fit(dataset, epochs=2, steps_per_epoch=2, callbacks=[callback], verbose=0, shuffle=False)
    assert int(gan.train_steps.numpy()) == 10
    lines = out.getvalue().splitlines()
    assert [line.split(" - ")[:2] for line in lines] == [
        ["Epoch 1/2", "5 steps"],
        ["Epoch 2/2", "5 steps"],
    ]
    assert all("samples/s" in line and "d_loss: " in line for line in lines)


def test_fit_custom_loop_counts_steps_per_call():
    images, labels = _images(5 * 8)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        gan = make_tiny_gan()
    dataset = distribute.distributed_dataset(
        strategy,
        lambda replica_slice: data.make_dataset(
            images, labels, 8, epochs=(0, 1), replica_slice=replica_slice, raw=True
        ),
        8,
    )
    out = io.StringIO()
    callback = progress.TrainingProgress(5, batch_size=8, steps_per_call=2, verbose=2, stream=out)
    distribute.fit_custom_loop(
        gan,
        strategy,
        dataset,
        initial_epoch=0,
        epochs=1,
        steps_per_epoch=5,
        callbacks=[callback],
        steps_per_execution=2,
    )
    assert int(gan.train_steps.numpy()) == 5
    assert out.getvalue().startswith("Epoch 1/1 - 5 steps - ")
