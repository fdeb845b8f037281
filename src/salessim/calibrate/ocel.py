"""Reading OCEL 2.0 object-centric event logs (JSON, or SQLite) as a case-centric event log.

An OCEL 2.0 log has events (an id, a type: the activity, a time, attributes) related to
objects of several types (an order, its items, an offer, a customer), each event to any
number of objects. Calibration follows one kind of case, so the log is *flattened* on one
object type: every event related to an object of that type becomes an event of the case
named by that object's id (an event related to two such objects is in both cases). The
type is ``object_type``, or by default the type with the most related events among those
whose objects look like cases (at least :data:`CASE_EVENTS` events each, median); the
note returned says which was chosen and what the others had.

The events table is :mod:`salessim.calibrate.xes`'s: ``case``, ``activity``, ``time``,
``lifecycle`` and ``resource`` from the event attributes ``lifecycle:transition`` (or
``lifecycle``) and ``org:resource`` (or ``resource``) when present, the other event
attributes as columns, and the case object's attributes as ``case:<name>`` (the last value
each took). Times are read as XES's are (local wall clock unless ``timezone``).

JSON: ``eventTypes``, ``objectTypes``, ``events`` (``id``, ``type``, ``time``,
``attributes`` [{``name``, ``value``}], ``relationships`` [{``objectId``, ``qualifier``}]),
``objects`` (``id``, ``type``, ``attributes`` [{``name``, ``value``, ``time``}]).
SQLite: tables ``event`` and ``object`` (``ocel_id``, ``ocel_type``), ``event_object``
(``ocel_event_id``, ``ocel_object_id``), ``event_map_type`` / ``object_map_type``
(``ocel_type``, ``ocel_type_map``) naming the per-type tables ``event_<map>`` (``ocel_id``,
``ocel_time``, attributes) and ``object_<map>`` (``ocel_id``, ``ocel_time``, attributes).
The JSON file is read whole (OCEL JSON is one document); the SQLite file through queries.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from salessim.calibrate.readers import ExportError
from salessim.calibrate.sniff import open_maybe_gzip
from salessim.calibrate.xes import parse_times

#: Median events per object from which an object type looks like a case.
CASE_EVENTS = 2
_LIFECYCLE = ("lifecycle:transition", "lifecycle")
_RESOURCE = ("org:resource", "resource")


def read_ocel(path: str | Path, object_type: str | None = None,
              timezone: str | None = None) -> tuple[pd.DataFrame, str]:
    """The events of an OCEL 2.0 log flattened on ``object_type`` (see the module), and a
    note that says which type was used and why."""
    path = Path(path)
    name = str(path)
    events, links, objects = (_sqlite(path) if _is_sqlite(path) else _json(path, name))
    if events.empty or links.empty:
        raise ExportError(f"{name}: an OCEL 2.0 log with no events related to objects")
    types = links.merge(objects[["object", "type"]], on="object", how="left")
    per_type = types.groupby("type")["event"].size().sort_values(ascending=False)
    per_object = types.groupby(["type", "object"]).size().groupby("type").median()
    if object_type is None:
        cases = [t for t in per_type.index if per_object.get(t, 0) >= CASE_EVENTS]
        if not cases:
            raise ExportError(f"{name}: no object type of this OCEL log looks like a case "
                              f"(at least {CASE_EVENTS} events per object); choose one with "
                              f"--object-type ({', '.join(map(str, per_type.index))})")
        object_type, how = str(cases[0]), (f"the type with the most events among those "
                                           f"whose objects have {CASE_EVENTS} or more")
    elif object_type not in per_type.index:
        raise ExportError(f"--object-type {object_type}: no such object type with events in "
                          f"{name}; its types are {', '.join(map(str, per_type.index))}")
    else:
        how = "--object-type"
    others = ", ".join(f"{t} {n}" for t, n in per_type.items() if t != object_type)
    note = (f"OCEL 2.0 log flattened on object type {object_type!r} ({how}): "
            f"{int(per_type[object_type])} events of "
            f"{int((objects['type'] == object_type).sum())} objects"
            + (f"; other types' events: {others}" if others else "")
            + "; choose another with --object-type")
    chosen = types[types["type"] == object_type][["event", "object"]]
    flat = chosen.merge(events, on="event", how="inner").rename(columns={"object": "case"})
    flat["row"] = flat["seq"] + 1  # the event's place in the file, for errors and ties
    flat["case"] = flat["case"].astype("string")
    flat["activity"] = flat["activity"].astype("string")
    for column, names in (("lifecycle", _LIFECYCLE), ("resource", _RESOURCE)):
        found = next((n for n in names if n in flat.columns), None)
        values = flat.pop(found) if found is not None else pd.Series(pd.NA, index=flat.index)
        flat[column] = values.astype("string").str.strip().replace("", pd.NA)
    flat["lifecycle"] = flat["lifecycle"].str.lower()
    flat["time"] = parse_times(flat.pop("time_text"), flat, name, "time:timestamp", timezone)
    attrs = _case_attributes(objects[objects["type"] == object_type])
    for column in attrs.columns:
        flat[f"case:{column}"] = flat["case"].map(attrs[column])
    flat = flat.drop(columns=["event", "seq"]).sort_values(["case", "time", "row"],
                                                          kind="stable")
    return flat.reset_index(drop=True), note


def _case_attributes(objects: pd.DataFrame) -> pd.DataFrame:
    """Each object's attributes, the last value each took (by its time)."""
    rows = [(o, a, v, t) for o, attrs in zip(objects["object"], objects["attributes"],
                                              strict=True) for a, v, t in attrs]
    if not rows:
        return pd.DataFrame(index=pd.Index([], dtype="string"))
    frame = pd.DataFrame(rows, columns=["object", "name", "value", "time"])
    frame = frame.sort_values("time", kind="stable").drop_duplicates(["object", "name"],
                                                                     keep="last")
    wide = frame.pivot(index="object", columns="name", values="value")
    for column in wide.columns:
        numbers = pd.to_numeric(wide[column], errors="coerce")
        if numbers.notna().sum() == wide[column].notna().sum():
            wide[column] = numbers
    wide.index = wide.index.astype("string")
    return wide


def _json(path: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    try:
        with open_maybe_gzip(path) as f:
            doc = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{name}: not valid OCEL 2.0 JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise ExportError(f"{name}: OCEL 2.0 JSON needs a list 'events' at the top")
    events, links = [], []
    for i, e in enumerate(doc["events"]):
        if not isinstance(e, dict) or not {"id", "type", "time"} <= set(e):
            raise ExportError(f"{name}: events[{i}]: an OCEL event needs 'id', 'type' and "
                              f"'time' (got {str(e)[:80]})")
        row = {"event": str(e["id"]), "activity": str(e["type"]), "time_text": str(e["time"]),
               "seq": i}
        for a in e.get("attributes") or []:
            row[str(a.get("name"))] = a.get("value")
        events.append(row)
        links += [(str(e["id"]), str(r.get("objectId"))) for r in e.get("relationships") or []]
    objects = [(str(o.get("id")), str(o.get("type")),
                [(str(a.get("name")), a.get("value"), str(a.get("time", "")))
                 for a in o.get("attributes") or []]) for o in doc.get("objects") or []]
    return (pd.DataFrame(events),
            pd.DataFrame(links, columns=["event", "object"]).drop_duplicates(),
            pd.DataFrame(objects, columns=["object", "type", "attributes"]))


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _sqlite(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    name = str(path)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        def table(sql: str) -> pd.DataFrame:
            return pd.read_sql_query(sql, con)

        try:
            kinds = table("SELECT ocel_type, ocel_type_map FROM event_map_type")
            frames = []
            for kind, suffix in zip(kinds["ocel_type"], kinds["ocel_type_map"], strict=True):
                part = table(f'SELECT * FROM "event_{suffix}"').rename(
                    columns={"ocel_id": "event", "ocel_time": "time_text"})
                frames.append(part.assign(activity=str(kind)))
            events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
                columns=["event", "time_text", "activity"])
            links = table("SELECT ocel_event_id AS event, ocel_object_id AS object "
                          "FROM event_object").drop_duplicates()
            objects = table("SELECT ocel_id AS object, ocel_type AS type FROM object")
            attrs: dict[str, list] = {o: [] for o in objects["object"]}
            kinds = table("SELECT ocel_type, ocel_type_map FROM object_map_type")
            for suffix in kinds["ocel_type_map"]:
                part = table(f'SELECT * FROM "object_{suffix}"')
                keep = [c for c in part.columns if not c.startswith("ocel_")]
                for rec in part.itertuples(index=False):
                    d = rec._asdict()
                    attrs.setdefault(d["ocel_id"], []).extend(
                        (c, d[c], str(d.get("ocel_time", ""))) for c in keep if d[c] is not None)
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise ExportError(f"{name}: an SQLite file without the OCEL 2.0 tables "
                              f"(event_map_type, event_object, object, ...): {exc}") from None
    finally:
        con.close()
    events["time_text"] = events["time_text"].astype(str)
    events["seq"] = np.arange(len(events))  # by type table: ties in time keep that order
    for c in ("event", "activity"):
        events[c] = events[c].astype(str)
    links = links.astype(str)
    objects = objects.astype({"object": str, "type": str})
    objects["attributes"] = objects["object"].map(lambda o: attrs.get(o, []))
    return events, links, objects
