"""The process as a graph with a layered layout, for every picture of it.

Nodes are the lead's start, the stages (or, for BPMN, tasks and gateways) and the ends;
edges are routing moves. The layout is our own: a depth-first search from the start marks
the edges that go back (loops), the other edges form a DAG whose longest-path depth is a
node's column, and nodes of one column are stacked in the order the search found them.
Ends share the last column. A column is as wide as its widest box, and the gap after it
wide enough for the labels of the arrows that leave it. Coordinates are in pixels, left
to right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from salessim.ends import NOT_FORWARD, WON
from salessim.model.kinds import kind_of
from salessim.model.kinds.words import duration, money
from salessim.scenario.schema import Scenario, Stage

COLUMN_GAP = 90.0
ROW_GAP = 40.0
MARGIN = 30.0
LINE = 16.0  # pixels per text line in a box
EXITS = NOT_FORWARD  # ends drawn as exits above the boxes (lost, no decision)


@dataclass
class Node:
    id: str
    kind: str  # start, stage, end (diagram); startEvent, task, userTask, exclusiveGateway, ...
    lines: list[str] = field(default_factory=list)
    w: float = 150.0
    h: float = 40.0
    x: float = 0.0  # top-left corner
    y: float = 0.0
    layer: int = 0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class Edge:
    id: str
    src: str
    dst: str
    label: str = ""
    kind: str = "flow"  # flow, loop (goes back), skip (only_if)


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float = 0.0
    height: float = 0.0
    #: Moves to lost / no decision, drawn as short exits above each box (not as long arrows
    #: to one far node, which would cross the whole picture).
    exits: list[Edge] = field(default_factory=list)
    top: float = 0.0  # room above the boxes for the exits


def layout(graph: Graph, start: str) -> Graph:
    """Place the nodes in columns and mark the edges that go back as loops."""
    out: dict[str, list[Edge]] = {n: [] for n in graph.nodes}
    for e in graph.edges:
        out[e.src].append(e)
    found: dict[str, int] = {}
    on_stack: set[str] = set()

    def dfs(n: str) -> None:  # recursion depth is the number of stages: small
        found[n] = len(found)
        on_stack.add(n)
        for e in out[n]:
            if e.dst in on_stack:
                if e.kind == "flow":
                    e.kind = "loop"
            elif e.dst not in found:
                dfs(e.dst)
        on_stack.discard(n)

    dfs(start)
    for n in graph.nodes:
        if n not in found:
            dfs(n)
    order = sorted(graph.nodes, key=found.__getitem__)
    layer = dict.fromkeys(graph.nodes, 0)
    forward = [e for e in graph.edges if e.kind != "loop"]
    for _ in range(len(graph.nodes)):  # longest path by relaxation (a DAG: settles fast)
        changed = False
        for e in forward:
            if layer[e.dst] < layer[e.src] + 1:
                layer[e.dst] = layer[e.src] + 1
                changed = True
        if not changed:
            break
    ends = [n for n, node in graph.nodes.items() if node.kind in ("end", "endEvent")]
    last = max((layer[n] for n in graph.nodes if n not in ends), default=0) + 1
    for n in ends:
        layer[n] = last
    columns: dict[int, list[Node]] = {}
    for n in order:
        graph.nodes[n].layer = layer[n]
        columns.setdefault(layer[n], []).append(graph.nodes[n])
    widths = [max((n.w for n in columns.get(k, [])), default=0.0) for k in range(max(columns) + 1)]
    # A column's gap is wide enough for the labels of the arrows that start in it.
    gaps = [COLUMN_GAP] * (max(columns) + 1)
    for e in forward:
        if e.label and not blocked_layers(layer, e, graph):
            k = layer[e.src]
            gaps[k] = max(gaps[k], label_width(e.label) + 24.0)
    lefts = [MARGIN]
    for k in range(max(columns)):
        lefts.append(lefts[-1] + widths[k] + gaps[k])
    heights = {k: sum(n.h for n in col) + ROW_GAP * (len(col) - 1) for k, col in columns.items()}
    tallest = max(heights.values())
    per_node: dict[str, int] = {}
    for e in graph.exits:
        per_node[e.src] = per_node.get(e.src, 0) + 1
    top = 36.0 + 13.0 * (max(per_node.values()) - 1) if per_node else 0.0
    graph.top = top
    for k, col in columns.items():
        y = MARGIN + top + (tallest - heights[k]) / 2
        for node in col:
            node.x = lefts[k] + (widths[k] - node.w) / 2
            node.y = y
            y += node.h + ROW_GAP
    graph.width = lefts[-1] + widths[-1] + MARGIN
    # Loops, and forward arrows that would cross a box, go round under the boxes.
    under = any(e.kind == "loop" or blocked(graph, e) for e in graph.edges)
    graph.height = 2 * MARGIN + top + tallest + (70.0 if under else 0.0)
    return graph


def label_width(text: str) -> float:
    """The width of an arrow's label in pixels (11 px sans-serif, a little generous)."""
    return 6.2 * len(text)


def blocked_layers(layer: dict[str, int], e: Edge, graph: Graph) -> bool:
    """Does ``e`` jump columns (its label then goes under the boxes, not in a gap)?"""
    return e.kind == "loop" or layer[e.dst] != layer[e.src] + 1


def blocked(graph: Graph, e: Edge) -> bool:
    """Would ``e``, drawn straight ahead, cross a box it does not connect? (a forward arrow
    that jumps over a stage of the same row: offer -> won past documents)"""
    a, b = graph.nodes[e.src], graph.nodes[e.dst]
    if e.kind == "loop" or b.layer <= a.layer + 1:
        return False
    low, high = sorted((a.cy, b.cy))
    return any(a.layer < n.layer < b.layer and n.y - 4 <= high and low <= n.y + n.h + 4
               for n in graph.nodes.values())


def stage_lines(stage: Stage, sid: str, unit: str) -> list[str]:
    """The lines of a stage's box: name, roles, its kind's details, skip rule and delay."""
    lines = [sid]
    if stage.staff:
        lines.append(" + ".join(stage.staff))
    lines += kind_of(stage).box(stage, unit)
    if stage.only_if is not None:
        lines.append(f"only if value > {money(stage.only_if.deal_value_above)}")
    first = " first" if stage.order == "customer_first" else ""
    if stage.delay is not None:
        lines.append(f"customer {duration(stage.delay.mean, unit)}{first}")
    if stage.exits is not None:
        lines.append(f"exits race{first}: " + ", ".join(
            f"{t} {duration(e.time.mean, unit)}" for t, e in stage.exits.items()))
    if stage.timeout is not None:
        lines.append(f"time-out {duration(stage.timeout.after, unit)} -> {stage.timeout.to}")
    return lines


def process_graph(scenario: Scenario, notes: dict[str, list[str]] | None = None) -> Graph:
    """Stages with their roles and kinds, routing shares, loops, skips and the ends.

    Args:
        scenario: the scenario.
        notes: extra lines per stage id, and ``start`` for the start box (a run's figures),
            shown in the boxes.
    """
    notes = notes or {}
    unit = scenario.time_unit
    nodes = {"start": Node("start", "start", ["leads: " + ", ".join(scenario.sources)]
                           + notes.get("start", []))}
    for sid, stage in scenario.stages.items():
        lines = stage_lines(stage, sid, unit) + notes.get(sid, [])
        nodes[sid] = Node(sid, "stage", lines)
    nodes[WON.name] = Node(WON.name, "end", [WON.label])
    edges = [Edge("e0", "start", scenario.entry)]
    exits: list[Edge] = []
    for sid, stage in scenario.stages.items():
        for target, p in stage.implied.routes.items():
            if p > 0 and target in EXITS:
                exits.append(Edge(f"x{len(exits)}", sid, target, f"{p:.0%}", "exit"))
            elif p > 0:
                edges.append(Edge(f"e{len(edges)}", sid, target, f"{p:.0%}"))
        if stage.only_if is not None and stage.only_if.otherwise in EXITS:
            exits.append(Edge(f"x{len(exits)}", sid, stage.only_if.otherwise,
                              f"skip if <= {money(stage.only_if.deal_value_above)}", "exit"))
        elif stage.only_if is not None and stage.only_if.otherwise is not None:
            edges.append(Edge(f"e{len(edges)}", sid, stage.only_if.otherwise,
                              f"skip if <= {money(stage.only_if.deal_value_above)}", "skip"))
    for node in nodes.values():
        node.w = max(130.0, 7.2 * max(len(s) for s in node.lines) + 16)
        node.h = LINE * len(node.lines) + 14
    if not any(e.dst == WON.name for e in edges):
        del nodes[WON.name]
    return layout(Graph(nodes, edges, exits=exits), "start")
