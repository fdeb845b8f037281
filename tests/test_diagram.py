"""Diagrams: the SVG parses and names every stage, the BPMN is structurally valid (and opens
in bpmn-moddle, the bpmn.io parser, when node and the package are there), DOT and PNG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from salessim.cli import main
from salessim.scenario import load_scenario
from salessim.teaching import bpmn, diagram

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["b2b_baseline", "role_based", "tutorial", "handbook_funnel", "speed_to_lead"]
SVG = "{http://www.w3.org/2000/svg}"
B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
FLOW_NODES = ("startEvent", "endEvent", "task", "userTask", "exclusiveGateway",
              "parallelGateway", "intermediateCatchEvent")


def scenario(name: str):
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml")


@pytest.mark.parametrize("name", SCENARIOS)
def test_svg_parses_and_names_every_stage(name):
    sc = scenario(name)
    root = ET.fromstring(diagram.svg(sc))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for sid in sc.stages:
        assert sid in texts, f"stage {sid} not drawn"
        assert root.find(f".//{SVG}g[@id='node-{sid}']") is not None
    edges = [(p.get("data-from"), p.get("data-to"), p.get("class"))
             for p in root.iter(f"{SVG}path") if p.get("data-from")]
    exits = [(g.get("data-from"), g.get("data-to")) for g in root.iter(f"{SVG}g")
             if g.get("class") == "exit"]
    # Every routing move is drawn once: as an arrow, or as an exit to lost / no decision.
    moves = {(sid, t) for sid, s in sc.stages.items() for t, p in s.next.items() if p > 0}
    assert moves == {(a, b) for a, b, _ in edges if a != "start"} | set(exits)


def test_loops_and_skips_are_drawn_as_such():
    root = ET.fromstring(diagram.svg(scenario("b2b_baseline")))
    kinds: dict[tuple, set] = {}
    for p in root.iter(f"{SVG}path"):
        if p.get("data-from"):
            kinds.setdefault((p.get("data-from"), p.get("data-to")), set()).add(p.get("class"))
    assert kinds[("negotiation", "discovery")] == {"edge loop"}
    assert kinds[("close", "negotiation")] == {"edge loop"}
    assert kinds[("approval", "close")] == {"edge flow", "edge skip"}
    texts = " ".join(t.text for t in root.iter(f"{SVG}text"))
    assert "only if value > 50,000" in texts and "loop 10%" in texts
    rb = " ".join(t.text for t in ET.fromstring(diagram.svg(scenario("role_based"))).iter(
        f"{SVG}text"))
    assert "|| legal_review: legal" in rb and "approve > 100,000: vp" in rb


def parse_bpmn(text: str):
    root = ET.fromstring(text)
    process = root.find(f"{B}process")
    nodes = {el.get("id"): el.tag[len(B):] for el in process
             if el.tag[len(B):] in FLOW_NODES}
    flows = {el.get("id"): (el.get("sourceRef"), el.get("targetRef"))
             for el in process.iter(f"{B}sequenceFlow")}
    shapes = {el.get("bpmnElement") for el in root.iter(f"{DI}BPMNShape")}
    edges = {el.get("bpmnElement"): len(el) for el in root.iter(f"{DI}BPMNEdge")}
    return process, nodes, flows, shapes, edges


@pytest.mark.parametrize("name", SCENARIOS)
def test_bpmn_is_structurally_valid(name):
    process, nodes, flows, shapes, edges = parse_bpmn(bpmn.bpmn_xml(scenario(name)))
    for fid, (src, dst) in flows.items():
        assert src in nodes and dst in nodes, f"{fid}: {src} -> {dst}"
        assert edges.get(fid, 0) >= 2, f"{fid} has no BPMNEdge with waypoints"
    lanes = {el.get("id") for el in process.iter(f"{B}lane")}
    assert set(nodes) == shapes - lanes - {"Participant_1"}
    assert sum(1 for k in nodes.values() if k == "startEvent") == 1
    for nid, kind in nodes.items():
        el = process.find(f"{B}{kind}[@id='{nid}']")
        ins = {i.text for i in el.findall(f"{B}incoming")}
        outs = {o.text for o in el.findall(f"{B}outgoing")}
        assert ins == {f for f, (_, d) in flows.items() if d == nid}
        assert outs == {f for f, (s, _) in flows.items() if s == nid}
        assert kind == "endEvent" or outs, f"{nid} leads nowhere"
        assert kind == "startEvent" or ins, f"{nid} is unreachable"


def test_bpmn_maps_parallel_work_and_approvals_to_gateways():
    _, nodes, flows, _, _ = parse_bpmn(bpmn.bpmn_xml(scenario("role_based")))
    assert nodes["In_contract"] == nodes["Join_contract"] == "parallelGateway"
    assert sum(1 for s, _ in flows.values() if s == "In_contract") == 3
    assert nodes["Task_approval_0"] == nodes["Task_approval_1"] == "userTask"
    assert "End_won" in nodes
    assert any(n.startswith("End_lost_") for n in nodes)
    assert any(n.startswith("End_no_decision_") for n in nodes)


def _moddle() -> Path | None:
    here = os.environ.get("SALESSIM_NODE_MODULES")
    for base in [Path(here)] if here else [ROOT / ".venv" / "npm" / "node_modules"]:
        if (base / "bpmn-moddle").is_dir():
            return base
    return None


@pytest.mark.skipif(shutil.which("node") is None or _moddle() is None,
                    reason="bpmn-moddle check needs node and `npm install bpmn-moddle` in "
                           ".venv/npm (or SALESSIM_NODE_MODULES pointing at node_modules)")
def test_bpmn_opens_in_bpmn_moddle(tmp_path):
    script = tmp_path / "check.mjs"
    script.write_text(
        "import { BpmnModdle } from 'bpmn-moddle';\n"
        "import { readFileSync } from 'fs';\n"
        "const out = {};\n"
        "for (const f of process.argv.slice(2)) {\n"
        "  const r = await new BpmnModdle().fromXML(readFileSync(f, 'utf8'));\n"
        "  const plane = r.rootElement.diagrams[0].plane;\n"
        "  const process = r.rootElement.rootElements.find(e => e.$type === 'bpmn:Process');\n"
        "  out[f] = {warnings: r.warnings.map(w => w.message),\n"
        "            elements: process.flowElements.length,\n"
        "            lanes: process.laneSets[0].lanes.length,\n"
        "            di: plane.planeElement.length};\n"
        "}\n"
        "console.log(JSON.stringify(out));\n")
    files = []
    for name in SCENARIOS:
        f = tmp_path / f"{name}.bpmn"
        f.write_text(bpmn.bpmn_xml(scenario(name)))
        files.append(str(f))
    env = {**os.environ, "NODE_PATH": str(_moddle())}
    # An ES module resolves packages from its own folder: link node_modules beside it.
    (tmp_path / "node_modules").symlink_to(_moddle())
    done = subprocess.run(["node", str(script), *files], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for f in files:
        assert result[f]["warnings"] == [], result[f]["warnings"]
        # Every flow element (nodes and flows), lane and the pool has its shape or edge.
        assert result[f]["elements"] + result[f]["lanes"] + 1 == result[f]["di"]
        assert result[f]["elements"] > 0 and result[f]["lanes"] > 0


def test_dot_names_every_stage_and_move():
    sc = scenario("b2b_baseline")
    text = diagram.dot(sc)
    assert text.startswith("digraph") and text.count("{") == text.count("}")
    for sid in sc.stages:
        assert f'"{sid}" [' in text
    moves = sum(1 for s in sc.stages.values() for p in s.next.values() if p > 0)
    assert text.count(" -> ") == moves + 1 + 1  # the entry arrow, approval's skip


def test_png_and_the_command(tmp_path, capsys):
    out = tmp_path / "b2b.png"
    assert main(["diagram", "scenarios/b2b_baseline.yaml", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(out).shape[0] > 100
    assert main(["diagram", "scenarios/tutorial.yaml", "--format", "bpmn"]) == 0
    assert "<bpmn:definitions" in capsys.readouterr().out
    assert main(["diagram", "scenarios/tutorial.yaml", "--annotate", "2",
                 "--out", str(tmp_path / "t.svg")]) == 0
    texts = [t.text for t in ET.parse(tmp_path / "t.svg").iter(f"{SVG}text")]
    assert any(t.startswith("conversion ") for t in texts)
    # Each stage's box shows its staff's utilisation, as the help promises.
    sc = scenario("tutorial")
    for stage in sc.stages.values():
        for role in stage.staff:
            assert any(t.startswith("busy: ") and f"{role} " in t and t.endswith("%")
                       for t in texts), role
    assert "simulated, 2 reps" in texts
    assert main(["diagram", "scenarios/tutorial.yaml", "--format", "png"]) == 2
    assert main(["diagram", "scenarios/tutorial.yaml", "--annotate", "0"]) == 2
    assert "--annotate" in capsys.readouterr().err


SHIPPED = sorted([*Path("scenarios").glob("*.yaml"), *Path("cases").glob("*/before.yaml"),
                  *Path("cases").glob("*/after.yaml")])


@pytest.mark.parametrize("path", SHIPPED, ids=str)
def test_forward_arrows_cross_no_box_they_do_not_connect(path):
    """Every forward arrow's curve (sampled along its Bezier) stays out of the boxes of the
    stages it does not join: offer -> won must not run through documents."""
    from salessim.teaching.diagram import _bern, _edge_points
    from salessim.teaching.graph import process_graph

    g = process_graph(load_scenario(path))
    for e in g.edges:
        if e.kind == "loop" or g.nodes[e.dst].layer <= g.nodes[e.src].layer:
            continue  # loops and arrows within a column: drawn by other rules
        points, _ = _edge_points(g, e)
        for k in range(1, 40):
            coef = _bern(k / 40)
            x = sum(c * px for c, (px, _) in zip(coef, points, strict=True))
            y = sum(c * py for c, (_, py) in zip(coef, points, strict=True))
            for n in g.nodes.values():
                if n.id not in (e.src, e.dst):
                    inside = n.x + 2 < x < n.x + n.w - 2 and n.y + 2 < y < n.y + n.h - 2
                    assert not inside, f"{e.src} -> {e.dst} crosses {n.id} at ({x:.0f}, {y:.0f})"
