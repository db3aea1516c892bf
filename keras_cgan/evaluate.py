r"""Command line sample-quality evaluation: `python -m keras_cgan.evaluate --model=PATH`.

Draws `--num_samples` digits (split evenly over the classes) from a run folder,
its SavedModel export or a `.keras` file and prints their metrics against the MNIST test
split as a Markdown table, then the per-class metrics. `--baseline` adds (or,
without `--model`, prints only) the same metrics for real MNIST train digits
and two broken generators: uniform noise, and one image per class repeated.
`--json=FILE` also writes every number, per class included.

The first run trains the reference classifier (about 1.5 minutes on 2 CPU
cores) and caches it under `--classifier_dir`. The metrics are defined in
`keras_cgan.evaluation`, the library this tool calls; flags are read only here.
Bad input (missing model, not an export, bad --num_samples, bad flags) ends the
program with one line and exit status 2.
"""

import os

from absl import flags

from keras_cgan import cli, config_flags
from keras_cgan.errors import EvaluationError
from keras_cgan.evaluation import check_num_samples
from keras_cgan.samplers import check_model_path

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "A run folder, its export/ folder or a .keras file.")
    flags.DEFINE_integer(
        "num_samples", 10000, "Generated digits, a multiple of 10 (>= 100), split evenly over 0-9."
    )
    flags.DEFINE_integer("seed", 0, "Seed of the generator's noise: same seed, same metrics.")
    flags.DEFINE_string("json", None, "Also write all metrics (per class too) to this JSON file.")
    flags.DEFINE_bool(
        "baseline",
        False,
        "Also evaluate real MNIST train digits, uniform noise and a collapsed model.",
    )
    config_flags.define_flags(only=("classifier_dir", "mnist_dir", "tfds_data_dir"))


def _check_flags(flag_values):
    """Everything that can be checked before TensorFlow loads."""
    if not flag_values.model and not flag_values.baseline:
        raise EvaluationError("nothing to evaluate: pass --model=PATH and/or --baseline")
    check_num_samples(flag_values.num_samples)
    if flag_values.model:
        check_model_path(flag_values.model)
    if flag_values.json:
        folder = os.path.dirname(os.path.abspath(flag_values.json))
        if not os.path.isdir(folder):
            raise EvaluationError(f"--json: folder {folder} does not exist")


def main(argv):
    del argv  # Unused: positional arguments are rejected by `cli.run`.
    _check_flags(FLAGS)
    cli.quiet_tensorflow()
    from keras_cgan import data, evaluation, samplers

    evaluator = evaluation.Evaluator(
        classifier_dir=FLAGS.classifier_dir,
        mnist_dir=FLAGS.mnist_dir,
        tfds_data_dir=FLAGS.tfds_data_dir,
        verbose=2,
    )
    n, seed = FLAGS.num_samples, FLAGS.seed
    results = {}
    if FLAGS.model:
        results[FLAGS.model] = evaluator.evaluate(FLAGS.model, n, seed)
    if FLAGS.baseline:
        train_images, train_labels = data.load_mnist(
            "train", mnist_dir=FLAGS.mnist_dir, tfds_data_dir=FLAGS.tfds_data_dir
        )
        for name, sampler in samplers.baseline_samplers(train_images, train_labels).items():
            results[name] = evaluator.evaluate(sampler, n, seed)

    info = evaluator.classifier.info
    print(
        f"keras_cgan: {n} samples (seed {seed}) against the {evaluator.reference_size} "
        f"MNIST test digits; reference classifier test accuracy {info['test_accuracy']:.4f}"
    )
    print(evaluation.format_table(results))
    if FLAGS.model:
        print(f"\nper class, {FLAGS.model}:")
        print(evaluation.format_per_class(results[FLAGS.model]))
    if FLAGS.json:
        evaluation.write_json(
            FLAGS.json,
            {
                "num_samples": n,
                "seed": seed,
                "reference_size": evaluator.reference_size,
                "classifier": dict(info, path=getattr(evaluator.classifier, "path", None)),
                "results": {name: r.to_dict() for name, r in results.items()},
            },
        )


def run():
    """Console-script entry point (`keras-cgan-evaluate`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
