"""Interrupting a real ``salessim`` process: Ctrl-C, SIGTERM and SIGKILL.

Each test starts the installed command in its own session (as a terminal would start
it), waits until its pool workers are busy, signals it, and checks the exit status, that
no process of the session is left (read from /proc), and what ``--out`` holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from salessim import cli

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
SALESSIM = Path(sys.executable).with_name("salessim")
#: One replication of the tutorial at this horizon takes about a second: 400 of them keep
#: two workers busy for minutes, far longer than any bound below, so a command that ran
#: on instead of stopping cannot pass on a machine however busy.
SLOW = ["--set", "horizon=3000", "--workers", "2", "-n", "400"]
#: Seconds a signalled command may take to end: stopping is immediate, but a machine
#: shared with other work may take seconds to schedule and reap the processes.
WITHIN = 30


def session(sid: int) -> list[tuple[int, str]]:
    """Live processes (pid, command line) of a session; zombies are dead and not counted."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append((int(entry), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def start(*args: str | Path) -> subprocess.Popen:
    """The command in a new session, once its two workers run (fork server and tracker too)."""
    proc = subprocess.Popen([str(SALESSIM), *map(str, args)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # a wait, not a bound: starting is quick
    while len(session(proc.pid)) < 5:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the workers never started: {proc.communicate()}")
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are now in the middle of a replication
    return proc


def ends(proc: subprocess.Popen, within: float) -> tuple[int, str]:
    """Exit status and stderr, failing if it takes longer than ``within`` seconds."""
    try:
        _, err = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"still running {within} s after the signal") from None
    return proc.returncode, err


def nothing_left(sid: int, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while session(sid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session(sid)
    if left:
        for pid, _ in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, f"left behind: {left}"


def contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ctrl_c_stops_run_at_once_and_leaves_out_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("an earlier run's summary\n")
    (out / "run.json").write_text('{"seed": 1}\n')
    before = contents(out)
    proc = start("run", TUTORIAL, *SLOW, "--out", out, "--event-log")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
    code, err = ends(proc, within=WITHIN)  # not the minutes the run would take
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    nothing_left(proc.pid)
    assert contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_sigterm_to_the_sweep_alone_takes_its_workers_with_it(tmp_path):
    spec = tmp_path / "slow.yaml"
    spec.write_text(textwrap.dedent(f"""\
        name: slow
        scenarios: {TUTORIAL}
        factors: {{horizon: [3000]}}
        design: {{kind: full_factorial}}
        replications: 400
        seed: 1
        kpis: [won]
    """))
    out = tmp_path / "results"
    proc = start("sweep", spec, "--workers", "2", "--out", out)
    os.kill(proc.pid, signal.SIGTERM)  # the command only, not its workers
    code, err = ends(proc, within=WITHIN)
    assert code == 143, err
    assert "Traceback" not in err
    nothing_left(proc.pid)
    # Whatever was stored is whole: every stored run file reads back.
    import pyarrow.parquet as pq

    for path in out.glob("design=*/rep-*.parquet"):
        assert pq.read_table(path).num_rows == 1


def test_workers_die_with_a_killed_command_and_its_staging_folder_is_cleaned(tmp_path, capsys):
    out = tmp_path / "out"
    proc = start("run", TUTORIAL, *SLOW, "--out", out)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
    proc.communicate(timeout=WITHIN)
    nothing_left(proc.pid)
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(".staging-") and stale[0].endswith("-out")
    assert not out.exists()
    # The next command removes the leftover of the killed one.
    assert cli.main(["run", str(TUTORIAL), "-n", "1", "--workers", "1", "--set", "horizon=40",
                     "--set", "warmup=0", "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
