"""The calibration report's routing diagram: the stages in a row, the shares of exits on
their arrows.

Layout: the stages from the entry in a row (in the order a walk from the entry first
reaches them, one column each), ``won`` at the row's end, the other ends (lost, no decision) in a row below, so every
loss arrow runs down on its own slope. A forward arrow to the next stage is straight; one
that skips stages arcs above the row; a loop back (red) arcs higher. Each share sits on the
middle of its own arrow (the arc's midpoint, computed in display coordinates with the axes
placed by hand, so the layout cannot move it), on a white ground over the line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from salessim.calibrate.writer import routes, stages_kept
from salessim.ends import WON
from salessim.scenario import TERMINALS

if TYPE_CHECKING:
    from salessim.calibrate.estimate import Calibration

#: Curvature (matplotlib's ``arc3`` rad) of an arrow that skips stages, and of a loop back.
SKIP_RAD = -0.25
BACK_RAD = 0.45
#: Where the axes sit in the figure (left, bottom, width, height), fixed so that display
#: coordinates are known before drawing.
AXES_BOX = (0.01, 0.01, 0.98, 0.88)
#: Gap between an arrow's ends and its boxes' centres, in points.
SHRINK = 22


def layout(cal: Calibration) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """The stages kept and each node's position: the stages in the order a walk from the
    entry first reaches them, one column each, on y = 0; ``won`` at the row's end; the
    other ends spread on a row below."""
    keep, _ = stages_kept(cal)
    order = [cal.entry]
    for sid in order:
        for target in routes(cal, sid):
            if target not in TERMINALS and target not in order and target in keep:
                order.append(target)
    ends = sorted({t for s in keep for t in routes(cal, s) if t in TERMINALS})
    last = len(order)
    pos = {s: (float(i), 0.0) for i, s in enumerate(order)}
    below = [t for t in ends if t != WON.name]
    for i, t in enumerate(below):
        pos[t] = ((last - 1) * (i + 1) / (len(below) + 1), -1.5)
    if WON.name in ends:
        pos[WON.name] = (float(last), 0.0)
    return keep, pos


def curvature(start: tuple[float, float], end: tuple[float, float], target: str) -> float:
    """The arc3 rad of an arrow: a loop back arcs high, a forward skip arcs above the row,
    the rest are straight."""
    (x0, y0), (x1, _) = start, end
    if target not in TERMINALS and x1 <= x0:
        return BACK_RAD
    if target not in TERMINALS and y0 == 0 and x1 - x0 > 1:
        return SKIP_RAD
    return 0.0


def arc_point(a: np.ndarray, b: np.ndarray, rad: float, t: float = 0.5) -> np.ndarray:
    """The point at parameter t of matplotlib's ``arc3`` curve from a to b (display
    coordinates): the quadratic Bezier (1 - t)^2 a + 2 t (1 - t) c + t^2 b with control
    point c = m + rad (dy, -dx), m the chord's middle; at t = 1/2, m + rad / 2 (dy, -dx)."""
    d = b - a
    c = (a + b) / 2 + rad * np.array([d[1], -d[0]])
    return (1 - t) ** 2 * a + 2 * t * (1 - t) * c + t**2 * b


#: Where on its arrow a share sits: the middle of an arrow along the row; nearer the stage
#: on an arrow down to an end, where the arrows to the ends have not yet crossed others.
ROW_T, DOWN_T = 0.5, 0.3


def routing_figure(cal: Calibration) -> Figure:
    """The routing diagram; arrows carry the gid ``edge:<from>-><to>`` and their share
    labels ``share:<from>-><to>`` (what the tests read back)."""
    keep, pos = layout(cal)
    last = max(x for x, _ in pos.values())
    fig = Figure(figsize=(max(6.0, 2.2 * (last + 1)), 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(AXES_BOX)
    ax.set_xlim(-0.7, last + 0.7)
    ax.set_ylim(-2.0, 2.0)
    ax.axis("off")
    fig.suptitle("routing: shares of exits (red: back / loop)", fontsize=11)
    to_display = ax.transData
    for sid in keep:
        for target, share in routes(cal, sid).items():
            if target not in pos or sid not in pos:
                continue
            if target == sid:  # a repeat of the same stage: said beside its box
                x, y = pos[sid]
                ax.text(x, y + 0.35, f"again {share:.2f}", ha="center", fontsize=8,
                        color="tab:red", gid=f"share:{sid}->{target}")
                continue
            rad = curvature(pos[sid], pos[target], target)
            ax.annotate("", xy=pos[target], xytext=pos[sid], gid=f"edge:{sid}->{target}",
                        arrowprops=dict(arrowstyle="->",
                                        color="tab:red" if rad == BACK_RAD else "grey",
                                        connectionstyle=f"arc3,rad={rad}",
                                        shrinkA=SHRINK, shrinkB=SHRINK))
            a, b = to_display.transform(pos[sid]), to_display.transform(pos[target])
            t = DOWN_T if pos[target][1] < pos[sid][1] else ROW_T
            x, y = to_display.inverted().transform(arc_point(a, b, rad, t))
            ax.text(x, y, f"{share:.2f}", ha="center", va="center", fontsize=8, zorder=4,
                    gid=f"share:{sid}->{target}",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))
    for node, (x, y) in pos.items():
        ax.text(x, y, node, ha="center", va="center", fontsize=9, zorder=5, bbox=dict(
            boxstyle="round", fc="#e8f0fb" if node not in TERMINALS else "#f3f3f3"))
    return fig
