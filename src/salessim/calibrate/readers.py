"""Reading CRM exports and event logs into one table of stage rows.

Four formats are recognised by their columns (``--format`` forces one):

- ``history``: one row per stage visit (``deal_id``, ``stage``, ``entered_at``; optional
  ``exited_at``, ``next_stage``, ``source``, ``amount``, ``owner``, ``created_at``,
  ``touch_hours``: logged staff time of the visit).
- ``salesforce``: OpportunityHistory, one row per change (``OpportunityId``, ``StageName``,
  ``CreatedDate``, ``Amount``; ``LeadSource``, ``OwnerId``, ``IsWon``, ``IsClosed`` when
  joined with the Opportunity object, in the same file or given apart).
- ``hubspot``: one row per deal with ``hs_date_entered_<stage>`` / ``hs_date_exited_<stage>``.
- ``eventlog``: process-mining columns (``case:concept:name``, ``concept:name``,
  ``time:timestamp``, ``lifecycle:transition``, ``org:resource``), salessim's own included.

Every reader returns a frame in the columns :data:`RAW_COLUMNS`, with ``row`` the line of
the input file each row came from, for error messages. :mod:`salessim.calibrate.visits`
turns it into stage visits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from salessim.calibrate import FORMATS
from salessim.calibrate.bounds import (  # ExportError and the parsers: re-exported
    ExportError,
    parse_amounts,
    parse_dates,
)
from salessim.calibrate.lossy import hubspot_warnings, source_warnings
from salessim.calibrate.sniff import sniff
from salessim.scenario.yamlread import file_problem

#: The fields of one stage row, whatever the input format.
RAW_COLUMNS = ("deal_id", "stage", "entered_at", "exited_at", "next_stage", "source", "amount",
               "owner", "created_at", "touch", "row")

#: Columns each format needs (HubSpot also needs at least one ``hs_date_entered_`` column).
REQUIRED = {
    "history": ("deal_id", "stage", "entered_at"),
    "salesforce": ("OpportunityId", "StageName", "CreatedDate"),
    "hubspot": ("dealstage",),
    "eventlog": ("case:concept:name", "concept:name", "time:timestamp"),
}
_NAMES = {"history": "a stage history", "salesforce": "a Salesforce OpportunityHistory",
          "hubspot": "a HubSpot deals export", "eventlog": "an event log"}
#: Optional column of a stage history: logged staff (activity) time of the visit, in hours.
TOUCH_COLUMN = "touch_hours"
HUBSPOT_ENTERED, HUBSPOT_EXITED = "hs_date_entered_", "hs_date_exited_"
_HUBSPOT_IDS = ("hs_object_id", "Record ID", "deal_id", "id")
_HUBSPOT_SOURCES = ("source", "deal_source", "lead_source", "hs_analytics_source")
#: Events of an event log that belong to the case, not to a stage visit.
CASE_EVENTS = ("created",)
#: Events that are not stage work: a stage skipped by a rule was never visited.
SKIP_EVENTS = ("skipped", "skip")
ENTERED = "entered"


@functools.lru_cache(maxsize=4096)  # called per row of an export, for a few distinct names
def slug(name: object) -> str:
    """The id of a CRM name in a scenario: lower case, other characters runs as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "_"


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame of strings (CSV) or typed columns (Parquet)."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ExportError(f"{path}: {problem}")
    kind = sniff(path)
    if kind is not None:  # an event log (read as one), or not a table at all
        log = {"xes": "an XES event log", "ocel": "an OCEL 2.0 object-centric event log"}
        raise ExportError(f"{path}: this is {log[kind]}; read it as an event log: give it to "
                          "calibrate without --format (it is recognised by its content), with "
                          "--stages MAP.yaml to group its activities into stages"
                          + (" and --object-type TYPE to choose the objects that are its cases"
                             if kind == "ocel" else "") if kind in log else
                          f"{path}: this is {'an SQLite database' if kind == 'sqlite' else 'an XML file'}, "
                          "not a CSV or Parquet table; export the data as CSV (one row per "
                          "stage visit or per event), or as XES")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ExportError(f"{path}: the file is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ExportError(f"{path}: cannot be read as {path.suffix or 'CSV'}: {exc}") from None
    if frame.empty:
        raise ExportError(f"{path}: the file has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def apply_map(frame: pd.DataFrame, mapping: Sequence[str], path: str) -> pd.DataFrame:
    """Rename columns by ``col=field`` pairs (the ``--map`` option)."""
    renames = {}
    for item in mapping:
        col, sep, field = item.partition("=")
        if not sep or not col.strip() or not field.strip():
            raise ExportError(f"--map: give COLUMN=FIELD, got {item!r}")
        if col.strip() not in frame.columns:
            raise ExportError(f"{path}: --map {item}: no column {col.strip()!r} "
                              f"(columns: {', '.join(frame.columns)})")
        renames[col.strip()] = field.strip()
    return frame.rename(columns=renames)


def detect_format(frame: pd.DataFrame, path: str) -> str:
    """The format whose columns the frame has; the error names what is missing."""
    columns = set(frame.columns)
    found = [f for f in FORMATS if set(REQUIRED[f]) <= columns]
    if "hubspot" in found and not _hubspot_stages(frame):
        found.remove("hubspot")
    if found:
        return found[0]
    best = max(FORMATS, key=lambda f: len(set(REQUIRED[f]) & columns))
    return _missing(best, frame, path)


def _missing(fmt: str, frame: pd.DataFrame, path: str):
    missing = [c for c in REQUIRED[fmt] if c not in frame.columns]
    if fmt == "hubspot" and not missing:
        missing = [f"{HUBSPOT_ENTERED}<stage>"]
    example = missing[0]
    raise ExportError(
        f"{path}: missing column {example!r} for {_NAMES[fmt]} (needs "
        f"{', '.join(REQUIRED[fmt])}; found {', '.join(frame.columns)}); if your file names "
        f"it otherwise, add --map YOUR_COLUMN={example}")


def read_export(path: str | Path, fmt: str | None = None, mapping: Sequence[str] = (),
                opportunities: str | Path | None = None, timezone: str | None = None
                ) -> pd.DataFrame:
    """Read any supported export into stage rows (columns :data:`RAW_COLUMNS`).

    Args:
        path: CSV or Parquet file.
        fmt: one of :data:`FORMATS`, or None to recognise it by its columns.
        mapping: ``col=field`` renames applied first.
        opportunities: a Salesforce Opportunity export to join (``Id``, ``LeadSource``,
            ``OwnerId``, ``IsWon``, ``IsClosed``, ``CreatedDate``).
        timezone: times in this zone (default: each time's own wall clock, offset dropped).
    """
    name = str(path)
    frame = apply_map(read_table(path), mapping, name)
    if fmt is None:
        fmt = detect_format(frame, name)
    elif fmt not in FORMATS:
        raise ExportError(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    elif not set(REQUIRED[fmt]) <= set(frame.columns):
        _missing(fmt, frame, name)
    frame = frame.assign(row=np.arange(2, len(frame) + 2))  # line 1 is the header
    frame.attrs["timezone"] = timezone  # for every date column, through the format readers
    if fmt == "history":
        return _history(frame, name)
    if fmt == "salesforce":
        opp = None if opportunities is None else read_table(opportunities)
        if opp is not None:
            opp.attrs["timezone"] = timezone
        return _salesforce(frame, name, opp, str(opportunities))
    if fmt == "hubspot":
        return _hubspot(frame, name)
    return eventlog_rows(frame, name)


# --- parsing values -----------------------------------------------------------------------


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    values = frame[column].astype("string").str.strip()
    return values.mask(values == "")


def _raw(frame: pd.DataFrame, path: str, **cols) -> pd.DataFrame:
    """Assemble the raw columns, filling absent ones."""
    n = len(frame)
    cols = {k: v for k, v in cols.items() if v is not None}
    empty_dates = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    out = pd.DataFrame({
        "deal_id": cols["deal_id"].astype("string"),
        "stage": cols["stage"].astype("string"),
        "entered_at": cols["entered_at"],
        "exited_at": cols.get("exited_at", empty_dates),
        "next_stage": cols.get("next_stage", pd.Series(pd.NA, index=frame.index, dtype="string")),
        "source": cols.get("source", pd.Series(pd.NA, index=frame.index, dtype="string")),
        "amount": cols.get("amount", pd.Series(np.nan, index=frame.index)),
        "owner": cols.get("owner", pd.Series(pd.NA, index=frame.index, dtype="string")),
        "created_at": cols.get("created_at", empty_dates),
        "touch": cols.get("touch", pd.Series(np.nan, index=frame.index)),
        "row": frame["row"].to_numpy() if "row" in frame else np.arange(2, n + 2),
    })
    for column in ("deal_id", "stage"):
        blank = out[column].isna()
        if blank.any():
            row = out["row"][blank].iloc[0]
            raise ExportError(f"{path}:{row}: {column}: must not be empty")
    return out.reset_index(drop=True)


def _dates(frame, column, path):
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return parse_dates(frame[column], frame["row"], path, column, frame.attrs.get("timezone"))


def _amounts(frame, column, path):
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return parse_amounts(frame[column], frame["row"], path, column)


# --- the formats --------------------------------------------------------------------------


def _history(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    return _raw(
        frame, path, deal_id=_text(frame, "deal_id"), stage=_text(frame, "stage"),
        entered_at=_dates(frame, "entered_at", path), exited_at=_dates(frame, "exited_at", path),
        next_stage=_text(frame, "next_stage"), source=_text(frame, "source"),
        amount=_amounts(frame, "amount", path), owner=_text(frame, "owner"),
        created_at=_dates(frame, "created_at", path),
        touch=_amounts(frame, TOUCH_COLUMN, path) / 24)


def _salesforce(frame: pd.DataFrame, path: str, opp: pd.DataFrame | None,
                opp_path: str) -> pd.DataFrame:
    changed = _dates(frame, "CreatedDate", path)
    created = None
    if opp is not None:
        if "Id" not in opp.columns:
            raise ExportError(f"{opp_path}: missing column 'Id' to join with "
                              f"OpportunityHistory.OpportunityId (found {', '.join(opp.columns)})")
        opp = opp.assign(row=np.arange(2, len(opp) + 2))
        keep = [c for c in ("LeadSource", "OwnerId", "IsWon", "IsClosed") if c in opp.columns]
        extra = opp[["Id", *keep]].copy()
        if "CreatedDate" in opp.columns:
            extra["_created"] = _dates(opp, "CreatedDate", opp_path)
        frame = frame.drop(columns=[c for c in keep if c in frame.columns]).merge(
            extra, how="left", left_on="OpportunityId", right_on="Id")
        if "_created" in extra:
            created = frame["_created"]
    amount = _amounts(frame, "Amount", path)
    raw = _raw(frame, path, deal_id=_text(frame, "OpportunityId"), stage=_text(frame, "StageName"),
               entered_at=changed, source=_text(frame, "LeadSource"), amount=amount,
               owner=_text(frame, "OwnerId"),
               created_at=created)
    raw = raw.sort_values(["deal_id", "entered_at", "row"], kind="stable")
    # A row that changes only the amount or the probability is not a new stage visit.
    same = ((raw["deal_id"] == raw["deal_id"].shift()) & (raw["stage"] == raw["stage"].shift())
            ).fillna(False).astype(bool)
    # The amount at the end of the deal is the deal's value (amounts change during a deal).
    last_amount = raw.groupby("deal_id")["amount"].transform("last")
    raw = raw.assign(amount=last_amount)[~same.to_numpy()].reset_index(drop=True)
    raw.attrs["closed"] = _closed_stages(frame)
    raw.attrs["warnings"] = source_warnings(
        set(frame.columns), None if opp is None else set(opp.columns), raw["source"])
    return raw


def _closed_stages(frame: pd.DataFrame) -> dict[str, str]:
    """Last stages that IsClosed / IsWon mark as won or lost (names not guessed)."""
    if not {"IsWon", "IsClosed"} <= set(frame.columns):
        return {}
    truthy = {"true", "1", "yes", "t"}
    last = frame.sort_values("CreatedDate").groupby("OpportunityId").tail(1)
    out = {}
    for _, r in last.iterrows():
        if str(r["IsClosed"]).strip().lower() in truthy:
            out[str(r["StageName"]).strip()] = (
                "won" if str(r["IsWon"]).strip().lower() in truthy else "lost")
    return out


def _hubspot_stages(frame: pd.DataFrame) -> list[str]:
    return [c[len(HUBSPOT_ENTERED):] for c in frame.columns if c.startswith(HUBSPOT_ENTERED)]


def _hubspot(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    stages = _hubspot_stages(frame)
    if not stages:
        _missing("hubspot", frame, path)
    id_col = next((c for c in _HUBSPOT_IDS if c in frame.columns), None)
    ids = _text(frame, id_col) if id_col else pd.Series(
        [f"deal-{r}" for r in frame["row"]], index=frame.index, dtype="string")
    source_col = next((c for c in _HUBSPOT_SOURCES if c in frame.columns), None)
    parts = []
    for stage in stages:
        entered = _dates(frame, HUBSPOT_ENTERED + stage, path)
        exited = _dates(frame, HUBSPOT_EXITED + stage, path)
        has = entered.notna()
        sub = frame[has]
        parts.append(_raw(
            sub, path, deal_id=ids[has], stage=pd.Series(stage, index=sub.index, dtype="string"),
            entered_at=entered[has], exited_at=exited[has],
            source=_text(sub, source_col) if source_col else None,
            amount=_amounts(sub, "amount", path), owner=_text(sub, "hubspot_owner_id"),
            created_at=_dates(sub, "createdate", path)))
    raw = pd.concat(parts, ignore_index=True)
    raw.attrs["warnings"] = hubspot_warnings(raw)
    return raw


def eventlog_rows(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    if "replication" in frame.columns and frame["replication"].nunique() > 1:
        reps = sorted(frame["replication"].astype(str).unique())
        raise ExportError(f"{path}: replication: the log holds {len(reps)} replications "
                          f"({', '.join(reps[:5])}{', ...' if len(reps) > 5 else ''}); "
                          "calibrate from one (keep the rows of one replication)")
    times = _dates(frame, "time:timestamp", path)
    log = pd.DataFrame({
        "case": _text(frame, "case:concept:name"), "name": _text(frame, "concept:name"),
        "time": times, "row": frame["row"].to_numpy(),
        "kind": _text(frame, "event") if "event" in frame else _text(frame, "lifecycle:transition"),
        "lifecycle": _text(frame, "lifecycle:transition"),
    })
    for column, label in (("case", "case:concept:name"), ("name", "concept:name")):
        if log[column].isna().any():
            row = log["row"][log[column].isna()].iloc[0]
            raise ExportError(f"{path}:{row}: {label}: must not be empty")
    log["source"] = _eventlog_sources(frame, log["case"])
    log["owner"] = _text(frame, "owner")
    log["amount"] = _amounts(frame, "amount", path)
    skipped = log["kind"].isin(SKIP_EVENTS) | log["lifecycle"].isin(SKIP_EVENTS)
    log = log[~skipped.fillna(False).astype(bool).to_numpy()]
    log = log.sort_values(["case", "time", "row"], kind="stable").reset_index(drop=True)
    created = log["name"].isin(CASE_EVENTS)
    created_at = log["time"].where(created).groupby(log["case"]).transform("min")
    log = log.assign(created_at=created_at)[~created.to_numpy()]
    # A visit starts at an ``entered`` event when the log has them, else at a change of
    # activity within the case: whatever the visit's other events, its first one is entry.
    same_case = (log["case"] == log["case"].shift()).fillna(False).astype(bool)
    changed = (log["name"] != log["name"].shift()).fillna(True).astype(bool)
    new_visit = ~same_case | changed | (log["kind"] == ENTERED).fillna(False).astype(bool)
    firsts = log[new_visit.to_numpy()]
    amount = log.groupby("case")["amount"].transform("last")[new_visit.to_numpy()]
    return _raw(firsts, path, deal_id=firsts["case"], stage=firsts["name"],
                entered_at=firsts["time"], source=firsts["source"], amount=amount,
                owner=firsts["owner"], created_at=firsts["created_at"])


def _eventlog_sources(frame: pd.DataFrame, cases: pd.Series) -> pd.Series:
    """A source column when given; else salessim's lead ids ``<source>-<n>`` name it."""
    if "source" in frame.columns:
        return _text(frame, "source")
    ids = _text(frame, "lead") if "lead" in frame.columns else cases
    found = ids.str.extract(r"(?:^|[^A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)-\d+(?:$|[^0-9])")[0]
    if found.isna().any():
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return found.astype("string")
