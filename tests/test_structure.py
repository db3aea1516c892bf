"""The package's shape: imports run one way, modules stay readable.

Imports are read with `ast` from every module, including imports inside
functions, so a cycle hidden in a function body fails here too.
"""

import ast
import os
import re

import pytest

from helpers import REPO_ROOT

PACKAGE = os.path.join(REPO_ROOT, "keras_cgan")
MAX_MODULE_LINES = 600


def _modules():
    """`{dotted module name: file path}` of every module of the package."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, REPO_ROOT)[: -len(".py")].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                modules[".".join(rel)] = path
    return modules


def _imports(path, modules):
    """The package modules that the file at `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [m for m in submodules if m in modules] or [node.module]
        else:
            continue
        found.update(name for name in names if name in modules)
    # Every module's parent package runs first anyway: an edge to the top
    # package (`from keras_cgan import rng` names it too) says nothing.
    return found - {"keras_cgan"}


def _graph():
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _entry_points():
    """The console-script modules named in setup.py (the command-line tools)."""
    setup = open(os.path.join(REPO_ROOT, "setup.py"), encoding="utf-8").read()
    return set(re.findall(r'"keras-cgan-[\w-]+=([\w.]+):\w+"', setup))


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    assert "keras_cgan.train" in graph and graph["keras_cgan.train"], "the graph is empty"
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_library_modules_never_import_a_command_line_tool():
    graph, tools = _graph(), _entry_points()
    assert {"keras_cgan.main", "keras_cgan.generate", "keras_cgan.evaluate"} <= tools
    for module, imported in graph.items():
        if module in tools:
            continue
        assert not imported & tools, f"{module} imports the tool {sorted(imported & tools)}"


def test_every_console_script_module_exists_and_defines_its_entry():
    setup = open(os.path.join(REPO_ROOT, "setup.py"), encoding="utf-8").read()
    modules = _modules()
    for module, function in re.findall(r'"keras-cgan-[\w-]+=([\w.]+):(\w+)"', setup):
        assert module in modules, module
        assert re.search(rf"^def {function}\(", open(modules[module]).read(), re.M), module


def test_modules_stay_readable_in_one_sitting():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := sum(1 for _ in open(path, encoding="utf-8"))) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_a_hidden_cycle_is_caught(tmp_path, monkeypatch):
    """The checker itself: a cycle through an import inside a function is found."""
    pkg = tmp_path / "keras_cgan"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from keras_cgan import b\n")
    (pkg / "b.py").write_text("def f():\n    from keras_cgan.a import x\n")
    monkeypatch.setattr(__import__(__name__), "REPO_ROOT", str(tmp_path))
    monkeypatch.setattr(__import__(__name__), "PACKAGE", str(pkg))
    graph = _graph()
    assert graph["keras_cgan.a"] == {"keras_cgan.b"} and graph["keras_cgan.b"] == {"keras_cgan.a"}


def test_tests_take_shared_builders_from_helpers_not_conftest():
    """Builders live in tests/helpers.py; conftest.py holds only fixtures."""
    tests = os.path.join(REPO_ROOT, "tests")
    offenders = [
        name
        for name in sorted(os.listdir(tests))
        if name.startswith("test_")
        and name.endswith(".py")
        and re.search(r"^\s*from conftest import", open(os.path.join(tests, name)).read(), re.M)
    ]
    assert not offenders, f"import builders from helpers, not conftest: {offenders}"
