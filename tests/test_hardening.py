"""Hostile and broken input: every file is refused clearly, fast, and without a traceback.

Each test here pins one defect that a run of hostile inputs found: a document that blew up
memory or time, a number that passed validation and then crashed or hung the run, a YAML
quirk that silently changed a scenario, a base file read that should not have been.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from conftest import cpu_limit, no_hang
from salessim.errors import ScenarioError
from salessim.model.runsize import estimate
from salessim.scenario import load_scenario
from salessim.scenario.load import MAX_EXTENDS
from salessim.scenario.size import MAX_LEADS_PER_REPLICATION, MAX_TRACKED_HEADCOUNT
from salessim.scenario.yamlread import MAX_DEPTH, MAX_NODES

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
ORDER_TO_CASH = ROOT / "scenarios" / "order_to_cash.yaml"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(path, sets=None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, sets)
    return info.value


# --- the size of a document -----------------------------------------------------------------


def alias_bomb(depth: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_without_expanding_it(tmp_path):
    # 9^9 = 387 million values once expanded, from a file of about 400 bytes: expanding
    # them takes minutes of CPU; refusing the file takes milliseconds.
    path = write(tmp_path, "bomb.yaml", alias_bomb(9))
    with cpu_limit(5):
        err = refused(path)
    assert "with its aliases expanded, larger than the limits" in str(err)
    assert f"{MAX_NODES:,} values" in str(err)


def test_a_long_chain_of_aliases_is_refused_not_a_recursion_error(tmp_path):
    # Each anchor nests the previous one: 2,000 levels deep once expanded, 2 KB of text.
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 2000)]
    err = refused(write(tmp_path, "chain.yaml", "\n".join(lines) + "\n"))
    assert f"{MAX_DEPTH} levels" in str(err)


def test_aliases_within_the_limits_still_work(tmp_path):
    path = write(tmp_path, "anchors.yaml", TUTORIAL.read_text().replace(
        "  sdr: {headcount: 2, cost_per_hour: 35}", "  sdr: &staff {headcount: 2, cost_per_hour: 35}"
    ).replace("  ae:  {headcount: 2, cost_per_hour: 70}", "  ae: *staff"))
    scenario = load_scenario(path)
    assert scenario.roles["ae"].cost_per_hour == 35


def test_deep_nesting_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "deep.yaml", "name: x\nbad: " + "[" * 600 + "]" * 600 + "\n")
    err = refused(path)
    assert f"nested deeper than the limit of {MAX_DEPTH} levels" in str(err)
    assert err.problems[0].line == 2


def test_an_extends_chain_longer_than_the_limit_is_refused(tmp_path):
    write(tmp_path, "b0.yaml", TUTORIAL.read_text())
    for i in range(1, MAX_EXTENDS + 5):
        write(tmp_path, f"b{i}.yaml", f"extends: b{i - 1}.yaml\n")
    err = refused(tmp_path / f"b{MAX_EXTENDS + 4}.yaml")
    assert f"at most {MAX_EXTENDS} bases" in str(err)
    # A chain within the limit loads.
    assert load_scenario(tmp_path / "b5.yaml").name == "Two-step inbound funnel"


# --- what YAML would silently get wrong -----------------------------------------------------


def test_duplicate_keys_are_refused_naming_both_lines(tmp_path):
    text = TUTORIAL.read_text().replace("horizon: 180", "horizon: 180\nhorizon: 90")
    err = refused(write(tmp_path, "dup.yaml", text))
    assert "horizon: key given twice in one map, at lines 4 and 5" in str(err)
    roles = TUTORIAL.read_text().replace("  ae:  {headcount: 2, cost_per_hour: 70}",
                                         "  ae:  {headcount: 2, cost_per_hour: 70}\n  ae: {headcount: 9}")
    err = refused(write(tmp_path, "dup_role.yaml", roles))
    assert "ae: key given twice in one map, at lines 12 and 13" in str(err)


def test_scientific_notation_is_a_number(tmp_path):
    text = TUTORIAL.read_text().replace("horizon: 180", "horizon: 1.8e2")
    assert load_scenario(write(tmp_path, "sci.yaml", text)).horizon == 180
    scenario = load_scenario(TUTORIAL, ["horizon=2e2", "stages.qualify.work.cv=5e-1"])
    assert scenario.horizon == 200
    assert scenario.stages["qualify"].work.cv == 0.5


# --- where bases may live -------------------------------------------------------------------


def test_extends_of_a_file_that_is_not_yaml_is_refused_without_quoting_it(tmp_path):
    secret = write(tmp_path, "shadow", "root:$6$SECRETHASH:19000:0:99999:7:::\n")
    design = write(tmp_path, "d.yaml", f"extends: {secret}\nname: x\n")
    err = refused(design)
    assert "must name a .yaml or .yml file" in str(err)
    assert "SECRETHASH" not in str(err)
    # A .yaml base that is no mapping (a line of text, or not YAML at all).
    write(tmp_path, "base.yaml", "a line of SECRETHASH text\n")
    err = refused(write(tmp_path, "e.yaml", "extends: base.yaml\nname: x\n"))
    assert "the base is not a YAML scenario" in str(err)
    assert "SECRETHASH" not in str(err)
    assert (err.problems[0].file, err.problems[0].line) == (str(tmp_path / "e.yaml"), 1)
    write(tmp_path, "base.yaml", "key: [SECRETHASH\n")
    err = refused(tmp_path / "e.yaml")
    assert "the base is not a YAML scenario" in str(err)
    assert "SECRETHASH" not in str(err)


def test_a_fifo_or_a_device_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    # Opening a FIFO nobody writes to waits for ever, reading /dev/zero never ends.
    with no_hang():
        assert "not a regular file (a device, FIFO or socket)" in str(refused(fifo))
        assert "not a regular file" in str(refused("/dev/zero"))
        design = write(tmp_path, "d.yaml", "extends: pipe.yaml\nname: x\n")
        assert "extends: not a regular file" in str(refused(design))


# --- numbers that pass each field's rule and then break the run ----------------------------

BAD_NUMBERS = [
    # (--set overrides on the tutorial, field named in the error)
    (["stages.pitch.work={dist: weibull, shape: 0.001, scale: 1}"], "stages.pitch.work"),
    (["stages.pitch.work={dist: uniform, low: 0, high: .inf}"], "stages.pitch.work.high"),
    (["stages.pitch.work={dist: gamma, mean: 1, cv: 1e-200}"], "stages.pitch.work"),
    (["stages.pitch.work={dist: lognormal, mean: 1, cv: 1e200}"], "stages.pitch.work"),
    (["stages.pitch.work={dist: empirical, values: [1, 2], weights: [.nan, 1]}"],
     "stages.pitch.work.weights.0"),
    (["stages.pitch.work={dist: empirical, values: [1, 2], weights: [1e308, 1e308]}"],
     "stages.pitch.work"),
    (["stages.qualify.work.cv=.inf"], "stages.qualify.work.cv"),
    (["sources.inbound.rate=.inf"], "sources.inbound.rate"),
    (["sources.inbound.rate=1e300"], "sources.inbound.rate"),
    (["horizon=.inf"], "horizon"),
    (["horizon=1e12"], "horizon"),
    (["stages.pitch.delay={dist: normal, mean: .nan, sd: 1}"], "stages.pitch.delay.mean"),
    (["roles.ae.headcount=1e9", "roles.ae.assignment=owner"], "roles.ae.headcount"),
    (["roles.ae.headcount=1e9", "stages.pitch.queue=deal_value"], "roles.ae.headcount"),
    # A loop a lead leaves once in 10^7 rounds: 2 x 10^10 visits per replication.
    (["stages.pitch.next={won: 1e-7, qualify: 0.9999999}", "stages.qualify.next={pitch: 1}"],
     "stages"),
    (["periods=1e-9"], "periods"),
]


@pytest.mark.parametrize(("sets", "field"), BAD_NUMBERS)
def test_numbers_that_would_break_the_run_are_refused_naming_the_field(sets, field):
    err = refused(TUTORIAL, sets)
    assert any(p.field == field for p in err.problems), str(err)


def test_nan_in_collection_lateness_is_refused():
    # It ran with exit 0 before, and bad debt jumped from 11,028 to 625,700.
    err = refused(ORDER_TO_CASH, ["collection.lateness={dist: empirical, values: [.nan, 5]}"])
    assert err.problems[0].field == "collection.lateness.values.0"
    assert "finite number" in err.problems[0].rule


def test_limits_are_exact():
    # Right at the limits: accepted; just above: refused.
    rate = MAX_LEADS_PER_REPLICATION / 180
    assert load_scenario(TUTORIAL, [f"sources.inbound.rate={rate!r}"])
    refused(TUTORIAL, [f"sources.inbound.rate={rate * 1.001!r}"])
    owner = [f"roles.ae.headcount={MAX_TRACKED_HEADCOUNT}", "roles.ae.assignment=owner"]
    assert load_scenario(TUTORIAL, owner)
    refused(TUTORIAL, [f"roles.ae.headcount={MAX_TRACKED_HEADCOUNT + 1}", "roles.ae.assignment=owner"])
    # A pool role has no such limit: its staff are one counter.
    assert load_scenario(TUTORIAL, ["roles.ae.headcount=1e9"]).roles["ae"].headcount == 10**9


# --- the size of a run ----------------------------------------------------------------------


def test_estimate_counts_leads_visits_and_events():
    scenario = load_scenario(TUTORIAL)
    size = estimate(scenario, replications=4)
    # 6 leads a day for 180 days.
    assert size.leads == pytest.approx(1080)
    # Visits per lead: qualify q = 1 + 0.1 p, pitch p = 0.3 q, so q = 1 / 0.97.
    q = 1 / 0.97
    assert size.visits == pytest.approx(1080 * (q + 0.3 * q))
    # created + end, 3 events per staffed visit, 2 more per delay (pitch has one).
    assert size.events == pytest.approx(1080 * (2 + 3 * q + 5 * 0.3 * q))
    assert size.total_events == pytest.approx(4 * size.events)
    assert size.warning() is None
    big = estimate(load_scenario(TUTORIAL, ["sources.inbound.rate=5e5"]), replications=20)
    assert big.warning(event_log=True).startswith("a large run: about 90,000,000 leads")
    assert "GiB of memory" in big.warning(event_log=True)


def test_control_characters_are_refused_as_not_yaml(tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_text('name: x\nbad: "a\0b"\n')
    assert "not valid YAML: unacceptable character #x0000" in str(refused(path))
