"""scripts/make_preset_results.py: the results table it keeps and replaces."""

import importlib.util
import os

import pytest

from helpers import REPO_ROOT


def _script():
    path = os.path.join(REPO_ROOT, "scripts", "make_preset_results.py")
    spec = importlib.util.spec_from_file_location("make_preset_results", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kept_rows_come_from_the_table_between_the_markers(tmp_path):
    script = _script()
    row = "| seed, {} epochs | 1 min | cpu | 0.9 | 1 | 1 | 0.8 | 0.8 | 0.9 | 9 |"
    text = "\n".join(
        [
            "intro",
            "| seed, 5 epochs | outside the markers |",
            script.RESULTS_BEGIN,
            "| run | training time |",
            row.format(10),
            "| best, 8 epochs | 1 min |",
            row.format(1000),
            script.RESULTS_END,
        ]
    )
    path = tmp_path / "presets.md"
    path.write_text(text)
    kept = script.kept_rows(str(path), ["seed"])
    assert kept == {"seed": [row.format(10), row.format(1000)]}
    with pytest.raises(SystemExit, match="--keep_rows=fast: .* has no row"):
        script.kept_rows(str(path), ["fast"])

    script.replace_table(str(path), "NEW")
    replaced = path.read_text()
    assert "NEW" in replaced and "best, 8 epochs" not in replaced
    assert "outside the markers" in replaced


def test_the_committed_docs_table_has_rows_to_keep():
    script = _script()
    kept = script.kept_rows(script.FULL_TABLE, ["seed"])
    assert kept["seed"][-1].startswith("| seed, 1000 epochs |")
