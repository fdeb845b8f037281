"""Calibration from a file to written outputs, as one call from Python or the command line.

>>> result = calibrate_file("examples/crm/stage_history.csv")   # doctest: +SKIP
>>> result.write("out/calibrated")                              # doctest: +SKIP

Everything is computed in memory first; only then are files written, each whole or not at
all, so bad input never leaves anything half-written in the output folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salessim.calibrate.backtest import Backtest, backtest, touch_warnings
from salessim.calibrate.estimate import Calibration, calibrate
from salessim.calibrate.fromlog import EventLog, is_event_log, read_log
from salessim.calibrate.headcount import parse_headcount
from salessim.calibrate.readers import ExportError, read_export, slug
from salessim.calibrate.stagemap import StageMap
from salessim.calibrate.visits import DAY, Visits, build_visits
from salessim.calibrate.writer import check_scenario, evidence, scenario_data, scenario_yaml
from salessim.ends import LOST, NO_DECISION, WON
from salessim.output import atomic_path, write_json, write_text
from salessim.records import write_frame
from salessim.scenario import Scenario
from salessim.scenario.units import parse_duration


@dataclass
class CalibrationResult:
    """A calibrated scenario with its evidence and back-test, ready to write."""

    calibration: Calibration
    data: dict[str, Any]
    yaml: str
    scenario: Scenario
    evidence: dict[str, Any]
    backtest: Backtest | None = None
    holdout_visits: Visits | None = None
    figures: dict[str, bytes] = field(default_factory=dict)
    html: str = ""
    #: The file read and its read options, for the scenario's ``provenance`` (a file only).
    source: tuple[Path, dict[str, Any]] | None = None

    @property
    def warnings(self) -> list[str]:
        return self.calibration.warnings

    def write(self, out: str | Path) -> list[Path]:
        """Write scenario.yaml, calibration.json, backtest.csv, report.html and the PNGs."""
        out = Path(out)
        written = []
        for name, png in self.figures.items():
            path = out / name
            with atomic_path(path) as tmp:
                tmp.write_bytes(png)
            written.append(path)
        if self.backtest is not None:
            write_frame(self.backtest.frame(), out / "backtest.csv")
            written.append(out / "backtest.csv")
        write_json(out / "calibration.json", self.evidence)
        if self.html:
            write_text(out / "report.html", self.html)
            written.append(out / "report.html")
        if self.source is not None:
            self.with_provenance(out)
        write_text(out / "scenario.yaml", self.yaml)
        return [*written, out / "calibration.json", out / "scenario.yaml"]


    def with_provenance(self, folder: str | Path) -> None:
        """Add the ``provenance`` key for a scenario.yaml in ``folder``: the history's path
        and the paths among its options made relative to that folder. ``yaml`` and
        ``scenario`` become what is written (the key changes no simulated number)."""
        import os

        from salessim.scenario.provenance import PROVENANCE_MARK, provenance_yaml

        if self.source is None:
            return
        history, options = self.source
        where = Path(folder).resolve()

        def rel(path):
            return Path(os.path.relpath(Path(path).resolve(), where)).as_posix()

        paths = {k: rel(v) for k, v in options.items() if k in ("stages", "opportunities")
                 and v is not None}
        # Written twice (another folder), the key is replaced, not repeated.
        plain = self.yaml.split(PROVENANCE_MARK)[0]
        self.yaml = plain + provenance_yaml(rel(history), {**options, **paths})
        self.scenario = check_scenario(self.yaml)


def parse_touch(items: Sequence[str]) -> dict[str, float]:
    """``stage=duration`` pairs (days, or a duration with its unit) by stage id."""
    touch = {}
    for item in items:
        stage, sep, value = item.partition("=")
        if not sep or not stage.strip():
            raise ExportError(f"--touch: give STAGE=DURATION, got {item!r}")
        try:
            days = parse_duration(value, "day") if not _number(value) else float(value)
        except ValueError as exc:
            raise ExportError(f"--touch {item}: {exc}") from None
        if not (math.isfinite(days) and days > 0):
            raise ExportError(f"--touch {item}: staff work must be a positive duration")
        touch[slug(stage)] = days
    return touch


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_visits(path: str | Path, fmt: str | None = None, mapping: Sequence[str] = (),
                won: Sequence[str] = (), lost: Sequence[str] = (),
                no_decision: Sequence[str] = (), as_of: str | None = None,
                opportunities: str | Path | None = None, stages: str | Path | None = None,
                timezone: str | None = None) -> Visits:
    """Any supported export as the normalised visits table (what ``forecast`` reuses)."""
    return read_history(path, fmt, mapping, won, lost, no_decision, as_of, opportunities,
                        stages, timezone)[0]


def parse_as_of(as_of: str | None, option: str = "--as-of") -> pd.Timestamp | None:
    """The ``--as-of`` (or ``option``) date as a naive timestamp (UTC when it names a zone)."""
    if as_of is None:
        return None
    try:
        when = pd.Timestamp(as_of)
    except ValueError:
        raise ExportError(f"{option}: not a date or time (got {as_of!r})") from None
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return when


def read_history(path: str | Path, fmt: str | None = None, mapping: Sequence[str] = (),
                 won: Sequence[str] = (), lost: Sequence[str] = (),
                 no_decision: Sequence[str] = (), as_of: str | None = None,
                 opportunities: str | Path | None = None, stages: str | Path | None = None,
                 timezone: str | None = None) -> tuple[Visits, EventLog | None]:
    """The visits of an export, and for an event log (XES, or any log with ``stages``) its
    work items. ``as_of`` calibrates on what was known then: later events unseen, visits
    open then censored."""
    when = parse_as_of(as_of)
    if stages is None and (fmt not in (None, "eventlog") or not is_event_log(path)):
        raw = read_export(path, fmt, mapping, opportunities)
        return build_visits(raw, str(path), won, lost, no_decision, when), None
    raw, log = read_log(path, stages, when, timezone)
    seen = set(raw["stage"])
    given = {WON.name: list(won), LOST.name: list(lost), NO_DECISION.name: list(no_decision)}
    # An end of the map that no case reached (by the as-of date) is no stage seen.
    mapped = {kind: names or [a for a, k in log.stage_map.ends.items() if k == kind and a in seen]
              for kind, names in given.items()}
    visits = build_visits(raw, str(path), mapped[WON.name], mapped[LOST.name],
                          mapped[NO_DECISION.name], when)
    ends = raw.attrs.get("end_names", {})
    visits.deals["end"] = visits.deals["deal_id"].map(ends).where(visits.deals["outcome"].notna())
    visits.warnings.extend(log.warnings)
    return visits, log


def fit_period(visits: Visits, holdout: float | None) -> tuple[Visits, pd.Timestamp | None]:
    """The visits a calibration fits on (all, or the first part with ``holdout``) and the
    start of the held-out part (None without one)."""
    if holdout is None:
        return visits, None
    if not 0 < holdout < 1:
        raise ExportError(f"--holdout: the share of the period to hold out must be "
                          f"between 0 and 1, got {holdout:g}")
    since = visits.start + (1 - holdout) * visits.days * DAY
    return visits.cut(since), since


def calibrate_visits(visits: Visits, origin: str, touch: dict[str, float] | None = None,
                     holdout: float | None = None, replications: int = 20, seed: int = 1,
                     run_backtest: bool = True, report: bool = True,
                     name: str | None = None, families: dict | None = None,
                     log: EventLog | None = None, headcount: dict[str, int] | None = None
                     ) -> CalibrationResult:
    """Calibrate (on the first part only with ``holdout``), back-test and build the report.

    ``families`` fixes the fit of time in stage per stage id (see ``calibrate``); ``log``
    is the event log the visits came from (its work items give staff and queues);
    ``headcount`` is ``--headcount`` as {role: N}.
    """
    fit_on, since = fit_period(visits, holdout)
    others = sorted(set(headcount or {}) - {"owner"})
    if since is not None and log is not None and others:
        raise ExportError(f"--headcount {others[0]} with --holdout: a held-out "
                          "calibration of an event log finds no roles in its work items "
                          "(its stages have no staff), so there is no role to staff; "
                          "drop --holdout, or --as-of DATE to calibrate on the earlier "
                          "part")
    cal = calibrate(fit_on, touch, families, log if since is None else None, headcount)
    title = name or f"Calibrated from {Path(origin).name}"
    data = scenario_data(cal, title, replications, seed)
    text = scenario_yaml(cal, data, origin)
    scenario = check_scenario(text)
    scored = visits
    if since is None and cal.window is not None and cal.window.cut is not None:
        # After an extraction cut the export shows no new case: score up to the cut.
        scored = visits.cut(min(cal.window.end, visits.as_of))
    waits = None
    if since is None and cal.staff is not None:
        # The waits of the stages whose queue the scenario simulates: they should match.
        waits = {sid: (q.wait_median, q.wait_p90) for sid, q in cal.staff.queues.items()
                 if q.in_scenario and q.work_per_visit > 0 and sid in scenario.stages}
    bt = (backtest(scored, scenario, replications, seed, since, waits) if run_backtest
          else None)
    if bt is not None and touch:  # the staff work given may fail the scenario's own check
        cal.warnings.extend(touch_warnings(bt, touch))
    ev = evidence(cal, data, origin)
    if bt is not None:
        ev["backtest"] = {"replications": bt.replications,
                          "since": None if since is None else since.isoformat(),
                          "lines": bt.frame().to_dict(orient="records")}
    result = CalibrationResult(cal, data, text, scenario, ev, bt, visits if since else None)
    if report:
        from salessim.calibrate.report import build_report

        result.figures, result.html = build_report(result, origin)
    return result


def calibrate_file(path: str | Path, fmt: str | None = None, mapping: Sequence[str] = (),
                   won: Sequence[str] = (), lost: Sequence[str] = (),
                   no_decision: Sequence[str] = (), as_of: str | None = None,
                   opportunities: str | Path | None = None, touch: Sequence[str] = (),
                   stages: str | Path | None = None, timezone: str | None = None,
                   headcount: Sequence[str] = (), since: str | None = None,
                   **options) -> CalibrationResult:
    """Read an export and calibrate it (options as :func:`calibrate_visits`).

    An event log (XES, or any log given ``stages``) is grouped into stages by the stage
    map ``stages`` (proposed from the log when None, with a warning). ``since`` keeps the
    deals created from that date on (a calibration window after a change)."""
    visits, log = read_history(path, fmt, mapping, won, lost, no_decision, as_of,
                               opportunities, stages, timezone)
    if since is not None:
        visits = visits.since(parse_as_of(since, "--since"))
    result = calibrate_visits(visits, str(path), parse_touch(touch), log=log,
                              headcount=parse_headcount(headcount), **options)
    result.source = (Path(path), dict(
        format=fmt, map=list(mapping), won=list(won), lost=list(lost),
        no_decision=list(no_decision), as_of=as_of, opportunities=opportunities,
        stages=stages, timezone=timezone, since=since, holdout=options.get("holdout")))
    return result


def propose_stages(path: str | Path, out: str | Path, timezone: str | None = None) -> StageMap:
    """Write a first stage map of an event log to ``out`` (YAML, to check and edit)."""
    from salessim.calibrate.fromlog import read_events
    from salessim.calibrate.lifecycle import pair
    from salessim.calibrate.stagemap import propose_stage_map

    events = read_events(path, timezone)
    smap, text = propose_stage_map(events, pair(events).frame)
    write_text(Path(out), f"# proposed from {Path(path).name}\n" + text)
    return smap
