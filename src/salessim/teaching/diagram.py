"""Pictures of a process: SVG written directly, PNG through matplotlib, Graphviz DOT text.

All three draw the same :func:`salessim.teaching.graph.process_graph`: boxes for stages
(their roles, work, parallel tasks, approval levels, skip rule and customer-side time),
rounded boxes for the start and the ends, arrows with routing shares; loops (edges that
go back) are dashed curves under the boxes, skips dashed orange arrows. BPMN 2.0 is in
:mod:`salessim.teaching.bpmn`.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from salessim.ends import LOST, NO_DECISION, WON
from salessim.scenario.schema import Scenario
from salessim.teaching.graph import LINE, Edge, Graph, Node, blocked, label_width, process_graph

COLOURS = {"start": "#e8f1fb", "stage": "#ffffff", WON.name: "#e3f6e3", LOST.name: "#fbe3e3",
           NO_DECISION.name: "#f0f0f0"}
EDGE_COLOURS = {"flow": "#333333", "loop": "#1f5fbf", "skip": "#d9822b", "exit": "#b03030"}
EXIT_COLOURS = {LOST.name: "#b03030", NO_DECISION.name: "#777777"}


def _exits(g: Graph) -> list[tuple[Node, list[tuple[Edge, float]]]]:
    """Per box, its exits to lost / no decision and the x of each, spread over the box."""
    by_node: dict[str, list[Edge]] = {}
    for e in g.exits:
        by_node.setdefault(e.src, []).append(e)
    out = []
    for nid, exits in by_node.items():
        node = g.nodes[nid]
        step = node.w / (len(exits) + 1)
        out.append((node, [(e, node.x + step * (k + 1)) for k, e in enumerate(exits)]))
    return out


def _fill(node: Node) -> str:
    return COLOURS.get(node.id if node.kind == "end" else node.kind, "#ffffff")


def _edge_points(g: Graph, e: Edge) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """Bezier control points (start, c1, c2, end) and the label position."""
    a, b = g.nodes[e.src], g.nodes[e.dst]
    if e.kind == "loop":
        low = g.height - 25.0
        p = [(a.cx, a.y + a.h), (a.cx, low), (b.cx, low), (b.cx, b.y + b.h)]
        return p, ((a.cx + b.cx) / 2, low - 4)
    if blocked(g, e):  # under the boxes it jumps, beside the loops' band, into b's bottom
        low = g.height - 45.0
        sx, tx = a.cx + a.w / 4, b.cx - b.w / 4
        p = [(sx, a.y + a.h), (sx, low), (tx, low), (tx, b.y + b.h)]
        return p, ((sx + tx) / 2, low - 4)
    if a.layer == b.layer or b.x <= a.x:  # same column: out of the bottom, into the top
        p = [(a.cx, a.y + a.h), (a.cx, a.y + a.h + 20), (b.cx, b.y - 20), (b.cx, b.y)]
    else:
        drop = 14.0 if e.kind == "skip" else 0.0  # beside the stage's own arrow
        sx, sy, tx, ty = a.x + a.w, a.cy + drop, b.x, b.cy + drop
        mid = (sx + tx) / 2
        p = [(sx, sy), (mid, sy), (mid, ty), (tx, ty)]
    t = 0.35  # labels nearer the source, where arrows to one end are still apart
    x = sum(c * px for c, (px, _) in zip(_bern(t), p, strict=True))
    y = sum(c * py for c, (_, py) in zip(_bern(t), p, strict=True))
    if b.layer == a.layer + 1:  # the whole label in the gap between the columns
        half = label_width(e.label) / 2 + 3
        x = min(max(x, p[0][0] + half), max(p[-1][0] - half, p[0][0] + half))
    return p, (x, y + 13 if e.kind == "skip" else y - 3)


def _bern(t: float) -> tuple[float, float, float, float]:
    return ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3)


def svg(scenario: Scenario, notes: dict[str, list[str]] | None = None) -> str:
    """The process diagram as an SVG document."""
    g = process_graph(scenario, notes)
    out = [
        # Scaled to fit the window or slide it is shown in, however wide the process.
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {g.width:.0f} '
        f'{g.height:.0f}" preserveAspectRatio="xMidYMin meet" font-family="sans-serif" '
        'font-size="12">',
        f"<title>{escape(scenario.name)}</title>",
        '<defs>' + "".join(
            f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{c}"/></marker>' for k, c in EDGE_COLOURS.items()) + "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for e in g.edges:
        p, (lx, ly) = _edge_points(g, e)
        colour = EDGE_COLOURS[e.kind]
        dash = ' stroke-dasharray="5,4"' if e.kind != "flow" else ""
        d = f"M{p[0][0]:.1f},{p[0][1]:.1f} C" + " ".join(f"{x:.1f},{y:.1f}" for x, y in p[1:])
        out.append(f'<path class="edge {e.kind}" data-from={quoteattr(e.src)} '
                   f'data-to={quoteattr(e.dst)} d="{d}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.4"{dash} marker-end="url(#arrow-{e.kind})"/>')
        if e.label:
            label = f"loop {e.label}" if e.kind == "loop" else e.label
            out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" fill="{colour}" font-size="11" '
                       f'text-anchor="middle">{escape(label)}</text>')
    for node, exits in _exits(g):
        for k, (e, x) in enumerate(exits):
            colour = EXIT_COLOURS[e.dst]
            out.append(f'<g class="exit" data-from={quoteattr(e.src)} data-to={quoteattr(e.dst)}>'
                       f'<path d="M{x:.1f},{node.y:.1f} L{x:.1f},{node.y - 16 - 13 * k:.1f}" '
                       f'stroke="{colour}" stroke-width="1.4" marker-end="url(#arrow-exit)"/>'
                       f'<text x="{x:.1f}" y="{node.y - 20 - 13 * k:.1f}" fill="{colour}" '
                       f'font-size="11" text-anchor="middle">'
                       f'{escape(e.dst.replace("_", " "))} {escape(e.label)}</text></g>')
    for node in g.nodes.values():
        rx = 18 if node.kind in ("start", "end") else 4
        out.append(f'<g class="node {node.kind}" id={quoteattr("node-" + node.id)}>'
                   f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" '
                   f'height="{node.h:.1f}" rx="{rx}" fill="{_fill(node)}" stroke="#333"/>')
        for i, line in enumerate(node.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{node.cx:.1f}" y="{node.y + 19 + i * LINE:.1f}" '
                       f'text-anchor="middle"{weight}>{escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def dot(scenario: Scenario, notes: dict[str, list[str]] | None = None) -> str:
    """The process diagram as Graphviz DOT text (``dot -Tsvg`` draws it)."""
    g = process_graph(scenario, notes)

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(scenario.name)} {{", "  rankdir=LR;",
             '  node [fontname="sans-serif" fontsize=11];']
    for node in g.nodes.values():
        shape = "box" if node.kind == "stage" else "box, style=\"rounded,filled\""
        label = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in node.lines)
        lines.append(f'  {q(node.id)} [shape={shape}, fillcolor="{_fill(node)}", '
                     f'label="{label}"];')
    for t in sorted({e.dst for e in g.exits}):
        lines.append(f'  {q(t)} [shape=box, style="rounded,filled", '
                     f'fillcolor="{COLOURS[t]}", label={q(t)}];')
    for e in g.edges + g.exits:
        style = {"flow": "", "exit": "", "loop": ", style=dashed, constraint=false",
                 "skip": ", style=dashed, color=orange"}[e.kind]
        label = f"loop {e.label}" if e.kind == "loop" else e.label
        lines.append(f"  {q(e.src)} -> {q(e.dst)} [label={q(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def png(scenario: Scenario, path, notes: dict[str, list[str]] | None = None) -> None:
    """Draw the process diagram with matplotlib into a PNG file at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MPath

    g = process_graph(scenario, notes)
    dpi = 100
    fig = plt.figure(figsize=(g.width / dpi, g.height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, g.width)
    ax.set_ylim(g.height, 0)
    ax.axis("off")
    for e in g.edges:
        p, (lx, ly) = _edge_points(g, e)
        colour = EDGE_COLOURS[e.kind]
        curve = MPath(p, [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4])
        ax.add_patch(FancyArrowPatch(path=curve, arrowstyle="-|>", mutation_scale=10,
                                     color=colour, lw=1.2,
                                     linestyle="--" if e.kind != "flow" else "-"))
        if e.label:
            ax.text(lx, ly, f"loop {e.label}" if e.kind == "loop" else e.label, color=colour,
                    fontsize=8, ha="center", va="bottom")
    for node, exits in _exits(g):
        for k, (e, x) in enumerate(exits):
            colour = EXIT_COLOURS[e.dst]
            ax.add_patch(FancyArrowPatch((x, node.y), (x, node.y - 16 - 13 * k),
                                         arrowstyle="-|>", mutation_scale=9, color=colour,
                                         lw=1.2))
            ax.text(x, node.y - 19 - 13 * k, f"{e.dst.replace('_', ' ')} {e.label}", color=colour,
                    fontsize=8, ha="center", va="bottom")
    for node in g.nodes.values():
        style = "round,pad=0,rounding_size=12" if node.kind in ("start", "end") else \
            "round,pad=0,rounding_size=3"
        ax.add_patch(FancyBboxPatch((node.x, node.y), node.w, node.h, boxstyle=style,
                                    facecolor=_fill(node), edgecolor="#333333"))
        for i, line in enumerate(node.lines):
            ax.text(node.cx, node.y + 15 + i * LINE, line, ha="center", va="center",
                    fontsize=8.5, fontweight="bold" if i == 0 else "normal")
    from salessim.output import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
