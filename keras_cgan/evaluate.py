r"""Command line sample-quality evaluation: `python -m keras_cgan.evaluate --model=PATH`.

Draws `--num_samples` digits (split evenly over the classes) from a run folder,
its SavedModel export or a `.keras` file and prints their metrics against the MNIST test
split as a Markdown table, then the per-class metrics. `--baseline` adds (or,
without `--model`, prints only) the same metrics for real MNIST train digits
and two broken generators: uniform noise, and one image per class repeated.
`--json=FILE` also writes every number, per class included. `--draws=K` evaluates
K noise draws per generator and reports each metric's mean ± standard deviation.

Two opt-in checks add columns: `--cas` trains the reference classifier's
recipe on `--cas_samples` generated digits (MNIST train's count and class
balance by default; about as long as training the reference classifier) and
reports its MNIST test accuracy (`cas`) next to the reference classifier's
(`cas_real`); `--memorisation` (implied by `--memorisation_png=FILE`) reports
how many generated digits lie closer to a training digit than real test digits
do (`memorised_p1`, `memorised_p5`, `nn_ratio`; `keras_cgan.memorisation`) and
draws the closest generated/training pairs.

The data is the model's own dataset, as recorded in its config or export
(`--dataset` and the other data flags choose it explicitly; MNIST without
either). Metrics are comparable between models of one dataset only.

The first run trains the reference classifier (about 1.5 minutes on 2 CPU
cores) and caches it under `--classifier_dir`. The metrics are defined in
`keras_cgan.evaluation`, the library this tool calls; flags are read only here.
Bad input (missing model, not an export, bad --num_samples, bad flags) ends the
program with one line and exit status 2.
"""

import json
import os

from absl import flags

from keras_cgan import cli, config_flags, datasets, fileio
from keras_cgan.errors import EvaluationError
from keras_cgan.evaluation import check_num_samples
from keras_cgan.samplers import check_model_path

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "A run folder, its export/ folder or a .keras file.")
    flags.DEFINE_integer(
        "num_samples",
        10000,
        "Generated images, split evenly over the classes: a multiple of the class count, at "
        "least 10 per class (MNIST: of 10, >= 100; the default is rounded up to one).",
    )
    flags.DEFINE_integer("seed", 0, "Seed of the generator's noise: same seed, same metrics.")
    flags.DEFINE_integer(
        "draws",
        1,
        "Noise draws per generator, seeds --seed, --seed+1, ...: the table shows each metric's "
        "mean ± standard deviation over them (the evaluation's own noise); --cas and "
        "--memorisation are measured on every draw.",
        lower_bound=1,
    )
    flags.DEFINE_string("json", None, "Also write all metrics (per class too) to this JSON file.")
    flags.DEFINE_bool(
        "baseline",
        False,
        "Also evaluate real MNIST train digits, uniform noise and a collapsed model.",
    )
    # Opt-in extra metrics (keras_cgan.cas, keras_cgan.memorisation).
    flags.DEFINE_bool(
        "cas",
        False,
        "Also measure the classification accuracy score: the reference classifier's recipe "
        "trained on generated digits only, tested on MNIST test (slow: one classifier training "
        "per evaluated generator).",
    )
    flags.DEFINE_integer(
        "cas_samples",
        60000,
        "Generated training digits for --cas (MNIST train's class balance).",
        lower_bound=128,
    )
    flags.DEFINE_bool(
        "memorisation",
        False,
        "Also check for memorised training digits (nearest MNIST train digit of each sample).",
    )
    flags.DEFINE_string(
        "memorisation_png",
        None,
        "Write the closest generated/training pairs of --model to this PNG (implies --memorisation).",
    )
    config_flags.define_flags(
        only=(
            "classifier_dir",
            "mnist_dir",
            "tfds_data_dir",
            "dataset",
            "data_dir",
            "image_size",
            "eval_holdout",
        )
    )


_RECORDED = ("dataset", "data_dir", "image_size", "eval_holdout")


def _recorded_config(path, meta):
    """The training config a model records (export metadata or config.json), or {}."""
    if meta is not None:
        return meta.get("training_config") or {}
    config_path = os.path.join(path, "config.json")
    if os.path.isfile(config_path):
        try:
            with open(config_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}
    return {}


def data_source(flag_values, meta=None):
    """The dataset to evaluate against: the flags', else the model's recorded one."""
    values = {
        name: flag_values[name].value
        for name in ("dataset", "data_dir", "mnist_dir", "tfds_data_dir", "image_size")
    }
    values["eval_holdout"] = flag_values.eval_holdout
    if flag_values.model and not any(flag_values[name].present for name in _RECORDED):
        recorded = _recorded_config(flag_values.model, meta)
        for name in _RECORDED:
            if recorded.get(name) is not None:
                values[name] = recorded[name]
    return datasets.DataSource(**values)


def _check_flags(flag_values):
    """Everything that can be checked before TensorFlow loads."""
    if not flag_values.model and not flag_values.baseline:
        raise EvaluationError("nothing to evaluate: pass --model=PATH and/or --baseline")
    meta = None
    if flag_values.model:
        _, meta = check_model_path(flag_values.model, image_shape=None)
    known = flag_values.model or flag_values.dataset == "mnist"  # Else: checked once loaded.
    if known and (flag_values["num_samples"].present or not flag_values.model):
        recorded = _recorded_config(flag_values.model, meta) if flag_values.model else {}
        classes = meta["num_classes"] if meta else recorded.get("num_classes", 10)
        check_num_samples(flag_values.num_samples, classes)
    for name in ("json", "memorisation_png"):
        value = getattr(flag_values, name)
        folder = os.path.dirname(os.path.abspath(value)) if value else None
        if folder and not os.path.isdir(folder):
            raise EvaluationError(f"--{name}: folder {folder} does not exist")
    if flag_values.memorisation_png and not flag_values.model:
        raise EvaluationError("--memorisation_png draws --model's samples: pass --model too")
    return meta


def _extra_metrics(flag_values, train_images, train_labels, num_classes):
    """The opt-in extra metrics the flags ask for (a list, possibly empty)."""
    import numpy as np

    from keras_cgan import cas, memorisation

    metrics = []
    if flag_values.cas:
        metrics.append(
            cas.CasMetric(
                flag_values.cas_samples,
                class_counts=np.bincount(train_labels, minlength=num_classes),
            )
        )
    if flag_values.memorisation or flag_values.memorisation_png:
        metrics.append(memorisation.MemorisationMetric(train_images))
    return metrics


def main(argv):
    del argv  # Unused: positional arguments are rejected by `cli.run`.
    meta = _check_flags(FLAGS)
    source = data_source(FLAGS, meta)
    datasets.check_files(source)
    cli.quiet_tensorflow()
    from keras_cgan import evaluation, samplers

    train = source.load("train")
    train_images, train_labels = train.images, train.labels
    extra_metrics = _extra_metrics(FLAGS, train_images, train_labels, len(train.class_names))
    evaluator = evaluation.Evaluator(
        classifier_dir=FLAGS.classifier_dir,
        source=source,
        verbose=2,
        extra_metrics=extra_metrics,
    )
    n, seed = FLAGS.num_samples, FLAGS.seed
    if not FLAGS["num_samples"].present and n % evaluator.num_classes:
        n = -(-n // evaluator.num_classes) * evaluator.num_classes  # Evenly over the classes.
    check_num_samples(n, evaluator.num_classes)
    draws = {}  # Name -> one EvaluationResult per noise draw.
    if FLAGS.model:
        draws[FLAGS.model] = evaluator.evaluate_draws(FLAGS.model, n, seed, FLAGS.draws)
        if FLAGS.memorisation_png:
            extra_metrics[-1].write_pairs_png(FLAGS.memorisation_png)
    if FLAGS.baseline:
        for name, sampler in samplers.baseline_samplers(train_images, train_labels).items():
            draws[name] = evaluator.evaluate_draws(sampler, n, seed, FLAGS.draws)
    summaries = {name: evaluation.mean_and_spread(r) for name, r in draws.items()}
    results = {name: mean for name, (mean, _) in summaries.items()}
    spreads = {name: spread for name, (_, spread) in summaries.items()} if FLAGS.draws > 1 else None

    info = evaluator.classifier.info
    seeds = f"seed {seed}" if FLAGS.draws == 1 else f"seeds {seed}-{seed + FLAGS.draws - 1}"
    print(
        f"keras_cgan: {n} samples ({seeds}) against the {evaluator.reference_size} "
        f"{source.dataset} test images; reference classifier test accuracy "
        f"{info['test_accuracy']:.4f}"
    )
    print(evaluation.format_table(results, spreads))
    if FLAGS.model:
        print(f"\nper class, {FLAGS.model}:")
        print(evaluation.format_per_class(results[FLAGS.model]))
    if FLAGS.json:
        report = {
            "num_samples": n,
            "seed": seed,
            "dataset": source.key,
            "reference_size": evaluator.reference_size,
            "classifier": dict(info, path=getattr(evaluator.classifier, "path", None)),
            "draws": FLAGS.draws,
            "results": {name: r.to_dict() for name, r in results.items()},  # Means over draws.
        }
        if spreads:
            report["spread"] = spreads
            report["per_draw"] = {name: [r.to_dict() for r in rs] for name, rs in draws.items()}
        fileio.write_json(FLAGS.json, report)


def run():
    """Console-script entry point (`keras-cgan-evaluate`)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
