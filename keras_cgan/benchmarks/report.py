"""The benchmark's figures as plain-text tables."""

from keras_cgan.benchmarks.bare import xla_label
from keras_cgan.benchmarks.targets import find_row


def _fmt(stat, digits=2):
    if stat is None:
        return "n/a"
    return f"{stat['median']:.{digits}f} [{stat['min']:.{digits}f}, {stat['max']:.{digits}f}]"


def _table(title, header, rows):
    lines = [title]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    for row in [header] + rows:
        lines.append(
            "  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def report(result: dict) -> str:
    """The benchmark as plain-text tables: median [min, max] of the repeats."""
    env = result["environment"]
    out = [
        f"keras_cgan bench: TensorFlow {env['tensorflow']}, Keras {env['keras']}, "
        f"{env['cpu_count']} CPUs ({env['processor']}), GPU: {'yes' if env['gpu'] else 'no'}; "
        f"load average {env['load_average_start'][0]:.1f} -> "
        f"{env.get('load_average_end', (float('nan'),))[0]:.1f}",
        "every figure: median [min, max] of the timed repeats",
    ]
    if result["fit"]:
        rows = [
            [
                r["preset"],
                r["batch_size"],
                r["steps_per_epoch"],
                {True: "on", False: "off", "step": "per step"}[r["jit_compile"]],
                _fmt(r["samples_per_s"], 0),
                _fmt(r["ms_per_step"], 3),
                _fmt(r["epoch_s"], 3),
                _fmt(r["callbacks_ms_per_epoch"], 1),
                f"{100 * r['callbacks_share']['median']:.1f}%",
                f"{r['startup_s']:.1f}/{r['first_epoch_s']:.1f}/{r['train_end_s']:.1f}",
            ]
            for r in result["fit"]
        ]
        out.append(
            _table(
                "\nfit, exactly as keras_cgan.main runs it (callbacks, metrics, progress bar)",
                [
                    "preset",
                    "batch",
                    "steps/epoch",
                    "XLA",
                    "samples/s",
                    "ms/step",
                    "epoch s",
                    "callbacks ms/epoch",
                    "share",
                    "start/1st epoch/end s",
                ],
                rows,
            )
        )
    if result["bare"]:
        rows = []
        for r in result["bare"]:
            fit = find_row(result["fit"], preset=r["preset"], batch_size=r["batch_size"])
            best = min(r["variants"], key=lambda v: v["ms_per_step"]["median"])
            for v in r["variants"]:
                ratio = ""
                if fit and v is best:
                    ratio = f"{best['ms_per_step']['median'] / fit['ms_per_step']['median']:.3f}"
                rows.append(
                    [
                        r["preset"],
                        r["batch_size"],
                        xla_label(v["jit_compile"]),
                        v["steps_per_call"],
                        _fmt(v["samples_per_s"], 0),
                        _fmt(v["ms_per_step"], 3),
                        ("best " if v is best else "") + ratio,
                    ]
                )
        out.append(
            _table(
                "\nbare loop: same math, tf.while_loop over in-memory batches, no fit/callbacks",
                ["preset", "batch", "mode", "steps/call", "samples/s", "ms/step", "fit/bare"],
                rows,
            )
        )
    for sweep in result["sweep"]:
        keras_row = next(
            (v for v in sweep["variants"] if v["label"].startswith("Keras defaults")), None
        )
        rows = []
        for v in sweep["variants"]:
            speed = ""
            if keras_row:
                speed = f"{keras_row['ms_per_step']['median'] / v['ms_per_step']['median']:.2f}x"
            rows.append([v["label"], _fmt(v["samples_per_s"], 0), _fmt(v["ms_per_step"], 3), speed])
        out.append(
            _table(
                f"\nsweep: fit without callbacks, {sweep['preset']} preset, batch "
                f"{sweep['batch_size']}, {sweep['variants'][0]['steps_per_epoch']} steps/repeat "
                "(defaults = what a run uses)",
                ["setting", "samples/s", "ms/step", "vs Keras defaults"],
                rows,
            )
        )
    if result["pipeline"]:
        rows = []
        for r in result["pipeline"]:
            fit = find_row(result["fit"], preset=r["preset"], batch_size=r["batch_size"])
            for v in r["variants"]:
                headroom = ""
                if fit:
                    steps_per_s = 1e3 / fit["ms_per_step"]["median"]
                    headroom = f"{v['batches_per_s']['median'] / steps_per_s:.1f}x"
                rows.append(
                    [
                        r["preset"],
                        r["batch_size"],
                        v["label"],
                        _fmt(v["batches_per_s"], 0),
                        headroom,
                    ]
                )
        out.append(
            _table(
                "\ninput pipeline alone, vs the fit's steps/s",
                ["preset", "batch", "pipeline", "batches/s", "headroom"],
                rows,
            )
        )
    if result["generate"]:
        rows = []
        for r in result["generate"]:
            for n, stat in r["generate"].items():
                rows.append([r["preset"], n, _fmt(r["saved_model"][n], 0), _fmt(stat, 0)])
        out.append(
            _table(
                "\ngeneration, images/s",
                ["preset", "N", "SavedModel serving_default", "ConditionalGAN.generate"],
                rows,
            )
        )
    rows = [
        [r["preset"], r["batch_size"], row["layer"], "x".join(map(str, row["shape"]))]
        + [_fmt(row["keras_ms"]), _fmt(row["fused_ms"]), f"{row['speedup']:.2f}"]
        for r in result.get("norm", [])
        for row in r["layers"]
    ]
    if rows:
        out.append(
            _table(
                "\ngenerator batch norm, training forward + backward, ms",
                ["preset", "batch", "layer", "input", "Keras", "fused", "speedup"],
                rows,
            )
        )
    if result["memory"]:
        rows = [
            [
                r["preset"],
                r["batch_size"],
                r["steps"],
                f"{r['peak_rss_mib']:.0f}",
                f"{r['wall_s']:.1f}",
            ]
            for r in result["memory"]
        ]
        out.append(
            _table(
                "\nmemory: python -m keras_cgan.main --epochs=1 (whole process)",
                ["preset", "batch", "steps", "peak RSS MiB", "wall s"],
                rows,
            )
        )
    for r in result.get("readme", []):
        rows = [
            [
                f"python -m keras_cgan.main, {r['preset']} preset",
                xla_label(r["cli_jit_compile"]),
                r["cli_batches_per_element"],
                _fmt(r["cli_epoch_s"], 3),
                "",
            ]
        ]
        for v in r["variants"]:
            rows.append(
                [
                    v["label"],
                    xla_label(v["jit_compile"]),
                    v["batches_per_element"],
                    _fmt(v["epoch_s"], 3),
                    _fmt(v["ratio"], 2),
                ]
            )
        out.append(
            _table(
                f"\nREADME fit example vs the command line: {r['preset']} model, batch "
                f"{r['batch_size']}, {r['steps_per_epoch']} steps/epoch, epochs in turn",
                ["run", "XLA", "batches/element", "epoch s", "vs CLI epoch"],
                rows,
            )
        )
    if result["targets"]:
        rows = [
            [
                t["target"],
                f"{t['value']:.3f}",
                f"{t['op']} {t['bound']}",
                "met" if t["met"] else "MISSED",
            ]
            for t in result["targets"]
        ]
        out.append(_table("\ntargets", ["target", "measured", "wanted", ""], rows))
    return "\n".join(out)
