"""The calibration report's routing diagram: each share sits on its own arrow, as drawn.

The label positions are read back from the drawn figure and measured against the arrows'
drawn paths (matplotlib's own, in display coordinates): a label lies on its arrow and
clearly farther from every other one."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from salessim.calibrate.routingfigure import arc_point, routing_figure


def _calibration(routing: dict[str, dict[str, float]]) -> SimpleNamespace:
    """What the diagram reads of a calibration: the entry, the stages, their shares."""
    return SimpleNamespace(entry=next(iter(routing)), times=dict.fromkeys(routing),
                           routing={s: SimpleNamespace(shares=r) for s, r in routing.items()})


#: A row of stages with losses from each, a skip (qualify -> demo), a loop back
#: (negotiation -> discovery), a repeat (demo -> demo) and two ends below the row.
ROUTING = {
    "qualify": {"discovery": 0.4, "demo": 0.1, "lost": 0.5},
    "discovery": {"demo": 0.7, "lost": 0.2, "no_decision": 0.1},
    "demo": {"proposal": 0.6, "demo": 0.1, "lost": 0.3},
    "proposal": {"negotiation": 0.75, "lost": 0.25},
    "negotiation": {"won": 0.6, "discovery": 0.1, "lost": 0.3},
}


def _drawn(fig):
    fig.canvas.draw()
    ax = fig.axes[0]
    paths, labels = {}, {}
    for child in ax.get_children():
        gid = child.get_gid() or ""
        if gid.startswith("edge:"):
            patch = child.arrow_patch
            path = patch.get_transform().transform_path(patch.get_path())
            # The drawn curve itself: each Bezier piece evaluated (its control points are
            # off the line), the arrow head's strokes included.
            paths[gid[5:]] = np.vstack([curve(np.linspace(0, 1, 40))
                                        for curve, _ in path.iter_bezier()])
        elif gid.startswith("share:"):
            box = child.get_window_extent()
            labels[gid[6:]] = (np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]),
                               child.get_text())
    return paths, labels


def _distance(point, vertices):
    """Distance from a point to a polyline."""
    a, b = vertices[:-1], vertices[1:]
    d = b - a
    t = np.clip(np.einsum("ij,ij->i", point - a, d) / np.maximum(
        np.einsum("ij,ij->i", d, d), 1e-12), 0, 1)
    return float(np.min(np.hypot(*(a + t[:, None] * d - point).T)))


def test_every_share_sits_on_its_own_arrow():
    paths, labels = _drawn(routing_figure(_calibration(ROUTING)))
    edges = {f"{s}->{t}" for s, r in ROUTING.items() for t in r if t != s}
    assert set(paths) == edges
    assert set(labels) == edges | {"demo->demo"}
    for edge, (point, text) in labels.items():
        source, target = edge.split("->")
        assert float(text.split()[-1]) == pytest.approx(ROUTING[source][target], abs=0.005)
        if source == target:  # a repeat: beside its box, clear of every arrow
            assert min(_distance(point, v) for v in paths.values()) >= 10.0
            continue
        own = _distance(point, paths[edge])
        others = min(_distance(point, v) for e, v in paths.items() if e != edge)
        # On its arrow (the text's centre within 2 pixels of the drawn line), and at least
        # five times as far from any other arrow.
        assert own <= 2.0, (edge, own)
        assert others >= max(5 * own, 10.0), (edge, own, others)


def test_the_label_point_is_on_the_arc():
    # A straight arrow's midpoint is the middle; arc3's bends by rad / 2 of the chord's length.
    a, b = np.array([0.0, 0.0]), np.array([100.0, 0.0])
    assert arc_point(a, b, 0.0) == pytest.approx([50.0, 0.0])
    assert arc_point(a, b, -0.25) == pytest.approx([50.0, 12.5])  # above the row
    assert arc_point(b, a, 0.45) == pytest.approx([50.0, 22.5])  # a loop back: above
    assert arc_point(a, b, 0.0, 0.3) == pytest.approx([30.0, 0.0])
