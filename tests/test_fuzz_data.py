"""Fuzz: hostile data files (CSV, Parquet, XES) through ``salessim calibrate``.

Each example takes a slice of a shipped history (``examples/crm/stage_history.csv``, or the
first traces of ``examples/xes/credit.xes.gz``) and breaks it: as text (torn, a line
twice, stray bytes, another delimiter, a column gone, a huge cell) or cell by cell (a
date of year 1500 or 9999, an amount of infinity or -1, an empty id, an unknown stage,
exit before entry), written as CSV, Parquet or XES. The command must then refuse it
(exit 2, one message, no traceback) or calibrate it (exit 0) within a CPU-time limit:
never an exception, never a hang. ``make test`` runs a fixed-seed sample of them; a
longer run of both fuzzers (this one and ``test_hardening_fuzz``) is
``python tests/test_fuzz_data.py --scenarios 1000 --data 500`` (counts in docs/limits.md).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import random
import re
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from conftest import Hang, cpu_limit
from salessim import cli

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGPROF")

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "examples" / "crm" / "stage_history.csv"
XES = ROOT / "examples" / "xes" / "credit.xes.gz"
STAGES = ROOT / "examples" / "xes" / "stages.yaml"
#: CPU seconds one calibrate may take before it counts as a hang.
TIME_LIMIT = 60
#: Rows of the history (and traces of the event log) a mutant starts from.
ROWS, TRACES = 240, 60

CELLS = ["", " ", "nan", "NaN", "inf", "-inf", "-1", "1e308", "-1e308", "0", "1e-320",
         "1500-01-01T00:00:00", "9999-12-31T23:59:59", "0000-00-00", "2026-02-30", "yesterday",
         "\x00", "\ufeff", "é" * 50, "x" * 100_000, '"', "a,b", "\n", "2026-13-01", "12:00",
         "1677-09-21T00:12:43", "2262-04-11T23:47:17", "Closed Won", "Qualify", "-0"]


def _history_lines() -> list[str]:
    return HISTORY.read_text(encoding="utf-8").splitlines()[: ROWS + 1]


def mutate_csv(rnd: random.Random) -> bytes:
    """A stage history broken as text or cell by cell."""
    lines = _history_lines()
    header, rows = lines[0], [line.split(",") for line in lines[1:]]
    kind = rnd.randrange(10)
    if kind <= 3:  # cells replaced by hostile values
        for _ in range(1 + rnd.randrange(4)):
            row = rows[rnd.randrange(len(rows))]
            row[rnd.randrange(len(row))] = rnd.choice(CELLS)
    elif kind == 4:  # exit before entry, or a row's dates swapped
        row = rows[rnd.randrange(len(rows))]
        row[2], row[3] = row[3], row[2]
    elif kind == 5:  # a column gone
        drop = rnd.randrange(len(rows[0]))
        header = ",".join(c for i, c in enumerate(header.split(",")) if i != drop)
        rows = [[c for i, c in enumerate(r) if i != drop] for r in rows]
    elif kind == 6:  # another delimiter
        header, rows = header.replace(",", ";"), [[";".join(r)] for r in rows]
    elif kind == 7:  # every row the same deal, or no rows
        rows = [[row[0].split("/")[0], *row[1:]] for row in rows] if rnd.random() < 0.5 else []
    text = "\n".join([header] + [",".join(r) for r in rows]) + "\n"
    if kind == 8:  # torn
        text = text[: rnd.randrange(len(text) + 1)]
    if kind == 9:  # stray bytes
        at = rnd.randrange(len(text))
        junk = rnd.choice(["\x00", "\ufeff", "\r", '"', "\x1b[2J", "\udcff"])
        text = text[:at] + junk + text[at:]
    return text.encode("utf-8", errors="surrogateescape")


def mutate_parquet(rnd: random.Random, path: Path) -> None:
    """A stage history as typed columns, with hostile values of the right type or none."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(HISTORY, nrows=ROWS)
    for column in ("entered_at", "exited_at", "created_at"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
    numbers: set[str] = set()  # text columns made numbers: no text goes in them after
    for _ in range(1 + rnd.randrange(3)):
        i = rnd.randrange(len(frame))
        column = rnd.choice([c for c in frame.columns if c not in numbers])
        if column.endswith("_at"):
            frame[column] = frame[column].astype(object)
            frame.loc[i, column] = rnd.choice([
                pd.Timestamp("1500-01-01").as_unit("s"), pd.Timestamp("9999-12-31").as_unit("s"),
                None, pd.Timestamp("2026-01-01").as_unit("s")])
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
        elif column == "amount":
            frame.loc[i, column] = rnd.choice([np.inf, -np.inf, np.nan, -1.0, 1e308, 0.0])
        elif rnd.random() < 0.2:  # a text column of numbers
            frame[column] = np.arange(len(frame))
            numbers.add(column)
        else:
            frame[column] = frame[column].astype(object)
            frame.loc[i, column] = rnd.choice([None, "", "x" * 10_000, "Closed Won"])
    if rnd.random() < 0.2:  # a date column as numbers
        frame["entered_at"] = frame["entered_at"].astype("int64")
    frame.to_parquet(path)


def mutate_xes(rnd: random.Random) -> bytes:
    """The first traces of the credit log, broken as XML or value by value."""
    with gzip.open(XES, "rt", encoding="utf-8") as handle:
        text = handle.read(4_000_000)
    cut = [m.end() for m in re.finditer("</trace>\n", text)][TRACES - 1]
    text = text[:cut] + "</log>\n"
    kind = rnd.randrange(6)
    values = [m.span(1) for m in re.finditer(r'value="([^"]*)"', text)]
    if kind <= 2:
        for _ in range(1 + rnd.randrange(4)):
            a, b = values[rnd.randrange(len(values))]
            new = rnd.choice(CELLS).replace('"', "&quot;").replace("\x00", "")
            text = text[:a] + new + text[b:]
            values = [m.span(1) for m in re.finditer(r'value="([^"]*)"', text)]
    elif kind == 3:  # torn
        text = text[: rnd.randrange(len(text) + 1)]
    elif kind == 4:  # an attribute gone
        text = re.sub(r'<date key="time:timestamp"', '<date key="time:nothing"', text,
                      count=1 + rnd.randrange(50))
    else:  # stray markup
        at = rnd.randrange(len(text))
        text = text[:at] + rnd.choice(["<", "&", "]]>", "<!DOCTYPE x [<!ENTITY a 'b'>]>",
                                       "\x00", "<event>"]) + text[at:]
    return text.encode("utf-8", errors="surrogateescape")


def write_mutant(kind: str, rnd: random.Random, folder: Path) -> tuple[Path, list[str]]:
    """A mutant file of ``kind`` and the calibrate options it needs."""
    if kind == "csv":
        path = folder / "history.csv"
        path.write_bytes(mutate_csv(rnd))
        return path, []
    if kind == "parquet":
        path = folder / "history.parquet"
        mutate_parquet(rnd, path)
        return path, []
    path = folder / "log.xes"
    path.write_bytes(mutate_xes(rnd))
    return path, ["--stages", str(STAGES)]


def calibrate_once(path: Path, options: list[str], out: Path) -> tuple[int, str]:
    """Exit status and stderr of ``salessim calibrate`` on ``path`` (no back-test)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), \
            cpu_limit(TIME_LIMIT):
        code = cli.main(["calibrate", str(path), *options, "--out", str(out), "--no-backtest"])
    return code, err.getvalue()


@pytest.mark.slow  # long: handed out first
@settings(deadline=None, max_examples=12, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=hst.sampled_from(["csv", "parquet", "xes"]), seed=hst.integers(0, 10**6))
def test_hostile_data_files_are_refused_or_calibrated(tmp_path_factory, kind, seed):
    folder = tmp_path_factory.mktemp("fuzz")
    path, options = write_mutant(kind, random.Random(seed), folder)
    code, err = calibrate_once(path, options, folder / "out")
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.strip()


# --- the longer run ---------------------------------------------------------------------


def _scenario_once(rnd: random.Random, folder: Path) -> str:
    """One mutant of the scenario fuzzer (test_hardening_fuzz): ok, refused, or raises."""
    import test_hardening_fuzz as scenarios
    from salessim.errors import ScenarioError
    from salessim.model.runsize import estimate
    from salessim.scenario import load_scenario

    example = rnd.choice(scenarios.EXAMPLES)
    text = example.read_text()
    pick = rnd.randrange(10**6)
    mutant = scenarios.mutate_text(text, pick, rnd) if rnd.random() < 0.5 else \
        scenarios.mutate_data(text, pick, rnd)
    path = folder / "mutant.yaml"
    path.write_bytes(mutant.encode("utf-8", errors="surrogateescape"))
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = scenarios.limited(cli.main, ["validate", str(path)])
        if code == 2:
            if not err.getvalue().strip() or "Traceback" in err.getvalue():
                raise AssertionError(f"refused without a clean message: {err.getvalue()!r}")
            return "refused"
        if code != 0:
            raise AssertionError(f"validate exit {code}")
        try:
            short = load_scenario(path, ["horizon=20", "warmup=0"])
        except ScenarioError:
            return "valid"
        if estimate(short, 1).total_events > scenarios.RUN_EVENTS:
            return "valid"
        code = scenarios.limited(cli.main, ["run", str(path), "-n", "1", "--workers", "1",
                                            "--set", "horizon=20", "--set", "warmup=0",
                                            "--out", str(folder / "out")])
    if code != 0:
        raise AssertionError(f"run exit {code}: {err.getvalue()[-500:]}")
    return "ran"


def main(argv: list[str] | None = None) -> int:
    """Run both fuzzers for a fixed number of examples and print what they counted."""
    import argparse
    import tempfile
    import traceback
    from collections import Counter

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--data", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    counts: dict[str, Counter] = {"scenario documents": Counter(), "data files": Counter()}
    for i in range(args.scenarios + args.data):
        scenario = i < args.scenarios
        rnd = random.Random(args.seed * 1_000_003 + i)
        which = "scenario documents" if scenario else "data files"
        with tempfile.TemporaryDirectory() as tmp:
            try:  # (a mutant that cannot be written is the fuzzer's fault: it raises here)
                if scenario:
                    outcome = _scenario_once(rnd, Path(tmp))
                else:
                    kind = ("csv", "parquet", "xes")[i % 3]
                    path, options = write_mutant(kind, rnd, Path(tmp))
                    code, err = calibrate_once(path, options, Path(tmp) / "out")
                    if code not in (0, 2) or "Traceback" in err or (code == 2 and not err.strip()):
                        raise AssertionError(f"exit {code}: {err[-500:]}")
                    outcome = f"{kind} {'calibrated' if code == 0 else 'refused'}"
            except Hang:
                outcome = "hang"
                print(f"HANG at example {i}", file=sys.stderr)
            except BaseException as exc:  # noqa: BLE001 - a fuzzer counts every failure
                if isinstance(exc, KeyboardInterrupt):
                    raise
                outcome = "traceback"
                print(f"TRACEBACK at example {i}:", file=sys.stderr)
                traceback.print_exc()
        counts[which][outcome] += 1
        if (i + 1) % 50 == 0:
            print(f"{i + 1} examples: {dict(counts['scenario documents'])} "
                  f"{dict(counts['data files'])}", file=sys.stderr, flush=True)
    for which, counter in counts.items():
        total = sum(counter.values())
        print(f"{which}: {total} in all; " + ", ".join(f"{k} {v}" for k, v in
                                                       sorted(counter.items())))
    bad = sum(c["traceback"] + c["hang"] for c in counts.values())
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
