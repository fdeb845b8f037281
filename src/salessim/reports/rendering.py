"""A report's figures rendered to PNG in worker processes while the report is written.

Drawing a figure (building its artists) is quick; rendering it at the report's resolution
is most of a report's time (the demo comparison: 2.8 of 3.9 CPU seconds). A figure pickles
whole and renders to the same bytes in another process, so with more than one worker the
figures go to a pool as soon as they are drawn, and the report asks for each PNG where it
places it: the tables before the figures are written meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor as _Pool
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _png(fig: Figure) -> bytes:
    from salessim.reports.figures import png_bytes

    return png_bytes(fig)


class Rendering:
    """The PNG bytes of named figures, rendered here or in worker processes.

    Args:
        figures: the figures by name, in the order the report shows them.
        workers: processes to render in; 1 renders here, when a PNG is asked for; None
            one per core. The bytes do not depend on it.
    """

    def __init__(self, figures: Mapping[str, Figure], workers: int | None = 1) -> None:
        from salessim.experiments.executors import default_workers

        self._figures = dict(figures)
        self._pool: _Pool | None = None
        self._futures: dict[str, Future[bytes]] = {}
        n = min(workers or default_workers(), len(self._figures))
        if n > 1:
            import os

            from salessim.experiments.processes import pool_context, start_helpers, worker_init

            context = pool_context()
            start_helpers(context)
            self._pool = _Pool(max_workers=n, mp_context=context, initializer=worker_init,
                               initargs=(os.getpid(),))
            # The slowest to render first, so the last one to finish is a short one.
            for name, fig in sorted(self._figures.items(), key=lambda kv: -_pixels(kv[1])):
                self._futures[name] = self._pool.submit(_png, fig)

    def png(self, name: str) -> bytes:
        """The figure's PNG (waits for it if it is rendered elsewhere); each is asked for
        once, and the workers stop once the last one is in."""
        fig = self._figures.pop(name)  # a rendered figure holds its raster: let it go
        future = self._futures.pop(name, None)
        if future is None:
            return _png(fig)
        png = future.result()
        if not self._futures:
            self.close()
        return png

    def close(self) -> None:
        """Stop the workers (a figure not yet asked for is abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Rendering:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pixels(fig: Figure) -> float:
    """A figure's area, a rough measure of its rendering time."""
    width, height = fig.get_size_inches()
    return float(width * height)
