"""The stage map: which activities of an event log make which stage, and how a case ends.

An event log names activities, not stages. A stage map is a small YAML file::

    stages:
      application:                       # a stage id of the scenario
        starts: [A_SUBMITTED]            # activities that open the stage (milestones)
        work: [W_Complete application]   # staff work items done in this stage
      offer:
        starts: [O_SENT]
    ends:                                # activities that end a case, and how
      A_APPROVED: won
      A_DECLINED: lost                   # several kinds of loss may map to lost ...
      A_CANCELLED: no_decision           # ... or to no_decision; the name is kept as the
                                         #     deal's end reason
    value: case:AMOUNT_REQ               # the attribute that is the deal value (optional)
    source: case:channel                 # the attribute that is the lead source (optional)

A case is in the stage of the last ``starts`` activity it reached; ``work`` items and
activities the map does not name never move it. :func:`load_stage_map` reads and checks a
map against the log (each mistake located by file, line and field, unknown activities with
a did-you-mean); :func:`propose_stage_map` writes a first proposal from a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from salessim.calibrate.readers import slug
from salessim.ends import LOST, NO_DECISION, WON
from salessim.errors import Problem, ScenarioError, did_you_mean
from salessim.scenario import TERMINALS
from salessim.scenario.yamlread import parse_yaml, read_text

_KEYS = ("stages", "ends", "value", "source")
_STAGE_KEYS = ("starts", "work")
#: A milestone this soon after another one, most of the time, is an automatic step of the
#: same stage (days: one minute).
SAME_STAGE_GAP = 1 / 1440
#: A milestone that is (but for automatic steps) its case's last this often ends cases.
FINAL_SHARE = 0.8
_WON = ("approv", "accept", WON.name, "activat", "granted", "paid", "signed", "register")
_NO_DECISION = ("cancel", "withdr", "expire", "abandon", NO_DECISION.name, "timeout")
_LOST = ("declin", "reject", "denied", LOST.name, "refus")


@dataclass(frozen=True)
class StageMap:
    """A checked stage map.

    Attributes:
        stages: stage id -> activities that open it.
        work: stage id -> staff work items of that stage.
        ends: end activity -> ``won``, ``lost`` or ``no_decision``.
        value, source: attribute columns of the events table, or None.
        path: the file it came from (``<proposed>`` for an unsaved proposal).
    """

    stages: dict[str, list[str]]
    work: dict[str, list[str]] = field(default_factory=dict)
    ends: dict[str, str] = field(default_factory=dict)
    value: str | None = None
    source: str | None = None
    path: str = "<proposed>"

    def stage_of(self) -> dict[str, str]:
        """Opening activity -> stage id."""
        return {a: sid for sid, acts in self.stages.items() for a in acts}

    def work_stage(self) -> dict[str, str]:
        """Work item -> the stage it is assigned to."""
        return {a: sid for sid, acts in self.work.items() for a in acts}


def load_stage_map(path: str | Path, events: pd.DataFrame) -> StageMap:
    """Read and check a stage map against the log's activities and attributes.

    Raises:
        ScenarioError: every problem found, each with file, line, field and value.
    """
    name = str(path)
    data, lines = parse_yaml(read_text(path), name)
    problems: list[Problem] = []

    def bad(where: tuple[str, ...], rule: str, value: object) -> None:
        line = lines.get(where) or lines.get(where[:-1]) or lines.get(where[:1])
        problems.append(Problem(".".join(where), rule, value, name, line))

    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "a stage map is a mapping with 'stages' and 'ends'",
                                     type(data).__name__, name, 1)])
    for key in data:
        if key not in _KEYS:
            bad((str(key),), "unknown key" + did_you_mean(str(key), _KEYS)
                + f"; a stage map has {', '.join(_KEYS)}", key)
    activities = sorted(events["activity"].astype(str).unique())
    known = set(activities)
    seen: dict[str, str] = {}

    def activity(where: tuple[str, ...], value: object, owner: str) -> str | None:
        if not isinstance(value, str):
            bad(where, "must be an activity name (text)", value)
            return None
        if value not in known:
            bad(where, "no such activity in the log" + did_you_mean(value, activities), value)
            return None
        if value in seen:
            bad(where, f"already used by {seen[value]}; an activity belongs to one place",
                value)
            return None
        seen[value] = owner
        return value

    stages: dict[str, list[str]] = {}
    work: dict[str, list[str]] = {}
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, dict) or not raw_stages:
        bad(("stages",), "must map at least one stage id to its 'starts' activities",
            raw_stages)
        raw_stages = {}
    for sid, spec in raw_stages.items():
        sid = str(sid)
        if slug(sid) != sid or sid in TERMINALS:
            bad(("stages", sid), "a stage id is lower case letters, digits and _, and not "
                f"{', '.join(TERMINALS)}", sid)
        if not isinstance(spec, dict):
            bad(("stages", sid), "must be a mapping with 'starts' (and 'work')", spec)
            continue
        for key in spec:
            if key not in _STAGE_KEYS:
                bad(("stages", sid, str(key)), "unknown key" + did_you_mean(str(key), _STAGE_KEYS),
                    key)
        for key, out in (("starts", stages), ("work", work)):
            given = spec.get(key, [])
            if key == "starts" and not given:
                bad(("stages", sid, key), "a stage needs at least one activity that opens it",
                    given)
            if not isinstance(given, list):
                bad(("stages", sid, key), "must be a list of activity names", given)
                continue
            acts = [activity(("stages", sid, key, str(i)), a, f"stages.{sid}.{key}")
                    for i, a in enumerate(given)]
            out[sid] = [a for a in acts if a is not None]
    ends: dict[str, str] = {}
    raw_ends = data.get("ends")
    if not isinstance(raw_ends, dict) or not raw_ends:
        bad(("ends",), "must map at least one activity to won, lost or no_decision", raw_ends)
        raw_ends = {}
    for act, kind in raw_ends.items():
        where = ("ends", str(act))
        if kind not in TERMINALS:
            bad(where, f"must be one of {', '.join(TERMINALS)}", kind)
        elif activity(where, str(act), "ends") is not None:
            ends[str(act)] = kind
    columns = [c for c in events.columns if c.startswith("case:") or c not in (
        "case", "activity", "time", "lifecycle", "row")]
    for key in ("value", "source"):
        value = data.get(key)
        if value is not None and value not in columns:
            bad((key,), "no such attribute in the log" + did_you_mean(str(value), columns)
                + (f" (attributes: {', '.join(columns)})" if columns else ""), value)
    if problems:
        raise ScenarioError(problems)
    return StageMap(stages, work, ends, data.get("value"), data.get("source"), name)


# --- proposing a map from the log ---------------------------------------------------------


def propose_stage_map(events: pd.DataFrame, instances: pd.DataFrame) -> tuple[StageMap, str]:
    """A first stage map from a log, and the same as commented YAML for the user to edit.

    Milestones (activities with no ``start`` anywhere) open stages; a milestone that most
    often follows another within :data:`SAME_STAGE_GAP` is an automatic step of that
    one's stage. Milestones that are the last of most cases they occur in end cases; their
    kind is guessed from the name (``approved`` won, ``declined`` lost, ``cancelled``
    no decision) and must be checked. Work items go to the stage in which most of their
    instances start. Value: a numeric case attribute named like an amount. A log whose
    every activity is a work item (started and completed) has no milestones: its
    activities open stages as their work starts.
    """
    is_milestone = instances["status"] == "milestone"
    if not is_milestone.any():
        # A log of work items only: each activity's work opens its stage as it starts.
        is_milestone = instances["started"].notna() | instances["completed"].notna()
        instances = instances.assign(
            completed=instances["started"].fillna(instances["completed"]))
    milestones = instances[is_milestone].sort_values(["case", "completed"], kind="stable")
    acts = milestones["activity"].astype(str)
    counts = acts.value_counts()
    last = milestones.drop_duplicates("case", keep="last")["activity"].astype(str).value_counts()
    final = _final(milestones).groupby(acts).mean()
    # An end is (nearly) last in most cases it occurs in, and the very last of at least
    # 1% of the cases (a burst of steps within seconds makes every one of them "nearly").
    ends = {a: _end_kind(a) for a in counts.index
            if final.get(a, 0) >= FINAL_SHARE and min(counts[a], last.get(a, 0))
            >= 0.01 * len(last)}
    same_case = milestones["case"].eq(milestones["case"].shift())
    gap = (milestones["completed"] - milestones["completed"].shift()).dt.total_seconds() / 86400
    prev = acts.shift()
    quick = (same_case & (gap <= SAME_STAGE_GAP)).groupby(acts).mean()
    follows = prev[same_case].groupby(acts[same_case]).agg(
        lambda s: s.value_counts().index[0] if len(s) else None)
    first = milestones.drop_duplicates("case")["activity"].astype(str).value_counts()
    stage_of: dict[str, str] = {}
    stages: dict[str, list[str]] = {}
    mean_pos = _mean_position(milestones, acts)
    for act in sorted(counts.index, key=lambda a: (-first.get(a, 0), mean_pos.get(a, 0))):
        if act in ends:
            continue
        parent = follows.get(act)
        if quick.get(act, 0) >= 0.5 and parent in stage_of and first.get(act, 0) == 0:
            stage_of[act] = stage_of[parent]
            stages[stage_of[act]].append(act)
            continue
        sid = _unique(slug(act), stages)
        stage_of[act] = sid
        stages[sid] = [act]
    work = _work_by_phase(instances[~is_milestone], milestones, stage_of)
    value = _attribute(events, ("amount", "value", "price", "revenue"), numeric=True)
    source = _attribute(events, ("source", "channel", "origin", "campaign"), numeric=False)
    smap = StageMap(stages, work, ends, value, source)
    return smap, _yaml(smap, counts, last, instances)


def _final(milestones: pd.DataFrame) -> pd.Series:
    """Whether each milestone is its case's last but for automatic steps right after it."""
    t = milestones["completed"]
    last_time = t.groupby(milestones["case"]).transform("max")
    return (last_time - t).dt.total_seconds() / 86400 <= SAME_STAGE_GAP


def _mean_position(milestones: pd.DataFrame, acts: pd.Series) -> dict[str, float]:
    pos = milestones.groupby("case").cumcount()
    return {str(a): float(p) for a, p in pos.groupby(acts).mean().items()}


def _end_kind(name: str) -> str:
    low = name.lower()
    for words, kind in ((_NO_DECISION, NO_DECISION.name), (_LOST, LOST.name), (_WON, WON.name)):
        if any(w in low for w in words):
            return kind
    return LOST.name


def _unique(sid: str, taken: dict) -> str:
    out, i = sid, 2
    while out in taken or out in TERMINALS:
        out, i = f"{sid}_{i}", i + 1
    return out


def _work_by_phase(work: pd.DataFrame, milestones: pd.DataFrame,
                   stage_of: dict[str, str]) -> dict[str, list[str]]:
    """Each work item in the stage in which most of its instances start."""
    if work.empty or not stage_of:
        return {}
    opens = milestones[milestones["activity"].astype(str).isin(stage_of)]
    opens = opens.assign(stage=opens["activity"].astype(str).map(stage_of))
    when = work["started"].fillna(work["completed"])
    items = work.assign(t=when).dropna(subset=["t"]).sort_values("t")
    phased = pd.merge_asof(items, opens[["case", "completed", "stage"]].sort_values("completed"),
                           left_on="t", right_on="completed", by="case", direction="backward",
                           suffixes=("", "_m"))
    top = phased.dropna(subset=["stage"]).groupby(phased["activity"].astype(str))["stage"].agg(
        lambda s: s.value_counts().index[0])
    out: dict[str, list[str]] = {}
    for act, sid in sorted(top.items()):
        out.setdefault(sid, []).append(act)
    return out


def _attribute(events: pd.DataFrame, words: tuple[str, ...], numeric: bool) -> str | None:
    for column in events.columns:
        if not column.startswith("case:"):
            continue
        low = column.lower()
        typed = pd.api.types.is_numeric_dtype(events[column]) or (
            numeric and pd.to_numeric(events[column], errors="coerce").notna().mean() > 0.99)
        if any(w in low for w in words) and typed == numeric:
            if numeric or events[column].nunique() <= 50:
                return column
    return None


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yaml(smap: StageMap, counts: pd.Series, last: pd.Series, instances: pd.DataFrame) -> str:
    n_work = instances[instances["status"] != "milestone"]["activity"].astype(str).value_counts()
    lines = ["# A stage map proposed by salessim calibrate --propose-stages: CHECK AND EDIT IT.",
             "# Stages open at the milestones listed in 'starts'; work items never move a case.",
             "# Give it back with --stages FILE.", "stages:"]
    for sid, acts in smap.stages.items():
        lines.append(f"  {sid}:")
        lines.append("    starts:")
        lines += [f"      - {_q(a)}   # {int(counts.get(a, 0))} events" for a in acts]
        if smap.work.get(sid):
            lines.append("    work:   # staff work items that fall in this stage")
            lines += [f"      - {_q(a)}   # {int(n_work.get(a, 0))} instances"
                      for a in smap.work[sid]]
    lines.append("ends:   # the kind is guessed from the name: check won / lost / no_decision")
    lines += [f"  {_q(a)}: {k}   # last event of {int(last.get(a, 0))} cases"
              for a, k in smap.ends.items()]
    if not smap.ends:
        lines.append("  {}   # no activity ends most cases: name the ends yourself")
    lines.append(f"value: {_q(smap.value) if smap.value else 'null'}   # the deal value "
                 "attribute (null: none)")
    lines.append(f"source: {_q(smap.source) if smap.source else 'null'}   # the lead source "
                 "attribute (null: one source)")
    return "\n".join(lines) + "\n"
