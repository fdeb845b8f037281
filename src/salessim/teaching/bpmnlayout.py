"""The BPMN picture's geometry: a pool with a lane per role, flows that go round the tasks.

Columns come from :func:`salessim.teaching.graph.layout`; each node then sits in its
lane (the role that works on it, or the customer), stacked in rows where a lane has
several nodes in one column. An end to lost or no decision sits in the row below the
node it leaves from, so its flow is a short drop, not a line along the process. Flows are
orthogonal: of a few candidate routes (straight, through the gap beside a column, along a
gutter between rows) the first that crosses no node it does not connect is taken. Labels
go where they overlap no node and no other label. bpmn-js draws an outside label in a box
90 px wide, wrapping longer text: the sizes here count with that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from salessim.teaching.graph import Graph, Node

POOL_X = 20.0
HEADS = 60.0  # the pool's and the lane's name bands, 30 px each
ROW = 130.0  # height of a row in a lane
PAD = 10.0  # above the first and below the last row of a lane
GAP = 20.0  # a column's end to the middle of the gap after it, at the least

Point = tuple[float, float]


@dataclass
class Lane:
    id: str
    name: str
    nodes: list[str] = field(default_factory=list)
    y: float = 0.0
    h: float = 0.0


@dataclass
class Picture:
    graph: Graph
    lanes: list[Lane]
    width: float
    height: float
    waypoints: dict[str, list[Point]] = field(default_factory=dict)
    labels: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)


def label_size(text: str) -> tuple[float, float]:
    """Width and height of an outside label as bpmn-js draws it (11 px, 90 px wide box)."""
    width = 6.0 * len(text) + 6
    lines = max(1, math.ceil(width / 90.0))
    return min(width, 90.0), 15.0 * lines


def place(g: Graph, lane_of: dict[str, str], lanes: list[Lane], below: dict[str, str]
          ) -> Picture:
    """Put the laid-out nodes in their lanes and rows; ``below`` maps an end node to the
    node it hangs under (same column and lane, the row right below it)."""
    for n in below:
        g.nodes[n].layer = g.nodes[below[n]].layer
        g.nodes[n].x = g.nodes[below[n]].cx - g.nodes[n].w / 2
    cells: dict[tuple[str, int], list[str]] = {}
    hanging: dict[str, list[str]] = {}
    for end, src in below.items():
        hanging.setdefault(src, []).append(end)
    for n in sorted((n for n in g.nodes if n not in below), key=lambda n: g.nodes[n].y):
        for m in [n, *hanging.get(n, [])]:  # an end right under where it leaves from
            cells.setdefault((lane_of[m], g.nodes[m].layer), []).append(m)
    rows = {lane.id: max([len(v) for (lid, _), v in cells.items() if lid == lane.id] or [1])
            for lane in lanes}
    y = 0.0
    for lane in lanes:
        lane.y, lane.h = y, 2 * PAD + rows[lane.id] * ROW
        lane.nodes = [n for (lid, _), v in cells.items() if lid == lane.id for n in v]
        y += lane.h
    top = {lane.id: lane.y for lane in lanes}
    for (lid, _), names in cells.items():
        for r, n in enumerate(names):
            node = g.nodes[n]
            node.y = top[lid] + PAD + r * ROW + (ROW - node.h) / 2
    shift = POOL_X + HEADS + 10.0
    for node in g.nodes.values():
        node.x += shift
    width = max(n.x + n.w for n in g.nodes.values()) + 30.0
    pic = Picture(g, lanes, width, y)
    gutters = sorted({lane.y + PAD + r * ROW for lane in lanes
                      for r in range(rows[lane.id] + 1)})
    columns: dict[int, list[Node]] = {}
    for node in g.nodes.values():
        columns.setdefault(node.layer, []).append(node)
    right = {k: max(n.x + n.w for n in col) for k, col in columns.items()}
    left = {k: min(n.x for n in col) for k, col in columns.items()}
    last = max(columns)

    def gap_after(k: int) -> float:
        return (right[k] + left[k + 1]) / 2 if k < last else right[k] + GAP

    def gap_before(k: int) -> float:
        return gap_after(k - 1) if k > 0 else left[k] - GAP

    ports = _ports(g, below)
    drawn: list[tuple[Point, Point]] = []
    for e in g.edges:
        a, b = g.nodes[e.src], g.nodes[e.dst]
        options = _routes(a, b, gap_after(a.layer), gap_before(b.layer), gutters)
        port = ports.get(e.id)
        if port in ("top", "bottom"):
            options = _side_routes(a, b, port, gap_before(b.layer), gutters) + options
        elif port in ("low", "high"):  # from the lower or upper right edge, beside the main flow
            s = (a.cx + a.w / 4, a.cy + (a.h if port == "low" else -a.h) / 4)
            options = _right_routes(s, a, b, gap_after(a.layer) - 10,
                                    gap_before(b.layer) - 10, gutters) + options
        chosen, fallback = None, None
        for route in options:  # the first clear of nodes and of the flows drawn so far
            if not _crosses(g, route, (e.src, e.dst)):
                fallback = fallback or route
                if not _along(route, drawn):
                    chosen = route
                    break
        pic.waypoints[e.id] = chosen or fallback or options[0]
        drawn += [(p, q) for p, q in zip(pic.waypoints[e.id], pic.waypoints[e.id][1:],
                                         strict=False)]
    _labels(pic)
    return pic


def _ports(g: Graph, below: dict[str, str]) -> dict[str, str]:
    """Which side each flow leaves a node with several ways out: the forward flow to the
    nearest column (then row) leaves on the right, a drop to a hanging end at the bottom, the others at the
    top or bottom towards their target, then from the lower or upper right edge (each side
    once while there are sides), so no two flows share a stretch."""
    outs: dict[str, list] = {}
    for e in g.edges:
        outs.setdefault(e.src, []).append(e)
    ports: dict[str, str] = {}
    for src, edges in outs.items():
        if len(edges) < 2:
            continue
        a = g.nodes[src]
        used: set[str] = set()
        forward = [e for e in edges if g.nodes[e.dst].layer > a.layer and e.dst not in below]
        if forward:
            main = min(forward, key=lambda e: (g.nodes[e.dst].layer,
                                               abs(g.nodes[e.dst].cy - a.cy)))
            ports[main.id] = "right"
            used.add("right")
        for e in sorted(edges, key=lambda e: e.dst not in below):
            if e.id in ports:
                continue
            up = g.nodes[e.dst].cy <= a.cy and e.dst not in below
            sides = (["top", "high", "bottom", "right", "low"] if up else
                     ["bottom", "low", "right", "top", "high"])
            ports[e.id] = next((side for side in sides if side not in used), "low")
            used.add(ports[e.id])
    return ports


def _side_routes(a: Node, b: Node, side: str, xb: float, gutters: list[float]
                 ) -> list[list[Point]]:
    """Routes leaving ``a`` at its top or bottom."""
    up = side == "top"
    s = (a.cx, a.y if up else a.y + a.h)
    out: list[list[Point]] = []
    if abs(a.cx - b.cx) < 0.5 and (b.cy < a.cy) == up:
        out.append([s, (b.cx, b.y + b.h if up else b.y)])
    toward = (b.cy < s[1]) if up else (b.cy > s[1])
    if b.layer > a.layer and toward:
        out.append([s, (a.cx, b.cy), (b.x, b.cy)])
    side_gutters = [y for y in gutters if (y < s[1] if up else y > s[1])]
    for y in sorted(side_gutters, key=lambda y: abs(y - s[1])):
        if b.layer > a.layer:
            out.append([s, (a.cx, y), (xb, y), (xb, b.cy), (b.x, b.cy)])
        elif y < b.y:
            out.append([s, (a.cx, y), (b.cx, y), (b.cx, b.y)])
        elif y > b.y + b.h:
            out.append([s, (a.cx, y), (b.cx, y), (b.cx, b.y + b.h)])
    return out


def _routes(a: Node, b: Node, xa: float, xb: float, gutters: list[float]) -> list[list[Point]]:
    """Candidate routes from ``a`` to ``b``, simplest first."""
    out: list[list[Point]] = []
    if b.layer == a.layer and abs(a.cx - b.cx) < 0.5:
        down = b.cy > a.cy
        out.append([(a.cx, a.y + a.h if down else a.y), (b.cx, b.y if down else b.y + b.h)])
    if b.layer <= a.layer:
        low = max(a.y + a.h, b.y + b.h)
        high = min(a.y, b.y)
        for y in sorted(gutters, key=lambda y: abs(y - a.cy) + abs(y - b.cy)):
            if y >= low:
                out.append([(a.cx, a.y + a.h), (a.cx, y), (b.cx, y), (b.cx, b.y + b.h)])
            if y <= high:
                out.append([(a.cx, a.y), (a.cx, y), (b.cx, y), (b.cx, b.y)])
    return _right_routes((a.x + a.w, a.cy), a, b, xa, xb, gutters) + out


def _right_routes(s: Point, a: Node, b: Node, xa: float, xb: float, gutters: list[float]
                  ) -> list[list[Point]]:
    """Routes leaving ``a`` rightwards from ``s``: into ``b``'s left side (its right side
    when it is in the same column), through the gaps beside the columns and the gutters."""
    out: list[list[Point]] = []
    if b.layer == a.layer:
        out.append([s, (xa, s[1]), (xa, b.cy), (b.x + b.w, b.cy)])
        return out
    if b.layer > a.layer:
        if abs(s[1] - b.cy) < 0.5:
            out.append([s, (b.x, b.cy)])
        out.append([s, (xb, s[1]), (xb, b.cy), (b.x, b.cy)])
        out.append([s, (xa, s[1]), (xa, b.cy), (b.x, b.cy)])
    for y in sorted(gutters, key=lambda y: abs(y - s[1]) + abs(y - b.cy)):
        out.append([s, (xa, s[1]), (xa, y), (xb, y), (xb, b.cy), (b.x, b.cy)])
    return out


def _along(points: list[Point], drawn: list[tuple[Point, Point]]) -> bool:
    """Would a route run along a stretch of a flow already drawn (more than a few px)?"""
    for p, q in zip(points, points[1:], strict=False):
        for u, v in drawn:
            if p[1] == q[1] == u[1] == v[1]:
                a, b = sorted((p[0], q[0])), sorted((u[0], v[0]))
            elif p[0] == q[0] == u[0] == v[0]:
                a, b = sorted((p[1], q[1])), sorted((u[1], v[1]))
            else:
                continue
            if min(a[1], b[1]) - max(a[0], b[0]) > 3:
                return True
    return False


def segment_hits(p: Point, q: Point, box: tuple[float, float, float, float]) -> bool:
    """Does the axis-parallel segment p-q pass through the inside of box (x, y, w, h)?"""
    x, y, w, h = box
    (x1, y1), (x2, y2) = p, q
    lo_x, hi_x, lo_y, hi_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    return lo_x < x + w and hi_x > x and lo_y < y + h and hi_y > y


def _crosses(g: Graph, points: list[Point], ends: tuple[str, str]) -> bool:
    for n in g.nodes.values():
        if n.id in ends:
            continue
        box = (n.x - 3, n.y - 3, n.w + 6, n.h + 6)
        if any(segment_hits(p, q, box) for p, q in zip(points, points[1:], strict=False)):
            return True
    return False


def _labels(pic: Picture) -> None:
    """Outside labels of named flows, gateways and events, clear of nodes and each other."""
    g = pic.graph
    taken = [(n.x - 2, n.y - 2, n.w + 4, n.h + 4) for n in g.nodes.values()
             if n.kind in ("task", "userTask")]
    taken += [(n.x, n.y, n.w, n.h) for n in g.nodes.values() if n.kind not in ("task", "userTask")]
    for points in pic.waypoints.values():  # the flows' lines, a little thickened
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            taken.append((min(x1, x2) - 2, min(y1, y2) - 2, abs(x2 - x1) + 4, abs(y2 - y1) + 4))

    def free(box: tuple[float, float, float, float]) -> bool:
        x, y, w, h = box
        return all(not (x < bx + bw and x + w > bx and y < by + bh and y + h > by)
                   for bx, by, bw, bh in taken) and x > POOL_X + HEADS and y > 0

    def put(key: str, candidates: list[tuple[float, float, float, float]]) -> None:
        box = next((c for c in candidates if free(c)), candidates[0])
        pic.labels[key] = box
        taken.append(box)

    for n in g.nodes.values():
        name = n.lines[0] if n.lines else ""
        if not name or n.kind in ("task", "userTask"):
            continue
        w, h = label_size(name)
        above, under = (n.cx - w / 2, n.y - h - 4, w, h), (n.cx - w / 2, n.y + n.h + 4, w, h)
        aside = [(n.x - w - 4, n.y - h, w, h), (n.x + n.w + 4, n.y - h, w, h),
                 (n.x - w - 4, n.y + n.h, w, h), (n.x + n.w + 4, n.y + n.h, w, h)]
        put(n.id, ([under, above] if n.kind.endswith("Event") else [above, under]) + aside)
    for e in g.edges:
        if not e.label:
            continue
        w, h = label_size(e.label)
        points = pic.waypoints[e.id]
        candidates = []
        for p, q in zip(points, points[1:], strict=False):
            for t in (0.0, 0.5, 0.8):
                x, y = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
                if abs(p[1] - q[1]) < 0.5:  # along a horizontal stretch: above it, then below
                    candidates += [(x + 4, y - h - 2, w, h), (x + 4, y + 2, w, h)]
                else:
                    candidates += [(x + 4, y + 4, w, h), (x - w - 4, y + 4, w, h)]
        put(e.id, candidates)
