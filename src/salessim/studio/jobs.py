"""The studio's queue of runs: one worker process, jobs one after another, cancel, cache.

The web server never simulates: a manager thread hands each job to a worker process
(:func:`salessim.studio.worker.serve`) and records its messages; several tabs submit to
the one queue, so their runs wait their turn instead of competing for the cores. A job
whose result is cached (same key: resolved scenario hash, seed and replications) is done
at once. Cancelling a running job ends its worker process (and waits for it); a fresh
worker is started for the next job.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from collections import deque
from typing import Any

#: Seconds a worker gets to end after it is told to before it is killed.
GRACE = 2.0


class Job:
    """One run, comparison or what-if, as the page sees it."""

    def __init__(self, number: int, kind: str, params: dict[str, Any], key: str) -> None:
        self.id, self.kind, self.params, self.key = str(number), kind, params, key
        self.state = "queued"  # queued, running, done, failed, cancelled
        self.done, self.total = 0, 0
        self.estimates: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.cached = False
        self.worker_pid: int | None = None
        self.cancel_asked = False
        self.submitted = time.time()
        self.first_estimate: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "done": self.done,
                "total": self.total, "estimates": self.estimates, "warnings": self.warnings,
                "result": self.result, "error": self.error, "cached": self.cached,
                "worker_pid": self.worker_pid, "key": self.key,
                "first_estimate_seconds": None if self.first_estimate is None
                else round(self.first_estimate - self.submitted, 3)}


class Jobs:
    """The queue, its worker process and the cache of finished results."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")  # no copy of the server's threads
        self._lock = threading.Condition()
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._cache: dict[str, dict[str, Any]] = {}
        self._numbers = itertools.count(1)
        self._process: Any = None
        self._conn: Any = None
        self._stopped = False
        self._start_worker()
        self._thread = threading.Thread(target=self._loop, name="studio-jobs", daemon=True)
        self._thread.start()

    # --- the page's side ---------------------------------------------------------------

    def submit(self, kind: str, params: dict[str, Any], key: str) -> Job:
        """Queue a job, or answer it from the cache."""
        with self._lock:
            job = Job(next(self._numbers), kind, params, key)
            self._jobs[job.id] = job
            cached = self._cache.get(f"{kind}:{key}")
            if cached is not None:
                job.state, job.result, job.cached = "done", cached, True
                job.estimates, job.warnings = cached.get("estimates", []), \
                    cached.get("warnings", [])
                job.done = job.total = cached.get("replications", 0)
            else:
                self._queue.append(job)
                self._lock.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job, or end the worker of a running one (waits for it)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state not in ("queued", "running"):
                return job
            if job.state == "queued":
                self._queue.remove(job)
                job.state = "cancelled"
                return job
            job.cancel_asked = True
            self._lock.notify_all()
            while job.state == "running":
                self._lock.wait(0.05)
            return job

    def worker_pid(self) -> int | None:
        with self._lock:
            return None if self._process is None else self._process.pid

    def close(self) -> None:
        """Stop the manager and end the worker (the server is shutting down)."""
        with self._lock:
            self._stopped = True
            for job in self._queue:
                job.state = "cancelled"
            self._queue.clear()
            self._lock.notify_all()
        self._thread.join(timeout=5)
        self._stop_worker()

    # --- the manager thread ------------------------------------------------------------

    def _start_worker(self) -> None:
        from salessim.studio.worker import serve

        parent, child = self._context.Pipe()
        process = self._context.Process(target=serve, args=(child,), name="salessim-studio-worker",
                                        daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent

    def _stop_worker(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        process.terminate()
        process.join(GRACE)
        if process.is_alive():
            process.kill()
            process.join()
        conn.close()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopped:
                    self._lock.wait()
                if self._stopped:
                    return
                job = self._queue.popleft()
                job.state = "running"
                if self._process is None or not self._process.is_alive():
                    self._stop_worker()
                    self._start_worker()
                job.worker_pid = self._process.pid
                conn = self._conn
            conn.send({"kind": job.kind, **job.params, "key": job.key})
            self._follow(job, conn)

    def _follow(self, job: Job, conn: Any) -> None:
        """Record the worker's messages about ``job`` until it ends, fails or is cancelled."""
        while True:
            with self._lock:
                if job.cancel_asked or self._stopped:
                    self._stop_worker()
                    self._start_worker()
                    job.state = "cancelled"
                    self._lock.notify_all()
                    return
            try:
                if not conn.poll(0.05):
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                message = {"type": "error", "message": "the worker process ended unexpectedly"}
            with self._lock:
                self._note(job, message)
                if job.state in ("done", "failed"):
                    if job.state == "failed" and not self._process.is_alive():
                        self._stop_worker()
                    self._lock.notify_all()
                    return

    def _note(self, job: Job, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "progress":
            job.done, job.total = message["done"], message["total"]
            if message.get("estimates"):
                job.estimates = message["estimates"]
                if job.first_estimate is None:
                    job.first_estimate = time.time()
            if "warnings" in message:
                job.warnings = message["warnings"]
        elif kind == "done":
            job.state, job.result = "done", message["result"]
            job.estimates = message["result"].get("estimates", job.estimates)
            job.warnings = message["result"].get("warnings", job.warnings)
            self._cache[f"{job.kind}:{job.key}"] = message["result"]
        elif kind == "error":
            job.state, job.error = "failed", message["message"]
