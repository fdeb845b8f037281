"""The process as BPMN 2.0 XML with diagram interchange (opens in bpmn.io, Camunda Modeler).

Mapping: a lead's creation is the start event; a stage is drawn by its kind
(``StageKind.bpmn``: a task, a user task when staff work on it, named with its roles;
parallel tasks between a parallel split and join; an approval chain as one user task per
level, each behind a gateway that lets smaller deals pass); ``next`` with several targets
is an exclusive gateway whose flows carry the shares; an ``only_if`` rule is an exclusive
gateway before the stage with a skip flow; won, lost and no decision are end events. Shapes and edges are laid out by
:func:`salessim.teaching.graph.layout`.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from salessim.model.kinds import kind_of
from salessim.model.kinds.words import money
from salessim.scenario.schema import TERMINALS, Scenario, Stage
from salessim.teaching.graph import Edge, Graph, Node, layout

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
SIZES = {"startEvent": (36, 36), "endEvent": (36, 36), "task": (120, 70),
         "userTask": (120, 70), "exclusiveGateway": (50, 50), "parallelGateway": (50, 50)}


class _Draw:
    """The pen a stage kind draws its BPMN nodes with (``StageKind.bpmn``)."""

    def __init__(self, node, flow) -> None:
        self.node, self.flow = node, flow


def bpmn_graph(scenario: Scenario) -> Graph:
    """The BPMN flow nodes and sequence flows of a scenario, laid out."""
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []

    def node(nid: str, kind: str, name: str) -> str:
        nodes[nid] = Node(nid, kind, [name])
        return nid

    def flow(src: str, dst: str, name: str = "") -> None:
        edges.append(Edge(f"Flow_{len(edges) + 1}", src, dst, name))

    draw = _Draw(node, flow)

    def entry(target: str) -> str:
        if target in TERMINALS:
            return f"End_{target}"
        stage = scenario.stages[target]
        return f"Skip_{target}" if stage.only_if is not None else f"In_{target}"

    node("Start", "startEvent", "lead created")
    for t in TERMINALS:
        if any(t in s.implied.routes or (s.only_if and s.only_if.otherwise == t)
               for s in scenario.stages.values()):
            node(f"End_{t}", "endEvent", t.replace("_", " "))
    flow("Start", entry(scenario.entry))
    for sid, stage in scenario.stages.items():
        last = kind_of(stage).bpmn(sid, stage, draw)
        targets = {t: p for t, p in stage.implied.routes.items() if p > 0}
        if stage.only_if is not None:
            node(f"Skip_{sid}", "exclusiveGateway",
                 f"value > {money(stage.only_if.deal_value_above)}?")
            flow(f"Skip_{sid}", f"In_{sid}", "yes")
        if len(targets) > 1:
            route = node(f"Route_{sid}", "exclusiveGateway", _gateway_name(sid, stage))
            flow(last, route)
            for t, p in targets.items():
                flow(route, entry(t), f"{p:.0%}")
        else:
            route = None
            flow(last, entry(next(iter(targets))))
        if stage.only_if is not None:
            otherwise = stage.only_if.otherwise
            skip_to = entry(otherwise) if otherwise else (route or entry(next(iter(targets))))
            flow(f"Skip_{sid}", skip_to, "skip")
    for n in nodes.values():
        n.w, n.h = SIZES[n.kind]
    return layout(Graph(nodes, edges), "Start")


def _gateway_name(sid: str, stage: Stage) -> str:
    """The routing gateway's name: the exits' race and the time-out, when the stage has them
    (its flows carry the implied shares)."""
    name = f"first exit of {sid}" if stage.exits is not None else f"after {sid}"
    if stage.timeout is not None:
        name += f" (time-out {stage.timeout.after:g} -> {stage.timeout.to})"
    return name


def _waypoints(g: Graph, e: Edge) -> list[tuple[float, float]]:
    a, b = g.nodes[e.src], g.nodes[e.dst]
    if e.kind == "loop":
        low = g.height - 25.0
        return [(a.cx, a.y + a.h), (a.cx, low), (b.cx, low), (b.cx, b.y + b.h)]
    if b.x <= a.x:
        return [(a.cx, a.y + a.h), (a.cx, a.y + a.h + 15), (b.cx, b.y - 15), (b.cx, b.y)]
    mid = (a.x + a.w + b.x) / 2
    return [(a.x + a.w, a.cy), (mid, a.cy), (mid, b.cy), (b.x, b.cy)]


def bpmn_xml(scenario: Scenario) -> str:
    """BPMN 2.0 XML of the scenario: one process and its diagram (bpmndi)."""
    g = bpmn_graph(scenario)
    incoming: dict[str, list[str]] = {n: [] for n in g.nodes}
    outgoing: dict[str, list[str]] = {n: [] for n in g.nodes}
    for e in g.edges:
        outgoing[e.src].append(e.id)
        incoming[e.dst].append(e.id)
    head = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<bpmn:definitions {head} id="Definitions_salessim" '
           'targetNamespace="urn:salessim:scenario" exporter="salessim">',
           f'  <bpmn:process id="Process_1" name={quoteattr(scenario.name)} isExecutable="false">']
    for n in g.nodes.values():
        out.append(f'    <bpmn:{n.kind} id="{n.id}" name={quoteattr(n.lines[0])}>')
        out += [f"      <bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[n.id]]
        out += [f"      <bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[n.id]]
        out.append(f"    </bpmn:{n.kind}>")
    for e in g.edges:
        name = f" name={quoteattr(e.label)}" if e.label else ""
        out.append(f'    <bpmn:sequenceFlow id="{e.id}" sourceRef="{e.src}" '
                   f'targetRef="{e.dst}"{name}/>')
    out += ["  </bpmn:process>", '  <bpmndi:BPMNDiagram id="Diagram_1">',
            '    <bpmndi:BPMNPlane id="Plane_1" bpmnElement="Process_1">']
    for n in g.nodes.values():
        marker = ' isMarkerVisible="true"' if n.kind == "exclusiveGateway" else ""
        out.append(f'      <bpmndi:BPMNShape id="{n.id}_di" bpmnElement="{n.id}"{marker}>'
                   f'<dc:Bounds x="{n.x:.0f}" y="{n.y:.0f}" width="{n.w:.0f}" '
                   f'height="{n.h:.0f}"/></bpmndi:BPMNShape>')
    for e in g.edges:
        points = "".join(f'<di:waypoint x="{x:.0f}" y="{y:.0f}"/>' for x, y in _waypoints(g, e))
        out.append(f'      <bpmndi:BPMNEdge id="{e.id}_di" bpmnElement="{e.id}">{points}'
                   "</bpmndi:BPMNEdge>")
    out += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>", "</bpmn:definitions>"]
    return "\n".join(out) + "\n"


__all__ = ["bpmn_graph", "bpmn_xml"]
