"""The processes behind a local process pool: its fork server, its workers, their ends.

A pool's workers are forked from a fork server (a clean interpreter that imported
salessim once). Ctrl-C at a terminal reaches every process of the group: the fork server
and the resource tracker start with it ignored, and the workers ignore it too (the
command decides, and stops them). Workers die with the command however it ends: on Linux
the kernel kills them with their parent, and a watchdog thread ends them when the command
is gone. An interrupted command also ends the fork server, with any worker it has forked
that no pool knows of yet.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor as _Pool
from typing import Any

from salessim.output import process_running

#: How often a worker checks that the process that started its pool still runs, seconds.
WATCHDOG_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def worker_init(parent: int) -> None:
    """Set up a pool worker: ignore Ctrl-C, and die with the process that made the pool.

    Ctrl-C at a terminal reaches every process of the group; the parent alone decides
    what to do, and stops the workers itself. A worker forked from the fork server is the
    fork server's child, so on Linux it asks to be killed when that process ends, and a
    watchdog thread ends it when ``parent`` (the command) is gone, whatever killed it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # see start_helpers
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl: the watchdog still works
            pass
    threading.Thread(target=_watchdog, args=(parent,), daemon=True,
                     name="salessim-watchdog").start()


def _watchdog(parent: int) -> None:
    while process_running(parent):
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)  # the command is gone: nobody will read this worker's results


def kill_workers(pool: _Pool) -> None:
    """Kill a pool's worker processes now (their work is abandoned)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):  # already gone
            pass


def start_helpers(context: multiprocessing.context.BaseContext) -> None:
    """Start the fork server and the resource tracker with Ctrl-C ignored from their start.

    Each is a new interpreter that imports for a while (the fork server imports salessim)
    before it ignores Ctrl-C itself; a Ctrl-C at the terminal, which reaches the whole
    process group, then printed a KeyboardInterrupt traceback from the fork server. An
    ignored signal stays ignored across exec, so they are started with SIGINT ignored, and
    blocked meanwhile so that a Ctrl-C in that moment still reaches this process once it
    is unblocked (their workers unblock it in :func:`worker_init`).
    """
    if (context.get_start_method() != "forkserver"
            or threading.current_thread() is not threading.main_thread()):
        return
    from multiprocessing import forkserver, resource_tracker

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def stop_forkserver() -> None:
    """End the fork server now, with any worker it forked that has not yet started.

    For an interrupted command: a worker that is still starting belongs to no pool yet, so
    no pool can kill it; left alone it would start after the command has gone (and report
    the missing semaphores of its pool). The server is stopped first, so it forks no more.
    """
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver  # the module's own instance: it holds the process id
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGSTOP)
        for child in _children(pid):
            os.kill(child, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError, PermissionError):
        pass
    try:
        os.close(server._forkserver_alive_fd)
    except (OSError, TypeError):
        pass
    address = server._forkserver_address
    if isinstance(address, str) and not address.startswith("\0"):
        try:
            os.unlink(address)
        except OSError:
            pass
    server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc; none found elsewhere)."""
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after the name, which may hold spaces
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def pool_context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Only takes effect when the fork server starts (the first pool of this process).
    context.set_forkserver_preload(["salessim.experiments.runs"])
    return context
