"""The page of the classroom animation (:mod:`salessim.teaching.animation` fills in the data).

Laid out for a projector: everything fits 1280x720 without scrolling for a process of up
to eight stages, with 15 px text at the least. ``seek(t)`` (a global function) sets the
clock, for a teacher's console and for the tests.
"""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__: animation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:sans-serif;margin:10px 14px;color:#222;font-size:15px}
h1{font-size:21px;margin:0 12px 0 0;display:inline-block}
#top{display:flex;align-items:center;flex-wrap:wrap;gap:8px}
#controls button,#controls select{font-size:16px;margin-right:4px}
#clock{font-size:20px;font-weight:bold;margin-left:8px}
#raw{font-size:14px;color:#555}
#legend{margin:4px 0;font-size:15px}
#stages{display:flex;flex-wrap:wrap;gap:6px}
.stage{border:2px solid #555;border-radius:5px;padding:4px 6px;flex:1 1 140px;min-width:130px}
.stage h3{margin:0;font-size:16px}
.who{font-size:13px;color:#555}
.row{font-size:14px;margin:1px 0;display:flex;align-items:flex-start;gap:4px}
.row b{min-width:22px;text-align:right}
.dots{display:flex;flex-wrap:wrap;flex:1}
.dot{display:inline-block;width:9px;height:9px;border-radius:5px;margin:1px}
.more{font-size:12px}
.queue{background:#e8871e}.work{background:#2e9e44}.customer{background:#3973c6}
.handoff{background:#8e44ad}
.end{border-style:dashed;flex:0 1 96px;min-width:86px}
.end b{font-size:22px}
#bottom{display:flex;gap:14px;margin-top:8px}
#staffbox{flex:0 0 36%}
#staffbox h2,#chartbox h2{font-size:16px;margin:2px 0}
.role{margin:3px 0;font-size:14px}
.person{display:inline-block;width:16px;height:16px;margin:1px;border:1px solid #444;
 border-radius:2px;vertical-align:middle}
.person.busy{background:#2e9e44}.person.idle{background:#fff}.person.off{background:#aaa}
#chartbox{flex:1}
svg.chart{width:100%;height:170px;display:block;border:1px solid #ccc}
svg.chart text{font-size:13px}
</style></head><body>
<div id="top"><h1>__TITLE__</h1>
<span id="controls"><button id="play">play</button><button id="pause">pause</button>
<select id="speed"><option value="0.25">0.25x</option><option value="1" selected>1x</option>
<option value="4">4x</option><option value="16">16x</option></select>
<input id="slider" type="range" min="0" max="1000" value="0" style="width:260px"></span>
<span id="clock"></span><span id="raw"></span></div>
<div id="legend"><span class="dot queue"></span> waiting for staff
<span class="dot work"></span> being worked on <span class="dot customer"></span> with the
customer <span class="dot handoff"></span> in hand-off, on the way in &nbsp;
<span class="person busy"></span> busy <span class="person idle"></span> idle
<span class="person off"></span> off duty</div>
<div id="stages"></div>
<div id="bottom"><div id="staffbox"><h2>Staff</h2><div id="staff"></div></div>
<div id="chartbox"><h2>Work in progress (deals)</h2><svg class="chart" id="chart-wip"></svg>
<h2>Utilisation so far (busy / on-duty staff time since the start)</h2><svg class="chart" id="chart-util"></svg></div>
</div>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const STATES = ['queue', 'work', 'customer', 'handoff'];
const LABEL = {queue: 'queue', work: 'work', customer: 'customer', handoff: 'hand-off'};
const COLOUR = {queue: '#e8871e', work: '#2e9e44', customer: '#3973c6', handoff: '#8e44ad'};
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b',
                 '#e377c2'];
const MAXDOTS = 60;
const box = {}, ends = {}, staffEl = {};
const root = document.getElementById('stages');
for (const s of D.stages) {
  const el = document.createElement('div'); el.className = 'stage'; el.id = 'stage-' + s;
  el.innerHTML = '<h3>' + s + '</h3><div class="who">' + (D.staffOf[s].join(' + ') ||
    'customer only') + '</div>' + STATES.map(k => '<div class="row row-' + k + '">' + LABEL[k] +
    ' <b class="n-' + k + '">0</b><span class="dots d-' + k + '"></span></div>').join('');
  root.appendChild(el); box[s] = el;
}
for (const e of D.ends) {
  const el = document.createElement('div'); el.className = 'stage end'; el.id = 'end-' + e;
  el.innerHTML = '<h3>' + e.replace('_', ' ') + '</h3><b class="n-end">0</b>';
  root.appendChild(el); ends[e] = el;
}
for (const r of D.staff) {
  const el = document.createElement('div'); el.className = 'role'; el.id = 'staff-' + r.id;
  const shown = Math.min(r.headcount, 80);
  el.innerHTML = '<b>' + r.id + '</b> <span class="counts"></span> ' +
    Array(shown).fill('<span class="person"></span>').join('') +
    (r.headcount > shown ? ' +' + (r.headcount - shown) : '');
  document.getElementById('staff').appendChild(el); staffEl[r.id] = el;
}
let t = D.start, playing = false, last = null;
const span = D.end - D.start;
const seconds = 60;  // the whole window plays in a minute at 1x
function lastAtOrBefore(arr, time, key) {
  let lo = 0, hi = arr.length - 1, k = -1;
  while (lo <= hi) { const m = (lo + hi) >> 1; if (key(arr[m]) <= time) { k = m; lo = m + 1; } else hi = m - 1; }
  return k;
}
function countAtOrBefore(sorted, time) { return lastAtOrBefore(sorted, time, x => x) + 1; }
function onDuty(r, time) {
  if (r.duty === null) return true;
  const k = lastAtOrBefore(r.duty, time, d => d[0]);
  return k >= 0 && time < r.duty[k][1];
}
function pad(n) { return (n < 10 ? '0' : '') + n; }
function clockText(time) {
  if (D.workingDay) {
    const day = Math.floor(time / D.workingDay);
    let mins = Math.round((time - day * D.workingDay) * D.hours * 60);
    return 'working day ' + (day + 1) + ', hour ' + Math.floor(mins / 60) + ':' + pad(mins % 60);
  }
  const h = time * D.hours, when = new Date(Date.parse(D.epoch + 'Z') + h * 3600e3);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return 'day ' + (Math.floor(h / 24) + 1) + ', ' + days[when.getUTCDay()] + ' ' + when.getUTCDate() +
    ' ' + months[when.getUTCMonth()] + ' ' + pad(when.getUTCHours()) + ':' + pad(when.getUTCMinutes());
}
function dots(k, n) {
  return Array(Math.min(n, MAXDOTS)).fill('<span class="dot ' + k + '"></span>').join('') +
    (n > MAXDOTS ? '<span class="more">+' + (n - MAXDOTS) + '</span>' : '');
}
function draw() {
  const counts = {};
  for (const lead of D.leads) {
    const k = lastAtOrBefore(lead, t, s => s[0]); if (k < 0) continue;
    const s = lead[k];
    const key = s[2] >= 4 ? D.ends[s[2] - 4] : D.stages[s[1]] + '|' + STATES[s[2]];
    counts[key] = (counts[key] || 0) + 1;
  }
  for (const s of D.stages) for (const k of STATES) {
    const n = counts[s + '|' + k] || 0;
    box[s].querySelector('.n-' + k).textContent = n;
    box[s].querySelector('.d-' + k).innerHTML = dots(k, n);
  }
  for (const e of D.ends) ends[e].querySelector('.n-end').textContent = counts[e] || 0;
  for (const r of D.staff) {
    const busy = Math.min(r.headcount, countAtOrBefore(r.starts, t) - countAtOrBefore(r.ends, t));
    const on = onDuty(r, t), people = staffEl[r.id].querySelectorAll('.person');
    people.forEach((p, i) => { p.className = 'person ' + (!on ? 'off' : i < busy ? 'busy' : 'idle'); });
    staffEl[r.id].querySelector('.counts').textContent = on ? busy + ' busy, ' +
      (r.headcount - busy) + ' idle of ' + r.headcount : 'off duty (' + r.headcount + ')';
  }
  document.getElementById('clock').textContent = clockText(t);
  document.getElementById('raw').textContent = ' (' + (D.workingDay ? 'clock of working time, ' +
    D.workingDay * D.hours + ' h a working day: ' : 'clock: ') + D.unit + ' ' + t.toFixed(2) + ')';
  document.getElementById('slider').value = Math.round(1000 * (t - D.start) / span);
  drawCharts();
}
const SVGNS = 'http://www.w3.org/2000/svg';
function chart(id, series, top, format) {
  const svg = document.getElementById(id), W = svg.clientWidth || 600, H = 170, L = 44, R = 8, T = 8, B = 20;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const x = v => L + (W - L - R) * (v - D.start) / span, y = v => H - B - (H - T - B) * v / top;
  const times = D.charts.times, upto = lastAtOrBefore(times, t, v => v);
  let out = '<line x1="' + L + '" y1="' + y(0) + '" x2="' + (W - R) + '" y2="' + y(0) + '" stroke="#888"/>' +
    '<text x="' + (L - 4) + '" y="' + (T + 10) + '" text-anchor="end">' + format(top) + '</text>' +
    '<text x="' + (L - 4) + '" y="' + y(0) + '" text-anchor="end">0</text>';
  series.forEach(([name, values, colour], i) => {
    let pts = '';
    for (let k = 0; k <= upto && k < values.length; k++) if (values[k] !== null) pts += x(times[k]) + ',' + y(values[k]) + ' ';
    out += '<polyline class="series" data-name="' + name + '" points="' + pts + '" fill="none" stroke="' +
      colour + '" stroke-width="2"/>' +
      '<text x="' + (L + 6 + 92 * i) + '" y="' + (H - 4) + '" fill="' + colour + '">' + name + '</text>';
  });
  out += '<line x1="' + x(t) + '" y1="' + T + '" x2="' + x(t) + '" y2="' + y(0) + '" stroke="#000" stroke-dasharray="3,3"/>';
  svg.innerHTML = out;
}
const total = D.charts.times.map((_, k) => STATES.reduce((a, s) => a + D.charts.wip[s][k], 0));
const wipTop = Math.max(1, ...total);
function drawCharts() {
  chart('chart-wip', [['open', total, '#000'], ...STATES.map(s => [LABEL[s], D.charts.wip[s], COLOUR[s]])],
        wipTop, v => v);
  chart('chart-util', D.staff.map((r, i) => [r.id, D.charts.util[r.id], PALETTE[i % PALETTE.length]]),
        1, v => Math.round(100 * v) + '%');
}
function seek(time) { t = Math.max(D.start, Math.min(D.end, time)); draw(); }
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
function play() { if (!playing) { playing = true; requestAnimationFrame(frame); } }
document.getElementById('play').onclick = play;
document.getElementById('pause').onclick = () => { playing = false; };
document.getElementById('slider').oninput = e => { seek(D.start + span * e.target.value / 1000); };
document.addEventListener('keydown', e => {
  if (e.code === 'Space' && e.target.tagName !== 'SELECT') { e.preventDefault(); playing ? (playing = false) : play(); }
});
draw();
</script></body></html>
"""
