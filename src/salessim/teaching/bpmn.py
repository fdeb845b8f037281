"""The process as BPMN 2.0 XML with diagram interchange (opens in bpmn.io, Camunda Modeler).

Mapping: the process is one pool with a lane per role (and one for the customer); a lead's
creation is the start event; a stage is drawn by its kind (``StageKind.bpmn``: a task, a
user task when staff work on it, named with its roles; parallel tasks between a parallel
split and join; an approval chain as one user task per level, each behind a gateway that
lets smaller deals pass), in the lane of the role that works on it; a stage's customer-side
delay is a timer event in the customer's lane (before the work with ``order:
customer_first``), and so is a parallel task's or an approval level's, after it; ``next`` with several targets is an exclusive gateway whose flows carry
the shares; an ``only_if`` rule is an exclusive gateway before the stage with a skip flow;
won is one end event at the far right, and each move to lost or no decision has its own end
event right below where it leaves. Each role is a BPMN resource that performs its tasks,
and BPSim data (:mod:`salessim.teaching.bpmnsim`) carries the times, shares, arrivals and
headcounts. Geometry: :mod:`salessim.teaching.bpmnlayout`.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from salessim.ends import NOT_FORWARD, WON
from salessim.model.kinds import kind_of
from salessim.model.kinds.words import duration, money
from salessim.scenario.mechanics import Staffed
from salessim.scenario.schema import TERMINALS, Scenario, Stage
from salessim.scenario.units import UNIT_HOURS
from salessim.teaching.bpmnlayout import Lane, Picture, place
from salessim.teaching.bpmnsim import NS as BPSIM
from salessim.teaching.bpmnsim import bpsim
from salessim.teaching.graph import Edge, Graph, Node, layout

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "bpsim": BPSIM,
}
SIZES = {"startEvent": (36, 36), "endEvent": (36, 36), "intermediateCatchEvent": (36, 36),
         "task": (120, 70), "userTask": (120, 70), "exclusiveGateway": (50, 50),
         "parallelGateway": (50, 50)}
CUSTOMER = "customer"


class _Draw:
    """The pen a stage kind draws its BPMN nodes with (``StageKind.bpmn``)."""

    def __init__(self, node, flow) -> None:
        self.node, self.flow = node, flow


class _Model:
    """The flow nodes, flows, lanes and simulation data of a scenario, before layout."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.lane_of: dict[str, str] = {}
        self.docs: dict[str, str] = {}  # node -> documentation (a gateway's full rule)
        self.timers: dict[str, float] = {}  # timer node -> its mean, in the time unit
        self.times: dict[str, object] = {}  # node -> the distribution of its time (BPSim)
        self.shares: dict[str, float] = {}  # flow out of an exclusive gateway -> share
        self.performers: dict[str, list[str]] = {}  # task -> its roles
        self.below: dict[str, str] = {}  # an end to lost / no decision -> where it leaves
        self.stage = ""

    def node(self, nid: str, kind: str, name: str) -> str:
        self.nodes[nid] = Node(nid, kind, [name])
        found = re.search(r"\(([^()]*)\)$", name)
        roles = [r for r in (found.group(1).split("+") if found else []) if r in self.sc.roles]
        if roles and kind in ("task", "userTask"):
            self.performers[nid] = roles
        stage = self.sc.stages.get(self.stage)
        own = stage.staff[0] if stage is not None and stage.staff else CUSTOMER
        self.lane_of[nid] = roles[0] if roles else (CUSTOMER if found else own)
        return nid

    def flow(self, src: str, dst: str, name: str = "") -> str:
        fid = f"Flow_{len(self.edges) + 1}"
        self.edges.append(Edge(fid, src, dst, name))
        return fid

    def end(self, src: str, terminal: str) -> str:
        """The end event a move to ``terminal`` from ``src`` goes to."""
        if terminal not in NOT_FORWARD:
            return f"End_{terminal}"
        nid = f"End_{terminal}_{src}"
        self.node(nid, "endEvent", terminal.replace("_", " "))
        self.lane_of[nid] = self.lane_of[src]
        self.below[nid] = src
        return nid


def _entry(model: _Model, target: str, src: str) -> str:
    if target in TERMINALS:
        return model.end(src, target)
    stage = model.sc.stages[target]
    if stage.only_if is not None:
        return f"Skip_{target}"
    return f"Wait_{target}" if _customer_first(stage) else f"In_{target}"


def _customer_first(stage: Stage) -> bool:
    return stage.delay is not None and bool(stage.staff) and stage.order == "customer_first"


def _model(scenario: Scenario) -> _Model:
    m = _Model(scenario)
    m.stage = scenario.entry
    m.node("Start", "startEvent", "lead created")
    if any(WON.name in s.implied.routes or (s.only_if and s.only_if.otherwise == WON.name)
           for s in scenario.stages.values()):
        m.node(f"End_{WON.name}", "endEvent", WON.label)
    m.flow("Start", _entry(m, scenario.entry, "Start"))
    for sid, stage in scenario.stages.items():
        m.stage = sid
        last = kind_of(stage).bpmn(sid, stage, _Draw(m.node, m.flow))
        if stage.work is not None and f"In_{sid}" in m.performers:
            m.times[f"In_{sid}"] = stage.work
        _inner_parts(m, sid, stage)
        if stage.delay is not None and stage.staff:  # the customer's side: a timer
            timer = m.node(f"Wait_{sid}", "intermediateCatchEvent",
                           f"customer {duration(stage.delay.mean, scenario.time_unit)}")
            m.lane_of[timer] = CUSTOMER
            m.timers[timer], m.times[timer] = stage.delay.mean, stage.delay
            if _customer_first(stage):
                m.flow(timer, f"In_{sid}")
            else:
                m.flow(last, timer)
                last = timer
        targets = {t: p for t, p in stage.implied.routes.items() if p > 0}
        if stage.only_if is not None:
            m.node(f"Skip_{sid}", "exclusiveGateway",
                   f"value > {money(stage.only_if.deal_value_above)}?")
            first = f"Wait_{sid}" if _customer_first(stage) else f"In_{sid}"
            m.flow(f"Skip_{sid}", first, "yes")
        route = None
        if len(targets) > 1:
            route = m.node(f"Route_{sid}", "exclusiveGateway", "")
            m.docs[route] = _gateway_name(sid, stage)
            m.flow(last, route)
            for t, p in targets.items():
                m.shares[m.flow(route, _entry(m, t, route), f"{p:.0%}")] = p
        else:
            m.flow(last, _entry(m, next(iter(targets)), last))
        if stage.only_if is not None:
            otherwise = stage.only_if.otherwise
            skip_to = (_entry(m, otherwise, f"Skip_{sid}") if otherwise else
                       route or _entry(m, next(iter(targets)), f"Skip_{sid}"))
            m.flow(f"Skip_{sid}", skip_to, "skip")
    into_won = [e.src for e in m.edges if e.dst == f"End_{WON.name}"]
    if into_won:  # won sits in the lane of the last step before it
        m.lane_of[f"End_{WON.name}"] = m.lane_of[into_won[-1]]
    for n in m.nodes.values():
        n.w, n.h = SIZES[n.kind]
    return m


def _inner_parts(m: _Model, sid: str, stage: Stage) -> None:
    """Parallel tasks and approval levels: their work times, and a timer after each one
    with a customer-side delay (the flows that left the task leave the timer)."""
    parts: dict[str, Staffed] = {f"Task_{sid}_{t}": task
                                 for t, task in (stage.parallel or {}).items()}
    parts |= {f"Task_{sid}_{i}": level for i, level in enumerate(stage.approvals or [])}
    for tid, part in parts.items():
        if tid not in m.nodes:
            continue
        if part.work is not None:
            m.times[tid] = part.work
        if part.delay is not None:
            timer = m.node(f"Wait_{tid}", "intermediateCatchEvent",
                           f"customer {duration(part.delay.mean, m.sc.time_unit)}")
            m.lane_of[timer] = CUSTOMER
            m.timers[timer], m.times[timer] = part.delay.mean, part.delay
            for e in m.edges:
                if e.src == tid:
                    e.src = timer
            m.flow(tid, timer)


def _gateway_name(sid: str, stage: Stage) -> str:
    """The routing gateway's rule: the exits' race and the time-out, when the stage has
    them (its flows carry the implied shares)."""
    name = f"first exit of {sid}" if stage.exits is not None else f"after {sid}"
    if stage.timeout is not None:
        name += f" (time-out {stage.timeout.after:g} -> {stage.timeout.to})"
    return name


def bpmn_picture(scenario: Scenario) -> tuple[_Model, Picture]:
    """The BPMN model of a scenario and its picture: lanes, positions, routes, labels."""
    m = _model(scenario)
    hanging = {n: m.nodes[n] for n in m.below}
    to_ends = [e for e in m.edges if e.dst in hanging]
    g = layout(Graph({k: v for k, v in m.nodes.items() if k not in hanging},
                     [e for e in m.edges if e.dst not in hanging]), "Start")
    g.nodes.update(hanging)
    g.edges = [e for e in m.edges if e.dst not in hanging] + to_ends
    used = set(m.lane_of.values())
    lanes = [Lane(r, r) for r in scenario.roles if r in used]
    lanes += [Lane(CUSTOMER, "customer")] if CUSTOMER in used else []
    return m, place(g, m.lane_of, lanes, m.below)


def bpmn_xml(scenario: Scenario) -> str:
    """BPMN 2.0 XML of the scenario: a pool with its lanes, the process, its diagram and
    its BPSim parameters."""
    m, pic = bpmn_picture(scenario)
    g = pic.graph
    incoming: dict[str, list[str]] = {n: [] for n in g.nodes}
    outgoing: dict[str, list[str]] = {n: [] for n in g.nodes}
    for e in g.edges:
        outgoing[e.src].append(e.id)
        incoming[e.dst].append(e.id)
    head = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    roles = {f"Role_{r}": r for r in scenario.roles}
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<bpmn:definitions {head} id="Definitions_salessim" '
           'targetNamespace="urn:salessim:scenario" exporter="salessim">']
    out += [f"  <bpmn:resource id={quoteattr(k)} name={quoteattr(r)}/>" for k, r in roles.items()]
    out += ['  <bpmn:collaboration id="Collaboration_1">',
            f'    <bpmn:participant id="Participant_1" name={quoteattr(scenario.name)} '
            'processRef="Process_1"/>', "  </bpmn:collaboration>",
            f'  <bpmn:process id="Process_1" name={quoteattr(scenario.name)} isExecutable="false">',
            '    <bpmn:laneSet id="LaneSet_1">']
    for lane in pic.lanes:
        out.append(f"      <bpmn:lane id={quoteattr('Lane_' + lane.id)} "
                   f"name={quoteattr(lane.name)}>")
        out += [f"        <bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in lane.nodes]
        out.append("      </bpmn:lane>")
    out.append("    </bpmn:laneSet>")
    unit_hours = UNIT_HOURS[scenario.time_unit]
    for n in g.nodes.values():
        out.append(f'    <bpmn:{n.kind} id="{n.id}" name={quoteattr(n.lines[0])}>')
        if n.id in m.docs:
            out.append(f"      <bpmn:documentation>{escape(m.docs[n.id])}</bpmn:documentation>")
        out += [f"      <bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[n.id]]
        out += [f"      <bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[n.id]]
        if n.id in m.timers:
            out.append(f'      <bpmn:timerEventDefinition id="Timer_{n.id}"><bpmn:timeDuration '
                       f'xsi:type="bpmn:tFormalExpression">PT{m.timers[n.id] * unit_hours:.4g}H'
                       "</bpmn:timeDuration></bpmn:timerEventDefinition>")
        out += [f"      <bpmn:performer id=\"Performer_{n.id}_{r}\"><bpmn:resourceRef>Role_{r}"
                "</bpmn:resourceRef></bpmn:performer>" for r in m.performers.get(n.id, [])]
        out.append(f"    </bpmn:{n.kind}>")
    for e in g.edges:
        name = f" name={quoteattr(e.label)}" if e.label else ""
        out.append(f'    <bpmn:sequenceFlow id="{e.id}" sourceRef="{e.src}" '
                   f'targetRef="{e.dst}"{name}/>')
    out += ["  </bpmn:process>", '  <bpmndi:BPMNDiagram id="Diagram_1">',
            '    <bpmndi:BPMNPlane id="Plane_1" bpmnElement="Collaboration_1">',
            _shape("Participant_1", (POOL, 0.0, pic.width - POOL, pic.height), horizontal=True)]
    out += [_shape("Lane_" + lane.id, (POOL + 30, lane.y, pic.width - POOL - 30, lane.h), horizontal=True)
            for lane in pic.lanes]
    for n in g.nodes.values():
        out.append(_shape(n.id, (n.x, n.y, n.w, n.h), pic.labels.get(n.id),
                          marker=n.kind == "exclusiveGateway"))
    for e in g.edges:
        points = "".join(f'<di:waypoint x="{x:.0f}" y="{y:.0f}"/>' for x, y in pic.waypoints[e.id])
        out.append(f'      <bpmndi:BPMNEdge id="{e.id}_di" bpmnElement="{e.id}">{points}'
                   f"{_label(pic.labels.get(e.id))}</bpmndi:BPMNEdge>")
    out += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>"]
    out += bpsim(scenario, m.times, m.shares, roles)
    out.append("</bpmn:definitions>")
    return "\n".join(out) + "\n"


POOL = 20.0


def _label(box) -> str:
    if box is None:
        return ""
    x, y, w, h = box
    return (f'<bpmndi:BPMNLabel><dc:Bounds x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" '
            f'height="{h:.0f}"/></bpmndi:BPMNLabel>')


def _shape(element: str, box, label=None, marker: bool = False, horizontal: bool = False) -> str:
    x, y, w, h = box
    extra = (' isMarkerVisible="true"' if marker else "") + (
        ' isHorizontal="true"' if horizontal else "")
    return (f'      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}"{extra}>'
            f'<dc:Bounds x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}"/>'
            f"{_label(label)}</bpmndi:BPMNShape>")


__all__ = ["bpmn_picture", "bpmn_xml"]
