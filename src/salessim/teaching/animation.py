"""The classroom animation: deals moving through the stages, queues building up.

One self-contained HTML page (no network, no files beside it) made from the event log of
a run: each stage is a box with three rows of dots (waiting for staff, being worked on,
with the customer), the ends count the deals that reached them, and a clock shows the
calendar time. Play, pause, a speed choice and a time slider drive it. Built only on the
public event log; a missing resource and events it does not draw are ignored.
"""

from __future__ import annotations

import json

import pandas as pd

from salessim.ends import LOST, NO_DECISION, WON
from salessim.records import LOG_EPOCH
from salessim.scenario.schema import TERMINALS, Scenario
from salessim.scenario.units import UNIT_HOURS

#: The state a lead enters with each event (others leave its state as it was).
STATE = {"queued": "queue", "started": "work", "finished": "between", "delay_started": "customer",
         "delay_finished": "between", "handoff": "between", "skipped": "between",
         WON.name: WON.name, LOST.name: LOST.name, NO_DECISION.name: NO_DECISION.name,
         "went_cold": LOST.name}


def timelines(log: pd.DataFrame, start: float, end: float) -> list[list]:
    """Per lead alive in [start, end], its [[time, stage, state], ...] changes."""
    rep = log.replication.min()
    log = log[(log.replication == rep) & log.event.isin(list(STATE))]
    out = []
    for _, g in log.groupby(log.lead.astype(str), sort=False):
        times = g.time.to_numpy()
        if times.min() > end or (g.event.isin(TERMINALS).any() and times.max() < start):
            continue
        steps = [[round(float(t), 6), s if isinstance(s, str) else "", STATE[e]]
                 for t, s, e in zip(times, g.stage, g.event, strict=True)]
        out.append(steps)
    return out


def animation_html(scenario: Scenario, log: pd.DataFrame, start: float, end: float) -> str:
    """The animation page for the window [start, end] of the log's first replication."""
    data = {
        "name": scenario.name, "stages": list(scenario.stages), "ends": list(TERMINALS),
        "start": start, "end": end, "hours": UNIT_HOURS[scenario.time_unit],
        "epoch": LOG_EPOCH.isoformat(), "unit": scenario.time_unit,
        "leads": timelines(log, start, end),
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return PAGE.replace("__DATA__", payload).replace("__TITLE__", _escape(scenario.name))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__: animation</title>
<style>
body{font-family:sans-serif;margin:16px;color:#222}
#stages{display:flex;flex-wrap:wrap;gap:10px;margin-top:12px}
.stage{border:1px solid #555;border-radius:4px;padding:6px;width:170px;min-height:120px}
.stage h3{margin:0 0 4px;font-size:13px}
.row{font-size:11px;margin:2px 0}
.dots{display:inline-block;vertical-align:middle}
.dot{display:inline-block;width:6px;height:6px;border-radius:3px;margin:1px}
.queue{background:#e8871e}.work{background:#2e9e44}.customer{background:#3973c6}
.end{border-style:dashed;min-height:40px}
#controls button,#controls select{font-size:14px;margin-right:6px}
</style></head><body>
<h2>__TITLE__</h2>
<div id="controls">
<button id="play">play</button><button id="pause">pause</button>
<label>speed <select id="speed"><option value="0.25">0.25x</option><option value="1" selected>1x</option>
<option value="4">4x</option><option value="16">16x</option></select></label>
<input id="slider" type="range" min="0" max="1000" value="0" style="width:320px">
<span id="clock"></span>
</div>
<p style="font-size:12px"><span class="dot queue"></span> waiting for staff
<span class="dot work"></span> being worked on <span class="dot customer"></span> with the customer</p>
<div id="stages"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const box = {}, ends = {};
const root = document.getElementById('stages');
for (const s of D.stages) {
  const el = document.createElement('div'); el.className = 'stage'; el.id = 'stage-' + s;
  el.innerHTML = '<h3>' + s + '</h3>' + ['queue', 'work', 'customer'].map(k =>
    '<div class="row">' + k + ' <b class="n-' + k + '">0</b> <span class="dots d-' + k + '"></span></div>').join('');
  root.appendChild(el); box[s] = el;
}
for (const e of D.ends) {
  const el = document.createElement('div'); el.className = 'stage end'; el.id = 'end-' + e;
  el.innerHTML = '<h3>' + e.replace('_', ' ') + '</h3><b class="n-end">0</b>';
  root.appendChild(el); ends[e] = el;
}
let t = D.start, playing = false, last = null;
const span = D.end - D.start;
const seconds = 60;  // the whole window plays in a minute at 1x
function stateAt(lead, time) {
  let lo = 0, hi = lead.length - 1, k = -1;
  while (lo <= hi) { const m = (lo + hi) >> 1; if (lead[m][0] <= time) { k = m; lo = m + 1; } else hi = m - 1; }
  return k < 0 ? null : lead[k];
}
function draw() {
  const counts = {};
  for (const lead of D.leads) {
    const s = stateAt(lead, t); if (!s) continue;
    const key = (D.ends.includes(s[2]) ? s[2] : s[1] + '|' + s[2]);
    counts[key] = (counts[key] || 0) + 1;
  }
  for (const s of D.stages) for (const k of ['queue', 'work', 'customer']) {
    const n = counts[s + '|' + k] || 0;
    box[s].querySelector('.n-' + k).textContent = n;
    box[s].querySelector('.d-' + k).innerHTML = '<span class="dot ' + k + '"></span>'.repeat(Math.min(n, 40));
  }
  for (const e of D.ends) ends[e].querySelector('.n-end').textContent = counts[e] || 0;
  const when = new Date(Date.parse(D.epoch) + t * D.hours * 3600e3);
  document.getElementById('clock').textContent = D.unit + ' ' + t.toFixed(2) + ' (' +
    when.toUTCString().slice(0, 22) + ')';
  document.getElementById('slider').value = Math.round(1000 * (t - D.start) / span);
}
function frame(now) {
  if (!playing) { last = null; return; }
  if (last !== null) {
    const speed = parseFloat(document.getElementById('speed').value);
    t = Math.min(D.end, t + (now - last) / 1000 * speed * span / seconds);
  }
  last = now; draw();
  if (t >= D.end) { playing = false; return; }
  requestAnimationFrame(frame);
}
document.getElementById('play').onclick = () => { if (!playing) { playing = true; requestAnimationFrame(frame); } };
document.getElementById('pause').onclick = () => { playing = false; };
document.getElementById('slider').oninput = e => { t = D.start + span * e.target.value / 1000; draw(); };
draw();
</script></body></html>
"""
