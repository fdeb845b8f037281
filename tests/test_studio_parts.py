"""salessim studio without a browser, the later parts: completion from the JSON Schema,
the calendar in the form, the what-if sliders' keys, and the casebook's cases."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

pytest.importorskip("ruamel.yaml", reason="the studio extra is missing")

from salessim.errors import ScenarioError, UsageError  # noqa: E402
from salessim.scenario import load_scenario  # noqa: E402
from salessim.scenario.parts import WEEKDAYS  # noqa: E402
from salessim.studio import cases, files, form  # noqa: E402
from salessim.studio.complete import ITEM, completions, keys_at, values_at  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "b2b_baseline.yaml"


def _at(text: str, marker: str = "|") -> dict:
    """Completions where ``marker`` stands in ``text`` (the marker taken out)."""
    before = text[:text.index(marker)]
    line = before.count("\n") + 1
    return completions(text.replace(marker, "", 1), line, len(before.rsplit("\n", 1)[-1]))


def _labels(answer: dict) -> list[str]:
    return [i["label"] for i in answer["items"]]


# --- completion ----------------------------------------------------------------------------


def test_keys_at_the_cursor_with_their_help_and_without_those_written():
    text = BASELINE.read_text().replace("    role: ae\n", "    role: ae\n    pa|\n", 1)
    answer = _at(text)
    assert answer["path"] == ["stages", "discovery"]
    assert {i["label"]: i["detail"] for i in answer["items"]} == {
        "patience": "a lead waiting longer than this for staff goes cold",
        "parallel": "a mapping"}
    assert answer["start"] == 4  # the word being typed is replaced
    # An empty line of the stage: every key it may have, less those it has.
    every = _labels(_at(BASELINE.read_text().replace("    role: ae\n", "    role: ae\n    |\n", 1)))
    assert "queue" in every and not {"role", "work", "delay", "next", "description"} & set(every)


def test_top_level_keys_and_enum_values():
    assert _labels(_at("name: x\nti|\n")) == ["time_unit"]
    assert _labels(_at("name: x\ntime_unit: |\n")) == ["minute", "hour", "day", "week"]
    assert _labels(_at("time_unit: h|\n")) == ["hour"]
    assert _at("# a comment about ti|\n")["items"] == []  # nothing inside a comment


def test_inside_a_flow_mapping_keys_and_a_distribution_name():
    text = BASELINE.read_text()
    answer = _at(text.replace("{headcount: 3, cost_per_hour: 35,", "{headcount: 3, co|", 1))
    assert answer["path"] == ["roles", "sdr"] and _labels(answer) == ["cost_per_hour"]
    dists = _at(text.replace('work: {dist: lognormal, mean: "1 hour"', "work: {dist: |", 1))
    assert dists["path"] == ["stages", "qualify", "work"]
    assert set(_labels(dists)) == {"constant", "exponential", "uniform", "triangular", "pert",
                                   "normal", "lognormal", "gamma", "weibull", "empirical"}
    # Keys already in the flow mapping are not offered again.
    assert "dist" not in _labels(_at("stages:\n  a:\n    work: {dist: gamma, |\n"))


def test_block_keys_below_a_list_item_and_in_a_redesign():
    text = "sources:\n  web:\n    profile:\n      - from: 0\n        |\n"
    assert _at(text)["path"] == ["sources", "web", "profile", ITEM]
    redesign = _labels(_at("extends: base.yaml\n|\n"))
    assert "add" in redesign and "extends" not in redesign  # a redesign may add stages
    assert "add" not in _labels(_at("name: x\n|\n"))


def test_ids_the_file_defines_where_one_belongs():
    text = BASELINE.read_text()
    roles = _at(text.replace("    role: sdr\n", "    role: |\n", 1))
    assert _labels(roles) == ["sdr", "ae", "se", "legal"]
    assert roles["items"][0]["detail"] == "a role of this file"
    assert _labels(_at(text.replace("    roles: [ae, se]", "    roles: [ae, |", 1))) == [
        "sdr", "ae", "se", "legal"]
    stages = ["qualify", "discovery", "demo", "proposal", "negotiation", "approval", "close"]
    assert _labels(_at(text.replace("entry: qualify", "entry: |"))) == stages
    # A routing target: a stage or an end, those already routed to left out.
    targets = _at(text.replace("next: {discovery: 0.3, lost: 0.7}", "next: {discovery: 0.3, |", 1))
    assert _labels(targets) == [s for s in stages if s != "discovery"] + ["won", "lost",
                                                                         "no_decision"]


def test_the_help_is_one_line_from_the_schema():
    keys = {i["label"]: i["detail"] for i in keys_at(["calendar"])}
    assert set(keys) == {"workdays", "hours", "holidays"}
    assert keys["holidays"] == "dates with no work; time 0 is Monday 2026-01-05"
    assert all("\n" not in d for d in keys.values())
    assert [v["label"] for v in values_at(["calendar", "workdays", ITEM])] == list(WEEKDAYS)


# --- the calendar in the form --------------------------------------------------------------


def _diff(before: str, after: str) -> list[str]:
    return [x for x in difflib.ndiff(before.splitlines(), after.splitlines())
            if x.startswith(("+ ", "- "))]


def test_the_calendar_is_written_into_its_line_and_loads_back(tmp_path):
    text = BASELINE.read_text()
    after = form.set_knobs(text, {"calendar": {"hours": [8, 17.5],
                                               "holidays": ["2026-12-25", "2026-04-03"]}})
    assert _diff(text, after) == [
        "- calendar: {workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}",
        "+ calendar: {workdays: [mon, tue, wed, thu, fri], hours: [8, 17.5], "
        "holidays: [2026-04-03, 2026-12-25]}"]
    path = tmp_path / "b2b.yaml"
    path.write_text(after)
    calendar = load_scenario(path).calendar
    assert calendar.hours == (8, 17.5) and [d.isoformat() for d in calendar.holidays] == [
        "2026-04-03", "2026-12-25"]
    assert form.calendar_knobs(files.merged_data(tmp_path, "b2b.yaml", after)) == {
        "given": True, "workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [8, 17.5],
        "holidays": ["2026-04-03", "2026-12-25"]}


def test_a_file_without_a_calendar_gets_one_and_shows_the_defaults():
    assert form.calendar_knobs({"name": "x"}) == {**form.DEFAULT_CALENDAR, "given": False}
    text = "extends: base.yaml\n# more SDRs\nroles:\n  sdr: {headcount: 4}\n"
    assert form.set_knobs(text, {"calendar": {"workdays": ["mon", "sat"]}}) == \
        text + "calendar: {workdays: [mon, sat]}\n"


@pytest.mark.parametrize("values, says", [
    ({"workdays": []}, "one or more of mon"), ({"workdays": ["mon", "mon"]}, "one or more"),
    ({"workdays": ["monday"]}, "one or more"), ({"hours": [17, 9]}, "0 <= start < end <= 24"),
    ({"hours": [9, 25]}, "0 <= start < end <= 24"), ({"hours": [9]}, "start < end"),
    ({"holidays": ["25/12/2026"]}, "dates like 2026-12-25"), ({"hours": "9-17"}, "as lists"),
    ({"weekends": []}, "as lists"),
])
def test_the_calendar_form_refuses_what_the_loader_would(values, says):
    with pytest.raises(UsageError, match=says):
        form.set_knobs(BASELINE.read_text(), {"calendar": values})


# --- the what-if sliders -------------------------------------------------------------------


@pytest.mark.parametrize("key, allowed", [
    ("roles.se.headcount", True), ("sources.inbound.rate", True),
    ("stages.demo.work.mean", True), ("stages.demo.delay.mean", True),
    ("stages.qualify.next.discovery", True), ("stages.qualify.patience.mean", False),
    ("roles.se.cost_per_hour", False), ("stages.qualify.next", False), ("seed", False),
    ("stages..work.mean", False), ("calendar.hours.0", False),
])
def test_a_slider_sets_only_the_knobs_of_the_form(key, allowed):
    assert form.slider_key(key) is allowed


# --- the casebook --------------------------------------------------------------------------


def test_a_case_is_listed_checked_and_read_with_its_story(tmp_path):
    root = tmp_path / "class"
    shutil.copytree(REPO / "cases" / "pooling", root / "pooling")
    rows = {r["path"]: r for r in files.list_files(root)}
    assert rows["pooling/case.yaml"] | {"problems": []} == {
        "path": "pooling/case.yaml", "kind": "case", "state": "ok", "problems": [],
        "name": "Pooling versus specialisation"}
    info = cases.case_info(root, "pooling/case.yaml")
    assert info["before"] == "pooling/before.yaml"
    assert info["after"] == ["pooling/after.yaml", "pooling/after_slower.yaml"]
    assert info["readme"].startswith("# Pooling versus specialisation")
    assert {"after": "after_slower.yaml", "kpi": "wait_mean.qualify_partner",
            "verdict": "up"} in info["expected"]
    # A broken case is listed as invalid with the located message, and not opened.
    case = root / "pooling" / "case.yaml"
    case.write_text(case.read_text().replace("after_slower.yaml: {", "after_slow.yaml: {"))
    row = files.case_state(root, case)
    assert row["state"] == "invalid"
    assert row["problems"][0]["message"].startswith("pooling/case.yaml:")
    assert "verdicts.after_slow.yaml: must name an after scenario" in row["problems"][0]["message"]
    with pytest.raises(ScenarioError, match="must name an after scenario"):
        cases.case_info(root, "pooling/case.yaml")
    with pytest.raises(UsageError, match="a case is a folder's case.yaml"):
        cases.case_info(root, "pooling/before.yaml")


# --- a new file from the template ----------------------------------------------------------


def test_a_new_scenario_from_the_template_loads_and_is_never_written_over(tmp_path):
    made = files.new_file(tmp_path, "client/first_try.yaml", None, "template")
    path = tmp_path / "client" / "first_try.yaml"
    assert made == {"path": "client/first_try.yaml", "version": files.version(path.read_text())}
    scenario = load_scenario(path)
    assert scenario.name == "first try" and set(scenario.stages) == {"qualify", "pitch"}
    assert files.list_files(tmp_path)[0] | {"problems": []} == {
        "path": "client/first_try.yaml", "kind": "scenario", "state": "ok", "problems": [],
        "name": "first try"}
    with pytest.raises(UsageError, match="exists already"):
        files.new_file(tmp_path, "client/first_try.yaml", None, "template")
    with pytest.raises(UsageError, match="a copy, a redesign or the template"):
        files.new_file(tmp_path, "client/other.yaml", "client/first_try.yaml", "blank")
