"""What the engine's hot path takes from SimPy beyond its public API, checked on the SimPy
installed.

Two places skip SimPy's properties to save a call per event: ``model/journey.py``'s
``Walker.resume`` reads ``event._ok`` and ``event._value`` and sets ``event._defused``
(what ``simpy.Process._resume`` does), and ``model/pools.py``'s ``Turn.give`` sets ``_ok``
and ``_value`` and runs the callbacks itself (what ``Environment.step`` does, without the
event queue). A SimPy that renames or re-means these attributes fails here, before it
can change a result; a new use of a private SimPy attribute fails here until it is listed
and checked below. The pin in pyproject.toml keeps installs to the range tested.
"""

from __future__ import annotations

import ast
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import simpy
import simpy.core
import simpy.events
import simpy.resources.base
from packaging.requirements import Requirement

from salessim.model.journey import Walker
from salessim.model.pools import Turn

ROOT = Path(__file__).resolve().parents[1]
#: The private SimPy attributes salessim uses; each one's behaviour is checked below.
CHECKED = {"_ok", "_value", "_defused"}


def _private(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr.startswith("_") \
        and not node.attr.startswith("__")


def _on_simpy_objects(tree: ast.AST) -> set[str]:
    """Private attributes read or set on anything but ``self``, and on ``self`` in a class
    derived from a SimPy class."""
    names = {n.attr for n in ast.walk(tree)
             if _private(n) and not (isinstance(n.value, ast.Name) and n.value.id == "self")}
    for cls in ast.walk(tree):
        if isinstance(cls, ast.ClassDef) and any(
                ast.unparse(b).startswith("simpy.") for b in cls.bases):
            names |= {n.attr for n in ast.walk(cls) if _private(n)}
    return names


def test_only_the_checked_private_attributes_of_simpy_are_used():
    simpys = {n.attr for m in (simpy.core, simpy.events, simpy.resources.base)
              for n in ast.walk(ast.parse(inspect.getsource(m))) if _private(n)}
    assert CHECKED <= simpys
    used = {}
    for path in sorted((ROOT / "src" / "salessim").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "simpy" in text:
            for name in _on_simpy_objects(ast.parse(text)) & simpys:
                used.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    assert set(used) == CHECKED, used
    assert sorted(used["_defused"]) == ["src/salessim/model/journey.py"]


def test_the_installed_simpy_is_in_the_pinned_range():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pin = Requirement(re.search(r'^\s*"(simpy\b[^"]*)"', text, re.M).group(1))
    assert pin.specifier, "simpy must be pinned to the range this file checks"
    assert version("simpy") in pin.specifier, (version("simpy"), str(pin.specifier))
    assert not pin.specifier.contains("5.0"), "a new major SimPy is not tested"


def test_a_triggered_event_holds_its_outcome_in_ok_and_value():
    env = simpy.Environment()
    done, failed, timeout = env.event(), env.event(), env.timeout(2, value="late")
    error = KeyError("no such role")
    done.succeed("yes")
    failed.fail(error)
    assert (done._ok, done._value) == (True, "yes") == (done.ok, done.value)
    assert failed._ok is False and failed._value is error and failed.ok is False
    assert timeout._ok is True and timeout._value == "late"  # a timeout is triggered at once
    failed._defused = True  # the walk that waited took the error
    env.run()
    assert failed.defused and timeout.processed


def test_an_undefused_failure_still_ends_the_run():
    """The other side of _defused: SimPy raises a failure nobody took."""
    env = simpy.Environment()
    env.event().fail(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        env.run()


def test_processing_an_event_clears_its_callbacks_first():
    """Walker.resume takes ``callbacks is None`` for "already processed, go on now"."""
    env = simpy.Environment()
    event, seen = env.event(), []
    event.callbacks.append(lambda e: seen.append((e.callbacks, e.processed)))
    event.succeed()
    env.run()
    assert seen == [(None, True)]


def test_a_turn_given_by_hand_reads_as_a_processed_success():
    env = simpy.Environment()
    turn, seen = Turn(env), []
    turn.callbacks.append(lambda e: seen.append(e.callbacks))
    assert not turn.triggered
    turn.give()
    assert seen == [None]
    assert turn.triggered and turn.processed and turn.ok and turn.value is None


def test_a_process_waiting_on_a_given_turn_goes_on_with_no_event():
    """A SimPy process waits on a turn through its callbacks, as a walk does."""
    env = simpy.Environment()
    turn, got = Turn(env), []

    def waits():
        got.append((yield turn))
        got.append(env.now)

    def gives():
        yield env.timeout(3)
        turn.give()

    env.process(waits())
    env.process(gives())
    env.run()
    assert got == [None, 3]


def test_a_walk_gets_a_failure_and_the_run_goes_on():
    """The walker defuses a failed event it throws into the walk, as a process does."""
    env = simpy.Environment()
    failing, got = env.event(), []

    def walk():
        try:
            yield failing
        except KeyError as e:
            got.append(e.args[0])
        yield env.timeout(1)
        got.append(env.now)

    Walker(walk())
    failing.fail(KeyError("no such role"))
    env.run()
    assert got == ["no such role", 1]
