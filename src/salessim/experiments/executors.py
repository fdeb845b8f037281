"""Executors: where runs happen. One small interface, three implementations.

An executor maps a picklable top-level function over items and yields ``(index, result)``
pairs as they finish, in any order. Results never depend on the executor: a run's values
are fixed by its scenario, seed and replication, so serial, process-pool and Dask runs of
the same experiment are bit-identical.

- :class:`SerialExecutor`: in this process, one item after the other.
- :class:`ProcessPool`: a local pool of processes (the default, one per core), forked
  from a clean fork server that has imported salessim once (``spawn`` where there is none).
  Workers ignore Ctrl-C (the parent decides), and die with the parent however it ends;
  an interrupted map kills its workers at once instead of letting them finish their work.
  A worker that dies (killed, out of memory, a crash in native code) breaks the pool; the
  items in flight are then retried one at a time in a fresh one-worker pool, so the item
  that kills its worker is found and reported as :class:`WorkerLost`, and the rest finish.
- :class:`DaskExecutor`: Dask ``distributed`` (the ``salessim[dask]`` extra): a
  ``LocalCluster`` bound to 127.0.0.1 that speaks TLS with a certificate of its own, or an
  existing scheduler such as ``tcp://host:8786``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import ProcessPoolExecutor as _Pool
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from salessim.errors import UsageError
from salessim.experiments.processes import (
    kill_workers,
    pool_context,
    start_helpers,
    stop_forkserver,
    worker_init,
)

DASK_EXTRA = "the Dask executor needs the salessim[dask] extra: pip install 'salessim[dask]'"


@dataclass(frozen=True)
class WorkerLost:
    """The result of an item whose worker process died while running it."""

    message: str


class Executor(Protocol):
    """Runs a function over items somewhere, yielding ``(index, result)`` as items finish."""

    name: str
    workers: int

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index into items, fn(item) or WorkerLost)`` in order of completion."""
        ...

    def close(self) -> None:
        """Release processes and connections."""
        ...

    def __enter__(self) -> Executor:
        """The executor itself, closed when the ``with`` block ends."""
        ...

    def __exit__(self, *exc: object) -> None:
        ...


_Self = TypeVar("_Self", bound="_Closing")


class _Closing:
    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor(_Closing):
    """Runs items in this process, in order."""

    workers = 1
    name = "serial"

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            yield i, fn(item)


class ProcessPool(_Closing):
    """A local pool of worker processes.

    Workers are forked from a fork server: a clean single-threaded process that imported
    salessim once, so a new pool starts in milliseconds instead of re-importing numpy and
    pandas in every worker, and never inherits this process's threads. Where there is no
    fork server (Windows), workers are spawned.

    At most two items per worker are in flight, so a worker's death implicates only those,
    and an interrupted sweep abandons little work.

    Args:
        workers: number of processes; default one per core.
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        self.workers = workers or default_workers()
        self.name = f"process pool ({self.workers} workers)"
        self._context = pool_context()
        self._pool: _Pool | None = None

    def _new_pool(self, workers: int) -> _Pool:
        start_helpers(self._context)
        return _Pool(max_workers=workers, mp_context=self._context,
                     initializer=worker_init, initargs=(os.getpid(),))

    def _get_pool(self, workers: int | None = None) -> _Pool:
        if workers is not None:
            return self._new_pool(workers)
        if self._pool is None:
            self._pool = self._new_pool(self.workers)
        return self._pool

    def _discard_pool(self, kill: bool = False) -> None:
        if self._pool is not None:
            if kill:
                kill_workers(self._pool)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        todo = list(range(len(items)))[::-1]  # popped from the end: items in order
        while todo:
            pool = self._get_pool()
            running: dict[Future, int] = {}
            suspects: list[int] = []
            broken = False
            try:
                while todo or running:
                    while todo and not broken and len(running) < 2 * self.workers:
                        i = todo.pop()
                        try:
                            running[pool.submit(fn, items[i])] = i
                        except BrokenProcessPool:  # it broke since the last wait
                            todo.append(i)
                            broken = True
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = running.pop(fut)
                        try:
                            result = fut.result()
                        except BrokenProcessPool:
                            # Every item in flight fails with the pool: all are suspects.
                            suspects.append(i)
                            broken = True
                            continue
                        yield i, result
            except BaseException as exc:
                # Ctrl-C, a signal or an error here: the work in flight is abandoned, so
                # its workers are stopped now rather than left to finish it.
                self._discard_pool(kill=True)
                if isinstance(exc, KeyboardInterrupt):  # the command ends (Ctrl-C, SIGTERM)
                    stop_forkserver()
                raise
            if broken:
                self._discard_pool()
            for i in sorted(suspects):
                yield i, self._isolated(fn, items[i])

    def _isolated(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """Run one item alone in a fresh process: a death there is that item's doing."""
        pool = self._get_pool(workers=1)
        try:
            return pool.submit(fn, item).result()
        except BrokenProcessPool:
            return WorkerLost("the worker process died while running this item")
        except BaseException:
            kill_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def import_distributed() -> Any:
    """The ``distributed`` module, or a UsageError naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise UsageError(DASK_EXTRA) from None
    return distributed


class DaskExecutor(_Closing):
    """Runs items on a Dask ``distributed`` cluster.

    Args:
        address: ``"local"`` starts a LocalCluster on this machine, bound to 127.0.0.1
            (scheduler, workers and dashboards) and speaking TLS with a certificate of its
            own; ``tcp://host:8786`` connects to a running
            scheduler (``dask scheduler``, dask-jobqueue's SLURMCluster, ...).
        workers: LocalCluster processes; default one per core. Ignored for an address.
        client: an existing ``distributed.Client`` to use instead (not closed by us).
    """

    def __init__(
        self, address: str = "local", workers: int | None = None, client: Any = None
    ) -> None:
        distributed = import_distributed()
        self._cluster = None
        self._scratch: str | None = None
        self._config: Any = None
        self._own_client = client is None
        if client is not None:
            self._client = client
            label = "client"
        elif address == "local":
            self._start_local(distributed, workers or default_workers())
            label = "local"
        else:
            if "://" not in address:
                raise UsageError(f"--dask takes 'local' or a scheduler address such as "
                                 f"tcp://host:8786, got {address!r}")
            try:
                self._client = distributed.Client(address, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:  # ValueError: an unknown scheme
                raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
            label = address
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        self.name = f"dask {label} ({self.workers} workers)"

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        # pure=False: equal arguments must still run (and be counted) as separate runs.
        futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except KilledWorker as exc:
                    result = WorkerLost(f"Dask workers died running this item ({exc})")
                yield index[fut.key], result
        finally:
            self._client.cancel([f for f in futures if not f.done()])

    def _start_local(self, distributed: Any, n: int) -> None:
        """A LocalCluster on 127.0.0.1 that only this process can use, and that leaves
        nothing behind.

        Its scheduler and workers speak TLS with a certificate made for this cluster
        alone (Dask's ``Security.temporary()``, held in memory): another user of the
        machine who reaches its ports cannot run code as ours. Its scratch space, and the
        lock files Dask keeps in its temporary directory, are in a folder of its own,
        removed on close, and also when the start is interrupted.
        """
        import dask

        try:
            import cryptography  # noqa: F401 - Security.temporary() needs it
        except ImportError:
            raise UsageError(f"{DASK_EXTRA} (it includes the cryptography package, for the "
                             "local cluster's TLS)") from None
        self._scratch = tempfile.mkdtemp(prefix="salessim-dask-")
        self._config = dask.config.set({"temporary-directory": self._scratch})
        try:
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR, local_directory=self._scratch, security=True,
            )
            self._client = distributed.Client(self._cluster)
        except BaseException:  # Ctrl-C while it starts, or it cannot: nothing left behind
            self._own_client = False
            self.close()
            raise

    def close(self) -> None:
        if self._own_client and hasattr(self, "_client"):
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._config.__exit__(None, None, None)
            self._scratch = None


def ordered_map(executor: Executor) -> Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]:
    """A ``map``-like function on an executor: results in the order of the items.

    For library functions that take a ``mapper`` (``engine.run``, ``compare.compare``).
    A worker that died is an error here: such callers need every result.
    """

    def mapper(fn: Callable[[Any], Any], iterable: Iterable[Any]) -> Iterator[Any]:
        items = list(iterable)
        done: dict[int, Any] = {}
        following = 0
        for i, result in executor.map_unordered(fn, items):
            if isinstance(result, WorkerLost):
                raise RuntimeError(f"a worker process died running item {i}: {result.message}")
            done[i] = result
            while following in done:
                yield done.pop(following)
                following += 1

    return mapper


def make_executor(workers: int | None = None, dask: str | None = None) -> Executor:
    """The executor the command line asks for.

    Args:
        workers: processes (``1`` runs serially in this process); default one per core.
        dask: ``"local"`` or a scheduler address to run on Dask instead.
    """
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if dask is not None:
        return DaskExecutor(dask, workers)
    if workers == 1:
        return SerialExecutor()
    return ProcessPool(workers)
