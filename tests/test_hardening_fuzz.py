"""Fuzz: hostile mutations of the example scenarios through ``salessim validate`` and ``run``.

Each example mutates a scenario file, as text (torn, duplicated lines, aliases, nesting,
stray bytes) or as data (a number replaced by an extreme one: infinity, NaN, 10^300,
10^-300, a billion). The command line must then either refuse it (exit 2, one message) or
run it to the end (exit 0) within a time limit: never an exception, never a hang. A
mutant that validates is run with a short horizon, as a user's ``--set`` would, when its
expected size is small; a large valid run is not a defect, and is only validated.
``make test`` runs the same 40 examples every time (a fixed seed: ``derandomize``); a
longer run of this fuzzer and the data-file one is in tests/test_fuzz_data.py.
"""

from __future__ import annotations

import copy
import math
import random
import signal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from conftest import cpu_limit
from salessim import cli
from salessim.errors import ScenarioError
from salessim.model.runsize import estimate
from salessim.scenario import load_scenario

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
EXTREMES = [math.inf, -math.inf, math.nan, 1e300, -1e300, 1e-300, 1e9, 1e-3, 0, -1, 2**63]
#: CPU seconds a validate or a (small) run may take before it counts as a hang (CPU time,
#: not the wall clock: other work on the machine does not count).
TIME_LIMIT = 20
#: Mutants expected to record more events than this are validated, not run.
RUN_EVENTS = 200_000


def limited(fn, *args):
    with cpu_limit(TIME_LIMIT):
        return fn(*args)


def numbers(node, path=()):
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else ()
    for key, value in items:
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield (*path, key)
        yield from numbers(value, (*path, key))


def mutate_data(text: str, pick: int, rnd: random.Random) -> str:
    doc = copy.deepcopy(yaml.safe_load(text))
    paths = list(numbers(doc))
    for _ in range(1 + pick % 3):
        path = paths[rnd.randrange(len(paths))]
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = rnd.choice(EXTREMES)
    return yaml.safe_dump(doc, sort_keys=False)


def mutate_text(text: str, pick: int, rnd: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    at = rnd.randrange(len(lines))
    kind = pick % 6
    if kind == 0:  # torn: a crash while it was being written
        return text[: rnd.randrange(len(text))]
    if kind == 1:  # a line twice: a key given twice
        return "".join(lines[: at + 1] + lines[at:])
    if kind == 2:  # an alias bomb before the document
        bomb = ["a0: &a0 [x, x, x, x, x, x, x, x]\n"]
        bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 8)}]\n" for i in range(1, 10)]
        return "".join(bomb) + text
    if kind == 3:  # nesting far too deep
        return text + "deep: " + "[" * 200 + "]" * 200 + "\n"
    if kind == 4:  # stray bytes and tabs
        junk = rnd.choice(["\t", "\x00", "\ufeff", ": :", "- ", "*nowhere", "&", "!!python/object:os.system"])
        return "".join(lines[:at]) + junk + "".join(lines[at:])
    return "".join(lines[:at]) + "horizon: 1e3\n" + "".join(lines[at + 1:])


@settings(deadline=None, max_examples=40, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(example=hst.sampled_from(EXAMPLES), as_text=hst.booleans(),
       pick=hst.integers(0, 10**6), seed=hst.integers(0, 10**6))
def test_hostile_mutants_are_refused_or_run(tmp_path, capsys, example, as_text, pick, seed):
    rnd = random.Random(seed)
    text = example.read_text()
    mutant = mutate_text(text, pick, rnd) if as_text else mutate_data(text, pick, rnd)
    path = tmp_path / "mutant.yaml"
    path.write_bytes(mutant.encode("utf-8", errors="surrogateescape"))
    code = limited(cli.main, ["validate", str(path)])
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert err.strip() and "Traceback" not in err
        return
    try:
        short = load_scenario(path, ["horizon=20", "warmup=0"])
    except ScenarioError:
        return  # valid, but not at the short horizon (a profile table beyond it, say)
    if estimate(short, 1).total_events > RUN_EVENTS:
        return
    code = limited(cli.main, ["run", str(path), "-n", "1", "--workers", "1",
                              "--set", "horizon=20", "--set", "warmup=0"])
    err = capsys.readouterr().err
    assert code == 0, err
