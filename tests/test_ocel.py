"""OCEL 2.0 object-centric event logs (JSON and SQLite) read as an event log, flattened on
one object type."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from tests import loggen

from salessim.calibrate.fromlog import read_events
from salessim.calibrate.ocel import read_ocel
from salessim.calibrate.pipeline import calibrate_file
from salessim.calibrate.readers import ExportError, read_table
from salessim.calibrate.sniff import sniff
from salessim.calibrate.xes import read_xes
from salessim.cli import main

#: A hand-written OCEL 2.0 log: two applications (each with an amount that changed once),
#: one offer, and a clerk's work item with a life cycle.
SMALL = {
    "objectTypes": [{"name": "application", "attributes": [{"name": "amount", "type": "float"}]},
                    {"name": "offer", "attributes": []}],
    "eventTypes": [{"name": "Submit", "attributes": []},
                   {"name": "Check", "attributes": [
                       {"name": "lifecycle:transition", "type": "string"},
                       {"name": "org:resource", "type": "string"}]},
                   {"name": "Send offer", "attributes": []},
                   {"name": "Approve", "attributes": []}],
    "objects": [
        {"id": "a1", "type": "application", "attributes": [
            {"name": "amount", "value": 1000, "time": "1970-01-01T00:00:00Z"},
            {"name": "amount", "value": 1500, "time": "2025-03-03T12:00:00Z"}]},
        {"id": "a2", "type": "application", "attributes": [
            {"name": "amount", "value": 800, "time": "1970-01-01T00:00:00Z"}]},
        {"id": "o1", "type": "offer", "attributes": []}],
    "events": [
        {"id": "e1", "type": "Submit", "time": "2025-03-03T09:00:00+01:00", "attributes": [],
         "relationships": [{"objectId": "a1", "qualifier": "application"}]},
        {"id": "e2", "type": "Check", "time": "2025-03-03T10:00:00+01:00",
         "attributes": [{"name": "lifecycle:transition", "value": "start"},
                        {"name": "org:resource", "value": "ann"}],
         "relationships": [{"objectId": "a1", "qualifier": "checked"}]},
        {"id": "e3", "type": "Check", "time": "2025-03-03T10:30:00+01:00",
         "attributes": [{"name": "lifecycle:transition", "value": "complete"},
                        {"name": "org:resource", "value": "ann"}],
         "relationships": [{"objectId": "a1", "qualifier": "checked"}]},
        {"id": "e4", "type": "Send offer", "time": "2025-03-03T11:00:00+01:00",
         "attributes": [], "relationships": [{"objectId": "a1", "qualifier": "for"},
                                             {"objectId": "o1", "qualifier": "sent"}]},
        {"id": "e5", "type": "Approve", "time": "2025-03-04T09:00:00+01:00",
         "attributes": [], "relationships": [{"objectId": "a1", "qualifier": "decided"}]},
        {"id": "e6", "type": "Submit", "time": "2025-03-04T23:30:00+01:00", "attributes": [],
         "relationships": [{"objectId": "a2", "qualifier": "application"}]}],
}


def _sqlite(doc: dict, path):
    """``doc`` in the OCEL 2.0 SQLite layout (a table per event type and per object type)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE event (ocel_id TEXT, ocel_type TEXT)")
    con.execute("CREATE TABLE object (ocel_id TEXT, ocel_type TEXT)")
    con.execute("CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, "
                "ocel_qualifier TEXT)")
    con.execute("CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, "
                "ocel_qualifier TEXT)")
    con.execute("CREATE TABLE event_map_type (ocel_type TEXT, ocel_type_map TEXT)")
    con.execute("CREATE TABLE object_map_type (ocel_type TEXT, ocel_type_map TEXT)")
    for i, kind in enumerate(doc["eventTypes"]):
        names = [a["name"] for a in kind["attributes"]]
        con.execute("INSERT INTO event_map_type VALUES (?, ?)", (kind["name"], f"t{i}"))
        cols = "".join(f', "{n}" TEXT' for n in names)
        con.execute(f'CREATE TABLE "event_t{i}" (ocel_id TEXT, ocel_time TEXT{cols})')
        for e in (e for e in doc["events"] if e["type"] == kind["name"]):
            values = {a["name"]: a["value"] for a in e["attributes"]}
            con.execute(f'INSERT INTO "event_t{i}" VALUES ({", ".join("?" * (2 + len(names)))})',
                        (e["id"], e["time"], *(values.get(n) for n in names)))
            con.execute("INSERT INTO event VALUES (?, ?)", (e["id"], e["type"]))
            for r in e["relationships"]:
                con.execute("INSERT INTO event_object VALUES (?, ?, ?)",
                            (e["id"], r["objectId"], r["qualifier"]))
    for i, kind in enumerate(doc["objectTypes"]):
        names = [a["name"] for a in kind["attributes"]]
        con.execute("INSERT INTO object_map_type VALUES (?, ?)", (kind["name"], f"o{i}"))
        cols = "".join(f', "{n}" REAL' for n in names)
        con.execute(f'CREATE TABLE "object_o{i}" (ocel_id TEXT, ocel_time TEXT, '
                    f'ocel_changed_field TEXT{cols})')
        for o in (o for o in doc["objects"] if o["type"] == kind["name"]):
            con.execute("INSERT INTO object VALUES (?, ?)", (o["id"], o["type"]))
            for a in o["attributes"]:
                con.execute(f'INSERT INTO "object_o{i}" (ocel_id, ocel_time, '
                            f'ocel_changed_field, "{a["name"]}") VALUES (?, ?, ?, ?)',
                            (o["id"], a["time"], a["name"], a["value"]))
    con.commit()
    con.close()
    return path


def test_ocel_json_is_flattened_on_the_case_like_type_and_says_so(tmp_path):
    path = tmp_path / "small.jsonocel"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    assert sniff(path) == "ocel"
    events, note = read_ocel(path)
    # 'application' has 6 events over 2 objects (a1 has five); 'offer' one: not a case.
    assert note.startswith("OCEL 2.0 log flattened on object type 'application' (the type "
                           "with the most events among those whose objects have 2 or more): "
                           "6 events of 2 objects; other types' events: offer 1")
    assert events["case"].tolist() == ["a1"] * 5 + ["a2"]
    assert events["activity"].tolist() == ["Submit", "Check", "Check", "Send offer", "Approve",
                                           "Submit"]
    assert events["lifecycle"].tolist()[1:3] == ["start", "complete"]
    assert events["resource"].tolist()[1] == "ann" and events["resource"].isna().sum() == 4
    # Local wall-clock time, as XES's; the amount is the last value it took.
    assert events["time"].iloc[5] == pd.Timestamp("2025-03-04 23:30")
    assert events.groupby("case")["case:amount"].first().to_dict() == {"a1": 1500, "a2": 800}
    offers, note = read_ocel(path, "offer")
    assert offers["case"].tolist() == ["o1"] and "(--object-type)" in note


def test_ocel_sqlite_gives_the_same_events_as_json(tmp_path):
    json_path = tmp_path / "small.json"
    json_path.write_text(json.dumps(SMALL), encoding="utf-8")
    db = _sqlite(SMALL, tmp_path / "small.sqlite")
    assert sniff(db) == "ocel"
    a, note_a = read_ocel(json_path)
    b, note_b = read_ocel(db)
    assert note_a == note_b
    columns = ["case", "activity", "time", "lifecycle", "resource", "case:amount"]
    pd.testing.assert_frame_equal(a[columns], b[columns], check_dtype=False)


def test_ocel_given_to_the_wrong_reader_or_option_is_named(tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    with pytest.raises(ExportError, match=r"this is an OCEL 2\.0 object-centric event log; "
                                          r"read it as an event log.*--object-type TYPE"):
        read_table(path)
    with pytest.raises(ExportError, match=r"an OCEL 2\.0 object-centric event log, not XES"):
        read_xes(path)
    with pytest.raises(ExportError, match=r"--object-type order: no such object type with "
                                          r"events in .*its types are application, offer"):
        read_ocel(path, "order")
    xes = loggen.write_xes(loggen.generate(seed=2, days=10), tmp_path / "a.xes")
    with pytest.raises(ExportError, match=r"--object-type offer: .*a\.xes is no OCEL 2\.0 log"):
        read_events(xes, object_type="offer")
    other = tmp_path / "plain.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert sniff(other) == "sqlite"
    with pytest.raises(ExportError, match=r"this is an SQLite database, not a CSV"):
        read_table(other)


def _as_ocel(log: loggen.Log) -> dict:
    """The generator's log as OCEL 2.0: each application an object (with its amount and
    channel), each event related to it, resources and life cycles as event attributes."""
    events = []
    for i, (case, act, t, life, who) in enumerate(log.events):
        attrs = [{"name": "lifecycle:transition", "value": life}]
        if who:
            attrs.append({"name": "org:resource", "value": who})
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+01:00"
        events.append({"id": f"e{i}", "type": act, "time": stamp, "attributes": attrs,
                       "relationships": [{"objectId": case, "qualifier": "case"}]})
    objects = [{"id": c, "type": "application", "attributes": [
        {"name": "AMOUNT_REQ", "value": log.amounts[c], "time": "1970-01-01T00:00:00Z"},
        {"name": "channel", "value": log.channels[c], "time": "1970-01-01T00:00:00Z"}]}
        for c in log.amounts]
    return {"objectTypes": [{"name": "application", "attributes": []}],
            "eventTypes": [], "objects": objects, "events": events}


def test_a_generated_log_as_ocel_reads_as_its_xes_and_calibrates(tmp_path):
    from salessim.calibrate.pipeline import read_history

    log = loggen.generate(seed=5, days=40)
    xes = loggen.write_xes(log, tmp_path / "credit.xes.gz")
    ocel = tmp_path / "credit.json"
    ocel.write_text(json.dumps(_as_ocel(log)), encoding="utf-8")
    stages = tmp_path / "stages.yaml"
    stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
    a, log_a = read_history(xes, stages=stages)
    b, log_b = read_history(ocel, stages=stages)
    # The same visits, deals and work items (waits, work, resources) as from the XES.
    pd.testing.assert_frame_equal(a.visits, b.visits)
    pd.testing.assert_frame_equal(a.deals, b.deals)
    pd.testing.assert_frame_equal(log_a.instances.frame, log_b.instances.frame)
    result = calibrate_file(ocel, stages=stages, run_backtest=False, report=False)
    assert set(result.scenario.stages) == {"application", "offer", "validation"}
    assert set(result.scenario.roles) == {"application_staff", "validation_staff"}
    assert any(w.startswith("OCEL 2.0 log flattened on object type 'application'")
               for w in result.warnings)


def test_propose_stages_and_object_type_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    out = tmp_path / "map.yaml"
    assert main(["calibrate", str(path), "--propose-stages", str(out),
                 "--object-type", "application"]) == 0
    assert "Submit" in out.read_text(encoding="utf-8")
    assert main(["calibrate", str(path), "--propose-stages", str(out),
                 "--object-type", "customer"]) == 2
    assert "--object-type customer: no such object type" in capsys.readouterr().err
