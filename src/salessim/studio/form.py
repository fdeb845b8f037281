"""The form's knobs (headcount per role, lead rate per source, a stage's work and delay
means and its routing odds, the calendar's workdays, hours and holidays), read from a scenario and written back into its YAML text with
comments, key order and layout kept.

ruamel.yaml's round trip keeps comments, key order and flow style; it re-spaces lines
aligned by hand (``sdr:   {headcount: 3}``), so every line the edit did not change is
put back exactly as it was written.
"""

from __future__ import annotations

import difflib
import io
import re
from typing import Any

from salessim.errors import UsageError

#: The knobs of the form: group -> the field set per item.
KNOBS = {"roles": "headcount", "sources": "rate"}


def slider_key(key: str) -> bool:
    """Whether a what-if slider may set ``key``: ``roles.<role>.headcount``,
    ``sources.<source>.rate``, ``stages.<stage>.work.mean`` / ``.delay.mean`` or
    ``stages.<stage>.next.<target>``."""
    parts = key.split(".")
    if not all(parts):
        return False
    if parts[0] in KNOBS:
        return len(parts) == 3 and parts[2] == KNOBS[parts[0]]
    return parts[0] == "stages" and len(parts) == 4 and (
        parts[2:] in (["work", "mean"], ["delay", "mean"]) or parts[2] == "next")


def knobs(scenario: Any) -> dict[str, dict[str, float]]:
    """The resolved scenario's knobs: ``{"roles": {"sdr": 3}, "sources": {"inbound": 8.0}}``.

    A source whose rate is not one number (a schedule) is left out of the form.
    """
    out: dict[str, dict[str, float]] = {}
    for group, key in KNOBS.items():
        values = {}
        for name, item in getattr(scenario, group).items():
            value = getattr(item, key, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[str(name)] = value
        out[group] = values
    return out


#: The times of a stage the form sets, by their mean (as written: ``"1 hour"`` or ``5``).
STAGE_TIMES = ("work", "delay")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def stage_knobs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per stage of a merged document (values as written): the work and delay means where
    the file gives a ``mean``, and the routing odds (``next``) where they are numbers."""
    out: dict[str, dict[str, Any]] = {}
    for sid, stage in (data.get("stages") or {}).items():
        if not isinstance(stage, dict):
            continue
        row: dict[str, Any] = {}
        for key in STAGE_TIMES:
            dist = stage.get(key)
            if isinstance(dist, dict) and (_number(dist.get("mean"))
                                           or isinstance(dist.get("mean"), str)):
                row[f"{key}.mean"] = dist["mean"]
        routing = stage.get("next")
        if isinstance(routing, dict) and routing and all(_number(v) for v in routing.values()):
            row["next"] = {str(k): v for k, v in routing.items()}
        if row:
            out[str(sid)] = row
    return out


#: The calendar the form shows when the file has none (the loader's defaults).
DEFAULT_CALENDAR = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17],
                    "holidays": []}


def calendar_knobs(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario's calendar of a merged document (workdays, hours, holidays as ISO
    dates), with ``given``: whether the file has one (without, staff work around the clock)."""
    calendar = data.get("calendar")
    if not isinstance(calendar, dict):
        return {**DEFAULT_CALENDAR, "given": False}
    out: dict[str, Any] = {"given": True}
    for key, default in DEFAULT_CALENDAR.items():
        value = calendar.get(key, default)
        out[key] = [str(v) for v in value] if key != "hours" else list(value)
    return out


def _calendar_changes(data: Any, values: dict[str, Any]) -> None:
    """Write the calendar's fields into the round-trip ``data`` (in place): a list the
    file has is changed in place (its flow style and comments stay), a new one is flow."""
    import datetime

    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from salessim.scenario.parts import WEEKDAYS

    checked: dict[str, list[Any]] = {}
    for key, value in values.items():
        if key not in DEFAULT_CALENDAR or not isinstance(value, list):
            raise UsageError(f"the form sets calendar.workdays, .hours and .holidays as lists, "
                             f"got {key}={value!r}")
        if key == "workdays" and (not value or not set(value) <= set(WEEKDAYS)
                                  or len(set(value)) != len(value)):
            raise UsageError(f"calendar.workdays must be one or more of {', '.join(WEEKDAYS)}, "
                             f"got {value!r}")
        if key == "hours" and not (len(value) == 2 and all(_number(v) for v in value)
                                   and 0 <= value[0] < value[1] <= 24):
            raise UsageError(f"calendar.hours must be [start, end] with 0 <= start < end <= 24, "
                             f"got {value!r}")
        if key == "hours":
            value = [typed(v) for v in value]
        if key == "holidays":
            try:
                value = sorted({datetime.date.fromisoformat(str(v).strip()) for v in value})
            except ValueError:
                raise UsageError(f"calendar.holidays are dates like 2026-12-25, got "
                                 f"{value!r}") from None
        checked[key] = value
    calendar = data.get("calendar")
    if calendar is None:
        calendar = data["calendar"] = CommentedMap()
        calendar.fa.set_flow_style()
    elif not isinstance(calendar, dict):
        raise UsageError("calendar is not a mapping in this file: edit it in the text")
    for key, value in checked.items():
        old = calendar.get(key)
        if isinstance(old, list):
            old[:] = value
        else:
            seq = calendar[key] = CommentedSeq(value)
            seq.fa.set_flow_style()


def typed(value: Any) -> Any:
    """A form field as YAML: a number when it reads as one, else the text (``"45 minutes"``)."""
    if _number(value):
        return int(value) if float(value).is_integer() else value
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        if not text:
            raise UsageError("a stage's mean must not be empty") from None
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _stage_changes(data: Any, values: dict[str, Any]) -> None:
    """Write stage knobs into the round-trip ``data`` (in place)."""
    from ruamel.yaml.comments import CommentedMap

    for sid, fields in values.items():
        stage = _item(data, "stages", sid, "its times")
        for key, value in fields.items():
            if key == "next":
                if not isinstance(value, dict) or not all(
                        _number(v) and 0 <= v <= 1 for v in value.values()):
                    raise UsageError(f"stages.{sid}.next must map targets to odds in [0, 1], "
                                     f"got {value!r}")
                routing = stage.get("next")
                if isinstance(routing, dict):  # in place: its comments and order stay
                    for target in [t for t in routing if t not in value]:
                        del routing[target]
                    for target, odds in value.items():
                        routing[target] = odds
                else:  # a routing is replaced whole by a redesign: write all of it
                    routing = stage["next"] = CommentedMap(value)
                    routing.fa.set_flow_style()
            elif key in {f"{t}.mean" for t in STAGE_TIMES}:
                part = key.split(".")[0]
                dist = stage.get(part)
                if dist is None:
                    dist = stage[part] = CommentedMap()
                    dist.fa.set_flow_style()
                elif not isinstance(dist, dict):
                    raise UsageError(f"stages.{sid}.{part} is not a mapping in this file: edit "
                                     f"its mean in the text")
                dist["mean"] = typed(value)
            else:
                raise UsageError(f"the form sets a stage's work.mean, delay.mean and next, "
                                 f"got {key!r}")


def _item(data: Any, group: str, name: str, what: str) -> Any:
    """``data[group][name]`` as a mapping, created (flow style) when the file lacks it."""
    from ruamel.yaml.comments import CommentedMap

    if data.get(group) is None:
        data[group] = CommentedMap()
    item = data[group].get(name)
    if item is None:
        item = data[group][name] = CommentedMap()
        item.fa.set_flow_style()
    elif not isinstance(item, dict):
        raise UsageError(f"{group}.{name} is not a mapping in this file: edit {what} in the text")
    return item


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096  # never fold a long line the user wrote on one
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _squash(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


_KEY = re.compile(r"^(\s*[^\s#:]+:)(\s+)")


def _aligned(old: str, new: str) -> str:
    """``new`` with the spacing after its key as in ``old``, when both start with that key."""
    a, b = _KEY.match(old), _KEY.match(new)
    if a and b and a.group(1) == b.group(1):
        return a.group(0) + new[b.end():]
    return new


def keep_layout(before: str, after: str) -> str:
    """``after`` with every line that differs from ``before`` only in spacing written as
    in ``before`` (hand-aligned columns survive the round trip)."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, [_squash(x) for x in old], [_squash(x) for x in new],
                                      autojunk=False)
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += old[i1:i2]
        elif op == "replace" and i2 - i1 == j2 - j1:  # changed lines keep their key's column
            out += [_aligned(a, b) for a, b in zip(old[i1:i2], new[j1:j2], strict=True)]
        else:
            out += new[j1:j2]
    text = "".join(out)
    return text if after.endswith("\n") or not text.endswith("\n") else text[:-1]


def set_knobs(text: str, changes: dict[str, dict[str, float]]) -> str:
    """The YAML ``text`` with the knobs in ``changes`` set, comments and order kept.

    A redesign (``extends:``) that does not write a role or source yet gets it under its
    group (``roles: {se: {headcount: 3}}``), which the loader merges into the base's.

    Raises:
        UsageError: an unknown group, a value that is not a number, or a text that is not
            a YAML mapping.
    """
    from ruamel.yaml.error import YAMLError

    y = _yaml()
    try:
        data = y.load(text)
    except YAMLError as exc:
        raise UsageError(f"the text is not valid YAML: fix it before using the form ({exc})") \
            from None
    if not isinstance(data, dict):
        raise UsageError("the text is not a YAML mapping: fix it before using the form")
    for group, values in changes.items():
        if group == "stages":
            _stage_changes(data, values)
            continue
        if group == "calendar":
            _calendar_changes(data, values)
            continue
        if group not in KNOBS:
            raise UsageError(f"the form sets {', '.join([*KNOBS, 'stages', 'calendar'])}, "
                             f"got {group!r}")
        field = KNOBS[group]
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise UsageError(f"{group}.{name}.{field} must be a number >= 0, got {value!r}")
            item = _item(data, group, name, f"its {field}")
            item[field] = int(value) if float(value).is_integer() and group == "roles" \
                else value
    out = io.StringIO()
    y.dump(data, out)
    return keep_layout(text, out.getvalue())
