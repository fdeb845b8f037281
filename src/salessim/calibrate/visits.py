"""The normalised table of stage visits, and what the data says about its own quality.

From the stage rows of any reader (:mod:`salessim.calibrate.readers`), :func:`build_visits`
makes one row per stage visit (``deal_id, stage, entered_at, exited_at, next_stage, source,
amount, owner, created_at``; ``exited_at`` and ``next_stage`` empty while the visit is still
open at the export date) and one row per deal, and collects data-quality warnings.
A deal's row in a won, lost or no-decision stage ends it: it is no visit, it is where the
previous visit went. A deal that was lost and came back (later rows) was in a nurture track
meanwhile: that time is a visit to stage ``nurture``, not dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from salessim.calibrate.readers import ExportError, slug
from salessim.ends import LOST, NO_DECISION, WON, is_forward
from salessim.scenario import TERMINALS

VISIT_COLUMNS = ("deal_id", "stage", "entered_at", "exited_at", "next_stage", "source",
                 "amount", "owner", "created_at")

#: CRM names recognised as end stages without being named (compared by their id).
DEFAULT_ENDS = {
    WON.name: {WON.name, "closed_won", "closedwon", "win", "deal_won"},
    LOST.name: {LOST.name, "closed_lost", "closedlost", "deal_lost"},
    NO_DECISION.name: {NO_DECISION.name, "nodecision", "closed_no_decision"},
}
#: The stage a deal is in between being lost and coming back (a nurture track).
NURTURE = "nurture"
#: A source name for deals whose export names none.
ALL_SOURCES = "all"
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Visits:
    """Stage visits and deals of one export, as known at ``as_of``.

    Attributes:
        visits: one row per stage visit (:data:`VISIT_COLUMNS`), sorted by deal and time.
        deals: one row per deal: ``deal_id, source, amount, owner, created_at, outcome``
            (won / lost / no_decision, or empty while open), ``closed_at``.
        ends: CRM name of each end stage -> ``won``, ``lost`` or ``no_decision``.
        start: start of the observed period (midnight of the first deal's creation).
        as_of: the export date: what is open then is right-censored.
        warnings: data-quality findings, in words.
    """

    visits: pd.DataFrame
    deals: pd.DataFrame
    ends: dict[str, str]
    start: pd.Timestamp
    as_of: pd.Timestamp
    warnings: list[str] = field(default_factory=list)

    @property
    def days(self) -> float:
        """Length of the observed period in days."""
        return (self.as_of - self.start) / DAY

    def durations(self) -> pd.Series:
        """Days in stage: to the exit, or to ``as_of`` for open visits (censored)."""
        end = self.visits["exited_at"].fillna(self.as_of)
        return (end - self.visits["entered_at"]) / DAY

    def target(self, name: str) -> str:
        """Scenario id of a CRM stage name (``won`` / ``lost`` / ``no_decision`` for ends)."""
        return self.ends.get(name) or slug(name)

    def open_deals(self, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
        """Deals open at ``as_of``: ``deal_id, stage, entered_stage_at, age, amount, source,
        owner, created_at`` (age in days in the current stage)."""
        known = self if as_of is None else self.cut(as_of)
        v = known.visits[known.visits["exited_at"].isna()]
        out = v[["deal_id", "stage", "entered_at", "amount", "source", "owner", "created_at"]]
        out = out.rename(columns={"entered_at": "entered_stage_at"}).reset_index(drop=True)
        return out.assign(age=(known.as_of - out["entered_stage_at"]) / DAY)

    def since(self, start: pd.Timestamp) -> Visits:
        """Only the deals created from ``start`` on (``--since``: a window after a change)."""
        start = pd.Timestamp(start)
        if not self.start < start < self.as_of:
            raise ExportError(f"--since {start:%Y-%m-%d %H:%M}: must lie in the export's period "
                              f"({self.start} to {self.as_of})")
        d = self.deals[self.deals["created_at"] >= start]
        if len(d) < 2:
            raise ExportError(f"--since {start:%Y-%m-%d %H:%M}: fewer than two deals created "
                              "from then on")
        v = self.visits[self.visits["deal_id"].isin(d["deal_id"])]
        return replace(self, visits=v.reset_index(drop=True), deals=d.reset_index(drop=True),
                       start=start, warnings=list(self.warnings))

    def cut(self, as_of: pd.Timestamp) -> Visits:
        """What was known at an earlier date: later visits gone, later exits open."""
        as_of = pd.Timestamp(as_of)
        if as_of > self.as_of or as_of <= self.start:
            raise ExportError(f"as-of date {as_of} must lie in the export's period "
                              f"({self.start} to {self.as_of})")
        v = self.visits[self.visits["entered_at"] <= as_of].copy()
        late = v["exited_at"] > as_of
        v.loc[late, "exited_at"] = pd.NaT
        v.loc[late, "next_stage"] = pd.NA
        d = self.deals[self.deals["created_at"] <= as_of].copy()
        late = d["closed_at"] > as_of
        d.loc[late, "outcome"] = pd.NA
        d.loc[late, "closed_at"] = pd.NaT
        return replace(self, visits=v.reset_index(drop=True), deals=d.reset_index(drop=True),
                       as_of=as_of, warnings=list(self.warnings))


def resolve_ends(stages: Iterable[str], won: Iterable[str] = (), lost: Iterable[str] = (),
                 no_decision: Iterable[str] = (), hints: dict[str, str] | None = None
                 ) -> dict[str, str]:
    """Map end-stage CRM names to ``won`` / ``lost`` / ``no_decision``.

    Named stages must be among those seen; without names, common ones are recognised.
    """
    seen = sorted(set(stages))
    given = {WON.name: list(won), LOST.name: list(lost), NO_DECISION.name: list(no_decision)}
    ends: dict[str, str] = {}
    for kind, names in given.items():
        for name in names:
            if name not in seen:
                option = f"--{kind.replace('_', '-')}"
                raise ExportError(f"{option} {name}: no such stage in the data (stages seen: "
                                  f"{', '.join(seen)})")
            ends[name] = kind
    for name, kind in (hints or {}).items():
        ends.setdefault(name, kind)
    for name in seen:
        for kind in TERMINALS:
            if not given[kind] and slug(name) in DEFAULT_ENDS[kind]:
                ends.setdefault(name, kind)
    return ends


def build_visits(raw: pd.DataFrame, path: str = "<export>", won: Iterable[str] = (),
                 lost: Iterable[str] = (), no_decision: Iterable[str] = (),
                 as_of: pd.Timestamp | None = None) -> Visits:
    """Stage visits and deals from the stage rows of a reader.

    Args:
        raw: rows in :data:`salessim.calibrate.readers.RAW_COLUMNS`.
        path: the file, for messages.
        won, lost, no_decision: CRM names of the end stages (defaults recognise common ones).
        as_of: the export date; defaults to the latest timestamp in the data.

    Raises:
        ExportError: time running backwards in a row, fewer than two deals, no end stage.
    """
    warnings: list[str] = list(raw.attrs.get("warnings", []))  # what the reader could not show
    names = set(raw["stage"].dropna()) | set(raw["next_stage"].dropna())
    ends = resolve_ends(names, won, lost, no_decision, raw.attrs.get("closed"))
    raw = raw[raw["entered_at"].notna()] if raw["entered_at"].isna().any() else raw
    raw = _end_rows(raw, ends)
    dup = raw.duplicated(["deal_id", "stage", "entered_at"])
    if dup.any():
        warnings.append(f"duplicated rows: {int(dup.sum())} rows repeat a deal, stage and "
                        "entry time; each was counted once")
        raw = raw[~dup.to_numpy()]
    backwards = raw["entered_at"].diff() < pd.Timedelta(0)
    backwards &= raw["deal_id"] == raw["deal_id"].shift()
    if backwards.any():
        n = raw.loc[backwards, "deal_id"].nunique()
        warnings.append(f"timestamps out of order: rows of {n} deals are not in time order "
                        f"(first at row {int(raw.loc[backwards, 'row'].iloc[0])}); sorted by time")
    v = raw.sort_values(["deal_id", "entered_at", "row"], kind="stable").reset_index(drop=True)
    v, came_back = _re_entries(v, ends)
    if came_back:
        warnings.append(f"re-entries: {came_back} deals were lost (or ended with no decision) "
                        f"and came back later; the time between is a visit to a nurture track, "
                        f"stage {NURTURE!r} (recycle)")
    is_end = v["stage"].isin(list(ends)).to_numpy()
    deal = v["deal_id"].to_numpy()
    # Cut each deal at its first end row; later rows (after-sale events, a reopened deal) go.
    ended_before = pd.Series(is_end).groupby(deal).cumsum().shift(fill_value=0)
    ended_before = ended_before.where(pd.Series(deal) == pd.Series(deal).shift(), 0)
    after = ended_before.to_numpy() > 0
    if after.any():
        n = len(np.unique(deal[after]))
        warnings.append(f"rows after the end: {n} deals have rows after a won / lost stage; "
                        "ignored")
        v = v[~after].reset_index(drop=True)
        is_end, deal = is_end[~after], deal[~after]
    if as_of is None:
        as_of = max(v["entered_at"].max(), v["exited_at"].max() if v["exited_at"].notna().any()
                    else v["entered_at"].max())
    as_of = pd.Timestamp(as_of)
    same_next = np.append(deal[1:] == deal[:-1], False)
    next_stage = v["stage"].shift(-1).where(same_next)
    next_entered = v["entered_at"].shift(-1).where(same_next)
    v["next_stage"] = v["next_stage"].fillna(next_stage)
    v["exited_at"] = v["exited_at"].fillna(next_entered)
    bad = v["exited_at"] < v["entered_at"]
    if bad.any():
        r = v[bad].iloc[0]
        raise ExportError(f"{path}:{int(r['row'])}: exited_at: time runs backwards for deal "
                          f"{r['deal_id']}: left {r['stage']!r} at {r['exited_at']} before "
                          f"entering it at {r['entered_at']}")
    deals = _deals(v, is_end, ends, as_of)
    if len(deals) < 2:
        raise ExportError(f"{path}: needs at least 2 deals to estimate anything, got "
                          f"{len(deals)}")
    v = v[~is_end & (v["entered_at"] <= as_of).to_numpy()].copy()
    late = v["exited_at"] > as_of
    v.loc[late, ["exited_at"]] = pd.NaT
    v.loc[late, "next_stage"] = pd.NA
    unknown = v["exited_at"].notna() & v["next_stage"].isna()
    if unknown.any():
        warnings.append(f"exits to nowhere: {int(unknown.sum())} visits have an exit time but "
                        "no next stage; counted as open at their exit")
    v["source"] = v["deal_id"].map(deals.set_index("deal_id")["source"])
    for column in ("amount", "owner", "created_at"):
        v[column] = v["deal_id"].map(deals.set_index("deal_id")[column])
    if not ends:
        warnings.append("no end stage: no stage is named won or lost (give --won NAME and "
                        "--lost NAME); every deal counts as open")
    missing = deals["amount"].isna().mean()
    if missing > 0:
        warnings.append(f"amounts missing: {missing:.0%} of deals have no amount; deal values "
                        "come from the others" if missing < 1 else
                        "amounts missing: no deal has an amount; deal values are set to 0")
    start = deals["created_at"].min().floor("D")
    v = v[[*VISIT_COLUMNS, "touch"]] if v["touch"].notna().any() else v[list(VISIT_COLUMNS)]
    return Visits(v.reset_index(drop=True), deals, ends, start, as_of,
                  warnings)


def _re_entries(v: pd.DataFrame, ends: dict[str, str]) -> tuple[pd.DataFrame, int]:
    """A deal lost (or ended with no decision) that has later rows came back: the time
    between its end and its next row becomes a visit to :data:`NURTURE`.

    Both shapes of a history: a row in the end stage (it becomes the nurture visit), or a
    visit whose ``next_stage`` is the end (a nurture visit is added from its exit). Rows
    after a win stay after-sale rows (cut below). Returns the visits and the number of
    deals that came back.
    """
    if v.empty:
        return v, 0
    # An end that moves the deal on (won) is final: rows after it are after the sale.
    final = {name for name, kind in ends.items() if is_forward(kind, {})}
    dropped = {name for name in ends if name not in final}
    deal = v["deal_id"].to_numpy()
    at_end = v["stage"].isin(list(ends)).to_numpy()
    # The deal goes on after this row: its next row is a stage, not an end.
    more = np.append((deal[1:] == deal[:-1]) & ~at_end[1:], False)
    won_before = v["stage"].isin(list(final)).groupby(v["deal_id"]).cumsum().to_numpy() > 0
    row_end = v["stage"].isin(list(dropped)).to_numpy() & more & ~won_before
    next_end = (v["next_stage"].isin(list(dropped)).to_numpy() & v["exited_at"].notna()
                .to_numpy() & more & ~won_before & ~at_end)
    if not (row_end.any() or next_end.any()):
        return v, 0
    v = v.copy()
    before = np.append(row_end[1:], False)  # the visit that led to an end row
    v.loc[before & v["next_stage"].isin(list(dropped)).to_numpy(), "next_stage"] = NURTURE
    v.loc[row_end, ["stage", "next_stage", "exited_at"]] = [NURTURE, pd.NA, pd.NaT]
    added = v[next_end].assign(stage=NURTURE, entered_at=v.loc[next_end, "exited_at"],
                               exited_at=pd.NaT, next_stage=pd.NA)
    v.loc[next_end, "next_stage"] = NURTURE
    came_back = set(v.loc[row_end, "deal_id"]) | set(added["deal_id"])
    v = pd.concat([v, added], ignore_index=True)
    v = v.sort_values(["deal_id", "entered_at"], kind="stable").reset_index(drop=True)
    return v, len(came_back)


def _end_rows(raw: pd.DataFrame, ends: dict[str, str]) -> pd.DataFrame:
    """A deal's last visit that names an end stage as its next: add that end as a row."""
    last = ~raw["deal_id"].duplicated(keep="last")
    if raw["next_stage"].notna().any():
        order = raw.sort_values(["deal_id", "entered_at"], kind="stable")
        last = ~order["deal_id"].duplicated(keep="last").reindex(raw.index)
    closing = raw[last & raw["next_stage"].isin(list(ends)).fillna(False).astype(bool)
                  & raw["exited_at"].notna()]
    if closing.empty:
        return raw
    added = closing.assign(stage=closing["next_stage"], entered_at=closing["exited_at"],
                           exited_at=pd.NaT, next_stage=pd.NA)
    return pd.concat([raw, added], ignore_index=True)


def _deals(v: pd.DataFrame, is_end: np.ndarray, ends: dict[str, str],
           as_of: pd.Timestamp) -> pd.DataFrame:
    g = v.groupby("deal_id", sort=False)
    deals = pd.DataFrame({
        "source": g["source"].first(),
        "amount": g["amount"].last(),
        "owner": g["owner"].last(),
        "created_at": g["created_at"].min().fillna(g["entered_at"].min()),
    })
    deals["source"] = deals["source"].fillna(
        ALL_SOURCES if deals["source"].isna().all() else "unknown").astype(str)
    end_rows = v[is_end & (v["entered_at"] <= as_of).to_numpy()]
    end_rows = end_rows.drop_duplicates("deal_id", keep="first").set_index("deal_id")
    deals["outcome"] = end_rows["stage"].map(ends).reindex(deals.index)
    deals["closed_at"] = end_rows["entered_at"].reindex(deals.index)
    deals = deals[deals["created_at"] <= as_of]
    return deals.rename_axis("deal_id").reset_index()


def to_history(visits: Visits, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The visits as a stage history (the generic input format), one row per visit.

    Each deal's end becomes its last visit's ``next_stage``; open visits have empty
    ``exited_at`` and ``next_stage``. ``names`` renames stages and ends (scenario id or
    CRM name -> name to write), e.g. to give a simulated log a CRM's stage names.
    """
    names = names or {}
    v = visits.visits.copy()
    ends = {name: kind for name, kind in visits.ends.items()}

    def rename(value):
        if pd.isna(value):
            return value
        return names.get(value, names.get(ends.get(value, value), value))

    v["stage"] = v["stage"].map(rename)
    v["next_stage"] = v["next_stage"].map(rename)
    return v[list(VISIT_COLUMNS)]
