"""Event-log files: CSV, Parquet and XES, written in chunks, whole or not at all.

A log of millions of events is never turned into one big DataFrame: each replication's
typed columns are decoded :data:`CHUNK` events at a time and appended to the file, so
writing costs about one chunk of memory beside the log itself.

XES follows IEEE 1849-2016: a ``<log>`` with the concept, time, lifecycle and org
extensions, one ``<trace>`` per lead and replication (its id ``<replication>/<lead>``,
with the lead's source, deal value, score, cohort and end as trace attributes) and one
``<event>`` per record, in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from salessim.output import atomic_path
from salessim.records import (
    EVENTS,
    LIFECYCLE,
    LOG_EPOCH,
    EventLog,
    add_process_mining_columns,
)

#: Events decoded and written at a time.
CHUNK = 25_000
#: The formats ``write_event_log`` knows, by file suffix.
FORMATS = ("csv", "parquet", "xes")
#: The column sets of a CSV log: plain and process-mining columns, or the plain ones alone.
CSV_COLUMNS = ("full", "lean")
#: Significant digits of the times in a lean CSV: a tenth of a millisecond over a year of
#: days (the full columns give every digit; XES gives milliseconds).
LEAN_DIGITS = 12


def _chunks(logs: Iterable[EventLog], lean: bool = False):
    for log in logs:
        for start in range(0, max(len(log), 1), CHUNK):
            frame = log.plain_frame(start, start + CHUNK)
            yield frame if lean else add_process_mining_columns(frame, log.time_unit, log.epoch)


def _arrow_schema():
    import pyarrow as pa

    text = pa.string()
    return pa.schema([
        ("replication", pa.int64()), ("lead", text), ("event", text), ("stage", text),
        ("time", pa.float64()), ("resource", text), ("case:concept:name", text),
        ("concept:name", text), ("time:timestamp", pa.timestamp("ns")), ("org:resource", text),
        ("lifecycle:transition", text),
    ])


def write_event_log(logs: Sequence[EventLog], path: str | Path, columns: str = "full") -> None:
    """Write the logs of several replications to ``path`` (.csv, .parquet or .xes).

    Args:
        logs: the replications' logs.
        path: the file; its suffix is the format.
        columns: for a CSV, ``"full"`` (plain and process-mining columns) or ``"lean"``
            (the plain ones, times to :data:`LEAN_DIGITS` digits); see the module's notes.
    """
    path = Path(path)
    kind = path.suffix.lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"an event log is written as {', '.join(FORMATS)}, not {path.name!r}")
    if columns not in CSV_COLUMNS:
        raise ValueError(f"columns must be one of {', '.join(CSV_COLUMNS)}, got {columns!r}")
    with atomic_path(path) as tmp:
        if kind == "xes":
            _write_xes(logs, tmp)
        elif kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = _arrow_schema()
            with pq.ParquetWriter(tmp, schema) as writer:
                for frame in _chunks(logs):
                    writer.write_table(pa.Table.from_pandas(frame, schema=schema,
                                                            preserve_index=False))
        else:
            lean = columns == "lean"
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                for i, frame in enumerate(_chunks(logs, lean)):
                    frame.to_csv(out, index=False, header=i == 0,
                                 float_format=f"%.{LEAN_DIGITS}g" if lean else None)


def read_lean_csv(path: str | Path, time_unit: str, epoch: datetime = LOG_EPOCH):
    """A lean CSV log read back with the full columns (those of ``columns="full"``).

    Args:
        path: the file.
        time_unit: the scenario's time unit (the unit of the ``time`` column).
        epoch: the date of simulated time 0 (the as-of date of a run from a pipeline).
    """
    import pandas as pd

    frame = pd.read_csv(path)
    return add_process_mining_columns(frame, time_unit, epoch)


def write_cases(logs: Sequence[EventLog], path: str | Path) -> None:
    """One row per lead and replication: the case attributes of the event log (CSV)."""
    import pandas as pd

    frames = [log.cases() for log in logs]
    frame = pd.concat(frames, ignore_index=True) if frames else EventLog().cases()
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


# --- XES ---------------------------------------------------------------------------------------

_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)


def _write_xes(logs: Sequence[EventLog], path: Path) -> None:
    import numpy as np

    with open(path, "w", encoding="utf-8") as out:
        xml = XMLGenerator(out, "utf-8", short_empty_elements=True)
        xml.startDocument()
        _start(xml, "log", {"xes.version": "1849-2016", "xes.features": "",
                            "xmlns": "http://www.xes-standard.org/"})
        for name, prefix, uri in _EXTENSIONS:
            _empty(xml, "extension", {"name": name, "prefix": prefix, "uri": uri})
        _start(xml, "global", {"scope": "trace"})
        _empty(xml, "string", {"key": "concept:name", "value": ""})
        xml.endElement("global")
        _start(xml, "global", {"scope": "event"})
        _empty(xml, "string", {"key": "concept:name", "value": ""})
        _empty(xml, "date", {"key": "time:timestamp", "value": _iso(0.0)})
        _empty(xml, "string", {"key": "lifecycle:transition", "value": "complete"})
        xml.endElement("global")
        _empty(xml, "classifier", {"name": "Activity", "keys": "concept:name"})
        _empty(xml, "classifier", {"name": "Activity and transition",
                                   "keys": "concept:name lifecycle:transition"})
        for log in logs:
            from salessim.scenario.units import UNIT_HOURS  # not at import: see cli

            hours = UNIT_HOURS[log.time_unit]
            names = log.lead_names()
            cases = log.cases()
            codes = np.frombuffer(log.codes, dtype=np.int64)
            order = np.argsort(codes >> 32, kind="stable")  # by lead, in time order within
            leads = (codes >> 32)[order]
            bounds = np.flatnonzero(np.diff(leads)) + 1
            event_of = ((codes >> 24) & 0xFF).astype(np.int16)
            stage_of = ((codes >> 12) & 0xFFF).astype(np.int16)
            resource_of = (codes & 0xFFF).astype(np.int16)
            times = np.frombuffer(log.times, dtype=np.float64)
            for block in np.split(order, bounds) if len(order) else []:
                lead = int(codes[block[0]] >> 32)
                case = cases.iloc[lead]
                _start(xml, "trace", {})
                _empty(xml, "string", {"key": "concept:name",
                                       "value": f"{log.replication}/{names[lead]}"})
                _empty(xml, "string", {"key": "source", "value": case["source"]})
                _empty(xml, "float", {"key": "deal_value", "value": repr(float(case["deal_value"]))})
                _empty(xml, "float", {"key": "score", "value": repr(float(case["score"]))})
                _empty(xml, "boolean", {"key": "counted",
                                        "value": "true" if case["counted"] else "false"})
                _empty(xml, "string", {"key": "end", "value": case["end"]})
                _empty(xml, "int", {"key": "replication", "value": str(log.replication)})
                for e, st, res, t in zip(event_of[block].tolist(), stage_of[block].tolist(),
                                         resource_of[block].tolist(), times[block].tolist(),
                                         strict=True):
                    event = EVENTS[e]
                    _start(xml, "event", {})
                    _empty(xml, "string", {"key": "concept:name",
                                           "value": log.stages[st] or event})
                    _empty(xml, "string", {"key": "lifecycle:transition",
                                           "value": LIFECYCLE[event]})
                    _empty(xml, "date", {"key": "time:timestamp",
                                         "value": _iso(t * hours, log.epoch)})
                    _empty(xml, "string", {"key": "event", "value": event})
                    if res:
                        _empty(xml, "string", {"key": "org:resource",
                                               "value": log.resources[res]})
                    xml.endElement("event")
                xml.endElement("trace")
        xml.endElement("log")
        xml.endDocument()


def _start(xml: XMLGenerator, name: str, attrs: dict[str, str]) -> None:
    xml.startElement(name, AttributesImpl(attrs))  # SAX takes attributes in this wrapper


def _empty(xml: XMLGenerator, name: str, attrs: dict[str, str]) -> None:
    _start(xml, name, attrs)
    xml.endElement(name)


def _iso(hours: float, epoch: datetime = LOG_EPOCH) -> str:
    """An xs:dateTime with milliseconds and the UTC offset, as XES asks (``hours`` after
    ``epoch``, the date of simulated time 0)."""
    stamp = epoch + timedelta(hours=hours)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+00:00"
