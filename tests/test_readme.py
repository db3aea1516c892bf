"""The README works as printed.

* Every ```python block runs, in order, each in a fresh process, in one
  temporary folder, on the committed MNIST fixture (`KERAS_CGAN_MNIST_DIR`).
  Sizes are shrunk by `SUBSTITUTIONS` (each must still match the README, so
  the table cannot go stale). A block that names a run folder (`runs/a`) it
  does not create gets a tiny run trained there first. A block that cannot
  run on a CPU-only test machine is preceded by
  `<!-- readme-test: skip (REASON) -->`; skipped blocks are listed in a
  warning, never dropped silently.
* Every shell line that runs a tool (`python -m keras_cgan.X ...` or a
  `keras-cgan-*` script) has its flags parsed by that tool's own flag
  definitions. absl's `--helpshort` exits before it reports unknown flags
  (`--modle=x --helpshort` prints the help), so parsing is done in a child
  process that defines the tool's flags exactly as its entry point does
  (`cli.run` is intercepted) and parses each line with them; each tool's
  `--helpshort` is run once as well.
* The flag table equals `config_flags.flag_table()`; the README stays short,
  and no user-facing text talks about how the project was developed.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import warnings

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_MNIST = os.path.join(REPO_ROOT, "tests", "fixtures", "mnist_small")
README = os.path.join(REPO_ROOT, "README.md")
MAX_README_LINES = 350

# What the Python blocks train is shrunk to the fixture (300 train / 100 test
# examples): (text in the README, what the test runs instead, why).
SUBSTITUTIONS = (("epochs=5", "epochs=1", "one epoch shows that fit trains"),)
# A run folder a block reads but does not create is trained like this first.
TINY_RUN = ("--preset=smoke", "--train_examples=64")

SKIP_MARKER = re.compile(r"<!--\s*readme-test:\s*skip\s*(?:\((?P<reason>[^)]*)\))?\s*-->")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
SHELL_LANGS = ("bash", "sh", "shell", "console")
# Phrases about the development of the project, not its use.
HISTORY = re.compile(
    r"issue [0-9]|this session|commit [0-9a-f]{7}|until this version|older code"
    r"|correction to earlier",
    re.IGNORECASE,
)


def readme_text():
    with open(README, encoding="utf-8") as f:
        return f.read()


def fenced_blocks(text):
    """`[(lang, code, first_line, skip_reason)]` of the fenced blocks of Markdown `text`.

    `skip_reason` is the reason of a `<!-- readme-test: skip (...) -->` marker
    on the last non-blank line before the block (None without a marker).

    Raises:
        ValueError: a skip marker without a reason, or an unclosed block.
    """
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"README line {start + 1}: the code block is never closed")
        before = [line for line in lines[:start] if line.strip()]
        marker = SKIP_MARKER.search(before[-1]) if before else None
        reason = None
        if marker:
            reason = (marker.group("reason") or "").strip()
            if not reason:
                raise ValueError(f"README line {start + 1}: a skip marker needs a (reason)")
        blocks.append((match.group("lang"), "\n".join(body) + "\n", start + 1, reason))
        i += 1
    return blocks


def python_blocks(text):
    """`(to_run, skipped)`: `[(line, code)]` and `[(line, reason)]` of the python blocks."""
    to_run, skipped = [], []
    for lang, code, line, reason in fenced_blocks(text):
        if lang != "python":
            continue
        if reason is None:
            to_run.append((line, code))
        else:
            skipped.append((line, reason))
    return to_run, skipped


def shrink(code, used):
    """`code` with `SUBSTITUTIONS` applied; records the ones that matched in `used`."""
    for old, new, _ in SUBSTITUTIONS:
        if old in code:
            used.add(old)
            code = code.replace(old, new)
    return code


def shell_commands(text):
    """`[(line, tokens)]`: every command of the README's shell blocks, comments removed."""
    commands = []
    for lang, code, first, reason in fenced_blocks(text):
        if lang not in SHELL_LANGS or reason is not None:
            continue
        joined = code.replace("\\\n", " ")
        for offset, line in enumerate(joined.splitlines()):
            tokens = shlex.split(line, comments=True)
            if tokens:
                commands.append((first + 1 + offset, tokens))
    return commands


def console_scripts():
    """`{script: (module, function)}` from setup.py's console_scripts."""
    with open(os.path.join(REPO_ROOT, "setup.py"), encoding="utf-8") as f:
        setup = f.read()
    return {
        script: (module, function)
        for script, module, function in re.findall(r'"(keras-cgan-[\w-]+)=([\w.]+):(\w+)"', setup)
    }


def tool_invocation(tokens):
    """`(module, function, args)` of a tool a command runs, else None.

    Raises:
        ValueError: the command names a keras_cgan module or script that is no tool.
    """
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        tokens = tokens[1:]  # Environment assignments (TF_CONFIG=...).
    if not tokens:
        return None
    scripts = console_scripts()
    if tokens[0] in ("python", "python3") and tokens[1:2] == ["-m"] and len(tokens) > 2:
        module = tokens[2]
        if not module.startswith("keras_cgan"):
            return None
        for target, function in scripts.values():
            if target in (module, f"{module}.__main__"):
                return target, function, tokens[3:]
        raise ValueError(f"python -m {module}: no keras_cgan tool of that name (setup.py)")
    if tokens[0].startswith("keras-cgan"):
        if tokens[0] not in scripts:
            raise ValueError(f"{tokens[0]}: no such console script in setup.py")
        module, function = scripts[tokens[0]]
        return module, function, tokens[1:]
    return None


# Run in a child process per tool: define the tool's flags exactly as its
# entry point does, then parse each command line with them.
_PARSE_SCRIPT = r"""
import importlib, json, sys
from absl import flags
from keras_cgan import cli
from keras_cgan.errors import KerasCganError

module_name, function, lines = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
seen = {}
cli.run = lambda main, define_flags=None, expand_argv=None: seen.update(
    define=define_flags, expand=expand_argv)
getattr(importlib.import_module(module_name), function)()
if seen.get("define"):
    seen["define"]()
results = []
for args in lines:
    flags.FLAGS.unparse_flags()
    try:
        argv = seen["expand"](list(args)) if seen.get("expand") else list(args)
        rest = flags.FLAGS([module_name, *argv])
        results.append(None if len(rest) == 1 else f"unexpected arguments {rest[1:]}")
    except (flags.Error, KerasCganError) as e:
        results.append(f"{type(e).__name__}: {e}")
print("PARSED " + json.dumps(results))
"""


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def parse_tool_lines(module, function, arg_lists):
    """Parses each argument list with the tool's flags; `[None or error message]`."""
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_SCRIPT, module, function, json.dumps(arg_lists)],
        cwd=REPO_ROOT,
        env=_env(KERAS_CGAN_MNIST_DIR=FIXTURE_MNIST),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = [line for line in proc.stdout.splitlines() if line.startswith("PARSED ")]
    assert proc.returncode == 0 and out, f"{module}: the flag check crashed:\n{proc.stderr[-3000:]}"
    return json.loads(out[-1][len("PARSED ") :])


def check_commands(commands):
    """Errors of `[(line, tokens)]`: unknown tools, bad flags, unknown presets."""
    from keras_cgan import presets

    known_presets = presets.list_presets()
    errors, by_tool = [], {}
    for line, tokens in commands:
        try:
            tool = tool_invocation(tokens)
        except ValueError as e:
            errors.append(f"line {line}: {e}")
            continue
        if tool is None:
            if tokens[:1] in (["python"], ["python3"]) and tokens[1:2] != ["-m"]:
                script = tokens[1] if len(tokens) > 1 else ""
                if not os.path.isfile(os.path.join(REPO_ROOT, script)):
                    errors.append(f"line {line}: {script} does not exist")
            continue
        module, function, args = tool
        for arg in args:
            if arg.startswith("--preset="):
                name = arg.split("=", 1)[1]
                if name not in known_presets:
                    errors.append(f"line {line}: no preset {name!r}")
        by_tool.setdefault((module, function), []).append((line, args))
    for (module, function), entries in by_tool.items():
        results = parse_tool_lines(module, function, [args for _, args in entries])
        for (line, args), error in zip(entries, results, strict=True):
            if error:
                errors.append(f"line {line}: {' '.join(args)}: {error}")
    return errors, sorted(by_tool)


# --- the README's shell commands -------------------------------------------


def test_readme_commands_parse_with_the_tools_own_flags():
    errors, tools = check_commands(shell_commands(readme_text()))
    assert not errors, "\n".join(errors)
    assert ("keras_cgan.main", "run") in tools  # The README does show training.


def test_docs_commands_parse_with_the_tools_own_flags():
    docs = os.path.join(REPO_ROOT, "docs")
    commands = []
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md"):
            with open(os.path.join(docs, name), encoding="utf-8") as f:
                commands += [
                    (f"{name}:{line}", tokens) for line, tokens in shell_commands(f.read())
                ]
    errors, tools = check_commands(commands)
    assert not errors, "\n".join(errors)
    assert ("keras_cgan.bench", "cli_main") in tools


@pytest.mark.parametrize(
    "line, expected",
    [
        ("python -m keras_cgan.generate --modle=runs/a --out=grid.png", "modle"),
        ("keras-cgan-train --preset=no_such_preset", "no_such_preset"),
        ("python -m keras_cgan.main --epochs=0", "--epochs=0"),
        ("python -m keras_cgan.main --arch=resnet", "resnet"),
        ("python -m keras_cgan.no_such_tool --x=1", "no_such_tool"),
        ("keras-cgan-render --x=1", "keras-cgan-render"),
        ("python scripts/no_such_script.py", "no_such_script"),
    ],
)
def test_a_bad_command_is_caught(line, expected):
    errors, _ = check_commands([(1, shlex.split(line))])
    assert errors and expected in errors[0], errors


def test_good_commands_pass_the_check():
    lines = [
        "python -m keras_cgan.main --preset=best --epochs=3 --nojit_compile",
        "keras-cgan-generate --model=runs/a --digits=27 --latent_walk --out=walk.png",
        "TF_CONFIG='{}' python -m keras_cgan.main --strategy=multi_worker",
    ]
    errors, tools = check_commands([(1, shlex.split(line)) for line in lines])
    assert not errors, errors
    assert tools == [("keras_cgan.generate", "run"), ("keras_cgan.main", "run")]


@pytest.mark.slow
def test_every_tool_prints_its_short_help():
    """`--helpshort` works for every console script's module (absl exits 1 after help)."""
    for script, (module, _) in sorted(console_scripts().items()):
        runnable = module[: -len(".__main__")] if module.endswith(".__main__") else module
        proc = subprocess.run(
            [sys.executable, "-m", runnable, "--helpshort"],
            cwd=REPO_ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode in (0, 1), f"{script}: {proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, f"{script}: {proc.stderr[-2000:]}"
        assert "--" in proc.stdout and "Try --helpfull" in proc.stdout, f"{script}: {proc.stdout}"


# --- the README's Python blocks ---------------------------------------------


def test_skip_markers_need_a_reason_and_are_found():
    text = (
        "```python\nprint(1)\n```\n\n<!-- readme-test: skip (needs a TPU) -->\n\n"
        "```python\nprint(2)\n```\n"
    )
    to_run, skipped = python_blocks(text)
    assert [code for _, code in to_run] == ["print(1)\n"]
    assert skipped == [(7, "needs a TPU")]
    with pytest.raises(ValueError, match="needs a"):
        fenced_blocks("<!-- readme-test: skip -->\n```python\nprint(3)\n```\n")


def test_every_substitution_still_matches_the_readme():
    to_run, _ = python_blocks(readme_text())
    assert to_run, "the README has no Python block"
    used = set()
    for _, code in to_run:
        shrink(code, used)
    stale = [old for old, _, _ in SUBSTITUTIONS if old not in used]
    assert not stale, f"SUBSTITUTIONS no longer match the README: {stale}"


def _runs_to_prepare(code, folder):
    """Run folders `code` reads (`runs/NAME...`) that do not exist and it does not train."""
    names = []
    for name in re.findall(r"""["'](runs/[\w.-]+)""", code):
        if f"--workdir={name}" in code or os.path.exists(os.path.join(folder, name)):
            continue
        names.append(name)
    return sorted(set(names))


def run_blocks(blocks, work, env):
    """Runs `[(line, code)]` in order, each in a fresh process, all in folder `work`.

    Sizes are shrunk by `SUBSTITUTIONS` first, and a run folder a block reads
    but does not train is trained there (`TINY_RUN`) before it.

    Returns:
        None if every block ran, else a message about the first that failed.
    """
    for line, code in blocks:
        code = shrink(code, set())
        for run_dir in _runs_to_prepare(code, str(work)):
            proc = subprocess.run(
                [sys.executable, "-m", "keras_cgan.main", *TINY_RUN, f"--workdir={run_dir}"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode:
                return f"training {run_dir} for line {line} failed:\n{proc.stderr[-3000:]}"
        script = os.path.join(work, f"readme_line_{line}.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(code)
        proc = subprocess.run(
            [sys.executable, script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode:
            return f"the Python block at line {line} failed:\n{code}\n{proc.stderr[-4000:]}"
    return None


def _block_env(tmp_path):
    return _env(
        KERAS_CGAN_MNIST_DIR=FIXTURE_MNIST,
        XDG_CACHE_HOME=str(tmp_path / "cache"),  # The evaluation's classifier cache.
        MPLBACKEND="Agg",
    )


def test_blocks_share_a_folder_and_a_failing_block_is_reported(tmp_path):
    env = _block_env(tmp_path)
    writes = (3, "open('note.txt', 'w').write('saved')\n")
    reads = (9, "assert open('note.txt').read() == 'saved'\n")
    assert run_blocks([writes, reads], str(tmp_path), env) is None
    fails = (12, "raise SystemExit('this block fails')\n")
    message = run_blocks([writes, fails, reads], str(tmp_path), env)
    assert message and "line 12" in message and "this block fails" in message


def test_run_folders_a_block_reads_are_prepared(tmp_path):
    reads = 'gen = tf.saved_model.load("runs/a/export")\nEvaluator().evaluate("runs/b")\n'
    assert _runs_to_prepare(reads, str(tmp_path)) == ["runs/a", "runs/b"]
    trains = 'presets.load_preset("best", "--workdir=runs/py")\nload("runs/py/export")\n'
    assert _runs_to_prepare(trains, str(tmp_path)) == []


@pytest.mark.slow
def test_readme_python_blocks_run_as_printed(tmp_path):
    to_run, skipped = python_blocks(readme_text())
    if skipped:
        warnings.warn(
            f"{len(skipped)} README Python block(s) not run: "
            + "; ".join(f"line {line} ({reason})" for line, reason in skipped),
            stacklevel=1,
        )
    work = tmp_path / "work"
    work.mkdir()
    failure = run_blocks(to_run, str(work), _block_env(tmp_path))
    assert failure is None, failure
    assert (work / "cgan.keras").is_file()  # Saved by one block, loaded by a later one.


# --- the README's tables, length and wording --------------------------------


def test_readme_flag_table_is_generated_from_the_config():
    from keras_cgan import config_flags

    text = readme_text()
    begin, end = "<!-- flags:begin -->", "<!-- flags:end -->"
    assert begin in text and end in text, "README.md lacks the flags markers"
    table = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert table == config_flags.flag_table(), (
        "the README's flag table differs from the config: run python scripts/make_flag_table.py"
    )


def test_readme_is_short():
    lines = readme_text().count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; deeper material goes to docs/"


def test_readme_layout_lists_every_module():
    listed = set()
    for line in readme_text().splitlines():
        if line.startswith("| `keras_cgan/"):
            listed.update(re.findall(r"`(keras_cgan/[\w/.]+)`", line.split("|")[1]))
    package = os.path.join(REPO_ROOT, "keras_cgan")
    present = {
        f"keras_cgan/{name}" + ("/" if os.path.isdir(os.path.join(package, name)) else "")
        for name in os.listdir(package)
        if (name.endswith(".py") and name != "__init__.py")
        or os.path.isfile(os.path.join(package, name, "__init__.py"))
    }
    assert not present - listed, f"missing from the README's layout: {sorted(present - listed)}"
    assert not listed - present, (
        f"the README's layout lists what is gone: {sorted(listed - present)}"
    )


def test_no_development_history_in_user_facing_text():
    found = []
    for top in ("README.md", "docs", "flags", "keras_cgan"):
        root = os.path.join(REPO_ROOT, top)
        paths = (
            [root]
            if os.path.isfile(root)
            else [
                os.path.join(folder, name)
                for folder, _, names in os.walk(root)
                for name in names
                if name.endswith((".md", ".py", ".cfg"))
            ]
        )
        for path in paths:
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if HISTORY.search(line):
                        found.append(f"{os.path.relpath(path, REPO_ROOT)}:{number}: {line.strip()}")
    assert not found, "development history in user-facing text:\n" + "\n".join(found)


def test_history_check_catches_what_it_should():
    for phrase in ("see issue 4", "This session measured", "before commit b70066c"):
        assert HISTORY.search(phrase), phrase
    assert not HISTORY.search("keras-team/keras#20585 (Keras' own bug)")
