r"""Trains the presets, measures them at chosen epochs, and writes the results tables.

Usage:
  # Train a preset (flags/NAME.cfg, as the command line would) with seed 0 and
  # evaluate it at 10,000 samples after the listed epochs; resumable.
  python scripts/make_preset_results.py train --preset=seed --eval_epochs=10,100,1000
  python scripts/make_preset_results.py train --preset=best
  # Extra flags after `--` override the preset (e.g. fewer epochs):
  python scripts/make_preset_results.py train --preset=best -- --epochs=5

  # From the measured runs: docs/<preset>_preset_grid.png (10x10, one row per
  # digit, fixed noise, at the last measured epoch) and the Markdown results
  # table (with the real-data row) on stdout; --readme also puts it in
  # docs/presets.md and the last measured epoch of each preset in README.md.
  python scripts/make_preset_results.py report [--presets=seed,best] [--readme]
  # Re-measure some presets and keep the others' rows as docs/presets.md has them:
  python scripts/make_preset_results.py report --presets=seed,fast,best --keep_rows=seed --readme

Runs go to runs/presets/<preset> (--out). After each evaluated epoch the run
writes results/epoch_NNNN.json there (the evaluator's summary at --eval_samples,
seed 0, and the training wall time so far, evaluation excluded) and
results/grid_epoch_NNNN.png; the training time excludes those evaluations but
includes everything else the run does per epoch (sample grid, checkpoint).
Each record also names the hardware it was measured on (`--hardware` on
`report` overrides it, e.g. "2 CPU cores (AMD EPYC), shared").
`report` also measures the real-data row (MNIST train digits) at the same
number of samples and seed.
"""

import argparse
import json
import os
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(REPO, "docs")
sys.path.insert(0, REPO)

from keras_cgan import cli, fileio  # noqa: E402


def preset_config(preset, overrides, workdir, seed):
    """The `TrainConfig` that `python -m keras_cgan.main --preset=PRESET` builds."""
    from keras_cgan import presets

    return presets.load_preset(
        preset, f"--workdir={workdir}", f"--seed={seed}", "--verbose=2", *overrides
    )


def describe_hardware():
    """The machine a run trains on, for the results' hardware column.

    For example "2 CPU cores (AMD EPYC 7B13)" or "... + 1 GPU (NVIDIA H100)".
    """
    import tensorflow as tf

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = f" ({names[0]})" if names else ""
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{cores} CPU core{'s' if cores != 1 else ''}{cpu}"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        text += f" + {len(gpus)} GPU ({details.get('device_name', 'GPU')})"
    return text


def make_eval_callback(evaluator, epochs, num_samples, results_dir):
    """A callback that evaluates after each epoch in `epochs` (1-based) and records it."""
    import keras
    import numpy as np

    from keras_cgan import callbacks as callbacks_lib

    class EvaluateAtEpochs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            os.makedirs(results_dir, exist_ok=True)
            done = fileio.numbered_files(results_dir, "epoch_", ".json")
            # Training time carried over from a resumed run's last record.
            last = json.load(open(done[-1])) if done else {"train_seconds": 0.0, "epoch": 0}
            self.seconds, self.carried_epoch = last["train_seconds"], last["epoch"]
            self.hardware = describe_hardware()
            rng = np.random.default_rng(0)
            self.labels = np.repeat(np.arange(10), 10)
            self.noise = rng.standard_normal((100, self.model.latent_dim), dtype=np.float32)

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds += time.perf_counter() - self.started
            if epoch + 1 not in epochs:
                return
            result = evaluator.evaluate(self.model, num_samples, seed=0)
            record = {
                "epoch": epoch + 1,
                "train_seconds": self.seconds,
                "hardware": self.hardware,
                "num_samples": num_samples,
                "metrics": result.summary(),
                "per_class": result.to_dict(),
                "losses": {k: float(v) for k, v in (logs or {}).items()},
            }
            path = os.path.join(results_dir, f"epoch_{epoch + 1:04d}.json")
            fileio.write_json(path, record)
            grid = callbacks_lib.compose_grid(
                self.model.generate(self.labels, noise=self.noise), 10, range(10)
            )
            callbacks_lib.save_png(
                grid, os.path.join(results_dir, f"grid_epoch_{epoch + 1:04d}.png")
            )
            summary = ", ".join(f"{k} {v:.4g}" for k, v in result.summary().items())
            print(
                f"[eval] epoch {epoch + 1} ({self.seconds:.0f} s training): {summary}", flush=True
            )

    return EvaluateAtEpochs()


def cmd_train(args, overrides):
    cli.quiet_tensorflow()
    from keras_cgan import evaluation, train

    workdir = os.path.join(args.out, args.preset)
    config = preset_config(args.preset, overrides, workdir, args.seed)
    epochs = {int(e) for e in args.eval_epochs.split(",")} if args.eval_epochs else {config.epochs}
    evaluator = evaluation.Evaluator(mnist_dir=config.mnist_dir, verbose=2)
    callback = make_eval_callback(
        evaluator, epochs, args.eval_samples, os.path.join(workdir, "results")
    )
    start = time.perf_counter()
    train.train(config, callbacks=[callback])
    print(f"keras_cgan: {args.preset} done in {time.perf_counter() - start:.0f} s wall")


RESULTS_BEGIN = "<!-- preset-results:begin (scripts/make_preset_results.py report --readme) -->"
RESULTS_END = "<!-- preset-results:end -->"
# Every measured epoch goes to docs/presets.md; the README shows each preset's last.
FULL_TABLE = os.path.join(DOCS, "presets.md")
FINAL_TABLE = os.path.join(REPO, "README.md")
_HEADER = (
    "| run | training time | hardware | accuracy | FID | class FID | precision | recall "
    "| diversity | MNIST score |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def _row(name, minutes, hardware, m):
    return (
        f"| {name} | {minutes} | {hardware} | {m['accuracy']:.4f} | {m['fid']:.2f} | "
        f"{m['class_fid']:.2f} | {m['precision']:.3f} | {m['recall']:.3f} | "
        f"{m['diversity']:.3f} | {m['score']:.2f} |"
    )


def _split_at_markers(path):
    """`(head, table, tail)` of `path` around its results markers."""
    text = open(path, encoding="utf-8").read()
    if RESULTS_BEGIN not in text or RESULTS_END not in text:
        raise SystemExit(f"{path} lacks the markers {RESULTS_BEGIN} ... {RESULTS_END}")
    head, rest = text.split(RESULTS_BEGIN, 1)
    table, tail = rest.split(RESULTS_END, 1)
    return head, table, tail


def replace_table(path, table):
    """Replaces the text between the results markers of `path` by `table`."""
    head, _, tail = _split_at_markers(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + RESULTS_BEGIN + "\n" + table + "\n" + RESULTS_END + tail)
    print(f"updated the table in {path}")


def kept_rows(path, presets):
    """The rows of `presets` in the results table of `path`, as an earlier report wrote them.

    Returns:
        `{preset: [row, ...]}` in table order; a preset without rows is an error.
    """
    _, table, _ = _split_at_markers(path)
    kept = {p: [r for r in table.splitlines() if r.startswith(f"| {p}, ")] for p in presets}
    for preset, found in kept.items():
        if not found:
            raise SystemExit(f"--keep_rows={preset}: {path} has no row for it to keep")
    return kept


def cmd_report(args, overrides):
    del overrides
    rows, final_rows = [], []
    keep = kept_rows(FULL_TABLE, args.keep_rows.split(",")) if args.keep_rows else {}
    for preset in args.presets.split(","):
        if preset in keep:
            rows.extend(keep[preset])
            final_rows.append(keep[preset][-1])
            continue
        results = os.path.join(args.out, preset, "results")
        paths = fileio.numbered_files(results, "epoch_", ".json")
        records = [json.load(open(p)) for p in paths]
        if not records:
            raise SystemExit(f"no results for {preset} in {results}: run `train --preset={preset}`")
        for r in records:
            if r["num_samples"] != args.eval_samples:
                raise SystemExit(f"{preset}: epoch {r['epoch']} was measured at {r['num_samples']}")
            hardware = args.hardware or r.get("hardware") or "not recorded"
            rows.append(
                _row(
                    f"{preset}, {r['epoch']} epochs",
                    f"{r['train_seconds'] / 60:.1f} min",
                    hardware,
                    r["metrics"],
                )
            )
        final_rows.append(rows[-1])
        last = records[-1]["epoch"]
        os.makedirs(DOCS, exist_ok=True)
        shutil.copy(
            os.path.join(results, f"grid_epoch_{last:04d}.png"),
            os.path.join(DOCS, f"{preset}_preset_grid.png"),
        )
    cli.quiet_tensorflow()
    from keras_cgan import data, evaluation, samplers

    evaluator = evaluation.Evaluator(mnist_dir=args.mnist_dir)
    images, labels = data.load_mnist("train", mnist_dir=args.mnist_dir)
    real = evaluator.evaluate(samplers.real_data_sampler(images, labels), args.eval_samples, 0)
    real_row = _row("real data (MNIST train)", "", "", real.summary())
    table = "\n".join([_HEADER, *rows, real_row])
    print(table)
    if args.readme:
        replace_table(FULL_TABLE, table)
        replace_table(FINAL_TABLE, "\n".join([_HEADER, *final_rows, real_row]))


def main():
    argv = sys.argv[1:]
    overrides = []
    if "--" in argv:
        i = argv.index("--")
        argv, overrides = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("train", "report"):
        p = sub.add_parser(name)
        p.add_argument("--out", default=os.path.join("runs", "presets"))
        p.add_argument("--eval_samples", type=int, default=10000)
        p.add_argument("--mnist_dir", default=os.environ.get("KERAS_CGAN_MNIST_DIR"))
    train_p = sub.choices["train"]
    train_p.add_argument("--preset", required=True)
    train_p.add_argument("--eval_epochs", default="", help="comma-separated; default: the last")
    train_p.add_argument("--seed", type=int, default=0)
    report_p = sub.choices["report"]
    report_p.add_argument("--presets", default="seed,best")
    report_p.add_argument(
        "--readme",
        action="store_true",
        help="also replace the tables between the markers of docs/presets.md and README.md",
    )
    report_p.add_argument(
        "--hardware", default=None, help="the hardware column (default: what each run recorded)"
    )
    report_p.add_argument(
        "--keep_rows",
        default="",
        help="comma-separated presets whose rows (and grids) stay as docs/presets.md has them, "
        "e.g. a long run not repeated on this machine",
    )
    args = parser.parse_args(argv)
    {"train": cmd_train, "report": cmd_report}[args.command](args, overrides)


if __name__ == "__main__":
    main()
