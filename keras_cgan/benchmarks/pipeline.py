"""The pipeline section: the training input pipeline alone, batches/s."""

import time

from keras_cgan.benchmarks.timing import inverted, summarize
from keras_cgan.config import TrainConfig


def bench_pipeline(config: TrainConfig, steps: int, warmup: int, repeats: int, stacks) -> list:
    """The training input pipeline alone, one epoch per repeat, consumed in a graph loop."""
    import tensorflow as tf

    from keras_cgan import data, perf

    images, labels = data.load_mnist(
        "train", mnist_dir=config.mnist_dir, num_examples=steps * config.batch_size
    )
    results = []
    settings = [("as trained", config.steps_per_execution, perf.PIPELINE)]
    settings += [("1 batch/element, float/one-hot", 1, {**perf.PIPELINE, "raw": False})]
    settings += [(f"{k} batches/element", k, perf.PIPELINE) for k in stacks if k > 1]
    for label, stack, options in settings:
        ds = data.make_dataset(
            images,
            labels,
            config.batch_size,
            seed=config.seed,
            epochs=(0, warmup + repeats),
            stack=stack,
            **options,
        )
        consume = _consumer(iter(ds))
        elements = data.steps_per_epoch(len(images), config.batch_size, stack)
        times = []
        for r in range(warmup + repeats):
            start = time.perf_counter()
            consume(tf.constant(elements)).numpy()
            if r >= warmup:
                times.append(time.perf_counter() - start)
        epoch = summarize(times)
        results.append(
            {
                "label": label,
                "batches_per_element": stack,
                **options,
                "batches_per_s": inverted(epoch, steps),
            }
        )
    return results


def _consumer(iterator):
    """A `tf.function(n)` that pulls `n` elements from `iterator` inside a graph loop."""
    import tensorflow as tf

    @tf.function
    def consume(n):
        def body(i):
            for t in tf.nest.flatten(iterator.get_next()):
                tf.debugging.assert_rank_at_least(t, 1)  # Uses every tensor.
            return (i + 1,)

        return tf.while_loop(lambda i: i < n, body, (tf.constant(0),))[0]

    return consume
