"""Figures rendered in worker processes are the same PNG files as rendered here."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from salessim.reports.figures import png_bytes
from salessim.reports.rendering import Rendering


def _figure(points: list[float], size: float) -> Figure:
    fig = Figure(figsize=(size, size), dpi=50)
    FigureCanvasAgg(fig)
    fig.add_subplot().plot(points, marker="o")
    return fig


def test_workers_render_the_same_bytes_as_this_process():
    drawn = {"one": _figure([1, 3, 2], 2), "two": _figure([2, 2, 5, 1], 3), "three":
             _figure([0, 1], 1)}
    here = {name: png_bytes(fig) for name, fig in drawn.items()}
    with Rendering(drawn, workers=2) as pooled:
        assert pooled._pool is not None  # noqa: SLF001 - really in workers
        assert {name: pooled.png(name) for name in drawn} == here
        assert pooled._pool is None  # the last figure in: the workers are stopped
    here_again = Rendering(drawn)
    assert {name: here_again.png(name) for name in drawn} == here
