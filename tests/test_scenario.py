"""Tests of the scenario language: validation rules and their messages, units, extends, --set.

Every rule is checked through ``load_scenario`` on a real file, and every error is checked
for what a user needs to fix it: the file, the line, the field path and the offending value.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from salessim.errors import Problem, ScenarioError
from salessim.scenario import TERMINALS, json_schema, load_scenario, resolved, scenario_hash
from salessim.scenario.dists import Constant, Exponential, Gamma, Lognormal
from salessim.scenario.load import apply_sets, read_document
from salessim.scenario.units import convert, parse_duration

BASE = textwrap.dedent("""\
    name: test funnel
    time_unit: day
    horizon: 100
    warmup: 10
    roles:
      sdr: {headcount: 1, cost_per_hour: 30}
      ae: {headcount: 2, cost_per_hour: 60}
    sources:
      web: {rate: 2, deal_value: 1000}
    entry: qualify
    stages:
      qualify:
        role: sdr
        work: {dist: exponential, mean: "30 minutes"}
        patience: {dist: exponential, mean: 2}
        next: {close: 0.4, lost: 0.6}
      close:
        role: ae
        work: 0.25
        delay: {dist: lognormal, mean: 3, cv: 0.5}
        next: {won: 0.5, lost: 0.5}
    """)


TERMINAL_LIST = re.escape(", ".join(TERMINALS))


def edit(text: str, old: str, new: str) -> str:
    """``text`` with the one occurrence of ``old`` replaced (fails loudly if absent)."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """1-based number of the line holding ``fragment``."""
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} must occur on exactly one line"
    return lines[0]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problem_at(error: ScenarioError, field: str) -> Problem:
    found = [p for p in error.problems if p.field == field]
    assert found, f"no problem at {field!r} in: {error}"
    return found[0]


def check_located(
    error: ScenarioError, *, file: str, line: int | None, field: str, value: object
) -> None:
    """The error names file, line, field path and value, in the object and in its text."""
    p = problem_at(error, field)
    assert (p.file, p.line, p.value) == (file, line, value)
    where = file if line is None else f"{file}:{line}"
    assert f"{where}: {field or '(document)'}: " in str(error)
    assert f"(got {value!r})" in str(error)


# --- the base document is valid --------------------------------------------------------------


def test_base_document_is_valid(tmp_path):
    scenario = load_scenario(write(tmp_path, "s.yaml", BASE))
    assert scenario.name == "test funnel"
    assert list(scenario.stages) == ["qualify", "close"]
    assert scenario.stages["close"].staff == ("ae",)


# --- one test per validation rule -----------------------------------------------------------

# (id, old text, new text, match, field, value, line fragment). The line fragment is the text
# of the line the error must point at, in the edited document.
RULES = [
    pytest.param(
        "    work: {dist: exponential", "    wrok: {dist: exponential",
        r"unknown key \(did you mean 'work'\?\); allowed here: .*patience",
        "stages.qualify.wrok", "wrok", "wrok:", id="unknown-key-in-stage",
    ),
    pytest.param(
        "name: test funnel", "nmae: test funnel",
        r"nmae: unknown key \(did you mean 'name'\?\)", "nmae", "nmae", "nmae:",
        id="unknown-key-top-level",
    ),
    pytest.param(
        "delay: {dist: lognormal, mean: 3, cv: 0.5}", "delay: {dist: lognormal, mean: 3, cvv: 0.5}",
        r"unknown key \(did you mean 'cv'\?\); allowed here: mean, cv, dist",
        "stages.close.delay.cvv", "cvv", "cvv:", id="unknown-key-in-dist",
    ),
    pytest.param(
        "sdr: {headcount: 1,", "sdr: {headcont: 1,",
        r"unknown key \(did you mean 'headcount'\?\)", "roles.sdr.headcont", "headcont",
        "headcont", id="unknown-key-in-role",
    ),
    pytest.param(
        "next: {close: 0.4, lost: 0.6}", "next: {close: 0.4, lost: 0.5}",
        r"probabilities must sum to 1, got 0\.9", "stages.qualify.next",
        {"close": 0.4, "lost": 0.5}, "next: {close: 0.4", id="probabilities-sum",
    ),
    pytest.param(
        "next: {close: 0.4, lost: 0.6}", "next: {close: 1.2, lost: -0.2}",
        r"probability of 'close' must be in \[0, 1\], got 1\.2", "stages.qualify.next",
        {"close": 1.2, "lost": -0.2}, "next: {close: 1.2", id="probability-range",
    ),
    pytest.param(
        "next: {close: 0.4, lost: 0.6}", "next: {clos: 0.4, lost: 0.6}",
        r"stages\.qualify\.next\.clos: unknown stage or terminal state \(did you mean 'close'\?\)",
        "stages.qualify.next.clos",
        "clos", "next: {clos", id="unknown-stage-in-next",
    ),
    pytest.param(
        "    role: sdr", "    role: sdrr",
        r"unknown role \(did you mean 'sdr'\?\) \(roles: sdr, ae\)", "stages.qualify.role", "sdrr",
        "role: sdrr",
        id="unknown-role",
    ),
    pytest.param(
        "    role: ae", "    roles: [ae, legal]",
        r"unknown role \(roles: sdr, ae\)", "stages.close.roles.1", "legal", "roles: [ae, legal]",
        id="unknown-role-in-roles",
    ),
    pytest.param(
        "entry: qualify", "entry: qualfy",
        r"entry: must name a stage \(did you mean 'qualify'\?\) \(qualify, close\)", "entry",
        "qualfy", "entry: qualfy",
        id="unknown-entry",
    ),
    pytest.param(
        "  close:\n", "  orphan:\n    next: {won: 1}\n  close:\n",
        r"unreachable from entry 'qualify'", "stages.orphan", "orphan", "orphan:",
        id="unreachable-stage",
    ),
    pytest.param(
        "next: {won: 0.5, lost: 0.5}", "next: {review: 1}\n  review:\n    next: {close: 1}",
        r"a loop with no way out: no terminal state \(" + TERMINAL_LIST + r"\) can be reached",
        "stages.close.next", {"review": 1.0}, "next: {review: 1}", id="loop-without-exit",
    ),
    pytest.param(
        "    work: 0.25", "    work: 0",
        r"work must be a positive duration, got mean 0", "stages.close",
        None, "  close:", id="zero-work",
    ),
    pytest.param(
        "    work: 0.25", "    work: -1",
        r"greater than or equal to 0", "stages.close.work", -1, "work: -1", id="negative-work",
    ),
    pytest.param(
        "{dist: exponential, mean: \"30 minutes\"}", "{dist: exponential, mean: -2}",
        r"greater than 0", "stages.qualify.work.mean", -2, "work: {dist: exponential, mean: -2}",
        id="negative-work-mean",
    ),
    pytest.param(
        "delay: {dist: lognormal, mean: 3,", "delay: {dist: lognormal, mean: 0,",
        r"greater than 0", "stages.close.delay.mean", 0, "delay:", id="zero-delay-mean",
    ),
    pytest.param(
        "delay: {dist: lognormal, mean: 3, cv: 0.5}", "delay: 0",
        r"delay must be a positive duration, got mean 0", "stages.close", None, "  close:",
        id="zero-delay",
    ),
    pytest.param(
        "patience: {dist: exponential, mean: 2}", "patience: {dist: exponential, mean: 0}",
        r"greater than 0", "stages.qualify.patience.mean", 0, "patience:",
        id="zero-patience-mean",
    ),
    pytest.param(
        "patience: {dist: exponential, mean: 2}", "patience: \"-3 hours\"",
        r"greater than or equal to 0", "stages.qualify.patience", "-3 hours", "patience:",
        id="negative-patience",
    ),
    pytest.param(
        "    role: sdr", "    role: sdr\n    roles: [sdr]",
        r"give either role or roles, not both", "stages.qualify", None, "  qualify:",
        id="role-and-roles",
    ),
    pytest.param(
        "    role: ae\n", "",
        r"work is staff time: give a role", "stages.close", None, "  close:",
        id="work-without-role",
    ),
    pytest.param(
        "    work: 0.25", "    patience: 1",
        r"patience is how long a lead waits for staff: the stage needs work", "stages.close",
        None, "  close:", id="patience-without-work",
    ),
    pytest.param(
        "{dist: exponential, mean: \"30 minutes\"}", "{dist: expo, mean: 1}",
        r"unknown distribution; use one of constant, exponential, uniform, .*empirical",
        "stages.qualify.work", "expo", "work: {dist: expo", id="unknown-dist",
    ),
    pytest.param(
        "{dist: exponential, mean: \"30 minutes\"}", "{mean: 1}",
        r"a distribution needs dist: one of constant, exponential", "stages.qualify.work",
        {"mean": 1}, "work: {mean: 1}", id="dist-without-name",
    ),
    pytest.param(
        "    work: 0.25", "    work: 3 fortnights",
        r"a duration is a number, or a number with a unit .*got '3 fortnights'",
        "stages.close.work", "3 fortnights", "work: 3 fortnights", id="bad-duration-shorthand",
    ),
    pytest.param(
        "mean: \"30 minutes\"", "mean: \"3 fortnights\"",
        r"a duration is a number, or a number with a unit", "stages.qualify.work.mean",
        "3 fortnights", "3 fortnights", id="bad-duration-in-dist",
    ),
    pytest.param(
        "deal_value: 1000", "deal_value: 3 days",
        r"deal_value is an amount of money: give a number, not '3 days'",
        "sources.web.deal_value", "3 days", "deal_value: 3 days", id="unit-on-deal-value",
    ),
    pytest.param(
        "deal_value: 1000", "deal_value: {dist: gamma, mean: 2 weeks, cv: 1}",
        r"deal_value is an amount of money", "sources.web.deal_value",
        {"dist": "gamma", "mean": "2 weeks", "cv": 1}, "deal_value: {dist: gamma",
        id="unit-on-deal-value-dist",
    ),
    pytest.param(
        "  close:\n", "  lost:\n    next: {won: 1}\n  close:\n",
        r"a stage id must not be a terminal state \(" + TERMINAL_LIST + r"\)", "stages.lost",
        "lost",
        "  lost:", id="stage-named-like-terminal",
    ),
    pytest.param(
        "    role: ae\n", "    role: ae\n    only_if: {deal_value_above: 500, otherwise: clse}\n",
        r"unknown stage or terminal state", "stages.close.only_if.otherwise", "clse",
        "only_if:", id="unknown-otherwise",
    ),
    pytest.param(
        "  sdr: {headcount: 1,", "  sdr: {headcount: 0,",
        r"greater than or equal to 1", "roles.sdr.headcount", 0, "sdr: {headcount: 0",
        id="zero-headcount",
    ),
    pytest.param(
        "time_unit: day", "time_unit: fortnight",
        r"Input should be 'minute', 'hour', 'day' or 'week'", "time_unit", "fortnight",
        "time_unit:", id="unknown-time-unit",
    ),
]


@pytest.mark.parametrize(("old", "new", "match", "field", "value", "line_fragment"), RULES)
def test_rule_names_file_line_field_and_value(
    tmp_path, old, new, match, field, value, line_fragment
):
    text = edit(BASE, old, new)
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError, match=match) as info:
        load_scenario(path)
    p = problem_at(info.value, field)
    assert re.search(match, str(p)), str(p)
    if value is None:  # a stage-level rule: the value is the stage as written, long ones cut
        stage = yaml.safe_load(text)["stages"][field.split(".")[1]]
        assert p.value in (stage, repr(stage)[:117] + "...")
        value = p.value
    check_located(info.value, file=str(path), line=line_of(text, line_fragment.rstrip("\n")),
                  field=field, value=value)


def test_several_problems_are_reported_together(tmp_path):
    text = edit(edit(BASE, "    role: sdr", "    role: sdrr"), "entry: qualify", "entry: nowhere")
    with pytest.raises(ScenarioError, match=r"^2 problems:") as info:
        load_scenario(write(tmp_path, "s.yaml", text))
    assert {p.field for p in info.value.problems} == {"stages.qualify.role", "entry"}


def test_warmup_not_shorter_than_horizon(tmp_path):
    text = edit(BASE, "warmup: 10", "warmup: 15 weeks")  # 105 days > horizon of 100 days
    with pytest.raises(ScenarioError, match=r"warmup \(105\) must be shorter than horizon "
                                            r"\(100\)"):
        load_scenario(write(tmp_path, "s.yaml", text))
    text = edit(BASE, "warmup: 10", "warmup: 100")
    with pytest.raises(ScenarioError, match=r"warmup \(100\) must be shorter than horizon"):
        load_scenario(write(tmp_path, "s.yaml", text))


def test_warmup_error_is_located(tmp_path):
    text = edit(BASE, "warmup: 10", "warmup: 100")
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_located(info.value, file=str(path), line=line_of(text, "warmup:"), field="warmup",
                  value=100)


def test_invalid_yaml_gives_its_line(tmp_path):
    text = edit(BASE, "entry: qualify", "entry: [qualify")
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError, match=r"not valid YAML") as info:
        load_scenario(path)
    [p] = info.value.problems
    assert p.file == str(path)
    # The parser notices the unclosed list where the next mapping key starts.
    assert p.line is not None and line_of(text, "entry:") <= p.line <= line_of(text, "stages:")
    assert str(info.value).startswith(f"{path}:{p.line}: (document): not valid YAML")


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"),
                                            ("", "NoneType")])
def test_document_must_be_a_mapping(tmp_path, text, kind):
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError, match=r"a scenario must be a YAML mapping of keys to values"):
        load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_located(info.value, file=str(path), line=1, field="", value=kind)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError, match=r"cannot read the file: No such file") as info:
        load_scenario(path)
    check_located(info.value, file=str(path), line=None, field="", value=str(path))


def test_missing_required_field(tmp_path):
    text = edit(BASE, "entry: qualify\n", "")
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError, match=r"entry: required field is missing") as info:
        load_scenario(path)
    assert problem_at(info.value, "entry").file == str(path)


# --- units and shorthand ---------------------------------------------------------------------


def test_durations_with_units_convert_to_the_time_unit(tmp_path):
    scenario = load_scenario(write(tmp_path, "s.yaml", BASE))
    assert scenario.stages["qualify"].work.mean == pytest.approx(1 / 48, rel=1e-12)
    hourly = edit(edit(BASE, "time_unit: day", "time_unit: hour"), "warmup: 10", "warmup: 2 days")
    scenario = load_scenario(write(tmp_path, "h.yaml", hourly))
    assert scenario.stages["qualify"].work.mean == pytest.approx(0.5)
    assert scenario.warmup == pytest.approx(48)
    # A bare number is already in the time unit: not converted.
    assert scenario.stages["qualify"].patience.mean == 2


@pytest.mark.parametrize(("text", "unit", "expected"), [
    ("30 minutes", "day", 1 / 48), ("30 min", "hour", 0.5), ("1.5 h", "minute", 90),
    ("2 days", "week", 2 / 7), ("1 week", "day", 7), ("3 hrs", "hour", 3), ("1e1 d", "day", 10),
    (" 4 Hours ", "hour", 4), (".5 wk", "hour", 84),
])
def test_parse_duration(text, unit, expected):
    assert parse_duration(text, unit) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text", ["3 fortnights", "3", "hours", "3 hours ago", "", "3..5 h"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match=r"a duration is a number, or a number with a unit"):
        parse_duration(text, "day")


def test_convert_round_trip():
    for a in ("minute", "hour", "day", "week"):
        for b in ("minute", "hour", "day", "week"):
            assert convert(convert(7.0, a, b), b, a) == pytest.approx(7.0, rel=1e-12)
    assert convert(1, "week", "minute") == 7 * 24 * 60


def test_shorthand_number_and_string_mean_constant(tmp_path):
    text = edit(BASE, "delay: {dist: lognormal, mean: 3, cv: 0.5}", "delay: 2 hours")
    scenario = load_scenario(write(tmp_path, "s.yaml", text))
    assert scenario.stages["close"].work == Constant(value=0.25)
    assert scenario.stages["close"].delay == Constant(value=1 / 12)
    assert scenario.sources["web"].deal_value == Constant(value=1000)
    assert scenario.stages["close"].delay.variance == 0


# --- extends chains --------------------------------------------------------------------------


def test_extends_relative_paths_and_deep_merge(tmp_path, monkeypatch):
    write(tmp_path, "baseline/base.yaml", BASE)
    write(tmp_path, "designs/mid.yaml", textwrap.dedent("""\
        extends: ../baseline/base.yaml
        name: more staff
        roles: {ae: {headcount: 5}}
        """))
    leaf = write(tmp_path, "designs/deeper/leaf.yaml", textwrap.dedent("""\
        extends: ../mid.yaml
        name: faster close
        stages:
          close: {delay: {mean: 1}}
        """))
    monkeypatch.chdir(tmp_path / "designs")  # paths are relative to each file, not to cwd
    scenario = load_scenario(leaf)
    assert scenario.name == "faster close"
    assert scenario.roles["ae"].headcount == 5
    assert scenario.roles["ae"].cost_per_hour == 60  # kept from the base
    assert scenario.stages["close"].delay == Lognormal(dist="lognormal", mean=1, cv=0.5)
    assert scenario.stages["qualify"] == load_scenario(tmp_path / "baseline/base.yaml").stages[
        "qualify"]


def test_extends_null_deletes_a_key(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    design = write(tmp_path, "d.yaml", textwrap.dedent("""\
        extends: base.yaml
        name: no customer delay, no close stage
        stages:
          qualify: {patience: null, next: {won: 0.4, lost: 0.6}}
          close: null
        """))
    scenario = load_scenario(design)
    assert list(scenario.stages) == ["qualify"]
    assert scenario.stages["qualify"].patience is None


def test_extends_replaces_next_whole(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    design = write(tmp_path, "d.yaml", "extends: base.yaml\nstages: {close: {next: {won: 1}}}\n")
    # Merged key by key it would be {won: 1, lost: 0.5}, which does not sum to 1.
    assert load_scenario(design).stages["close"].next == {"won": 1.0}


def test_extends_replaces_a_dist_of_another_kind(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    design = write(tmp_path, "d.yaml", textwrap.dedent("""\
        extends: base.yaml
        stages:
          qualify: {work: {dist: gamma, mean: 1 hour, cv: 0.3}}
          close: {delay: {dist: constant, value: 2}}
        """))
    scenario = load_scenario(design)
    # Merged, the lognormal's mean and cv would sit beside value and be unknown keys.
    assert scenario.stages["close"].delay == Constant(value=2)
    assert scenario.stages["qualify"].work == Gamma(dist="gamma", mean=1 / 24, cv=0.3)


def test_extends_same_dist_merges(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    design = write(tmp_path, "d.yaml", "extends: base.yaml\n"
                                       "stages: {qualify: {work: {dist: exponential, mean: 1}}}\n")
    assert load_scenario(design).stages["qualify"].work == Exponential(dist="exponential", mean=1)


def test_errors_in_a_chain_point_at_the_file_that_wrote_them(tmp_path):
    base_text = edit(BASE, "    role: sdr", "    role: sdrr")  # the base is broken
    base = write(tmp_path, "base.yaml", base_text)
    mid_text = "extends: base.yaml\nname: mid\nroles: {ae: {headcount: 3}}\n"
    mid = write(tmp_path, "mid.yaml", mid_text)
    leaf_text = "extends: mid.yaml\nname: leaf\n"
    leaf = write(tmp_path, "leaf.yaml", leaf_text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(leaf)
    check_located(info.value, file=str(base), line=line_of(base_text, "role: sdrr"),
                  field="stages.qualify.role", value="sdrr")

    # The leaf repairs the base: valid.
    write(tmp_path, "leaf.yaml", leaf_text + "stages: {qualify: {role: sdr}}\n")
    assert load_scenario(leaf).stages["qualify"].role == "sdr"

    # The middle file breaks a rule the base kept: the middle file is named.
    write(tmp_path, "base.yaml", BASE)
    mid_text = mid_text + "stages:\n  close:\n    next: {won: 0.5, lost: 0.6}\n"
    write(tmp_path, "mid.yaml", mid_text)
    with pytest.raises(ScenarioError, match=r"probabilities must sum to 1") as info:
        load_scenario(leaf)
    check_located(info.value, file=str(mid), line=line_of(mid_text, "next:"),
                  field="stages.close.next", value={"won": 0.5, "lost": 0.6})

    # A key deleted down the chain takes its origin with it: the error falls on the stage.
    write(tmp_path, "leaf.yaml", leaf_text + "stages:\n  close:\n    role: null\n")
    write(tmp_path, "mid.yaml", "extends: base.yaml\n")
    with pytest.raises(ScenarioError, match=r"work is staff time") as info:
        load_scenario(leaf)
    p = problem_at(info.value, "stages.close")
    assert (p.file, p.line) == (str(leaf), 4)


def test_extends_cycle(tmp_path):
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    b = write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    with pytest.raises(ScenarioError, match=r"extends: extends must not form a cycle") as info:
        load_scenario(a)
    [p] = info.value.problems
    assert (p.file, p.line, p.field) == (str(b), 2, "extends")
    assert p.value.endswith("a.yaml -> " + str(b.resolve()) + " -> " + str(a.resolve()))
    selfish = write(tmp_path, "self.yaml", "extends: ./self.yaml\n")
    with pytest.raises(ScenarioError, match=r"must not form a cycle"):
        load_scenario(selfish)


def test_extends_missing_file(tmp_path):
    d = write(tmp_path, "sub/d.yaml", "name: x\nextends: base.yaml\n")
    write(tmp_path, "base.yaml", BASE)  # beside the cwd, not beside d.yaml
    with pytest.raises(ScenarioError, match=r"no such file \(paths are relative to this file\)") \
            as info:
        load_scenario(d)
    check_located(info.value, file=str(d), line=2, field="extends", value="base.yaml")


def test_extends_must_be_a_path(tmp_path):
    d = write(tmp_path, "d.yaml", "extends: [a.yaml]\n")
    with pytest.raises(ScenarioError, match=r"extends: must be a file path") as info:
        load_scenario(d)
    check_located(info.value, file=str(d), line=1, field="extends", value=["a.yaml"])


# --- --set overrides -------------------------------------------------------------------------


@pytest.fixture
def base_file(tmp_path) -> Path:
    return write(tmp_path, "base.yaml", BASE)


def test_set_numbers_and_strings_with_units(base_file):
    scenario = load_scenario(base_file, [
        "horizon=200", "roles.ae.headcount=7", "stages.qualify.work.mean=2 hours",
        "name='renamed: with colon'",
    ])
    assert scenario.horizon == 200
    assert scenario.roles["ae"].headcount == 7
    assert scenario.stages["qualify"].work.mean == pytest.approx(1 / 12)
    assert scenario.name == "renamed: with colon"  # the value is YAML: quotes keep a colon


def test_set_creates_nested_keys(base_file):
    scenario = load_scenario(base_file, [
        "stages.close.only_if.deal_value_above=5000", "calendar.hours=[8, 18]",
    ])
    assert scenario.stages["close"].only_if.deal_value_above == 5000
    assert scenario.calendar.hours == (8, 18)
    assert scenario.calendar.workdays == ["mon", "tue", "wed", "thu", "fri"]


def test_set_null_deletes(base_file):
    scenario = load_scenario(base_file, ["stages.close.delay=null"])
    assert scenario.stages["close"].delay is None
    doc = apply_sets(read_document(base_file), ["stages.nothere.delay=null"])
    assert "nothere" not in doc.data["stages"]  # deleting what is not there creates nothing
    # ... and load_scenario refuses it: a stage that is not there is most likely a typo.
    with pytest.raises(ScenarioError, match=r"^--set:1: stages\.nothere: no stage 'nothere'"):
        load_scenario(base_file, ["stages.nothere.delay=null"])


@pytest.mark.parametrize("bad", ["foo", "=3", "a..b=1", "stages.close.delay"])
def test_set_malformed(base_file, bad):
    with pytest.raises(ScenarioError, match=r"an override is key\.path=value") as info:
        load_scenario(base_file, ["horizon=50", bad])
    check_located(info.value, file="--set", line=2, field="", value=bad)


def test_set_errors_name_the_set(base_file):
    with pytest.raises(ScenarioError, match=r"^--set:2: roles\.ae\.headcount: ") as info:
        load_scenario(base_file, ["horizon=50", "roles.ae.headcount=0"])
    check_located(info.value, file="--set", line=2, field="roles.ae.headcount", value=0)
    # A --set that replaces a subtree is blamed for what is inside it, not the file's lines.
    with pytest.raises(ScenarioError) as info:
        load_scenario(base_file, ["stages.qualify.patience={dist: exponential, mean: -1}"])
    check_located(info.value, file="--set", line=1, field="stages.qualify.patience.mean",
                  value=-1)


# --- schema and hash -------------------------------------------------------------------------


def test_json_schema_is_json_with_the_top_level_properties():
    schema = json.loads(json.dumps(json_schema()))
    props = schema["properties"]
    for key in ("name", "time_unit", "horizon", "warmup", "replications", "seed", "calendar",
                "roles", "sources", "entry", "stages", "targets", "extends"):
        assert key in props, key
    assert schema["type"] == "object"
    assert set(schema["required"]) >= {"name", "horizon", "sources", "entry", "stages"}
    assert schema["additionalProperties"] is False
    # Every reference resolves inside the document.
    refs = re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))
    assert refs and all(ref in schema["$defs"] for ref in refs)


def test_scenario_hash(tmp_path, base_file):
    a, b = load_scenario(base_file), load_scenario(base_file)
    assert scenario_hash(a) == scenario_hash(b)
    assert re.fullmatch(r"[0-9a-f]{64}", scenario_hash(a))
    # Same scenario written another way (key order, units, shorthand): same hash.
    other = edit(BASE, "work: 0.25", "work: {dist: constant, value: 6 hours}")
    other = edit(other, "sdr: {headcount: 1, cost_per_hour: 30}", "sdr: {cost_per_hour: 30, "
                                                                   "headcount: 1}")
    assert scenario_hash(load_scenario(write(tmp_path, "o.yaml", other))) == scenario_hash(a)
    changed = load_scenario(base_file, ["stages.close.delay.cv=0.6"])
    assert scenario_hash(changed) != scenario_hash(a)
    assert resolved(changed)["stages"]["close"]["delay"]["cv"] == 0.6


# --- rules added with the sales mechanics ------------------------------------------------------


def test_roles_without_common_hours_are_refused(tmp_path):
    text = edit(BASE, "  ae: {headcount: 2, cost_per_hour: 60}",
                "  ae: {headcount: 2, cost_per_hour: 60, calendar: {workdays: [sat, sun]}}")
    text = edit(text, "    role: ae\n", "    roles: [sdr, ae]\n")
    text = "calendar: {workdays: [mon, tue, wed, thu, fri]}\n" + text
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError, match="no working time in common") as info:
        load_scenario(path)
    check_located(info.value, file=str(path), line=line_of(text, "roles: [sdr, ae]"),
                  field="stages.close.roles", value=["sdr", "ae"])


def test_work_after_the_sale_is_not_owner_assigned(tmp_path):
    text = edit(BASE, "  ae: {headcount: 2, cost_per_hour: 60}",
                "  ae: {headcount: 2, cost_per_hour: 60, assignment: owner}")
    text += "collection: {role: ae, terms: 30}\n"
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError, match="work after the sale is done by a pool") as info:
        load_scenario(path)
    check_located(info.value, file=str(path), line=line_of(text, "collection:"),
                  field="collection.role", value="ae")


def test_set_reaches_into_lists(tmp_path):
    text = "calendar: {workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}\n" + BASE
    path = write(tmp_path, "s.yaml", text)
    assert load_scenario(path, ["calendar.hours.1=18"]).calendar.hours == (9, 18)
    with pytest.raises(ScenarioError, match=r"a list of 2 items: give an index from 0 to 1"):
        load_scenario(path, ["calendar.hours.2=18"])


def test_a_binary_file_is_refused_cleanly(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: x\n\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="not a text file in UTF-8"):
        load_scenario(path)
