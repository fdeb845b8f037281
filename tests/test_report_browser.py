"""The HTML report in a real browser: headless Chromium, driven by Playwright.

The summary must be on the first screen, every figure must load and no text may spill
out of its box. Needs the ``playwright`` package (test extra) and a Chromium binary (the
Debian ``chromium`` package, which ``make test`` installs where it can); without them the
test is skipped with a message saying what is missing.
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import headless_chromium
from salessim.cli import main

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}

BASE = textwrap.dedent("""\
    name: browser check
    time_unit: day
    horizon: 120
    warmup: 20
    replications: 4
    seed: 5
    calendar: {workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}
    roles:
      sdr: {headcount: 1, cost_per_hour: 35}
      ae: {headcount: 2, cost_per_hour: 70}
    sources:
      inbound: {rate: 4, cost_per_lead: 40, deal_value: {dist: lognormal, mean: 15000, cv: 0.8}}
    entry: qualify
    stages:
      qualify:
        role: sdr
        work: {dist: lognormal, mean: "40 minutes", cv: 0.5}
        next: {pitch: 0.3, lost: 0.7}
      pitch:
        role: ae
        work: {dist: triangular, low: "1 hour", mode: "2 hours", high: "4 hours"}
        delay: {dist: lognormal, mean: 10, cv: 1.0}
        next: {won: 0.4, lost: 0.5, qualify: 0.1}
    """)


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    (root / "base.yaml").write_text(BASE, encoding="utf-8")
    (root / "faster.yaml").write_text(
        "extends: base.yaml\nname: shorter pitch delay\n"
        "stages: {pitch: {delay: {mean: 6}}}\n"
        "targets: {cycle_time_won_median: -20%, win_rate: +5%}\n", encoding="utf-8")
    (root / "staffed.yaml").write_text(
        "extends: base.yaml\nname: a second SDR\nroles: {sdr: {headcount: 2}}\n"
        "targets: {won: +10%}\n", encoding="utf-8")
    out = root / "out"
    assert main(["compare", str(root / "base.yaml"), str(root / "faster.yaml"),
                 str(root / "staffed.yaml"), "--out", str(out), "--workers", "1"]) == 0
    return out / "report.html"


# Text containers whose content must fit their box (tables scroll as a whole, cells wrap).
_OVERFLOW = """() => {
  const out = [];
  for (const el of document.querySelectorAll(
      'h1, h2, h3, p, li, caption, figcaption, td, th, section')) {
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push(`${el.tagName} ${el.scrollWidth}>${el.clientWidth}: ${el.textContent.slice(0, 60)}`);
    }
  }
  return out;
}"""


def test_report_in_a_headless_browser(report_path):
    with headless_chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(report_path.as_uri())
        page.wait_for_load_state("load")
        # The summary is the first thing a reader sees: its whole box on the first screen.
        box = page.locator("#summary").bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
        text = page.locator("#summary").inner_text()
        assert "faster:" not in text and "faster (shorter pitch delay)" in text
        assert "targets:" in text and "rank" in text
        # Warnings come right after the summary, the provenance last.
        headings = page.locator("h2").all_inner_texts()
        assert headings[0] == "Summary"
        assert headings[1].startswith("Warnings")
        assert headings[-1].startswith("Appendix")
        # Every figure decoded to an image with pixels.
        images = page.evaluate(
            "() => Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth])")
        assert len(images) >= 6
        for ident, complete, width in images:
            assert complete and width > 0, ident
        assert page.evaluate(_OVERFLOW) == []


# Figures (an amount, a share, a bound of an interval: a word that is a number) the browser
# broke over two lines: each word's own boxes must lie on one line.
_BROKEN_FIGURES = r"""() => {
  const out = [];
  for (const td of document.querySelectorAll('td, th')) {
    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\S+/g)) {
        if (!/^[\[(]?[-+−]?[$€£]?\d[\d,.]*%?[\])]?,?$/.test(m[0])) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
        if (tops.size > 1) out.push(`${td.closest('table').id}: ${m[0]}`);
      }
    }
  }
  return out;
}"""


@pytest.mark.parametrize("width", [1024, 1400])
def test_report_tables_never_break_a_number(report_path, width):
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(report_path.as_uri())
        page.wait_for_load_state("load")
        cells = page.evaluate("() => document.querySelectorAll('td').length")
        assert cells > 100  # the check below looks at real tables
        assert page.evaluate(_BROKEN_FIGURES) == []
        text = page.locator("body").inner_text()
        assert "e+0" not in text and "True" not in text and "False" not in text
