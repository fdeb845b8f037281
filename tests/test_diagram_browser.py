"""The process diagram's SVG as a browser shows it: every shipped scenario and case opened
in headless Chromium at 1280x720 (a slide) is scaled to fit, nothing cut off, no arrow
label over a box, every box's text inside its box. One page, one file after another."""

from __future__ import annotations

from pathlib import Path

from conftest import headless_chromium
from salessim.scenario import load_scenario
from salessim.teaching import diagram

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*ROOT.glob("scenarios/*.yaml"), *ROOT.glob("cases/*/before.yaml"),
                  *ROOT.glob("cases/*/after*.yaml")])

MEASURE = """() => {
  const r = e => e.getBoundingClientRect(), out = {};
  for (const slide of document.querySelectorAll('.slide')) {
    const svg = slide.querySelector('svg'), s = r(slide), found = out[slide.id] =
      {width: r(svg).width, view: svg.viewBox.baseVal.width, cut: [], over: [], spill: []};
    const boxes = [...svg.querySelectorAll('g.node rect')];
    for (const el of svg.querySelectorAll('rect, path, text')) {
      if (el.closest('defs')) continue;  // arrow heads, drawn where they are used
      const b = r(el);
      if (b.left < s.left - 0.5 || b.top < s.top - 0.5 || b.right > s.right + 0.5 ||
          b.bottom > s.bottom + 0.5)
        found.cut.push(el.textContent || el.getAttribute('d') || el.tagName);
    }
    for (const t of svg.querySelectorAll('text')) {
      const b = r(t), own = t.closest('g.node');
      if (own) {
        const box = r(own.querySelector('rect'));
        if (b.left < box.left - 0.5 || b.right > box.right + 0.5) found.spill.push(t.textContent);
        continue;
      }
      for (const rect of boxes) {
        const c = r(rect);
        if (b.left < c.right - 1 && b.right > c.left + 1 && b.top < c.bottom - 1 && b.bottom > c.top + 1)
          found.over.push(t.textContent + ' over ' + rect.parentNode.id);
      }
    }
  }
  return out;
}"""


def test_every_shipped_diagram_fits_a_slide_uncut_with_labels_clear():
    """Each SVG as it is written, in a 1280x720 slide of one page (one page load for all)."""
    slides = []
    for k, path in enumerate(SHIPPED):
        slides.append(f'<div class="slide" id="s{k}" style="width:1280px;height:720px;'
                      f'overflow:hidden">{diagram.svg(load_scenario(path))}</div>')
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_content('<!DOCTYPE html><html><body style="margin:0">' + "".join(slides)
                         + "</body></html>")
        found = page.evaluate(MEASURE)
        page.close()
    for k, path in enumerate(SHIPPED):
        name, got = path.relative_to(ROOT), found[f"s{k}"]
        assert got["cut"] == [], f"{name}: cut off in a 1280x720 slide: {got['cut'][:3]}"
        assert got["over"] == [], f"{name}: {got['over']}"
        assert got["spill"] == [], f"{name}: text wider than its box: {got['spill']}"
        assert got["width"] == 1280  # scaled to the slide's width
    assert max(got["view"] for got in found.values()) > 1400  # these would have been cut
