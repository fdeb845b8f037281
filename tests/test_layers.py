"""The import contract: layers that import only downward, no cycles, no module over 400 lines.

Every module of ``src/salessim`` is read with :mod:`ast` (nothing is imported) and each of
its imports of a ``salessim`` module becomes an edge: module-level, function-level (lazy)
and ``if TYPE_CHECKING:`` imports alike, since a lazy import is as much a dependency as an
eager one, only later. An edge goes to the module named; the parent package's
``__init__`` that Python also runs is not counted (a package's ``__init__`` is a module
of its own, placed in its own layer).

The layers, lowest first (``LAYERS``); a module may import its own layer or a lower one:

1. foundations: errors, the ends of a journey, the date of time 0, time units, the
   quantile sketch, atomic output;
2. the KPI registry (names, labels, units, definitions, the verdict and win-rate rules),
   which the scenario schema reads;
3. the scenario language;
4. working time (``model/calendar.py``: a pure function of a scenario's calendar, which
   the KPIs, the teaching views and the staff model all read);
5. the event records;
6. the random streams;
7. the model (the SimPy objects a scenario is built into);
8. the engine, the metrics of one replication, the statistics, the log files, the run
   record;
9. the analyses of one scenario: flow analysis, teaching views, diagnosis;
10. console text (number formats, tables, KPI choice, progress bars) shared by the
    reports and the commands;
11. the applications: compare, forecast, calibrate, optimise, experiments, reports, the
    casebook;
12. the public API (``salessim/__init__.py`` and the modules it exposes);
13. the command functions, and the studio (a web shell over the same library);
14. the command line.

Two more rules: only the engine (and the model itself) reaches into the model; above the
engine a run is an ``engine`` call, and only working time (``model.calendar``), the stage
kinds (``model.kinds``: the one interface every view of a stage asks, its flow analysis,
diagram and BPMN shape, KPIs and forecast needs) and the size of a run they give
(``model.runsize``) are read directly. And the library below the commands picks no KPIs to show: ``compare`` does not
import ``console`` (``FORBIDDEN``).

One narrow allowance: ``from salessim import __version__`` (the package's version, read
from its metadata) is allowed from any layer; the package root is always loaded first.

A new module must be placed in exactly one layer (the first test says so when it is not).
``KNOWN`` lists the violations still open, each with whoever removes it; it only shrinks,
and an entry that no longer occurs fails the test so the list is kept honest.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "salessim"
MAX_LINES = 400

#: Lowest first. Patterns are module names with ``*`` for "any submodule".
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundations", ("salessim.errors", "salessim.ends", "salessim.clock",
                     "salessim.scenario.units", "salessim.sketch", "salessim.output")),
    ("kpi registry", ("salessim.kpis", "salessim.kpisets")),
    ("scenario", ("salessim.scenario", "salessim.scenario.*")),
    ("working time", ("salessim.model.calendar",)),
    ("records", ("salessim.records",)),
    ("random streams", ("salessim.rng",)),
    ("model", ("salessim.model", "salessim.model.*")),
    ("engine", ("salessim.engine", "salessim.metrics", "salessim.stats", "salessim.stats.*",
                "salessim.logfiles", "salessim.runrecord")),
    ("analyses", ("salessim.analyse", "salessim.analyse.*", "salessim.teaching",
                  "salessim.teaching.*", "salessim.diagnose", "salessim.runlength")),
    ("console text", ("salessim.console",)),
    ("applications", ("salessim.compare", "salessim.compare.*", "salessim.forecast",
                      "salessim.forecast.*", "salessim.calibrate", "salessim.calibrate.*",
                      "salessim.optimise", "salessim.optimise.*", "salessim.experiments",
                      "salessim.experiments.*", "salessim.reports", "salessim.reports.*",
                      "salessim.targets", "salessim.teaching.casebook")),
    ("public API", ("salessim", "salessim.api", "salessim.api.*")),
    ("commands", ("salessim.commands", "salessim.commands.*", "salessim.studio",
                  "salessim.studio.*")),
    ("command line", ("salessim.cli",)),
]

#: Edges forbidden whatever the layers say: (importer pattern, imported pattern, why).
FORBIDDEN: list[tuple[str, str, str]] = [
    ("salessim.compare", "salessim.console",
     "a comparison computes; choosing the KPIs to show belongs to the command line"),
]

#: Modules allowed to import the model beyond what is readable from above.
MODEL_USERS = ("salessim.engine", "salessim.model.*")
#: The model modules any higher layer may read.
MODEL_READABLE = ("salessim.model.calendar", "salessim.model.kinds", "salessim.model.kinds.*",
                  "salessim.model.runsize")

#: Open violations as (importer, imported), to be emptied; each names who removes it.
KNOWN: dict[tuple[str, str], str] = {
}

#: Modules over MAX_LINES that are being split, with who splits them.
KNOWN_LONG: dict[str, str] = {
}


def _modules() -> dict[str, tuple[Path, str]]:
    """Module name -> (file, the package its relative imports resolve against)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            package = ".".join(parts)
        else:
            package = ".".join(parts[:-1])
        found[".".join(parts)] = (path, package)
    return found


MODULES = _modules()


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[tuple[str, list[str]]]:
    """The salessim modules an import statement names, each with the names it takes."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.split(".")[0] == "salessim"]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module.split(".")[0] != "salessim":
        return []
    out: list[tuple[str, list[str]]] = []
    plain = []
    for alias in node.names:
        sub = f"{module}.{alias.name}"
        if sub in MODULES:  # ``from salessim import stats`` imports the module stats
            out.append((sub, []))
        else:
            plain.append(alias.name)
    if plain:
        out.append((module, plain))
    return out


def _edges() -> dict[tuple[str, str], int]:
    """(importer, imported) -> the line of its first import."""
    edges: dict[tuple[str, str], int] = {}
    for name, (path, package) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target, names in _targets(node, package):
                while target not in MODULES and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target == name or (target == "salessim" and names == ["__version__"]):
                    continue
                edges.setdefault((name, target), node.lineno)
    return edges


EDGES = _edges()


def _matches(module: str, patterns: tuple[str, ...] | str) -> bool:
    patterns = (patterns,) if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(module, p) for p in patterns)


def layer_of(module: str) -> int:
    """Index of the module's layer; a module may sit in one layer only.

    Raises:
        LookupError: no layer, or more than one, declares the module.
    """
    # A module named exactly wins over a package pattern (teaching.casebook vs teaching.*).
    exact = [i for i, (_, pats) in enumerate(LAYERS) if module in pats]
    if len(exact) == 1:
        return exact[0]
    found = [i for i, (_, pats) in enumerate(LAYERS) if _matches(module, pats)]
    if len(found) != 1:
        raise LookupError(f"{module} is in {len(found)} layers: place it in exactly one of "
                          "LAYERS in tests/test_layers.py")
    return found[0]


def violations() -> dict[tuple[str, str], str]:
    """Every edge that breaks the contract, with the rule it breaks."""
    bad = {}
    for (src, dst), line in EDGES.items():
        where = f"{src}:{line} imports {dst}"
        low, high = layer_of(dst), layer_of(src)
        if low > high:
            bad[src, dst] = f"{where}: upward from {LAYERS[high][0]} to {LAYERS[low][0]}"
        elif (_matches(dst, "salessim.model.*") and not _matches(dst, MODEL_READABLE)
              and not _matches(src, MODEL_USERS)):
            bad[src, dst] = f"{where}: only the engine reaches into the model"
        for a, b, why in FORBIDDEN:
            if _matches(src, a) and _matches(dst, b):
                bad[src, dst] = f"{where}: {why}"
    for cycle in cycles():
        for src, dst in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            if (src, dst) in EDGES:
                bad.setdefault((src, dst), f"{src}:{EDGES[src, dst]} imports {dst}: a cycle "
                                           f"({' -> '.join([*cycle, cycle[0]])})")
    return bad


def cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, list[str]] = {m: [] for m in MODULES}
    for src, dst in EDGES:
        graph[src].append(dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_in_order(sorted(component), graph))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _in_order(component: list[str], graph: dict[str, list[str]]) -> list[str]:
    """The component as one cycle through its first module where it is a simple cycle."""
    members = set(component)
    path = [component[0]]
    while True:
        nxt = [w for w in graph[path[-1]] if w in members and w not in path]
        if not nxt:
            return path if len(path) == len(component) else component
        path.append(sorted(nxt)[0])


def test_every_module_sits_in_exactly_one_layer():
    for module in MODULES:
        layer_of(module)


def test_no_upward_import_and_no_cycle():
    found = violations()
    new = [why for edge, why in sorted(found.items()) if edge not in KNOWN]
    assert not new, "import contract broken:\n" + "\n".join(new)


def test_the_list_of_known_violations_only_shrinks():
    gone = [f"{a} -> {b} ({who})" for (a, b), who in KNOWN.items() if (a, b) not in violations()]
    assert not gone, "fixed: remove from KNOWN in tests/test_layers.py:\n" + "\n".join(gone)


def test_no_module_over_400_lines():
    long = {name: len(path.read_text(encoding="utf-8").splitlines())
            for name, (path, _) in MODULES.items()}
    over = [f"{name}: {n} lines" for name, n in sorted(long.items())
            if n > MAX_LINES and name not in KNOWN_LONG]
    assert not over, f"modules over {MAX_LINES} lines:\n" + "\n".join(over)
    done = [name for name in KNOWN_LONG if long.get(name, 0) <= MAX_LINES]
    assert not done, f"now within {MAX_LINES} lines: remove from KNOWN_LONG: {done}"


# --- the checker itself, on small graphs ------------------------------------------------


def test_an_upward_lazy_import_is_found(monkeypatch):
    monkeypatch.setitem(EDGES, ("salessim.errors", "salessim.engine"), 1)
    assert "upward from foundations to engine" in violations()["salessim.errors",
                                                               "salessim.engine"]


def test_a_cycle_within_a_layer_is_found(monkeypatch):
    monkeypatch.setitem(EDGES, ("salessim.stats", "salessim.metrics"), 1)
    monkeypatch.setitem(EDGES, ("salessim.metrics", "salessim.stats"), 1)
    assert any(set(c) == {"salessim.stats", "salessim.metrics"} for c in cycles())
    assert "a cycle" in violations()["salessim.stats", "salessim.metrics"]


def test_reaching_into_the_model_from_above_the_engine_is_found(monkeypatch):
    monkeypatch.setitem(EDGES, ("salessim.diagnose", "salessim.model.world"), 1)
    assert "only the engine" in violations()["salessim.diagnose", "salessim.model.world"]


@pytest.mark.parametrize("code, package, expected", [
    ("from salessim import stats", "salessim", [("salessim.stats", [])]),
    ("from . import stats", "salessim", [("salessim.stats", [])]),
    ("from ..records import LOG", "salessim.model", [("salessim.records", ["LOG"])]),
    ("import salessim.engine as e", "salessim", [("salessim.engine", [])]),
    ("from salessim import __version__", "salessim", [("salessim", ["__version__"])]),
    ("import numpy", "salessim", []),
])
def test_imports_are_read_as_python_resolves_them(code, package, expected):
    assert _targets(ast.parse(code).body[0], package) == expected
