"""Reading IEEE XES event logs (IEEE 1849-2016), plain or gzipped, as one table of events.

The log is streamed with :func:`xml.etree.ElementTree.iterparse`: each event is read when
its element ends and then cleared, each trace when it ends, and every :data:`CHUNK` events
become typed columns, so memory holds the compact table being built and one trace, never
the document (a 600 MB log needs no tree).

A trace's attributes become columns ``case:<key>`` (``case:concept:name`` is the case id),
an event's attributes columns by their key; ``concept:name``, ``time:timestamp``,
``lifecycle:transition`` and ``org:resource`` become ``activity``, ``time``, ``lifecycle``
and ``resource``. Typed attributes keep their type (``int``, ``float``, ``boolean``,
``date``); ``id`` and ``string`` stay text; ``list`` and ``container`` values are skipped.

Times: XES timestamps carry a zone offset (``2011-10-01T08:38:44+02:00``). A working
calendar or an arrival profile describes the wall clock where the work happens, so by
default each timestamp keeps its own local wall-clock time (the offset is dropped, not
applied: a Saturday is the log's Saturday, not UTC's); ``timezone`` instead converts every
instant to that zone's wall clock (the choice for logs that mix zones). Either way the
times are naive: durations across a change of summer time are off by that hour.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from salessim.calibrate.bounds import first_outside, outside_rule
from salessim.calibrate.readers import ExportError
from salessim.calibrate.sniff import open_maybe_gzip, sniff
from salessim.scenario.yamlread import file_problem

#: Columns of the events table, whatever else a log adds.
EVENT_COLUMNS = ("case", "activity", "time", "lifecycle", "resource", "row")
_STANDARD = {"concept:name": "activity", "time:timestamp": "time",
             "lifecycle:transition": "lifecycle", "org:resource": "resource"}
_TYPED = {"string", "date", "int", "float", "boolean", "id"}
_OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")
#: Events read into Python lists before they become typed columns (bounds the lists).
CHUNK = 50_000


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def read_xes(path: str | Path, timezone: str | None = None) -> pd.DataFrame:
    """The events of an XES log, one row each (columns :data:`EVENT_COLUMNS` and attributes).

    Args:
        path: ``.xes`` or ``.xes.gz`` (recognised by content).
        timezone: an IANA zone (``Europe/Amsterdam``) to express every time in; default:
            each timestamp's own local wall-clock time.

    Raises:
        ExportError: not XML, not XES, no events, an event without a name or a time, or a
            value that does not match its declared type (each names the case and event).
    """
    path = Path(path)
    name = str(path)
    problem = file_problem(path)
    if problem is not None:
        raise ExportError(f"{name}: {problem}")
    if sniff(path) == "ocel":
        raise ExportError(f"{name}: this is an OCEL 2.0 object-centric event log, not XES; "
                          "read it with calibrate (recognised by its content; --object-type "
                          "TYPE chooses the objects that are its cases)")
    columns = _empty()
    types: dict[str, str] = {}
    chunks: list[pd.DataFrame] = []
    n = offset = 0
    case_attrs: dict[str, object] = {}
    pending: list[dict[str, object]] = []   # the open trace's events, until its attributes are known
    depth = 0
    n_traces = 0
    try:
        with open_maybe_gzip(path) as f:
            for kind, elem in ET.iterparse(f, events=("start", "end")):
                tag = _local(elem.tag)
                if kind == "start":
                    depth += 1
                    if depth == 1 and tag != "log":
                        raise ExportError(f"{name}: an XML file whose root is <{tag}>, not an "
                                          "XES <log>; give an XES event log or a CSV export")
                    continue
                depth -= 1
                if tag == "event" and depth == 2:
                    pending.append(_attributes(elem, types))
                    elem.clear()
                elif tag == "trace" and depth == 1:
                    n_traces += 1
                    case_attrs = _attributes(elem, types)
                    case = case_attrs.get("concept:name")
                    if case is None:
                        case = f"trace-{n_traces}"
                    for event in pending:
                        n += 1
                        _append(columns, event, case, case_attrs, n - offset)
                    pending = []
                    elem.clear()
                    if n - offset >= CHUNK:  # lists of Python objects, made compact columns
                        chunks.append(_frame(columns, types, n - offset, offset, name, timezone))
                        columns, offset = _empty(), n
                elif depth == 0:
                    elem.clear()
    except ET.ParseError as exc:
        raise ExportError(f"{name}: not well-formed XML: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ExportError(f"{name}: cannot be read: {exc}") from None
    if n == 0:
        raise ExportError(f"{name}: the XES log has no events in traces")
    if n > offset:
        chunks.append(_frame(columns, types, n - offset, offset, name, timezone))
    frame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    frame["activity"] = frame["activity"].astype("category")
    frame["lifecycle"] = frame["lifecycle"].astype("category")
    return frame


def _empty() -> dict[str, list]:
    return {"case": [], "activity": [], "time": [], "lifecycle": [], "resource": []}


def _attributes(elem: ET.Element, types: dict[str, str]) -> dict[str, object]:
    """The direct typed attributes of a trace or event (values as text, types recorded)."""
    out: dict[str, object] = {}
    for child in elem:
        kind = _local(child.tag)
        if kind not in _TYPED:
            continue
        key = child.get("key")
        if key is None:
            continue
        out[key] = child.get("value")
        types.setdefault(key if _local(elem.tag) == "event" else "case:" + key, kind)
    return out


def _append(columns: dict[str, list], event: dict[str, object], case: object,
            case_attrs: dict[str, object], n: int) -> None:
    size = n - 1
    columns["case"].append(case)
    for key, column in _STANDARD.items():
        columns[column].append(event.pop(key, None))
    for key, value in event.items():
        _column(columns, key, size).append(value)
    for key, value in case_attrs.items():
        if key != "concept:name":
            _column(columns, "case:" + key, size).append(value)
    for values in columns.values():
        if len(values) < n:
            values.append(None)


def _column(columns: dict[str, list], key: str, size: int) -> list:
    if key in _STANDARD.values() or key == "case":
        key = "event:" + key  # an event attribute that would shadow a standard column
    if key not in columns:
        columns[key] = [None] * size
    return columns[key]


def _frame(columns: dict[str, list], types: dict[str, str], n: int, offset: int, name: str,
           timezone: str | None) -> pd.DataFrame:
    """Events ``offset + 1`` to ``offset + n`` as typed columns."""
    frame = pd.DataFrame({k: pd.Series(v, dtype="object") for k, v in columns.items()})
    frame["row"] = np.arange(offset + 1, offset + n + 1)
    frame["case"] = frame["case"].astype("string")
    for column in ("activity", "lifecycle", "resource"):
        frame[column] = frame[column].astype("string").str.strip()
    frame["lifecycle"] = frame["lifecycle"].str.lower()
    missing = frame["activity"].isna() | (frame["activity"] == "")
    if missing.any():
        raise ExportError(f"{name}: event {int(frame['row'][missing].iloc[0])} (case "
                          f"{frame['case'][missing].iloc[0]}): concept:name: an event needs "
                          "an activity name")
    frame["time"] = parse_times(frame["time"], frame, name, "time:timestamp", timezone)
    for column, kind in types.items():
        key = column if column in frame.columns else "event:" + column
        if key not in frame.columns or key in ("time",):
            continue
        frame[key] = _typed(frame[key], kind, frame, name, key, timezone)
    return frame


def parse_times(values: pd.Series, frame: pd.DataFrame, name: str, column: str,
                timezone: str | None) -> pd.Series:
    """Naive wall-clock datetimes (local to each value, or in ``timezone``)."""
    text = values.astype("string").str.strip()
    blank = text.isna() | (text == "")
    if blank.any() and column == "time:timestamp":
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise ExportError(f"{name}: event {int(frame['row'].iloc[i])} (case "
                          f"{frame['case'].iloc[i]}): {column}: an event needs a time")
    if timezone is not None:
        try:
            out = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
            out = out.dt.tz_convert(timezone).dt.tz_localize(None)
        except Exception as exc:  # pandas raises several types for an unknown zone
            raise ExportError(f"--timezone: not a time zone pandas knows: {timezone!r} "
                              f"({exc})") from None
    else:
        local = text.str.replace(_OFFSET, "", regex=True)
        out = pd.to_datetime(local, errors="coerce", format="ISO8601")
    bad = out.isna() & ~blank
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ExportError(f"{name}: event {int(frame['row'].iloc[i])} (case "
                          f"{frame['case'].iloc[i]}): {column}: not a date and time "
                          f"(got {text.iloc[i]!r})")
    outside = first_outside(out)
    if outside is not None:
        raise ExportError(f"{name}: event {int(frame['row'].iloc[outside])} (case "
                          f"{frame['case'].iloc[outside]}): {outside_rule(column)} "
                          f"(got {text.iloc[outside]!r})")
    return out.astype("datetime64[ns]")


def _typed(values: pd.Series, kind: str, frame: pd.DataFrame, name: str, column: str,
           timezone: str | None) -> pd.Series:
    if kind == "date":
        return parse_times(values, frame, name, column, timezone)
    if kind in ("int", "float"):
        out = pd.to_numeric(values, errors="coerce")
        bad = out.isna() & values.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ExportError(f"{name}: event {int(frame['row'].iloc[i])} (case "
                              f"{frame['case'].iloc[i]}): {column}: declared {kind}, got "
                              f"{values.iloc[i]!r}")
        return out.astype(float)
    if kind == "boolean":
        return values.map(lambda v: None if v is None else str(v).strip().lower() == "true")
    return values.astype("string")
