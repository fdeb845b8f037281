"""``salessim validate`` reads targets and ``--set`` paths as compare and run would.

A target that ``validate`` passes never fails ``compare``, and the other way round; an
unknown KPI, stage, role or key gets a did-you-mean, exit status 2, no traceback.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import refused
from salessim import cli
from salessim.compare import load_runs
from salessim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "b2b_baseline.yaml"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def redesign(tmp_path, targets: str) -> Path:
    path = tmp_path / "redesign.yaml"
    text = f"extends: {BASE}\nname: with targets\ntargets:\n{textwrap.indent(targets, '  ')}\n"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("targets, rule", [
    ("win_rate: +5%\ncycle_time_won_median: -20%", None),
    ('utilisation.se: "<= 0.85"', None),
    ("win_rat: +5%", "unknown KPI (did you mean 'win_rate'?)"),
    ('utilisation.sd: "<= 0.85"', "unknown KPI (did you mean 'utilisation.sdr'?)"),
    ("won_rate: +5%", "unknown KPI (did you mean 'win_rate'?)"),
    ("wins: +10%", "unknown KPI (did you mean 'won'?); the KPIs: leads, won,"),
    ("conversion.closng: +5%", "unknown KPI (did you mean 'conversion.close'?)"),
    ("win_rate: 20%", "a relative target needs its sign"),
    ("win_rate: 0.85", "a target is a signed relative change"),
    ('win_rate: "< 0.85"', "use <= or >="),
    ("win_rate: lots", "a target is a signed relative change"),
])
def test_validate_and_compare_agree_on_targets(tmp_path, capsys, targets, rule):
    path = redesign(tmp_path, targets)
    code, out, err = run_cli(capsys, "validate", path)
    try:
        load_runs(BASE, [path])
        compare_ok = True
    except ScenarioError:
        compare_ok = False
    assert (code == 0) is compare_ok is (rule is None)
    if rule is None:
        assert "ok (" in out and "target" in out
    else:
        assert code == 2 and rule in err and "Traceback" not in err
        assert f"{path}:4: targets." in err  # the file and line of the target


def test_validate_checks_command_line_targets(capsys):
    code, _, err = run_cli(capsys, "validate", BASE, "--target", "win_rte=+5%")
    assert code == 2
    assert "--target:1: targets.win_rte: unknown KPI (did you mean 'win_rate'?)" in err
    code, out, _ = run_cli(capsys, "validate", BASE, "--target", "win_rate=+5%")
    assert code == 0 and "1 target)" in out


@pytest.mark.parametrize("assignment, message", [
    ("stages.clos.work=2", "--set:1: stages.clos: no stage 'clos' in the scenario "
                           "(did you mean 'close'?)"),
    ("stages.qualfy=null", "--set:1: stages.qualfy: no stage 'qualfy' in the scenario "
                           "(did you mean 'qualify'?)"),
    ("roles.sd.headcount=3", "--set:1: roles.sd: no role 'sd' in the scenario "
                             "(did you mean 'sdr'?)"),
    ("sources.inbond.rate=2", "--set:1: sources.inbond: no source 'inbond' in the scenario "
                              "(did you mean 'inbound'?)"),
    ("stages.close.delya=2", "--set:1: stages.close.delya: unknown key "
                             "(did you mean 'delay'?)"),
    ("horizn=30", "--set:1: horizn: unknown key (did you mean 'horizon'?)"),
])
def test_set_paths_get_a_did_you_mean(capsys, assignment, message):
    code, _, err = run_cli(capsys, "validate", BASE, "--set", assignment)
    assert code == 2
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("assignment", [
    "roles.se.headcount=4", "stages.close.delay=null", "calendar.hours=[9, 17]",
    "stages.negotiation.work.mean=3 hours", "stages.close.next.won=0.85",
])
def test_set_paths_that_exist_or_may_be_created_pass(capsys, assignment):
    code, out, err = run_cli(capsys, "validate", BASE, "--set", assignment)
    assert code == 0, err


def test_unknown_stage_and_role_in_a_file_get_a_did_you_mean(tmp_path, capsys):
    path = tmp_path / "typo.yaml"
    path.write_text(f"extends: {BASE}\nstages:\n  close:\n    role: aee\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and "unknown role (did you mean 'ae'?)" in err
    path.write_text(f"extends: {BASE}\nentry: qualfy\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and f"{path}:2: entry: must name a stage (did you mean 'qualify'?)" in err


def test_an_experiment_factor_naming_no_stage_is_refused_at_its_line(tmp_path, capsys):
    spec = tmp_path / "exp.yaml"
    spec.write_text(f"name: e\nscenarios: {BASE}\nfactors:\n  roles.se.headcount: [1, 2]\n"
                    "  stages.clos.delay.mean: [1, 3]\nreplications: 2\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "sweep", spec, "--out", tmp_path / "res")
    assert code == 2 and "Traceback" not in err
    assert (f"{spec}:5: stages.clos: no stage 'clos' in the scenario (did you mean 'close'?)"
            in err)
    assert not (tmp_path / "res").exists()


def test_a_whole_new_stage_may_be_set_but_not_a_key_of_a_missing_one(capsys):
    new = ["--set", "stages.close.next={review: 0.85, negotiation: 0.15}",
           "--set", "stages.review={delay: 1, next: {won: 1}}"]
    code, out, err = run_cli(capsys, "validate", BASE, *new)
    assert code == 0, err
    code, _, err = run_cli(capsys, "validate", BASE, "--set", "stages.review.delay=1")
    assert code == 2 and "no stage 'review' in the scenario" in err


@pytest.mark.parametrize("key", ["3", "null", "&stages"])
def test_a_top_level_key_that_is_not_text_is_an_unknown_key(tmp_path, capsys, key):
    """A YAML key that reads as a number or null (an anchor without a key, a torn line)
    is refused as an unknown key with exit 2, never a TypeError from keyword arguments."""
    path = tmp_path / "odd.yaml"
    path.write_text(f"name: t\nhorizon: 10\n{key}: x\nsources: {{web: {{rate: 1}}}}\n"
                    "entry: a\nstages: {a: {next: {won: 1}}}\n")
    refused(capsys, ["validate", str(path)], "unknown key", "allowed here: name")


@pytest.mark.parametrize(("body", "line", "message"), [
    ("stages: {qualfy: {work: {mean: 1}}}", 3,
     "stages.qualfy: the base has no such stage (did you mean 'qualify'?); to add one, write "
     "it under add: stages:"),
    ("roles: {aee: {headcount: 7}}", 3, "roles.aee: the base has no such role (did you mean 'ae'?)"),
    ("sources: {inbund: {rate: 2}}", 3, "sources.inbund: the base has no such source"),
    ("add: {stages: {qualify: {delay: 1, next: {won: 1}}}}", 3,
     "add.stages.qualify: the base has this stage already: change it under stages: instead"),
    ("add: {calendar: {hours: [9, 17]}}", 3, "add: add: holds stages, roles, sources"),
])
def test_a_redesign_cannot_add_by_a_misspelling(tmp_path, capsys, body, line, message):
    path = tmp_path / "redesign.yaml"
    path.write_text(f"extends: {BASE}\nname: changed\n{body}\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and f"{path}:{line}: {message}" in err, err


def test_a_redesign_adds_under_add_and_errors_inside_point_at_their_line(tmp_path, capsys):
    path = tmp_path / "redesign.yaml"
    path.write_text(f"extends: {BASE}\nname: a BDR team\nadd:\n  roles:\n"
                    "    bdr: {headcount: 2, cost_per_hour: 30}\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "validate", path)
    assert code == 0 and "5 roles" in out
    path.write_text(f"extends: {BASE}\nname: a BDR team\nadd:\n  roles:\n"
                    "    bdr: {headcount: -2}\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and f"{path}:5: roles.bdr.headcount" in err, err


def test_add_is_only_for_a_redesign(tmp_path, capsys):
    path = tmp_path / "whole.yaml"
    path.write_text(Path(BASE).read_text(encoding="utf-8") + "add: {roles: {bdr: {headcount: 1}}}\n",
                    encoding="utf-8")
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2 and "add: is for a redesign" in err


def test_a_redesign_switches_a_stage_between_routing_forms(tmp_path):
    """``exits`` in a redesign replaces the base's ``next`` and ``delay``; ``next`` replaces
    the base's ``exits`` (a stage has one routing form)."""
    racing = tmp_path / "racing.yaml"
    racing.write_text(f"extends: {BASE}\nname: close races\nstages:\n  close:\n    exits:\n"
                      "      won: {time: {dist: exponential, mean: 3}}\n"
                      "      lost: {time: {dist: exponential, mean: 30}}\n", encoding="utf-8")
    from salessim.scenario import load_scenario

    close = load_scenario(racing).stages["close"]
    assert close.exits is not None and close.delay is None
    assert set(close.next) == {"won", "lost"}  # the shares the race implies
    back = tmp_path / "back.yaml"
    back.write_text("extends: racing.yaml\nname: shares again\nstages:\n  close:\n"
                    "    next: {won: 0.9, lost: 0.1}\n", encoding="utf-8")
    close = load_scenario(back).stages["close"]
    assert close.exits is None and close.next == {"won": 0.9, "lost": 0.1}
