"""From an event log (XES, or an event-log CSV) and a stage map to stage rows and work items.

:func:`read_log` reads the events (what was known at ``as_of``: later events unseen),
pairs their life cycles (:mod:`~salessim.calibrate.lifecycle`), takes the stage map given
or proposes one (:mod:`~salessim.calibrate.stagemap`), and makes the stage rows every
other reader makes (:data:`~salessim.calibrate.readers.RAW_COLUMNS`): a case enters a stage
at the first event of an activity that opens it, and stays until it enters another or
reaches an end. The activity instances stay beside them, for staff, waits and calendars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from salessim.calibrate.bounds import MAX_AMOUNT, quoted
from salessim.calibrate.lifecycle import Instances, pair
from salessim.calibrate.readers import ExportError, _raw, read_table
from salessim.calibrate.sniff import sniff
from salessim.calibrate.stagemap import StageMap, load_stage_map, propose_stage_map
from salessim.calibrate.xes import parse_times, read_xes

#: Event-log CSV columns (pm4py's names) and the events table's names for them.
CSV_COLUMNS = {"case:concept:name": "case", "concept:name": "activity",
               "time:timestamp": "time", "lifecycle:transition": "lifecycle",
               "org:resource": "resource"}


@dataclass
class EventLog:
    """What an event log adds to the stage visits: its work items and how it was read.

    Attributes:
        path: the log file.
        events: number of events read (up to ``as_of``).
        cases: number of cases.
        instances: activity instances (:class:`~salessim.calibrate.lifecycle.Instances`).
        stage_map: the map used; ``proposed`` when none was given.
        proposal: the proposed map as YAML (when proposed).
        ends_by_name: end activity -> number of cases that ended there (the loss kinds).
        warnings: what reading found, in words, each with what to do.
    """

    path: str
    events: int
    cases: int
    instances: Instances
    stage_map: StageMap
    proposed: bool = False
    proposal: str = ""
    ends_by_name: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


#: The transitions of the XES standard life-cycle model (IEEE 1849-2016, lifecycle extension).
TRANSITIONS = frozenset({"schedule", "assign", "reassign", "withdraw", "start", "suspend",
                         "resume", "pi_abort", "ate_abort", "complete", "autoskip",
                         "manualskip", "unknown"})


def status_transitions(events: pd.DataFrame) -> list[str]:
    """Read life-cycle values outside the standard model as part of the activity.

    Some systems write a status there (``In Progress``, ``Awaiting Assignment``): then the
    activity is ``name (status)``, an instantaneous step, as process-mining tools classify
    such logs by name and transition together. ``unknown`` is a step too. Changes
    ``events`` in place; returns the warning that says so (or none).
    """
    life = events["lifecycle"].astype("string")
    odd = (life.notna() & ~life.isin(TRANSITIONS)).to_numpy(bool)
    if not odd.any():
        if (life == "unknown").any():
            events["lifecycle"] = life.where(life != "unknown", "complete")
        return []
    counts = life[odd].value_counts()
    activity = events["activity"].astype("string")
    events["activity"] = activity.where(~odd, activity + " (" + life + ")")
    events["lifecycle"] = life.where(~odd & (life != "unknown").fillna(True).to_numpy(bool),
                                     "complete")
    shown = ", ".join(f"{k!r} {n}" for k, n in counts.head(5).items())
    return [f"life cycle as status: {int(odd.sum())} events have a lifecycle:transition "
            f"outside the XES standard ({shown}{', ...' if len(counts) > 5 else ''}); each "
            "is read as an instantaneous step named 'activity (transition)'. Map those "
            "names in the stage map"]


def is_event_log(path: str | Path) -> bool:
    """True for an XES log or an OCEL 2.0 log (by content, gzipped or not)."""
    return sniff(path) in ("xes", "ocel")


def read_events(path: str | Path, timezone: str | None = None,
                object_type: str | None = None) -> pd.DataFrame:
    """The events of an XES log, an OCEL 2.0 log (flattened on ``object_type``: see
    :mod:`~salessim.calibrate.ocel`) or an event-log CSV / Parquet (pm4py column names);
    what reading them found is in ``attrs["warnings"]`` (:func:`status_transitions`)."""
    kind = sniff(path)
    if object_type is not None and kind != "ocel":
        raise ExportError(f"--object-type {object_type}: {path} is no OCEL 2.0 log (only an "
                          "object-centric log is flattened on an object type)")
    if kind == "ocel":
        from salessim.calibrate.ocel import read_ocel

        events, note = read_ocel(path, object_type, timezone)
        events.attrs["warnings"] = [note, *status_transitions(events)]
        return events
    if kind == "xes":
        events = read_xes(path, timezone)
        events.attrs["warnings"] = status_transitions(events)
        return events
    frame = read_table(path)
    missing = [c for c in ("case:concept:name", "concept:name", "time:timestamp")
               if c not in frame.columns]
    if missing:
        raise ExportError(f"{path}: --stages needs an event log (XES, or a CSV with columns "
                          f"case:concept:name, concept:name, time:timestamp); missing "
                          f"{', '.join(missing)}")
    frame = frame.rename(columns={k: v for k, v in CSV_COLUMNS.items() if k in frame.columns})
    frame["row"] = np.arange(2, len(frame) + 2)
    for column in ("lifecycle", "resource"):
        if column not in frame.columns:
            frame[column] = pd.NA
        frame[column] = frame[column].astype("string").str.strip().replace("", pd.NA)
    frame["lifecycle"] = frame["lifecycle"].str.lower()
    frame["case"] = frame["case"].astype("string")
    frame["activity"] = frame["activity"].astype("string").str.strip()
    frame["time"] = parse_times(frame["time"], frame, str(path), "time:timestamp", timezone)
    for column in frame.columns:
        if column.startswith("case:") and column != "case:concept:name":
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.notna().all():
                frame[column] = numbers
    frame.attrs["warnings"] = status_transitions(frame)
    return frame


def read_log(path: str | Path, stages: str | Path | None = None, as_of: pd.Timestamp | None = None,
             timezone: str | None = None, object_type: str | None = None
             ) -> tuple[pd.DataFrame, EventLog]:
    """Stage rows and work items of an event log.

    Args:
        path: XES (plain or gzipped) or an event-log CSV / Parquet.
        stages: a stage map file; None proposes one (and warns that it should be checked).
        as_of: calibrate on what was known then: later events are unseen.
        timezone: see :func:`salessim.calibrate.xes.read_xes`.
        object_type: an OCEL 2.0 log's object type to flatten it on (default: chosen).

    Returns:
        The stage rows (:data:`~salessim.calibrate.readers.RAW_COLUMNS`, with the deals'
        end activities in ``attrs["end_names"]``) and the :class:`EventLog`.
    """
    name = str(path)
    events = read_events(path, timezone, object_type)
    warnings: list[str] = list(events.attrs.pop("warnings", []))
    if as_of is not None:
        events = events[events["time"] <= as_of]
        if events.empty:
            raise ExportError(f"--as-of {as_of}: no event of {name} happened by then")
    proposal = ""
    if stages is None:
        instances = pair(events)
        smap, proposal = propose_stage_map(events, instances.frame)
        warnings.append(f"no stage map: stages and ends were proposed from the log ("
                        f"{len(smap.stages)} stages, ends {', '.join(smap.ends) or 'none'}); "
                        "write the proposal with --propose-stages FILE, check it, and give it "
                        "back with --stages FILE")
    else:
        smap = load_stage_map(stages, events)
    ends = set(smap.ends)
    closed = set(events.loc[events["activity"].astype(str).isin(ends), "case"])
    open_cases = set(events["case"].unique()) - closed
    instances = pair(events, open_cases)
    rows = stage_rows(events, smap, name)
    unmapped = sorted(set(events["activity"].astype(str).unique()) - set(smap.stage_of())
                      - ends - set(smap.work_stage()))
    if unmapped:
        warnings.append(f"activities not in the stage map: {len(unmapped)} ("
                        f"{', '.join(unmapped[:5])}{', ...' if len(unmapped) > 5 else ''}) "
                        "never move a case; their work counts in the stage it is in")
    unpaired = instances.unpaired
    if unpaired:
        total = sum(unpaired.values())
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(unpaired.items(), key=lambda kv: -kv[1]))
        warnings.append(f"unpaired life-cycle events: {total} ({kinds}); they give no wait "
                        "or work time. Check the log's life cycles, or that the export did not "
                        "cut work items in two")
    end_names = rows.attrs.get("end_names", {})
    counts: dict[str, int] = {}
    for act in end_names.values():
        counts[act] = counts.get(act, 0) + 1
    log = EventLog(name, len(events), int(events["case"].nunique()), instances, smap,
                   stages is None, proposal, counts, warnings)
    return rows, log


def stage_rows(events: pd.DataFrame, smap: StageMap, name: str) -> pd.DataFrame:
    """One row per stage entry and per end (the stage rows of any reader)."""
    stage_of = smap.stage_of()
    acts = events["activity"].astype(str)
    trigger = acts.map(stage_of).fillna(acts.where(acts.isin(list(smap.ends))))
    ev = events.assign(stage=trigger)
    first_time = ev.groupby("case")["time"].transform("min")
    ev = ev.assign(created=first_time)
    value = _per_case(ev, smap.value, "last")
    source = _per_case(ev, smap.source, "first")
    ev = ev[ev["stage"].notna()].sort_values(["case", "time", "row"], kind="stable")
    same = ev["case"].eq(ev["case"].shift()) & ev["stage"].eq(ev["stage"].shift())
    ev = ev[~same.to_numpy()]
    is_end = ev["stage"].isin(list(smap.ends))
    end_names = ev[is_end].drop_duplicates("case").set_index("case")["stage"].to_dict()
    if value is not None:  # the bounds of a CSV's amounts (calibrate.readers.parse_amounts)
        amounts = pd.to_numeric(value, errors="coerce")
        bad = amounts.notna() & ~amounts.between(0, MAX_AMOUNT)
        if bad.any():
            case = bad.index[bad.to_numpy()][0]
            raise ExportError(f"{name}: case {case}: {smap.value}: an amount must be a finite "
                              f"number >= 0 and at most {MAX_AMOUNT:g} (got "
                              f"{quoted(value[case])})")
    frame = pd.DataFrame({"row": ev["row"].to_numpy()}, index=ev.index)
    raw = _raw(frame, name, deal_id=ev["case"].astype("string"),
               stage=ev["stage"].astype("string"), entered_at=ev["time"],
               source=None if source is None else ev["case"].map(source).astype("string"),
               amount=None if value is None else pd.to_numeric(ev["case"].map(value),
                                                               errors="coerce").astype(float),
               created_at=ev["created"])
    raw.attrs["end_names"] = end_names
    return raw


def _per_case(ev: pd.DataFrame, column: str | None, how: str) -> pd.Series | None:
    if column is None:
        return None
    values = ev[["case", column]].dropna()
    return values.groupby("case")[column].agg(how)
