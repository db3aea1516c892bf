r"""Benchmarks training, the input pipeline, generation and memory, in one run.

Usage:
  python -m keras_cgan.bench [--presets=seed,dcgan] [--batch_sizes=64,256]
      [--repeats=5] [--json=bench.json] [--mnist_dir=DIR]

Every figure is the median of `--repeats` timed repeats after `--warmup`
untimed ones (compilation included there), with min and max, all measured in
this one process (plus one child process per preset for peak memory), so
ratios between figures are fair even on a machine shared with other work.

Sections (`--sections`):

* fit: `keras_cgan.train.train` exactly as `python -m keras_cgan.main
  --flagfile=flags/PRESET.cfg` runs it (callbacks, metrics, progress bar,
  model saving), one repeat per epoch; the callbacks' share of each epoch;
* bare: the same training math (`ConditionalGAN.run_step`: input scaling,
  noise draw, `apply_step`, EMA update, step counter) in a minimal
  `tf.function` with K steps per call in a `tf.while_loop` over uint8
  batches already in memory, no Keras `fit`, no callbacks, no metrics; its
  fastest variant is the reference of the fit/bare ratio. With the fit
  section, each fit epoch is followed by one epoch of each bare variant, so
  both are measured under the same machine load;
* sweep: `fit` without callbacks for XLA on/off, several steps per call, Keras'
  own `steps_per_execution` and pipeline options, taking turns epoch by
  epoch: the data behind the defaults;
* pipeline: the input pipeline alone, batches/s;
* generate: images/s through the exported SavedModel (`keras_cgan.export`)
  and through `ConditionalGAN.generate`;
* norm: each batch norm of the preset's generator in training mode,
  forward and backward, as `keras_cgan.fused_norm.FusedBatchNormalization`
  and as Keras' `BatchNormalization`, in turn;
* memory: peak resident memory of a one-epoch `keras_cgan.main` run;
* readme: the README's "Use it from Python" `fit` example (the seed model,
  `mnist_dataset` and `compile` at their defaults, a `SampleGrid`) against
  the seed preset through `keras_cgan.train.train`, epochs in turn; also the
  example with float unstacked data and no XLA.

Epochs of presets whose networks are not the mlp are cut to 100 steps
(`--max_epoch_steps`): a full dcgan epoch takes about half a minute on a
2-core CPU. `--mnist_dir` and `--tfds_data_dir` are those of `keras_cgan.main`.
The library is `keras_cgan.benchmarks`.
"""

import sys

from absl import flags

from keras_cgan import cli, config_flags, datasets, fileio, presets
from keras_cgan.benchmarks.presets import SHORT_EPOCH_STEPS, default_presets, preset_path
from keras_cgan.benchmarks.report import report
from keras_cgan.benchmarks.runner import SECTIONS, Options, run
from keras_cgan.errors import ConfigError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_list(
        "presets",
        None,
        "Presets to bench: names of flags/NAME.cfg or .cfg paths (default: seed and best, "
        "or seed and dcgan while flags/best.cfg does not exist).",
    )
    flags.DEFINE_list(
        "batch_sizes", ["64", "256"], "Batch sizes of the fit, bare and pipeline runs."
    )
    flags.DEFINE_integer("repeats", 5, "Timed repeats per figure.", lower_bound=1)
    flags.DEFINE_integer("warmup", 1, "Untimed repeats before them (compilation).", lower_bound=1)
    flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run: {', '.join(SECTIONS)}.")
    flags.DEFINE_list("stacks", ["1", "10", "50", "200"], "Steps per call compared by the sweep.")
    flags.DEFINE_integer(
        "max_epoch_steps",
        None,
        "Cut benchmarked epochs to this many steps (default: full epochs for mlp presets, "
        f"{SHORT_EPOCH_STEPS} steps for others; 0 = full epochs).",
        lower_bound=0,
    )
    flags.DEFINE_string("json", None, "Also write every figure to this JSON file.")
    flags.DEFINE_string("flags_dir", None, "Folder of the preset flagfiles (default: the presets).")
    config_flags.define_flags(only=("mnist_dir", "tfds_data_dir"))


def _ints(values, name):
    try:
        out = [int(v) for v in values]
    except ValueError:
        raise ConfigError(f"--{name} takes integers, got {','.join(values)}") from None
    if not out or min(out) < 1:
        raise ConfigError(f"--{name} takes integers >= 1, got {','.join(values)}")
    return out


def main(argv):
    del argv  # Positional arguments are rejected by `cli.run`.
    flags_dir = FLAGS.flags_dir or presets.presets_dir()
    options = Options(
        presets=FLAGS.presets or default_presets(flags_dir),
        batch_sizes=_ints(FLAGS.batch_sizes, "batch_sizes"),
        repeats=FLAGS.repeats,
        warmup=FLAGS.warmup,
        sections=FLAGS.sections,
        stacks=_ints(FLAGS.stacks, "stacks"),
        max_epoch_steps=FLAGS.max_epoch_steps,
        mnist_dir=FLAGS.mnist_dir,
        flags_dir=flags_dir,
    )
    for name in options.presets:  # Fail fast, before TensorFlow loads.
        preset_path(name, options.flags_dir)
    datasets.check_files(
        datasets.DataSource(mnist_dir=FLAGS.mnist_dir, tfds_data_dir=FLAGS.tfds_data_dir),
        ("train",),
    )
    cli.quiet_tensorflow()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # Retracing notices: each variant is a new model.

    def log(message):
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def write_json(result):
        if FLAGS.json:
            fileio.write_json(FLAGS.json, result)

    result = run(options, presets.load_preset, log=log, partial=write_json)
    write_json(result)
    print(report(result))


def cli_main():
    """Console-script entry point (`keras-cgan-bench`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    cli_main()
