"""The open pipeline at an as-of date, read from a file, as a scenario's open deals.

Two kinds of file are read:

- a plain open-deals table (CSV or Parquet) with the columns ``deal_id, stage,
  entered_stage_at`` and optionally ``amount, source, owner, created_at, score,
  work_done``: every row is a deal open at the as-of date;
- any export ``salessim calibrate`` reads (a stage history, Salesforce, HubSpot, an event
  log): the deals open at the as-of date are taken, with what was known then.

Stage and source names are matched to the scenario's ids as calibration writes them
(lower case, words joined by ``_``), so a scenario calibrated from the same CRM fits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from salessim.calibrate.readers import ExportError, read_table, slug
from salessim.calibrate.visits import Visits
from salessim.errors import did_you_mean
from salessim.scenario.schema import Scenario
from salessim.scenario.units import convert

#: The columns of a plain open-deals table.
PLAIN_COLUMNS = ("deal_id", "stage", "entered_stage_at")
OPTIONAL_COLUMNS = ("amount", "source", "owner", "created_at", "score", "work_done")


@dataclass
class Snapshot:
    """The deals open at ``as_of``, as rows ready for a scenario's ``pipeline``.

    Attributes:
        deals: one dict per deal (the fields of ``OpenDeal``), ages in the scenario's unit.
        as_of: the as-of date (time 0 of the forecast).
        table: the same deals as read (``deal_id, stage, entered_stage_at, age_days,
            amount, source, owner``).
        warnings: what was assumed, in words.
    """

    deals: list[dict[str, Any]]
    as_of: pd.Timestamp
    table: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def parse_date(text: str, option: str) -> pd.Timestamp:
    """A date or time from the command line (UTC, without a zone), or a clear error."""
    try:
        when = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ExportError(f"{option}: not a date or time (got {text!r}); write it like "
                          "2026-12-31 or 2026-12-31T18:00") from None
    if pd.isna(when):
        raise ExportError(f"{option}: not a date or time (got {text!r})")
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    # Dates are nanosecond timestamps (the export's and the simulated ones): their range
    # ends in 2262; a later date would only fail in the first subtraction.
    if not pd.Timestamp.min <= when <= pd.Timestamp.max:
        raise ExportError(f"{option}: must lie between {pd.Timestamp.min:%Y-%m-%d} and "
                          f"{pd.Timestamp.max:%Y-%m-%d} (got {text!r})")
    return when


def parse_until(text: str, option: str = "--until") -> pd.Timestamp:
    """The end of a forecast window: a date alone means the end of that day (the next
    midnight), so ``2026-09-30`` takes in the whole of 30 September; a time is that time.

    Raises:
        ExportError: as :func:`parse_date`.
    """
    when = parse_date(text, option)
    return when + pd.Timedelta(days=1) if _date_only(text) and when == when.normalize() \
        else when


def _date_only(text: str) -> bool:
    """Whether ``text`` names a day without a time of day (``2026-09-30``, not
    ``2026-09-30T00:00``): no clock time is written."""
    return re.search(r":|\d[Tt]\d", text) is None


def until_day(until: pd.Timestamp) -> str:
    """The last moment of a window as a label: its last whole day for a midnight (what
    :func:`parse_until` makes of a date), else the date and time."""
    if until == until.normalize():
        return f"{until - pd.Timedelta(days=1):%Y-%m-%d}"
    return f"{until:%Y-%m-%d %H:%M}"


def until_text(until: pd.Timestamp) -> str:
    """How a sentence names the end of a window: ``the end of 2026-09-30`` (that day
    included) for a midnight, else ``2026-09-30 18:00``."""
    day = until_day(until)
    return f"the end of {day}" if until == until.normalize() else day


#: The advice an export reader gives for ``calibrate --map``, an option forecast lacks.
_MAP_ADVICE = re.compile(r"; if your file names it otherwise, add --map YOUR_COLUMN=(\S+)$")


def forecast_advice(exc: ExportError) -> ExportError:
    """An export reader's error worded for ``forecast``, which has no ``--map``: the way
    out is to name the column so in the file."""
    return ExportError(_MAP_ADVICE.sub(r"; if your file names it otherwise, rename that "
                                       r"column to \1 in the file", str(exc)))


def _not_readable(exc: ExportError, frame: pd.DataFrame | None, path: str) -> ExportError:
    """The error of a table that is neither a plain open-deals table nor an export: what
    the open-deals table lacks first (what a pipeline file usually is), then the export's."""
    missing = ([] if frame is None else
               [c for c in PLAIN_COLUMNS if c not in {slug(c) for c in frame.columns}])
    if not missing or "missing column" not in str(exc):
        return forecast_advice(exc)
    found = ", ".join(str(c) for c in frame.columns) if frame is not None else ""
    export = str(forecast_advice(exc)).removeprefix(f"{path}: ")
    return ExportError(
        f"{path}: missing column {missing[0]!r} for an open-deals table (needs "
        f"{', '.join(PLAIN_COLUMNS)}; found {found}): add it, or rename yours to "
        f"{missing[0]} in the file. Read as an export salessim calibrate reads instead: "
        f"{export}")


def is_plain(frame: pd.DataFrame) -> bool:
    """A plain open-deals table (not a stage history, which has exits)."""
    columns = {slug(c) for c in frame.columns}
    return all(c in columns for c in PLAIN_COLUMNS) and "exited_at" not in columns


def read_pipeline(path: str | Path, scenario: Scenario, as_of: pd.Timestamp | None = None,
                  fmt: str | None = None, stages: str | Path | None = None,
                  won: Sequence[str] = (), lost: Sequence[str] = (),
                  no_decision: Sequence[str] = ()) -> Snapshot:
    """The deals open at ``as_of`` in the file (default: its latest timestamp); an event
    log (XES, or any log with a stage map ``stages``) is grouped into stages by the map.

    ``won``, ``lost`` and ``no_decision`` name a history's end stages as ``calibrate``'s
    options do. An ``as_of`` after a history's latest timestamp is the date it was exported
    (a client's export is often a day old): accepted, with a warning.

    Raises:
        ExportError: the file cannot be read, a deal is in a stage or from a source the
            scenario does not have, or the as-of date lies before the data; the message
            names the file, row, deal and value.
    """
    path = Path(path)
    from salessim.calibrate.sniff import sniff

    plain = fmt is None and stages is None and sniff(path) is None
    frame = read_table(path) if plain else None
    if frame is not None and is_plain(frame):
        table, as_of = _plain(frame, str(path), as_of)
    else:
        try:
            table, as_of, notes = _from_history(path, fmt, as_of, stages, won, lost,
                                                no_decision)
        except ExportError as exc:
            raise _not_readable(exc, frame, str(path)) from None
        snap = _snapshot(table, as_of, scenario, str(path))
        snap.warnings[:0] = notes
        return snap
    return _snapshot(table, as_of, scenario, str(path))


def _plain(frame: pd.DataFrame, path: str, as_of: pd.Timestamp | None
           ) -> tuple[pd.DataFrame, pd.Timestamp]:
    from salessim.calibrate.readers import parse_amounts, parse_dates

    frame = frame.copy()
    frame.columns = [slug(c) for c in frame.columns]
    rows = pd.Series(range(2, len(frame) + 2), index=frame.index)  # line 1 is the header
    out = pd.DataFrame({"deal_id": frame["deal_id"].astype("string").str.strip(),
                        "stage": frame["stage"].astype("string").str.strip(),
                        "row": rows})
    for col in ("deal_id", "stage"):
        blank = out[col].isna() | (out[col] == "")
        if blank.any():
            row = int(rows[blank].iloc[0])
            raise ExportError(f"{path}:{row}: column {col!r} is empty")
    out["entered_stage_at"] = parse_dates(frame["entered_stage_at"], rows, path,
                                          "entered_stage_at")
    missing = out["entered_stage_at"].isna()
    if missing.any():
        row = int(rows[missing].iloc[0])
        raise ExportError(f"{path}:{row}: column 'entered_stage_at' is empty (deal "
                          f"{out['deal_id'][missing].iloc[0]!r})")
    out["amount"] = (parse_amounts(frame["amount"], rows, path, "amount")
                     if "amount" in frame else math.nan)
    for col in ("source", "owner"):
        out[col] = (frame[col].astype("string").str.strip() if col in frame
                    else pd.Series(pd.NA, index=frame.index, dtype="string"))
    out["created_at"] = (parse_dates(frame["created_at"], rows, path, "created_at")
                         if "created_at" in frame else pd.NaT)
    if "score" in frame:
        out["score"] = pd.to_numeric(frame["score"], errors="coerce")
        bad = frame["score"].notna() & ~out["score"].between(0, 1)
        if bad.any():
            row = int(rows[bad].iloc[0])
            raise ExportError(f"{path}:{row}: score must be a number from 0 to 1, got "
                              f"{frame['score'][bad].iloc[0]!r}")
    if "work_done" in frame:
        text = frame["work_done"].astype("string").str.strip().str.lower()
        truth = text.map({"true": True, "yes": True, "1": True, "false": False, "no": False,
                          "0": False, "": False})
        bad = text.notna() & truth.isna()
        if bad.any():
            row = int(rows[bad].iloc[0])
            raise ExportError(f"{path}:{row}: work_done must be true or false, got "
                              f"{frame['work_done'][bad].iloc[0]!r}")
        out["work_done"] = truth.fillna(False).astype(bool)
    latest = max(out["entered_stage_at"].max(), out["created_at"].max()
                 if out["created_at"].notna().any() else out["entered_stage_at"].max())
    when = latest if as_of is None else as_of
    late = out["entered_stage_at"] > when
    if late.any():
        row = int(rows[late].iloc[0])
        raise ExportError(f"{path}:{row}: deal {out['deal_id'][late].iloc[0]!r} entered its "
                          f"stage at {out['entered_stage_at'][late].iloc[0]}, after the as-of "
                          f"date {when}: a plain open-deals file lists the deals open then")
    dup = out["deal_id"].duplicated()
    if dup.any():
        row = int(rows[dup].iloc[0])
        raise ExportError(f"{path}:{row}: deal {out['deal_id'][dup].iloc[0]!r} is listed "
                          "twice: a deal is open in one stage at a time")
    return out, when


def _from_history(path: Path, fmt: str | None, as_of: pd.Timestamp | None,
                  stages: str | Path | None = None, won: Sequence[str] = (),
                  lost: Sequence[str] = (), no_decision: Sequence[str] = ()
                  ) -> tuple[pd.DataFrame, pd.Timestamp, list[str]]:
    from salessim.calibrate.pipeline import read_visits

    visits = read_visits(path, fmt, won=won, lost=lost, no_decision=no_decision,
                         stages=stages)
    return open_at(visits, as_of, str(path))


def open_at(visits: Visits, as_of: pd.Timestamp | None, origin: str
            ) -> tuple[pd.DataFrame, pd.Timestamp, list[str]]:
    """The deals open at ``as_of`` in a history, the as-of date and what was assumed.

    A date after the history's latest timestamp is taken as the date of the export: nothing
    happened in between, so every deal open at the end is open then, older by the gap.
    """
    notes: list[str] = []
    if as_of is not None and as_of > visits.as_of:
        gap = (as_of - visits.as_of) / pd.Timedelta(days=1)
        notes.append(f"--as-of {as_of}: {gap:.3g} days after the latest timestamp in "
                     f"{origin} ({visits.as_of}); taken as the export's date, with no event "
                     "between (the open deals are older by the gap)")
        known = replace(visits, as_of=as_of, warnings=list(visits.warnings))
    else:
        known = visits if as_of is None or as_of == visits.as_of else visits.cut(as_of)
    return _open_table(known), known.as_of, notes


def _open_table(known: Visits) -> pd.DataFrame:
    """The deals open at the end of the visits, as :func:`_snapshot` reads them."""
    table = known.open_deals()
    table["stage"] = table["stage"].map(known.target)
    table["row"] = pd.NA
    return table.drop(columns=["age"])


def snapshot_from_visits(visits: Visits, scenario: Scenario, origin: str = "<history>"
                         ) -> Snapshot:
    """The deals open at the end of ``visits`` (``visits.cut(as_of)`` for an earlier date).

    Raises:
        ExportError: a deal is in a stage or from a source the scenario does not have.
    """
    return _snapshot(_open_table(visits), visits.as_of, scenario, origin)


def _snapshot(table: pd.DataFrame, as_of: pd.Timestamp, scenario: Scenario, path: str
              ) -> Snapshot:
    unit = scenario.time_unit
    first_source = next(iter(scenario.sources))
    deals: list[dict[str, Any]] = []
    warnings: list[str] = []
    ages, no_amount, no_source = [], 0, 0
    for rec in table.to_dict(orient="records"):
        where = f"{path}:{rec['row']}" if not pd.isna(rec.get("row")) else path
        stage = slug(rec["stage"])
        if stage not in scenario.stages:
            raise ExportError(f"{where}: deal {rec['deal_id']!r} is in stage {rec['stage']!r}, "
                              f"which the scenario does not have"
                              f"{did_you_mean(stage, scenario.stages)} (stages: "
                              f"{', '.join(scenario.stages)})")
        age_days = (as_of - rec["entered_stage_at"]) / pd.Timedelta(days=1)
        deal: dict[str, Any] = {"id": str(rec["deal_id"]), "stage": stage,
                                "age": convert(age_days, "day", unit)}
        amount = rec.get("amount")
        if amount is None or pd.isna(amount):
            no_amount += 1
            amount = 0.0
        deal["value"] = float(amount)
        source = rec.get("source")
        if source is None or pd.isna(source) or str(source) == "":
            no_source += 1
        else:
            sid = slug(source)
            if sid not in scenario.sources:
                raise ExportError(f"{where}: deal {rec['deal_id']!r} comes from source "
                                  f"{source!r}, which the scenario does not have"
                                  f"{did_you_mean(sid, scenario.sources)} (sources: "
                                  f"{', '.join(scenario.sources)})")
            deal["source"] = sid
        owner = rec.get("owner")
        if owner is not None and not pd.isna(owner) and str(owner) != "":
            deal["owner"] = str(owner)
        created = rec.get("created_at")
        if created is not None and not pd.isna(created):
            since = (as_of - created) / pd.Timedelta(days=1)
            deal["created"] = convert(max(since, age_days), "day", unit)
        for key in ("score", "work_done"):
            value = rec.get(key)
            if value is not None and not pd.isna(value):
                deal[key] = float(value) if key == "score" else bool(value)
        deals.append(deal)
        ages.append(age_days)
    if no_amount:
        warnings.append(f"{no_amount} open deals have no amount: counted as 0")
    if no_source:
        warnings.append(f"{no_source} open deals have no source: their staff cost goes to "
                        f"the first source, {first_source!r}")
    shown = table.drop(columns=[c for c in ("row",) if c in table]).copy()
    shown["stage"] = [d["stage"] for d in deals]
    shown["age_days"] = ages
    return Snapshot(deals, as_of, shown.reset_index(drop=True), warnings)
