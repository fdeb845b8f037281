"""Every registered stage kind, end to end: schema, run, warm start, analyse, diagram, BPMN,
size and forecast needs; and the interface's own rules (an aspect missing is an error at
class creation, an unknown kind is an error).

The tests are parametrised over the registry: a new kind is covered by registering it
(its ``example`` gives the stage the tests build a scenario around).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pytest

from conftest import scenario_of
from salessim import engine, kpis
from salessim.analyse import analyse, versus
from salessim.forecast.gap import staffed
from salessim.model.kinds import REGISTRY, Registry, StageKind, UnknownKind, kind_of
from salessim.model.kinds.staffed import StaffedWorkKind
from salessim.model.runsize import estimate
from salessim.records import CREATED
from salessim.scenario import Scenario
from salessim.teaching.bpmn import bpmn_xml
from salessim.teaching.diagram import dot, svg

KINDS = list(REGISTRY)
IDS = [k.name.replace(" ", "_") for k in KINDS]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def around(kind: StageKind, replications: int = 2, pipeline: list | None = None,
           horizon: float = 3000) -> Scenario:
    """A scenario whose stage ``probe`` is the kind's example, reached from ``qualify``."""
    return scenario_of({
        "horizon": horizon, "warmup": 300, "replications": replications,
        "roles": {"rep": {"headcount": 3}, "manager": {"headcount": 2}},
        "sources": {"web": {"rate": 0.4, "deal_value": {"dist": "lognormal", "mean": 6000,
                                                         "cv": 0.5}}},
        "entry": "qualify",
        "stages": {
            "qualify": {"role": "rep", "work": {"dist": "exponential", "mean": 0.5},
                        "next": {"probe": 0.6, "won": 0.1, "lost": 0.3}},
            "probe": kind.example("qualify"),
        },
        "pipeline": pipeline or [],
    })


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_schema_knows_the_kind(kind):
    sc = around(kind)
    assert kind_of(sc.stages["probe"]) is kind
    assert kind_of(sc.stages["probe"]).name == kind.name
    if kind.field is not None:
        stage = Scenario.model_json_schema()["$defs"]["Stage"]
        assert kind.field in stage["properties"]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_run_conserves_leads_and_reports_the_kinds_kpis(kind):
    sc = around(kind)
    rep = engine.run_replication(sc, 0, event_log=True)
    k = rep.kpis
    assert k["visits.probe"] > 50
    assert k["leads"] == k["won"] + k["lost"] + k["no_decision"] + k["open"]
    own = kind.kpis("probe", sc.stages["probe"], rep.tally.stages["probe"])
    for name, value in own.items():
        assert k[name] == value or (math.isnan(value) and math.isnan(k[name]))
        kpis.spec(name)  # declared in the KPI registry
    for name in k:
        kpis.spec(name)
    # The size estimate is of the order of the events the log has (rough by design).
    frame = rep.log.plain_frame()
    created = int((frame["event"] == CREATED).sum())
    per_lead = len(frame) / created
    size = estimate(sc, 1)
    assert 0.5 < (size.events / size.leads) / per_lead < 2.0


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_warm_start_finishes_open_deals_in_the_kinds_stage(kind):
    pipeline = [{"id": f"D-{i}", "stage": "probe", "age": 0.5, "value": 8000.0,
                 "work_done": i % 2 == 0} for i in range(6)]
    sc = around(kind, pipeline=pipeline)
    rep = engine.run_replication(sc, 0, event_log=True)
    assert rep.kpis["pipeline_deals"] == 6
    assert rep.kpis["pipeline_open"] == 0  # every open deal finished its visit and ended
    assert rep.kpis["pipeline_won"] + rep.kpis["pipeline_lost"] == 6


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_flow_analysis_agrees_with_the_simulation(kind):
    sc = around(kind, replications=10, horizon=6000)
    a = analyse(sc)
    assert (a.table()["value"].notna()).all()
    table = versus(engine.run(sc), a, level=0.999)
    checked = table[table.kpi.isin(["close_rate", "visits_per_lead.probe",
                                    "visits_per_lead.qualify"])]
    assert len(checked) == 3
    for r in checked.itertuples(index=False):
        assert r.inside, r


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_diagram_and_bpmn_draw_the_kind(kind):
    sc = around(kind)
    picture = svg(sc)
    for line in kind.box(sc.stages["probe"], sc.time_unit):
        assert escape(line) in picture
    assert '"probe"' in dot(sc)
    root = ET.fromstring(bpmn_xml(sc).encode())
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert "In_probe" in ids
    flows = [e for e in root.iter(f"{BPMN}sequenceFlow")]
    assert all(f.get("sourceRef") in ids and f.get("targetRef") in ids for f in flows)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_forecast_needs_and_size_are_said_by_the_kind(kind):
    stage = around(kind).stages["probe"]
    assert isinstance(kind.staffed(stage), bool)
    assert kind.events_per_visit(stage) >= 1
    alone = scenario_of({"horizon": 100, "roles": {"rep": {"headcount": 1},
                                                   "manager": {"headcount": 1}},
                         "sources": {"web": {"rate": 1.0}}, "entry": "probe",
                         "stages": {"probe": {**kind.example("probe")}}})
    assert staffed(alone) == kind.staffed(alone.stages["probe"])


# --- the interface's own rules ------------------------------------------------------------


def test_a_kind_missing_an_aspect_is_refused_when_its_class_is_made():
    with pytest.raises(TypeError, match="lacks bpmn"):
        class Half(StageKind):  # noqa: F841 - the class statement is what fails
            name, field, behaviour = "half", "work", StaffedWorkKind.behaviour

            def build(self, b: Any) -> Any: ...
            def flow(self, *args: Any) -> Any: ...
            def box(self, *args: Any) -> Any: ...
            def events_per_visit(self, *args: Any) -> Any: ...
            def staffed(self, *args: Any) -> Any: ...
            def example(self, *args: Any) -> Any: ...


def test_a_behaviour_without_resume_is_refused():
    class VisitOnly:
        def visit(self, deal): ...

    body = {a: (lambda self, *args: None) for a in
            ("build", "flow", "box", "bpmn", "events_per_visit", "staffed", "example")}
    with pytest.raises(TypeError, match="has no resume"):
        type("NoResume", (StageKind,), {"name": "x", "field": "work", "behaviour": VisitOnly,
                                        **body})


def test_the_registry_matches_the_schema_fields_one_to_one():
    with pytest.raises(TypeError, match="kind fields"):
        Registry([k for k in REGISTRY if k.field != "meeting"])
    with pytest.raises(UnknownKind, match="no stage kind 'nurture'"):
        REGISTRY.get("nurture")
    assert all(REGISTRY.get(k.name) is k for k in REGISTRY)


def test_every_kind_has_an_exact_flag_it_sets_itself():
    from salessim.model.kinds.flow import Context

    capped = around(REGISTRY.get("meeting"))
    stage = capped.stages["probe"].model_copy(update={"meeting": capped.stages["probe"].meeting
                                                      .model_copy(update={"capacity": 2})})
    ctx = Context(capped)
    assert REGISTRY.get("meeting").flow(stage, "probe", 0.0, None, ctx).exact is False
    assert REGISTRY.get("meeting").flow(capped.stages["probe"], "probe", 0.0, None,
                                        ctx).exact is True
    assert np.isfinite(analyse(capped).value("process", "all leads", "cycle time, no queues"))
