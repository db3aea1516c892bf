"""The speed targets, judged from a benchmark's figures."""

TARGETS = {
    "fit_over_bare_seed_b64": 0.95,
    "defaults_over_keras_defaults": 1.6,
    "seed_epoch_seconds": 1.5,
    "callbacks_share_of_epoch": 0.05,
    "readme_fit_over_cli_epoch": 1.3,
}
README_ROW = "README fit example vs CLI epoch time"


def find_row(rows, **where):
    """The first of `rows` (dicts) with all the `where` items, or None."""
    for row in rows:
        if all(row.get(k) == v for k, v in where.items()):
            return row
    return None


def check_targets(result: dict, seed_preset: str = "seed") -> list:
    """The speed targets (`TARGETS`), judged from the figures of `seed_preset` at batch 64.

    A target whose figures were not measured is left out.
    """
    targets = []
    fit = find_row(result["fit"], preset=seed_preset, batch_size=64)
    bare = find_row(result["bare"], preset=seed_preset, batch_size=64)
    if fit and bare:
        best = min(bare["variants"], key=lambda v: v["ms_per_step"]["median"])
        value = best["ms_per_step"]["median"] / fit["ms_per_step"]["median"]
        targets.append(
            _target(
                "fit/bare throughput, seed preset, batch 64",
                value,
                ">=",
                TARGETS["fit_over_bare_seed_b64"],
            )
        )
    sweep = find_row(result["sweep"], preset=seed_preset, batch_size=64)
    if sweep:
        keras_row = next(
            (v for v in sweep["variants"] if v["label"].startswith("Keras defaults")), None
        )
        defaults = default_row(sweep)
        if keras_row and defaults:
            value = keras_row["ms_per_step"]["median"] / defaults["ms_per_step"]["median"]
            targets.append(
                _target(
                    "defaults vs Keras defaults without XLA (speed-up)",
                    value,
                    ">=",
                    TARGETS["defaults_over_keras_defaults"],
                )
            )
    if fit:
        if fit["steps_per_epoch"] == 60000 // 64:
            targets.append(
                _target(
                    "seed preset epoch (s)",
                    fit["epoch_s"]["median"],
                    "<=",
                    TARGETS["seed_epoch_seconds"],
                )
            )
        targets.append(
            _target(
                "callbacks' share of a seed epoch",
                fit["callbacks_share"]["median"],
                "<=",
                TARGETS["callbacks_share_of_epoch"],
            )
        )
    readme = find_row(result.get("readme", []), preset=seed_preset)
    if readme and readme["steps_per_epoch"] == 60000 // readme["batch_size"]:
        # Full epochs only: on a few steps, fit's per-epoch overhead dominates.
        example = readme["variants"][0]
        targets.append(
            _target(
                README_ROW,
                example["ratio"]["median"],
                "<=",
                TARGETS["readme_fit_over_cli_epoch"],
            )
        )
    return targets


def default_row(sweep):
    """The sweep row with the settings a training run uses."""
    return next((v for v in sweep["variants"] if v["label"].startswith("defaults:")), None)


def _target(name, value, op, bound):
    met = value >= bound if op == ">=" else value <= bound
    return {"target": name, "value": value, "op": op, "bound": bound, "met": met}
