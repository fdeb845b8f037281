"""Staff from an event log's work items: roles, headcount, availability, calendars, waits.

- Roles: resources clustered by their activity profiles (counts of each activity they
  worked), as process-mining tools pool resources: cosine distance, average-linkage
  hierarchical clustering (scipy), cut at :data:`ROLE_DISTANCE`. A role is named after the
  stage where most of its work falls. A resource with at least :data:`SHARED` of its work on
  activities mostly done by another role is reported as working in several roles.
- Headcount: distinct members active (starting work) per full calendar week; the median,
  with the range of weeks.
- Availability: the members' hours of work / (headcount x the calendar's hours x weeks).
- Working calendar per role: the weekday x hour grid of work starts and completes; cells
  with at least :data:`CELL_SHARE` of the busiest cell are working time, the calendar is
  their weekdays and the span of their hours. Holidays: working weekdays between the
  role's first and last day of work on which it did no work at all, when so empty a day is
  no chance: the mean count m of work events on the :data:`NEIGHBOURS` working days on its
  quieter side (before or after) gives exp(-m) (Poisson) below :data:`HOLIDAY_CHANCE` over the number of working
  days looked at. In the scenario they
  are simulated dates (:func:`simulated_dates`: time 0 is the Monday of the log's first
  week, so each keeps its weekday).
- Whole pieces of work: a role none of whose work items (at most :data:`PAST_CLOSING`
  of at least :data:`WHOLE_MIN`) runs past the closing of its calendar starts only what it
  can finish the same day (``finish_same_day`` in the scenario's calendar; else the
  simulated staff would start work late in the day and finish it the next morning, a
  capacity the log's staff do not use).
- Suspended work: a role whose members start nothing else while their work is suspended
  (at most :data:`HELD_USED` of at least :data:`HELD_MIN` suspended spans used) is kept
  busy by it: its work items count their suspended spans as work for the scenario (the
  member is occupied), else the spans are not work.
- Waits per stage: schedule to start of the stage's work items (days; an item with no
  ``schedule`` that opens its activity in the visit waits from the stage's entry, when the
  work became possible), median and P90 with
  order-statistic (binomial) 95% intervals; work per visit: the stage's work time / visits.
  The work items ready as the stage starts (activities whose first item in a visit is
  ready, median, at most :data:`AT_ENTRY` after entry) are the stage's queue (order
  ``work_first``). Without such, the activities ready later whose last item in a visit
  completes at most :data:`AT_ENTRY` before the stage is left (median) are: the customer's
  side, then the queue, the work and the decision (order ``customer_first``, a back-office
  stage). The work per visit is written as a gamma with the visits' own cv (the shape of
  the work matters where staff start only what fits before closing). Work done on the side while the customer has the deal is neither (a stage with
  only side work reports all its items, and the scenario leaves them in its delay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as st

from salessim.calibrate.lifecycle import Instances
from salessim.calibrate.readers import slug
from salessim.calibrate.visits import Visits
from salessim.clock import LOG_EPOCH
from salessim.scenario.parts import WEEKDAYS

ROLE_DISTANCE = 0.5
SHARED = 0.2
#: Work ready within this time of entering its stage (days: an hour) is the stage's queue.
AT_ENTRY = 1 / 24
CELL_SHARE = 0.05
#: Chance that any working day of a role's span is empty by chance, at most (holidays).
HOLIDAY_CHANCE = 0.01
#: Working days on either side whose work gives an empty day's expected count.
NEIGHBOURS = 5
#: Work items needed to say a role starts only what it finishes the same day ...
WHOLE_MIN = 50
#: ... and the largest share of them that may run past closing (overtime now and then).
PAST_CLOSING = 0.01
#: Suspended spans needed to say a role's members are kept busy by them ...
HELD_MIN = 20
#: ... and the largest share of them in which the member started other work.
HELD_USED = 0.05


@dataclass
class Role:
    """A role found in the log."""

    name: str
    members: list[str]
    activities: dict[str, int]
    headcount: int
    weekly_active: tuple[int, int]           # fewest and most members active in a full week
    workdays: list[str]
    hours: tuple[float, float]
    grid: list[list[int]] = field(repr=False)  # [weekday][hour] starts + completes
    availability: float = math.nan
    holidays: list[str] = field(default_factory=list)
    measured: int | None = None   # the log's headcount when ``--headcount`` replaced it
    past_closing: tuple[int, int] = (0, 0)   # work items done past closing, of all done
    suspended: tuple[int, int] = (0, 0)   # suspended spans used for other work, of all

    @property
    def finish_same_day(self) -> bool:
        """The role starts only what it can finish before closing (see the module)."""
        past, done = self.past_closing
        return done >= WHOLE_MIN and past <= PAST_CLOSING * done

    @property
    def held_while_suspended(self) -> bool:
        """Suspended work keeps the role's members busy (see the module)."""
        used, spans = self.suspended
        return spans >= HELD_MIN and used <= HELD_USED * spans


@dataclass
class Queue:
    """Waiting for staff and work in one stage."""

    stage: str
    items: int
    wait_median: float
    wait_median_ci: tuple[float, float]
    wait_p90: float
    wait_p90_ci: tuple[float, float]
    work_per_visit: float
    role: str | None
    wait_per_visit: float = 0.0
    lag: float = 0.0   # median from entering the stage to its first items being ready (days)
    activities: list[str] = field(default_factory=list)  # the work items counted
    order: str = "work_first"   # or customer_first: the customer's side, then this queue
    work_cv: float = math.nan   # of the work per visit (the visits with work items)

    @property
    def at_entry(self) -> bool:
        """The stage queues for staff as it starts, rather than being worked on the side
        while the customer has it (ready :data:`AT_ENTRY` or later)."""
        return self.lag <= AT_ENTRY

    @property
    def in_scenario(self) -> bool:
        """The scenario simulates this queue: at the stage's start (``work_first``) or after
        the customer's side, just before the decision (``customer_first``)."""
        return self.at_entry or self.order == "customer_first"


@dataclass
class Staff:
    roles: dict[str, Role]
    queues: dict[str, Queue]
    several_roles: dict[str, list[str]]


def quantile_ci(x: np.ndarray, q: float, level: float = 0.95) -> tuple[float, float, float]:
    """The sample quantile and its distribution-free interval from order statistics."""
    x = np.sort(np.asarray(x, float))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    a = (1 - level) / 2
    lo = int(st.binom.ppf(a, n, q))
    hi = int(st.binom.ppf(1 - a, n, q))
    return (float(np.quantile(x, q)), float(x[max(lo - 1, 0)]), float(x[min(hi, n - 1)]))


def discover(visits: Visits, instances: Instances) -> Staff | None:
    """Roles, headcounts, calendars and queues; None when no work item names a resource."""
    work = instances.frame
    work = work[work["resource"].notna() & work["started"].notna()]
    if work.empty:
        return None
    work = _with_stage(work, visits)
    member_role, roles_acts = _cluster(work)
    work = work.assign(role=work["resource"].map(member_role))
    names = _role_names(work)
    work = work.assign(role=work["role"].map(names))
    suspended = _suspended(work, instances.suspensions)
    roles = {}
    for rid, group in work.groupby("role"):
        roles[rid] = _role(rid, group, visits)
        roles[rid].suspended = suspended.get(str(rid), (0, 0))
    held = [rid for rid, r in roles.items() if r.held_while_suspended]
    # A member kept busy by suspended work is occupied: its spans count as work.
    work = work.assign(work=work["work"] + work["paused"].fillna(0.0).where(
        work["role"].isin(held), 0.0))
    queues = _queues(work, visits)
    return Staff(roles, queues, _several(work))


def _with_stage(work: pd.DataFrame, visits: Visits) -> pd.DataFrame:
    v = visits.visits[["deal_id", "entered_at", "exited_at", "stage"]].dropna(
        subset=["deal_id", "entered_at", "stage"])
    v = v.assign(case=v["deal_id"].astype(str)).sort_values("entered_at")
    # An item belongs to the stage the case was in when it became ready (scheduled), else
    # when it started: a queue belongs to the stage that made it.
    ready = work["scheduled"].fillna(work["started"])
    w = work.assign(case=work["case"].astype(str), ready=ready).sort_values("ready")
    out = pd.merge_asof(w, v[["case", "entered_at", "exited_at", "stage"]], left_on="ready",
                        right_on="entered_at", by="case", direction="backward")
    return out.assign(stage=out["stage"].map(visits.target))


def _cluster(work: pd.DataFrame) -> tuple[dict[str, int], dict]:
    counts = pd.crosstab(work["resource"], work["activity"].astype(str))
    members = list(counts.index)
    if len(members) == 1:
        return {members[0]: 1}, {}
    from scipy.cluster.hierarchy import fcluster, linkage

    matrix = counts.to_numpy(float)
    matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    labels = fcluster(linkage(matrix, method="average", metric="cosine"), ROLE_DISTANCE,
                      criterion="distance")
    return {m: int(c) for m, c in zip(members, labels, strict=True)}, {}


def _role_names(work: pd.DataFrame) -> dict[int, str]:
    names: dict[int, str] = {}
    for cluster, group in work.groupby("role"):
        stage = group["stage"].dropna()
        base = slug(stage.value_counts().index[0]) if len(stage) else f"role_{cluster}"
        base = f"{base}_staff"
        name, i = base, 2
        while name in names.values():
            name, i = f"{base}_{i}", i + 1
        names[cluster] = name
    return names


def _role(name: str, group: pd.DataFrame, visits: Visits) -> Role:
    starts = group["started"]
    ends = group["completed"].dropna()
    grid = np.zeros((7, 24), int)
    for times in (starts, ends):
        np.add.at(grid, (times.dt.day_of_week.to_numpy(), times.dt.hour.to_numpy()), 1)
    keep = grid >= max(1, CELL_SHARE * grid.max())
    days = [WEEKDAYS[d] for d in range(7) if keep[d].any()]
    hours_kept = np.flatnonzero(keep.any(axis=0))
    hours = (float(hours_kept.min()), float(hours_kept.max() + 1))
    week = starts.dt.to_period("W-SUN")
    first, last = visits.start.to_period("W-SUN"), visits.as_of.to_period("W-SUN")
    full = week[(week > first) & (week < last)]
    active = group.loc[full.index].groupby(full)["resource"].nunique()
    weeks = pd.period_range(first + 1, last - 1, freq="W-SUN") if last > first + 1 else []
    active = active.reindex(weeks, fill_value=0) if len(weeks) else active
    headcount = int(round(float(active.median()))) if len(active) else group["resource"].nunique()
    headcount = max(headcount, 1)
    busy = float(group.loc[full.index, "work"].sum()) * 24
    hours_per_week = len(days) * (hours[1] - hours[0])
    availability = (busy / (headcount * hours_per_week * len(active))
                    if len(active) and hours_per_week else math.nan)
    holidays = _holidays(pd.concat([starts, ends]), days)
    done = group.dropna(subset=["completed"])
    closing = done["started"].dt.normalize() + pd.to_timedelta(hours[1], unit="h")
    past = int((done["completed"] > closing).sum())
    return Role(name, sorted(group["resource"].unique()),
                group["activity"].astype(str).value_counts().to_dict(), headcount,
                (int(active.min()), int(active.max())) if len(active) else (headcount, headcount),
                days, hours, grid.tolist(), availability, holidays,
                past_closing=(past, len(done)))


def _suspended(work: pd.DataFrame, spans: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per role, its members' suspended spans in which they started other work, of all."""
    role_of = work.drop_duplicates("resource").set_index("resource")["role"]
    out: dict[str, tuple[int, int]] = {}
    starts = {str(who): np.sort(g.to_numpy("M8[ns]"))
              for who, g in work.groupby("resource")["started"]}
    for who, g in spans.dropna(subset=["resource"]).groupby("resource"):
        if who not in role_of.index:
            continue
        mine = starts.get(str(who), np.array([], "M8[ns]"))
        inside = (np.searchsorted(mine, g["resumed"].to_numpy("M8[ns]"), "left")
                  - np.searchsorted(mine, g["suspended"].to_numpy("M8[ns]"), "right"))
        used, total = out.get(str(role_of[who]), (0, 0))
        out[str(role_of[who])] = (used + int((inside > 0).sum()), total + len(g))
    return out


def _holidays(times: pd.Series, workdays: list[str]) -> list[str]:
    """Working weekdays with no work at all that chance cannot explain (see the module),
    within the span of the work (after an extraction cut the work dries up)."""
    day = times.dt.normalize()
    counts = day.value_counts()
    period = pd.date_range(day.min(), day.max(), freq="D")
    working = period[[WEEKDAYS[d] in workdays for d in period.day_of_week]]
    if not len(working):
        return []
    per_day = counts.reindex(working, fill_value=0).to_numpy(float)
    bound = HOLIDAY_CHANCE / len(working)
    out = []
    for i in np.flatnonzero(per_day == 0):
        # The day's expected work from its neighbours, the quieter side: a holiday has
        # busy days on both sides, work drying up (an extraction cut) a quiet one.
        before, after = per_day[max(0, i - NEIGHBOURS):i], per_day[i + 1:i + 1 + NEIGHBOURS]
        if len(before) and len(after) and \
                math.exp(-min(before.mean(), after.mean())) < bound:
            out.append(f"{working[i]:%Y-%m-%d}")
    return out


def simulated_dates(dates: list[str], start: pd.Timestamp) -> list[str]:
    """Log dates as dates of a simulation whose time 0 (:data:`~salessim.clock.LOG_EPOCH`,
    a Monday) is the Monday of the week ``start`` falls in: each keeps its weekday."""
    monday = start.normalize() - pd.Timedelta(days=int(start.day_of_week))
    epoch = pd.Timestamp(LOG_EPOCH)
    return [f"{epoch + (pd.Timestamp(d) - monday):%Y-%m-%d}" for d in dates]


def _queues(work: pd.DataFrame, visits: Visits) -> dict[str, Queue]:
    """Per stage, the queue of the work items ready as the stage starts (the activities whose
    median lag from entry is at most :data:`AT_ENTRY`), else of all its items (side work)."""
    out = {}
    n_visits = visits.visits["stage"].map(visits.target).value_counts()
    work = work.assign(lag=(work["ready"] - work["entered_at"]) / pd.Timedelta(days=1))
    for stage, group in work.dropna(subset=["stage"]).groupby("stage"):
        # An activity's first item in each visit says when its work becomes ready (later
        # items of it are sessions of the same work).
        firsts = group.sort_values("ready").drop_duplicates(["case", "entered_at", "activity"])
        lags = firsts.groupby(firsts["activity"].astype(str))["lag"].median()
        first = lags.index[lags <= AT_ENTRY]
        order = "work_first"
        if not len(first):
            # No queue as the stage starts: a back-office stage may queue after the
            # customer's side instead, its work the last thing before the decision.
            first = _closing(group, lags)
            order = "customer_first" if len(first) else order
        items = group[group["activity"].astype(str).isin(first)] if len(first) else group
        if len(first) and order == "work_first":
            # An item never scheduled waited from when it became possible: the stage's entry
            # (for the first item of its activity in the visit; later ones are sessions).
            opening = ~items.sort_values("ready").duplicated(["case", "entered_at", "activity"])
            opening = opening.reindex(items.index)
            since_entry = (items["started"] - items["entered_at"]) / pd.Timedelta(days=1)
            items = items.assign(wait=items["wait"].fillna(since_entry.where(opening)))
        waits = items["wait"].dropna().to_numpy()
        med, mlo, mhi = quantile_ci(waits, 0.5)
        p90, plo, phi = quantile_ci(waits, 0.9)
        visits_n = int(n_visits.get(stage, 0))
        per_visit = float(items["work"].sum() / visits_n) if visits_n else math.nan
        wait = float(items["wait"].fillna(0).sum() / visits_n) if visits_n else math.nan
        role = items["role"].value_counts().index[0]
        chosen = firsts["activity"].astype(str).isin(first) if len(first) else slice(None)
        lag = float(firsts.loc[chosen, "lag"].median())
        sums = items.dropna(subset=["work"]).groupby(["case", "entered_at"])["work"].sum()
        cv = float(sums.std() / sums.mean()) if len(sums) > 1 and sums.mean() > 0 else math.nan
        out[str(stage)] = Queue(str(stage), len(items), med, (mlo, mhi), p90, (plo, phi),
                                per_visit, str(role), wait, lag,
                                sorted(items["activity"].astype(str).unique()), order, cv)
    return out


def _closing(group: pd.DataFrame, lags: pd.Series) -> pd.Index:
    """Activities of a stage ready later than :data:`AT_ENTRY` after its start whose last
    item in a visit completes within :data:`AT_ENTRY` of the visit's exit (median over the
    visits that left): work that comes after the customer's side and leads to the decision."""
    done = group.dropna(subset=["completed", "exited_at"])
    if done.empty:
        return pd.Index([])
    last = done.sort_values("completed").drop_duplicates(
        ["case", "entered_at", "activity"], keep="last")
    gap = (last["exited_at"] - last["completed"]) / pd.Timedelta(days=1)
    gaps = gap.groupby(last["activity"].astype(str)).median()
    late = lags.index[lags > AT_ENTRY]
    return gaps.index[(gaps <= AT_ENTRY) & gaps.index.isin(late)]


def _several(work: pd.DataFrame) -> dict[str, list[str]]:
    """Resources with a large share of their work on activities of another role."""
    main = work.groupby(work["activity"].astype(str))["role"].agg(
        lambda s: s.value_counts().index[0])
    out = {}
    for who, group in work.groupby("resource"):
        own = group["role"].iloc[0]
        roles = group["activity"].astype(str).map(main)
        other = roles[roles != own]
        if len(other) >= SHARED * len(group):
            out[str(who)] = sorted({own, *other.unique()})
    return out
