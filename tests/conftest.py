"""Shared tiny scenarios for the tests, guards against a hang, and the order tests run in.

The suite runs on every core (``make test``: pytest-xdist, ``--dist loadgroup``); the
longest tests are handed out first so that no core is left with a long one at the end.
No test asserts how long something takes on the wall clock, which a busy machine
stretches: a check that something is quick counts CPU time (:func:`cpu_limit`), and one
that it does not hang stops it after a wide margin (:func:`no_hang`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from salessim.scenario import Scenario

SEED = 2026


def scenario_of(data: dict, unit: str = "hour") -> Scenario:
    """A validated scenario from its distinctive parts, with a test name, unit and seed."""
    doc = {"name": "test scenario", "time_unit": unit, "seed": SEED, **data}
    return Scenario.model_validate(doc, context={"time_unit": unit})


def const(value: float) -> dict:
    """A constant distribution."""
    return {"dist": "constant", "value": value}


def expo(mean: float) -> dict:
    """An exponential distribution."""
    return {"dist": "exponential", "mean": mean}


#: Mon-Fri 9-17.
OFFICE = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]}


@pytest.fixture
def tiny() -> Callable[..., Scenario]:
    """One role, one source and one staffed stage; keyword arguments replace parts."""
    def make(**parts) -> Scenario:
        data = {
            "horizon": 200, "replications": 1,
            "roles": {"rep": {"headcount": 1, "cost_per_hour": 10}},
            "sources": {"web": {"rate": 0.5, "deal_value": 1000}},
            "entry": "call",
            "stages": {"call": {"role": "rep", "work": expo(1.0), "next": {"won": 1.0}}},
        }
        data.update(parts)
        return scenario_of(data)
    return make


def refused(capsys, argv: list[str], *needles: str) -> None:
    """The command refuses ``argv`` with exit status 2 and a message holding ``needles``,
    never a traceback."""
    from salessim import cli

    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


class Hang(Exception):
    """A guarded block ran past its limit."""


@contextmanager
def _timer(which: int, signum: int, seconds: float, what: str) -> Iterator[None]:
    def expire(signum, frame):
        raise Hang(f"{what} {seconds:g} s")

    old = signal.signal(signum, expire)
    signal.setitimer(which, seconds)
    try:
        yield
    finally:
        signal.setitimer(which, 0)
        signal.signal(signum, old)


def cpu_limit(seconds: float):
    """Raise :class:`Hang` once the block has used ``seconds`` of CPU time (this process,
    user and system): "it is quick" without the wall clock, which other work stretches."""
    return _timer(signal.ITIMER_PROF, signal.SIGPROF, seconds, "used more CPU time than")


def no_hang(seconds: float = 60):
    """Raise :class:`Hang` when the block is still waiting after ``seconds`` (a blocked
    ``open`` or read included): for checks that something does not hang, with a margin
    no busy machine comes near."""
    return _timer(signal.ITIMER_REAL, signal.SIGALRM, seconds, "still waiting after")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules with a test marked ``slow`` first, then the rest, each module whole and
    in its own order: with the work handed out so the cores finish together (longest
    first). The suite runs with ``--dist loadscope``: a module's tests go to one worker, so
    its fixtures (often a calibration of seconds) are built once."""
    slow = {getattr(item, "module", None) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: getattr(item, "module", None) not in slow)


# --- a real browser -----------------------------------------------------------------------

#: Flags for headless Chromium in a container (no sandbox, no GPU, nothing fetched).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@contextmanager
def headless_chromium() -> Iterator:
    """Debian's Chromium driven by Playwright (its own browser download is not reachable
    here); skips the test with what to install when either is missing."""
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no Chromium binary: install the Debian package (apt-get install -y "
                    "chromium; `make test` does it when run as root with apt-get)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install "
        "'salessim[test]'")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
