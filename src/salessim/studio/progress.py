"""Progress of a job in the worker, as messages to the page."""

from __future__ import annotations

from typing import Any


class Bar:
    """A tqdm-like bar (``update``, ``total``) that reports ticks to the page."""

    def __init__(self, total: int, send: Any) -> None:
        self.total, self.n, self.send = total, 0, send

    def update(self, k: int = 1) -> None:
        self.n += k
        self.send({"type": "progress", "done": self.n, "total": self.total})
