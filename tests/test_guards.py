"""The guards the hardening tests rely on fire: a check that "it is quick" or "it does not
hang" would pass vacuously if they never did."""

from __future__ import annotations

import os
import time

import pytest

from conftest import Hang, cpu_limit, no_hang


def test_cpu_limit_stops_a_block_that_computes_too_long():
    started = time.process_time()
    with pytest.raises(Hang, match="used more CPU time than 0.2 s"), cpu_limit(0.2):
        while time.process_time() - started < 30:
            pass
    assert time.process_time() - started < 5


def test_cpu_limit_does_not_count_waiting():
    with cpu_limit(0.2):
        time.sleep(0.5)  # no CPU used: the limit is not reached


def test_no_hang_stops_a_blocked_open(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(Hang, match="still waiting after 0.3 s"), no_hang(0.3):
        open(fifo).close()  # waits for a writer that never comes
