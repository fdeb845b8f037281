"""Tests for salessim.reports: the HTML report is parsed and checked part by part."""

from __future__ import annotations

import ast
import base64
from html.parser import HTMLParser
from pathlib import Path

import pytest

from salessim import __version__, diagnose
from salessim import kpis as kpis_registry
from salessim.cli import main
from salessim.compare import ScenarioRun, compare, headline_kpis, parse_target
from salessim.reports import FIGURE_CAPTIONS, comparison_report, figures
from salessim.scenario import Scenario

#: On one worker: the module's simulated fixtures are built once, not once per worker.
pytestmark = pytest.mark.xdist_group("reports")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COMPARISON_FIGURES = {f"fig-{name}" for name in FIGURE_CAPTIONS}
RUN_FIGURES = COMPARISON_FIGURES - {"fig-forest"}


class ReportParser(HTMLParser):
    """Collects tables (id, caption, body rows), figures and their images, and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.figures: dict[str, str] = {}  # figure id -> img src
        self.text: list[str] = []
        self.external: list[str] = []
        self._table: str | None = None
        self._figure: str | None = None
        self._in: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._in.append(tag)
        if tag in ("script", "link", "iframe", "object"):
            self.external.append(tag)
        if tag == "table":
            self._table = a["id"]
            self.tables[self._table] = {"caption": "", "head": [], "rows": []}
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "figure":
            self._figure = a["id"]
        elif tag == "img":
            src = a.get("src", "")
            if not src.startswith("data:"):
                self.external.append(src)
            self.figures[self._figure] = src

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            table = self.tables[self._table]
            (table["rows"] if "tbody" in self._in else table["head"]).append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        elif self._table and self._in and self._in[-1] == "caption":
            self.tables[self._table]["caption"] += data


def parse(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    return parser


def little(delay: float = 6.0, headcount: int = 1) -> Scenario:
    return Scenario.model_validate({
        "name": f"little (delay {delay}, {headcount} rep)", "time_unit": "day", "horizon": 90,
        "warmup": 10, "replications": 3, "seed": 21,
        "roles": {"rep": {"headcount": headcount, "cost_per_hour": 40},
                  "closer": {"headcount": 2, "cost_per_hour": 60}},
        "sources": {"web": {"rate": 3, "deal_value": {"dist": "lognormal", "mean": 5000,
                                                       "cv": 0.6}}},
        "entry": "call",
        "stages": {
            "call": {"role": "rep", "work": {"dist": "exponential", "mean": 0.25},
                     "next": {"offer": 0.6, "lost": 0.4}, "target": 0.7},
            "offer": {"role": "closer", "work": {"dist": "exponential", "mean": 0.3},
                      "delay": {"dist": "exponential", "mean": delay},
                      "next": {"won": 0.5, "call": 0.2, "lost": 0.3}},
        },
    }, context={"time_unit": "day"})


@pytest.fixture(scope="module")
def comparison():
    base = ScenarioRun("before", little())
    quick = ScenarioRun("quick_offer", little(delay=3.0), targets={
        "cycle_time_won_median": parse_target("cycle_time_won_median", "-30%"),
        "utilisation.rep": parse_target("utilisation.rep", "<= 0.5"),
    })
    staffed = ScenarioRun("two_reps", little(headcount=2), targets={
        "won": parse_target("won", "+5%"),
    })
    return compare(base, [quick, staffed], logged=1)


@pytest.fixture(scope="module")
def written(comparison, tmp_path_factory):
    flows = [(run, diagnose.transitions(diagnose.log_rows(run.result.replications),
                                        run.scenario.warmup)) for run in comparison.runs]
    out = tmp_path_factory.mktemp("report")
    report = comparison_report(comparison, flows, sets=["horizon=90"])
    path = report.write(out)
    return out, parse(path.read_text(encoding="utf-8")), report


def test_report_has_every_figure_embedded_and_as_png(written):
    out, page, report = written
    assert set(page.figures) == COMPARISON_FIGURES
    for ident, src in page.figures.items():
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), ident
        png = base64.b64decode(src[len(prefix):])
        assert png.startswith(PNG_MAGIC), ident
        name = ident.removeprefix("fig-")
        assert (out / f"{name}.png").read_bytes() == png == report.pngs[name]


def test_report_opens_offline(written):
    _, page, _ = written
    assert page.external == []


def test_report_has_every_table(written, comparison):
    _, page, _ = written
    expected = {"scenarios", "comparison", "verdicts", "ranking"}
    for run in comparison.runs:
        expected |= {f"funnel-{run.label}", f"bottleneck-stages-{run.label}",
                     f"bottleneck-roles-{run.label}"}
    assert expected == set(page.tables)


def test_comparison_and_verdict_tables_hold_the_results(written, comparison):
    _, page, _ = written
    kpis = headline_kpis(comparison)
    table = page.tables["comparison"]
    assert len(table["rows"]) == len(comparison.redesigns) * len(kpis)
    head = table["head"][0]
    assert head[:2] == ["redesign", "KPI"] and "change CI" in head and "p (adj.)" in head
    assert head[2] == "name"
    cells = {(row[0], row[2]): dict(zip(head, row, strict=True)) for row in table["rows"]}
    row = comparison.table.set_index(["scenario", "kpi"]).loc[("quick_offer", "won")]
    assert cells[("quick_offer", "won")]["change"] == f"{100 * row['rel_change']:+.1f}%"
    verdicts = page.tables["verdicts"]
    assert len(verdicts["rows"]) == 3
    vhead = verdicts["head"][0]
    got = {(r[0], r[1]): dict(zip(vhead, r, strict=True)) for r in verdicts["rows"]}
    expected = comparison.verdicts().set_index(["scenario", "kpi"])["verdict"]
    for key, verdict in expected.items():
        key, kpi = (key[0], kpis_registry.label(key[1])), key[1]
        assert got[key]["verdict"] == verdict
        assert got[key]["target"] == comparison.redesigns[
            [r.label for r in comparison.redesigns].index(key[0])].targets[kpi].text


def test_funnel_and_bottleneck_tables(written, comparison):
    _, page, _ = written
    funnel = page.tables["funnel-before"]
    assert [r[0] for r in funnel["rows"]] == ["call", "offer"]
    assert {"target", "gap", "status"} <= set(funnel["head"][0])
    roles = page.tables["bottleneck-roles-two_reps"]
    assert [r[:2] for r in roles["rows"]] == [["rep", "2"], ["closer", "2"]]
    stages = page.tables["bottleneck-stages-before"]
    assert "share waiting for staff" in stages["head"][0]


def test_report_states_what_produced_it(written, comparison):
    _, page, _ = written
    text = " ".join(page.text)
    assert f"salessim version {__version__}" in text
    assert f"root seed {comparison.seed}; {comparison.replications} replications" in text
    assert "Holm" in text and "horizon=90" in text
    rows = page.tables["scenarios"]["rows"]
    assert [r[0] for r in rows] == ["before", "quick_offer", "two_reps"]
    assert [r[3] for r in rows] == [run.hash for run in comparison.runs]


def test_figures_do_not_use_pyplot():
    # pyplot keeps global state and may open windows; the report draws on Agg canvases only.
    source = Path(figures.__file__).parent
    for path in source.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            assert not any("pyplot" in name for name in names), (path.name, names)
        assert "matplotlib.use" not in ast.unparse(tree), path.name


def test_forest_plot_groups_kpis_by_unit_on_one_scale(comparison):
    names = ["won", "utilisation.rep", "wip_mean", "no_decision", "win_rate"]
    fig = figures.forest_figure(comparison, names)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    # Counts first (no_decision is n/a for every redesign: no panel), then shares.
    assert [ax.get_title().replace("\n", " ") for ax in visible] == [
        "Deals won", "Mean open leads (work in process)", "Utilisation of rep", "Win rate"]
    assert visible[0].get_xlim() == visible[1].get_xlim()
    assert visible[2].get_xlim() == visible[3].get_xlim()
    for ax in visible:
        assert "%" in ax.get_xlabel()
    # The shared scale holds every interval of its group.
    rows = comparison.table[comparison.table["kpi"].isin(["won", "wip_mean"])]
    lo, hi = visible[0].get_xlim()
    assert lo <= 100 * rows["rel_ci_low"].min() and hi >= 100 * rows["rel_ci_high"].max()


def test_run_report_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "little.yaml"
    path.write_text(
        "name: little\nhorizon: 90\nwarmup: 10\nreplications: 3\nseed: 21\n"
        "roles: {rep: {headcount: 1}, closer: {headcount: 2}}\n"
        "sources: {web: {rate: 3, deal_value: 5000}}\nentry: call\nstages:\n"
        "  call: {role: rep, work: {dist: exponential, mean: 0.25}, next: {offer: 0.6, lost: 0.4}}\n"
        "  offer: {role: closer, work: {dist: exponential, mean: 0.3}, delay: 6,\n"
        "          next: {won: 0.5, call: 0.2, lost: 0.3}}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--report", "--event-log"]) == 0
    assert "report:" in capsys.readouterr().out
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    assert set(page.figures) == RUN_FIGURES
    assert "Warnings" in " ".join(page.text) or "warnings" in " ".join(page.text)
    assert {"scenarios", "kpis", "funnel-little", "bottleneck-stages-little",
            "bottleneck-roles-little", "analytic"} == set(page.tables)
    # The formulas beside the simulation: one row per figure the analysis gives a KPI for.
    analytic = page.tables["analytic"]["rows"]
    assert analytic and all(row[-1] in ("yes", "no") for row in analytic)
    for ident in RUN_FIGURES:
        assert (out / f"{ident.removeprefix('fig-')}.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "event_log.parquet").is_file() and (out / "summary.csv").is_file()
