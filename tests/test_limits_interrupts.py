"""Ctrl-C and SIGTERM while the process pool's fork server is still starting.

The fork server is a new interpreter that imports salessim before it ignores Ctrl-C
itself: a Ctrl-C at the terminal (which reaches the whole process group) printed a
KeyboardInterrupt traceback from it, and a SIGTERM to the command alone left it to fork a
worker after the command had gone, which printed ``FileNotFoundError`` (its pool's
semaphores were gone). These tests run a command-like script in a fresh interpreter, with
a preload that makes the fork server's start-up slow enough to hit every time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import no_hang

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

SRC = str(Path(__file__).resolve().parents[1] / "src")

SCRIPT = textwrap.dedent("""
    import signal, sys, time
    sys.path.insert(0, {folder!r})
    from salessim.experiments import processes
    from salessim.experiments.executors import ProcessPool

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    pool = ProcessPool(2)
    pool._context.set_forkserver_preload(["salessim.experiments.runs", "slowstart"])
    try:
        if sys.argv[1] == "helpers":
            processes.start_helpers(pool._context)
            from multiprocessing import forkserver
            print(forkserver._forkserver._forkserver_pid, flush=True)
            time.sleep(30)
        else:
            print("started", flush=True)
            list(pool.map_unordered(abs, list(range(-8, 0))))
    except KeyboardInterrupt:
        sys.exit(143)
""")


def launch(tmp_path: Path, mode: str) -> subprocess.Popen:
    (tmp_path / "slowstart.py").write_text("import time\ntime.sleep(3)\n")
    script = tmp_path / "command.py"
    script.write_text(SCRIPT.format(folder=str(tmp_path)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(tmp_path)])}
    return subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def ignored(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("SigIgn"))
    return int(line.split()[1], 16)


def test_the_fork_server_ignores_ctrl_c_from_its_start(tmp_path):
    proc = launch(tmp_path, "helpers")
    try:
        with no_hang(60):
            server = int(proc.stdout.readline())
        # Still importing (its preload sleeps 3 s), and Ctrl-C is already ignored.
        assert ignored(server) & (1 << (signal.SIGINT - 1))
        os.killpg(proc.pid, signal.SIGINT)  # a Ctrl-C at the terminal, in that moment
        with no_hang(60):
            assert proc.wait() == 143  # the command got it: not lost while it was blocked
        time.sleep(4)  # past the end of the fork server's import
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    assert "KeyboardInterrupt" not in err and "Traceback" not in err, err


def alive(session: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,sess=,stat="], capture_output=True,
                         text=True).stdout
    return [int(p) for p, s, st in (line.split() for line in out.splitlines())
            if int(s) == session and not st.startswith("Z")]


def test_sigterm_while_the_fork_server_starts_leaves_nothing_behind(tmp_path):
    proc = launch(tmp_path, "map")
    with no_hang(60):
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)  # the pool waits for its fork server, which imports for 3 s
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate()
    assert proc.returncode == 143
    time.sleep(4)  # past the end of the fork server's import
    assert alive(proc.pid) == []
    assert "Error" not in err and "Traceback" not in err, err
