// salessim studio: the casebook case page (a case.yaml in the Classroom) and the forecast
// back-test panel. Uses api, esc, status, follow, progressHtml and fileUrl of studio.js.
"use strict";

// --- a case of the casebook ----------------------------------------------------------

async function casePage(path) {
  const here = location.hash;
  let info;
  try { info = await api("/api/case?path=" + encodeURIComponent(path)); }
  catch (e) { page.innerHTML = `<div class="banner" id="case-error">${esc(e.message)}</div>`; return; }
  if (location.hash !== here) return;  // the user moved on meanwhile
  const link = rel => `<a href="#edit/${encodeURIComponent(rel)}">${esc(rel)}</a> (<a href="#classroom/${encodeURIComponent(rel)}">classroom</a>)`;
  const expected = info.expected.map(v => `<tr><td>${esc(v.after)}</td><td>${esc(v.kpi)}</td><td>${esc(v.verdict)}</td></tr>`).join("");
  page.innerHTML = `<h2>Case: ${esc(info.title)}</h2>
  <p class="note">${esc(info.source)} · <code>${esc(path)}</code></p>
  <div class="row"><div class="editor-col">
    <h3>The story and the questions</h3><div class="story" id="case-story">${esc(info.readme || "(no README.md beside the case)")}</div></div>
    <div class="side"><div class="panel"><p><b>Before:</b> ${link(info.before)}</p>
      <p><b>After:</b></p><ul>${info.after.map(a => `<li>${link(a)}</li>`).join("")}</ul>
      <p><b>What the comparison must show</b> <span class="note">(up / down: the paired difference's interval is above / below zero; same: it holds zero; met / missed: the after file's target)</span></p>
      <table id="case-expected"><tr><th>after</th><th>KPI</th><th>verdict</th></tr>${expected}</table>
      <div class="toolbar" style="margin-top:.6em"><label>replications <input type="number" id="case-n" min="2" value="${info.replications}"></label>
      <button class="primary" id="case-go">Run before and after</button></div></div></div></div>
  <div id="case-progress"></div><div id="case-result"></div>`;
  const draw = job => {
    document.getElementById("case-progress").innerHTML = progressHtml(job) + (job.error ? `<div class="banner">${esc(job.error)}</div>` : "");
    const r = job.result;
    if (!r) return;
    const held = r.verdicts.filter(v => v.holds).length;
    document.getElementById("case-result").innerHTML =
      `<h3 id="case-score">${held} of ${r.verdicts.length} verdicts as the case expects (${r.replications} replications, seed ${r.seed}, common random numbers)</h3>
      <table id="case-verdicts"><tr><th>after</th><th>KPI</th><th>expected</th><th>found</th><th></th></tr>` +
      r.verdicts.map(v => `<tr><td>${esc(v.after)}</td><td>${esc(v.label)}</td><td>${esc(v.expected)}</td><td>${esc(v.found)}</td>` +
        `<td class="${v.holds ? "holds" : "fails"}">${v.holds ? "as expected" : "not as expected"}</td></tr>`).join("") + "</table>" +
      `<h3>The KPIs the verdicts are about</h3><table id="case-table"><tr><th>after</th><th>KPI</th><th>before</th><th>after</th><th>difference</th><th>paired 95% CI</th><th>change</th></tr>` +
      r.table.map(t => `<tr><td>${esc(t.redesign)}</td><td>${esc(t.KPI)}</td><td class="num">${esc(t.baseline)}</td><td class="num">${esc(t["redesign mean"])}</td><td class="num">${esc(t.difference)}</td><td class="num">${esc(t["difference CI"])}</td><td class="num">${esc(t.change)}</td></tr>`).join("") + "</table>";
  };
  document.getElementById("case-go").onclick = async () => {
    try { const job = await api("/api/case", {path, replications: document.getElementById("case-n").value}); state.job = job; follow(job, draw); }
    catch (e) { status(e.message); }
  };
}

// --- the forecast's back-test --------------------------------------------------------

function backtestPanel(histories) {
  const options = histories.map(p => `<option value="${esc(p)}">${esc(p)}</option>`).join("");
  return `<h3>Back-test: how good are such forecasts?</h3>
  <p class="note">Forecasts from as-of dates through a history (every so often, each so long), each calibrated on what was known then, scored against what then happened (salessim forecast --backtest). A right P10-P90 band holds the actual bookings in about 80% of the windows.</p>
  <div class="panel"><div class="toolbar">
    <label>history <select id="bt-history">${options}</select></label>
    <label>every <input id="bt-every" size="8" value="30 days"></label>
    <label>horizon <input id="bt-horizon" size="8" value="30 days"></label>
    <label>replications <input type="number" id="bt-n" min="2" value="50"></label>
    <label><input type="checkbox" id="bt-uncertainty" checked> with the calibration's uncertainty</label>
    <button class="primary" id="bt-go">Back-test</button></div></div>
  <div id="bt-progress"></div><div id="bt-result"></div>`;
}

function wireBacktest() {
  const pct = x => x === null ? "n/a" : `${Math.round(100 * x)}%`;
  const money = x => Math.round(x).toLocaleString("en");
  const draw = job => {
    document.getElementById("bt-progress").innerHTML = (job.state === "done" ? "" : progressHtml(job)) + (job.error ? `<div class="banner" id="bt-error">${esc(job.error)}</div>` : "");
    const r = job.result;
    if (!r) return;
    const c = r.coverage;
    document.getElementById("bt-result").innerHTML =
      `<p id="bt-coverage"><b>The P10-P90 band held the actual bookings in ${c.inside} of ${c.forecasts} windows (${pct(c.coverage)}, 95% CI ${pct(c.coverage_low)} to ${pct(c.coverage_high)}; a right band holds about 80%)</b></p>
      <p class="note">forecasts every ${r.every} days for ${r.horizon} days, ${r.replications} replications each; band: ${esc(r.band)}</p>
      <div class="row"><div><table id="bt-windows"><tr><th>as of</th><th>until</th><th>open deals</th><th>actual</th><th>P10</th><th>P50</th><th>P90</th><th>in band</th></tr>` +
      r.windows.map(w => `<tr><td>${esc(w.as_of)}</td><td>${esc(w.until)}</td><td class="num">${w.open}</td><td class="num">${money(w.actual)}</td><td class="num">${money(w.p10)}</td><td class="num">${money(w.p50)}</td><td class="num">${money(w.p90)}</td><td class="${w.inside ? "holds" : "fails"}">${w.inside ? "yes" : "no"}</td></tr>`).join("") +
      `</table><h4>Coverage by horizon</h4><table id="bt-horizons"><tr><th>horizon</th><th>in band</th><th>coverage</th><th>95% CI</th></tr>` +
      r.horizons.map(h => `<tr><td>${h.horizon_weeks} week${h.horizon_weeks === 1 ? "" : "s"}</td><td class="num">${h.inside} of ${h.forecasts}</td><td class="num">${pct(h.coverage)}</td><td class="num">${pct(h.coverage_low)} to ${pct(h.coverage_high)}</td></tr>`).join("") + "</table></div>" +
      (r.figure ? `<div><img class="figure" id="bt-figure" src="${fileUrl(r.figure)}" alt="back-test windows"></div>` : "") + "</div>" +
      `<p class="note">written to ${esc(r.out)}/ (backtest.csv, coverage_by_horizon.csv, run.json)</p>`;
  };
  document.getElementById("bt-go").onclick = async () => {
    try {
      const job = await api("/api/backtest", {history: document.getElementById("bt-history").value,
        every: document.getElementById("bt-every").value, horizon: document.getElementById("bt-horizon").value,
        replications: document.getElementById("bt-n").value, uncertainty: document.getElementById("bt-uncertainty").checked});
      state.job = job; follow(job, draw);
    } catch (e) { status(e.message); document.getElementById("bt-progress").innerHTML = `<div class="banner" id="bt-error">${esc(e.message)}</div>`; }
  };
}
