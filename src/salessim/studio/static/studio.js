// salessim studio: the page. Plain JavaScript, no build step; it talks to the JSON API of
// salessim.studio.app (the token travels in the cookie set on the first visit).
"use strict";

const page = document.getElementById("page");
const state = { dirty: false, editor: null, jobTimer: null };

function esc(text) {
  return String(text).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}
function status(text) { document.getElementById("status").textContent = text; }

async function api(path, body) {
  const options = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) { const e = new Error(data.error || response.statusText); e.data = data; e.status = response.status; throw e; }
  return data;
}
function fileUrl(rel) { return "/files/" + rel.split("/").map(encodeURIComponent).join("/"); }

// --- routing -------------------------------------------------------------------------

window.addEventListener("beforeunload", e => { if (state.dirty) { e.preventDefault(); e.returnValue = ""; } });
let current = location.hash;
window.addEventListener("hashchange", () => {
  if (state.dirty && !confirm("The file has unsaved changes. Leave it without saving?")) {
    history.replaceState(null, "", current); return;
  }
  state.dirty = false; route();
});

function route() {
  current = location.hash || "#files";
  status("");
  clearInterval(state.jobTimer); clearInterval(state.diskTimer);
  const [name, ...rest] = current.slice(1).split("/");
  const arg = decodeURIComponent(rest.join("/"));
  ({files: filesPage, edit: editPage, run: runPage, compare: comparePage, whatif: whatifPage,
    classroom: classroomPage, forecast: forecastPage, case: casePage}[name] || filesPage)(arg);
}

// --- files ---------------------------------------------------------------------------

async function filesPage() {
  const here = location.hash;
  status("");
  page.innerHTML = "<h2>Files</h2><p class='note'>Loading…</p>";
  const data = await api("/api/files");
  if (location.hash !== here) return;  // the user moved on meanwhile
  const rows = data.files.map(f => {
    const ok = f.state === "ok";
    const problem = f.problems.length ? `<div class="note">${esc(f.problems[0].message)}${f.problems.length > 1 ? ` (and ${f.problems.length - 1} more)` : ""}</div>` : "";
    const actions = f.kind === "scenario" || f.kind === "redesign" || f.state === "invalid"
      ? `<a href="#edit/${encodeURIComponent(f.path)}">edit</a>` +
        (ok ? ` · <a href="#run/${encodeURIComponent(f.path)}">run</a> · <a href="#whatif/${encodeURIComponent(f.path)}">what-if</a> · <a href="#classroom/${encodeURIComponent(f.path)}">classroom</a>` : "")
      : f.kind === "case" && ok ? `<a href="#case/${encodeURIComponent(f.path)}">open the case</a>` : "";
    return `<tr data-path="${esc(f.path)}"><td>${esc(f.path)}</td><td>${esc(f.kind)}</td>` +
      `<td class="${esc(f.state)}">${esc(f.state)}${problem}</td><td>${esc(f.name || "")}</td><td>${actions}</td></tr>`;
  }).join("");
  const starts = data.files.filter(f => f.state === "ok").map(f => `<option value="${esc(f.path)}">${esc(f.path)}</option>`).join("");
  page.innerHTML = `<h2 title="${esc(data.root)}">Files in ${esc(data.root.split("/").pop())}/</h2>
    <table id="files"><tr><th>file</th><th>kind</th><th>validation</th><th>name</th><th></th></tr>${rows}</table>
    <h3>New file</h3><div class="toolbar"><label>name <input id="new-name" size="30" placeholder="redesigns/my_change.yaml"></label>
    <select id="new-as"><option value="redesign">a redesign of</option><option value="copy">a copy of</option><option value="template">the template (a small whole scenario)</option></select>
    <select id="new-from">${starts}</select><button id="new-go">Create</button></div>`;
  const how = document.getElementById("new-as");
  how.onchange = () => { document.getElementById("new-from").hidden = how.value === "template"; };
  document.getElementById("new-go").onclick = async () => {
    try {
      const made = await api("/api/new", {path: document.getElementById("new-name").value.trim(),
        from: document.getElementById("new-from").value, as: document.getElementById("new-as").value});
      location.hash = "#edit/" + encodeURIComponent(made.path);
    } catch (e) { status(e.message); }
  };
}

// --- editor --------------------------------------------------------------------------

function highlight(line) {
  // Tokens on the raw text, escaped one by one (a class name is never re-matched).
  let comment = "";
  const hash = line.search(/(^|\s)#/);
  if (hash >= 0) { const at = line.indexOf("#", hash); comment = line.slice(at); line = line.slice(0, at); }
  let out = "";
  const key = line.match(/^(\s*(?:-\s+)?)([^\s:#&'"][^:#]*?)(:)(?=\s|$)/);
  if (key) { out = esc(key[1]) + `<span class="k">${esc(key[2])}</span>:`; line = line.slice(key[0].length); }
  const token = /("[^"]*"|'[^']*')|((?<![\w.])-?\d+(?:\.\d+)?%?(?![\w.]))/g;
  let last = 0, m;
  while ((m = token.exec(line)) !== null) {
    out += esc(line.slice(last, m.index)) + `<span class="${m[1] ? "s" : "n"}">${esc(m[0])}</span>`;
    last = m.index + m[0].length;
  }
  out += esc(line.slice(last));
  if (comment) out += `<span class="c">${esc(comment)}</span>`;
  return out;
}

function renderCode() {
  const ed = state.editor;
  const lines = ed.area.value.split("\n");
  const byLine = {};
  for (const p of ed.problems) if (p.file === ed.path && p.line) (byLine[p.line] = byLine[p.line] || []).push(p);
  ed.pre.innerHTML = lines.map((line, i) => {
    const here = byLine[i + 1];
    if (!here) return highlight(line) || " ";
    return `<span class="line-error" data-line="${i + 1}">${highlight(line)}<span class="err-msg">⟵ ${esc(here.map(p => p.field + ": " + p.rule).join("; "))}</span></span>`;
  }).join("\n");
  ed.gutter.innerHTML = lines.map((_, i) => byLine[i + 1] ? `<span class="bad">${i + 1}</span>` : String(i + 1)).join("\n");
  const width = Math.max(...lines.map(l => l.length)) + 4;
  ed.area.style.minWidth = width + "ch";
  ed.area.rows = lines.length + 1;
}

function renderProblems() {
  const ed = state.editor;
  const list = document.getElementById("problems");
  if (!ed.problems.length) { list.innerHTML = ed.valid ? "<li class='ok' style='color:#1b7f3b'>valid</li>" : ""; return; }
  list.innerHTML = ed.problems.map(p => `<li data-line="${p.line || ""}">${esc(p.message)}</li>`).join("");
  list.querySelectorAll("li[data-line]").forEach(li => li.onclick = () => goToLine(+li.dataset.line));
}

function goToLine(n) {
  const area = state.editor.area;
  const lines = area.value.split("\n");
  const at = lines.slice(0, n - 1).join("\n").length + (n > 1 ? 1 : 0);
  area.focus(); area.setSelectionRange(at, at + (lines[n - 1] || "").length);
}

function setDirty(dirty) {
  state.dirty = dirty;
  document.getElementById("dirty").textContent = dirty ? "unsaved changes" : "saved";
  document.getElementById("dirty").className = dirty ? "unsure" : "ok";
}

async function check() {
  const ed = state.editor;
  if (!ed) return;  // the page moved on
  const text = ed.area.value;
  const answer = await api("/api/check", {path: ed.path, text});
  // Typed on meanwhile (the next check decides), or the page moved on to another file.
  if (ed.area.value !== text || state.editor !== ed || !ed.area.isConnected) return;
  ed.problems = answer.problems; ed.valid = answer.valid;
  renderCode(); renderProblems();
  if (answer.valid) {
    document.getElementById("diagram").innerHTML = answer.svg;
    renderForm(answer.knobs);
  }
  document.getElementById("diagram").style.opacity = answer.valid ? 1 : 0.45;
}

function renderForm(knobs) {
  const box = document.getElementById("form");
  // A check that finds the same numbers leaves the form alone: edits in progress stay.
  if (box.dataset.knobs === JSON.stringify(knobs)) return;
  const row = (group, name, value, step) =>
    `<label class="slider"><span>${esc(name)}</span><input type="number" min="0" step="${step}" data-group="${group}" data-name="${esc(name)}" value="${value}"><span></span></label>`;
  const stage = (sid, k) => `<tr data-stage="${esc(sid)}"><td>${esc(sid)}</td>` +
    ["work.mean", "delay.mean"].map(f => `<td>${f in k ? `<input size="9" data-stage="${esc(sid)}" data-field="${f}" value="${esc(k[f])}">` : ""}</td>`).join("") +
    `<td>${Object.entries(k.next || {}).map(([t, p]) => `<label>${esc(t)} <input type="number" min="0" max="1" step="0.01" style="width:4.5em" data-stage="${esc(sid)}" data-target="${esc(t)}" value="${p}"></label>`).join(" ")}</td></tr>`;
  const stages = Object.entries(knobs.stages || {});
  box.innerHTML = "<b>Headcount per role</b>" + Object.entries(knobs.roles).map(([n, v]) => row("roles", n, v, 1)).join("") +
    "<b>Lead rate per source</b> <span class='note'>(leads per time unit)</span>" + Object.entries(knobs.sources).map(([n, v]) => row("sources", n, v, "any")).join("") +
    (stages.length ? "<b>Stages</b> <span class='note'>(means as written: a number in the scenario's time unit, or \"45 minutes\")</span>" +
      `<table id="stage-form"><tr><th>stage</th><th>work mean</th><th>delay mean</th><th>routing odds</th></tr>${stages.map(([sid, k]) => stage(sid, k)).join("")}</table>` : "") +
    calendarForm(knobs.calendar) + "<button id='form-apply'>Write into the YAML</button>";
  box.dataset.knobs = JSON.stringify(knobs);
  document.getElementById("form-apply").onclick = applyForm;
  const add = document.getElementById("cal-add");
  if (add) add.onchange = () => {
    const field = document.getElementById("cal-holidays");
    if (add.value) field.value = [...field.value.split(/[\s,;]+/).filter(Boolean), add.value].join(", ");
    add.value = "";
  };
}

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function calendarForm(cal) {
  if (!cal) return "";
  return `<b>Calendar</b> <span class="note">${cal.given ? "(the staff's working time)" : "(none in the file: staff work around the clock; changing a field adds one)"}</span>
    <div id="calendar-form"><div>${WEEKDAYS.map(d => `<label><input type="checkbox" class="cal-day" value="${d}"${cal.workdays.includes(d) ? " checked" : ""}> ${d}</label>`).join("")}</div>
    <div><label>hours from <input type="number" id="cal-start" min="0" max="24" step="0.5" value="${cal.hours[0]}"></label>
    <label>to <input type="number" id="cal-end" min="0" max="24" step="0.5" value="${cal.hours[1]}"></label></div>
    <div><label>holidays <input id="cal-holidays" size="36" placeholder="2026-12-25, 2026-12-26" value="${esc(cal.holidays.join(", "))}"></label>
    <input type="date" id="cal-add" title="add a holiday"></div></div>`;
}

function calendarChanges(known) {
  if (!known) return null;
  const now = {workdays: [...document.querySelectorAll("#calendar-form .cal-day:checked")].map(c => c.value),
    hours: [Number(document.getElementById("cal-start").value), Number(document.getElementById("cal-end").value)],
    holidays: document.getElementById("cal-holidays").value.split(/[\s,;]+/).filter(Boolean)};
  const changed = {};
  for (const key of ["workdays", "hours", "holidays"])
    if (JSON.stringify(now[key]) !== JSON.stringify(known[key].map(x => key === "hours" ? Number(x) : x))) changed[key] = now[key];
  return Object.keys(changed).length ? changed : null;
}

async function applyForm() {
  const known = JSON.parse(document.getElementById("form").dataset.knobs);
  const changes = {};
  document.querySelectorAll("#form input[data-group]").forEach(input => {
    const {group, name} = input.dataset;
    const value = Number(input.value);
    if (value !== known[group][name]) (changes[group] = changes[group] || {})[name] = value;
  });
  const stageChange = sid => ((changes.stages = changes.stages || {})[sid] = changes.stages[sid] || {});
  document.querySelectorAll("#form input[data-field]").forEach(input => {
    const {stage, field} = input.dataset;
    if (input.value !== String(known.stages[stage][field])) stageChange(stage)[field] = input.value;
  });
  for (const [sid, k] of Object.entries(known.stages || {})) {
    if (!k.next) continue;
    const odds = {};
    document.querySelectorAll(`#form input[data-target][data-stage="${CSS.escape(sid)}"]`).forEach(i => odds[i.dataset.target] = Number(i.value));
    if (Object.entries(odds).some(([t, p]) => p !== k.next[t])) stageChange(sid).next = odds;  // a routing is written whole
  }
  const calendar = calendarChanges(known.calendar);
  if (calendar) changes.calendar = calendar;
  if (!Object.keys(changes).length) { status("the form changes nothing"); return; }
  try {
    const answer = await api("/api/form", {text: state.editor.area.value, changes});
    state.editor.area.value = answer.text; setDirty(true); renderCode(); await check();
    status("form written into the YAML (not saved yet)");
  } catch (e) { status(e.message); }
}

async function save() {
  const ed = state.editor;
  try {
    const answer = await api("/api/save", {path: ed.path, text: ed.area.value, version: ed.version});
    ed.version = answer.version; setDirty(false);
    document.getElementById("disk").innerHTML = "";
    status(`saved ${ed.path} (the previous version is in .studio-backups/)`);
  } catch (e) {
    if (e.data && e.data.conflict) document.getElementById("disk").innerHTML = `<div class="banner" id="conflict">${esc(e.message)}</div>`;
    status(e.message);
  }
}

async function saveRedesign() {
  const ed = state.editor;
  const target = document.getElementById("redesign-name").value.trim();
  try {
    const answer = await api("/api/redesign", {base: ed.path, text: ed.area.value, path: target});
    status(`saved the redesign ${answer.path}`);
    document.getElementById("redesign-result").innerHTML =
      `<p>Wrote <a href="#edit/${encodeURIComponent(answer.path)}">${esc(answer.path)}</a>:</p><pre id="redesign-text">${esc(answer.text)}</pre>`;
  } catch (e) { status(e.message); document.getElementById("redesign-result").innerHTML = `<div class="banner">${esc(e.message)}</div>`; }
}

async function watchDisk() {
  const ed = state.editor;
  if (!ed) return;  // the page moved on
  try {
    const now = await api("/api/file?path=" + encodeURIComponent(ed.path));
    if (now.version !== ed.version)
      document.getElementById("disk").innerHTML = `<div class="banner" id="changed-on-disk">${esc(ed.path)} changed on disk (another editor?). Saving will not overwrite it: <button id="reload">reload from disk</button></div>`;
    const reload = document.getElementById("reload");
    if (reload) reload.onclick = () => { if (!state.dirty || confirm("Drop your unsaved changes?")) { state.dirty = false; route(); } };
  } catch (e) { /* removed or unreadable: the save will say so */ }
}

async function editPage(path) {
  const here = location.hash;
  state.editor = null;  // a check of the file left behind must not draw on this page
  status("");
  page.innerHTML = `<h2>${esc(path)} <span id="dirty" class="ok">saved</span></h2><div id="disk"></div>
  <div class="panel" id="diagram"></div>
  <div class="row">
    <div class="editor-col">
      <div class="toolbar">
        <button class="primary" id="save">Save</button>
        <a href="#run/${encodeURIComponent(path)}">run</a> <a href="#whatif/${encodeURIComponent(path)}">what-if</a> <a href="#classroom/${encodeURIComponent(path)}">classroom</a>
        <span class="note">Ctrl-S saves; the previous version goes to .studio-backups/</span>
      </div>
      <div class="code"><div class="gutter" id="gutter"></div>
        <div class="text"><pre id="hl"></pre><textarea id="editor" spellcheck="false" autocomplete="off"></textarea></div></div>
      <ul id="problems"></ul>
      <div class="toolbar"><label>Save as redesign: <input id="redesign-name" size="34" value="${esc(path.replace(/\.ya?ml$/, "") + "_redesign.yaml")}"></label>
        <button id="redesign-save">Save as redesign</button></div>
      <div id="redesign-result"></div>
    </div>
    <div class="side">
      <div class="panel" id="form"></div>
    </div>
  </div>`;
  const file = await api("/api/file?path=" + encodeURIComponent(path));
  if (location.hash !== here) return;  // the user moved on meanwhile
  const area = document.getElementById("editor");
  area.value = file.text;
  state.editor = {path, version: file.version, area, pre: document.getElementById("hl"),
                  gutter: document.getElementById("gutter"), problems: [], valid: false};
  renderCode();
  attachCompletion(area);
  let timer = null;
  area.addEventListener("input", () => {
    setDirty(true); renderCode();
    clearTimeout(timer); timer = setTimeout(check, 300);
  });
  area.addEventListener("keydown", e => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
    if (e.key === "Tab") { e.preventDefault(); document.execCommand("insertText", false, "  "); }
  });
  document.getElementById("save").onclick = save;
  document.getElementById("redesign-save").onclick = saveRedesign;
  state.diskTimer = setInterval(watchDisk, 2000);
  await check();
}

// --- run -----------------------------------------------------------------------------

function kpiTable(rows) {
  if (!rows.length) return "<p class='note'>The estimates appear after the second replication.</p>";
  return `<table id="kpis"><tr><th>KPI</th><th>mean</th><th>95% CI</th><th>unit</th></tr>` + rows.map(r =>
    `<tr data-kpi="${esc(r.kpi)}"><td>${esc(r.label)}</td><td class="num">${esc(r.mean)}</td><td class="num">${esc(r.ci || "n/a")}</td><td>${esc(r.unit)}</td></tr>`).join("") + "</table>";
}
function warningsHtml(lines) { return lines.map(w => `<div class="warn">${esc(w)}</div>`).join(""); }

function follow(job, draw) {
  clearInterval(state.jobTimer);
  const tick = async () => {
    try { job = await api("/api/jobs/" + job.id); } catch (e) { clearInterval(state.jobTimer); return; }
    draw(job);
    if (!["queued", "running"].includes(job.state)) clearInterval(state.jobTimer);
  };
  draw(job);
  if (["queued", "running"].includes(job.state)) state.jobTimer = setInterval(tick, 250);
}

function progressHtml(job) {
  const words = {queued: "waiting for the worker", running: `${job.done} of ${job.total || "?"} replications`,
                 done: job.cached ? "done (from the cache)" : "done", cancelled: "cancelled", failed: "failed"};
  return `<progress id="progress" max="${job.total || 1}" value="${job.done}"></progress> <span id="job-state" data-state="${job.state}">${esc(words[job.state])}</span>`;
}

async function runPage(path) {
  const here = location.hash;
  const check = await api("/api/check", {path, text: (await api("/api/file?path=" + encodeURIComponent(path))).text});
  if (location.hash !== here) return;  // the user moved on meanwhile
  page.innerHTML = `<h2>Run ${esc(path)}</h2>
  <div class="toolbar"><label>replications <input type="number" id="run-n" min="2" value="${check.replications || 20}"></label>
   <label>seed <input type="number" id="run-seed" value="${check.seed ?? 0}"></label>
   <button class="primary" id="run-go">Run</button><button id="run-cancel" disabled>Cancel</button>
   <a href="#edit/${encodeURIComponent(path)}">edit</a></div>
  <div id="run-progress"></div><div id="run-kpis"></div><div id="run-warnings"></div><p id="run-report"></p>`;
  if (!check.valid) { document.getElementById("run-progress").innerHTML = `<div class="banner">${esc(check.problems[0].message)}</div>`; return; }
  const draw = job => {
    document.getElementById("run-progress").innerHTML = progressHtml(job) + (job.error ? `<div class="banner">${esc(job.error)}</div>` : "");
    document.getElementById("run-kpis").innerHTML = kpiTable(job.estimates);
    document.getElementById("run-warnings").innerHTML = warningsHtml(job.warnings);
    const live = ["queued", "running"].includes(job.state);
    document.getElementById("run-cancel").disabled = !live;
    document.getElementById("run-go").disabled = live;
    document.getElementById("run-report").innerHTML = job.result && job.result.report
      ? `<a id="report-link" target="_blank" href="${fileUrl(job.result.report)}">the HTML report</a> · written to ${esc(job.result.out)}/ (with run.json)` : "";
  };
  document.getElementById("run-go").onclick = async () => {
    try {
      const job = await api("/api/run", {path, replications: document.getElementById("run-n").value, seed: document.getElementById("run-seed").value});
      state.job = job; follow(job, draw);
    } catch (e) { status(e.message); }
  };
  document.getElementById("run-cancel").onclick = async () => { if (state.job) draw(await api(`/api/jobs/${state.job.id}/cancel`, {})); };
}

// --- compare -------------------------------------------------------------------------

async function comparePage() {
  const here = location.hash;
  const data = await api("/api/files");
  if (location.hash !== here) return;  // the user moved on meanwhile
  const good = data.files.filter(f => f.state === "ok");
  const options = good.map(f => `<option value="${esc(f.path)}">${esc(f.path)}</option>`).join("");
  page.innerHTML = `<h2>Compare</h2>
  <div class="row"><div class="panel"><label>baseline <select id="cmp-baseline">${options}</select></label>
    <p>redesigns:</p><div id="cmp-list">${good.map(f => `<label style="display:block"><input type="checkbox" class="cmp-redesign" value="${esc(f.path)}"> ${esc(f.path)}</label>`).join("")}</div>
    <div class="toolbar"><label>replications <input type="number" id="cmp-n" min="2" placeholder="the baseline's"></label>
    <label>seed <input type="number" id="cmp-seed" placeholder="the baseline's"></label>
    <button class="primary" id="cmp-go">Compare</button><button id="cmp-cancel" disabled>Cancel</button></div></div></div>
  <div id="cmp-progress"></div><div id="cmp-result"></div>`;
  const base = good.find(f => f.kind === "scenario");
  if (base) document.getElementById("cmp-baseline").value = base.path;
  const draw = job => {
    document.getElementById("cmp-progress").innerHTML = progressHtml(job) + (job.error ? `<div class="banner">${esc(job.error)}</div>` : "");
    const live = ["queued", "running"].includes(job.state);
    document.getElementById("cmp-cancel").disabled = !live;
    document.getElementById("cmp-go").disabled = live;
    const r = job.result;
    if (!r) { document.getElementById("cmp-result").innerHTML = ""; return; }
    const table = (rows, id, columns) => {
      if (!rows.length) return `<p class="note" id="${id}">no targets in these redesigns</p>`;
      columns = columns || Object.keys(rows[0]);
      return `<table id="${id}"><tr>${columns.map(k => `<th>${esc(k)}</th>`).join("")}</tr>` +
        rows.map(row => `<tr>${columns.map(k => `<td class="${esc(row[k] ?? "")}">${esc(row[k] ?? "")}</td>`).join("")}</tr>`).join("") + "</table>";
    };
    const forest = r.figures.find(f => f.includes("forest")) || r.figures[0];
    document.getElementById("cmp-result").innerHTML = `<h3>Verdicts on the targets</h3>${table(r.verdicts, "verdicts")}
      <h3>Headline KPIs (paired differences, ${r.replications} replications, seed ${r.seed})</h3>${table(r.table, "differences", ["redesign", "KPI", "baseline", "redesign mean", "difference", "difference CI", "change", "change CI", "verdict"])}
      ${warningsHtml(r.warnings)}
      ${forest ? `<p><img class="figure" id="forest" src="${fileUrl(forest)}" alt="forest plot"></p>` : ""}
      <p><a id="report-link" target="_blank" href="${fileUrl(r.report)}">the full report</a> · written to ${esc(r.out)}/ (with compare.json)</p>`;
  };
  document.getElementById("cmp-go").onclick = async () => {
    const redesigns = [...document.querySelectorAll(".cmp-redesign:checked")].map(c => c.value);
    try {
      const job = await api("/api/compare", {baseline: document.getElementById("cmp-baseline").value, redesigns,
        replications: document.getElementById("cmp-n").value, seed: document.getElementById("cmp-seed").value});
      state.job = job; follow(job, draw);
    } catch (e) { status(e.message); document.getElementById("cmp-progress").innerHTML = `<div class="banner">${esc(e.message)}</div>`; }
  };
  document.getElementById("cmp-cancel").onclick = async () => { if (state.job) draw(await api(`/api/jobs/${state.job.id}/cancel`, {})); };
}

// --- forecast ------------------------------------------------------------------------

async function forecastPage() {
  const here = location.hash;
  const [data, deals] = await Promise.all([api("/api/files"), api("/api/pipelines")]);
  if (location.hash !== here) return;  // the user moved on meanwhile
  const good = data.files.filter(f => f.state === "ok");
  const options = list => list.map(p => `<option value="${esc(p)}">${esc(p)}</option>`).join("");
  page.innerHTML = `<h2>Forecast</h2>
  <p class="note">What will we book by a date, from the deals open now (salessim forecast)? The band, the chance to reach the quota, the deals that matter most and, with a redesign, its value on the same random numbers.</p>
  <div class="panel"><div class="toolbar">
    <label>scenario <select id="fc-scenario">${options(good.map(f => f.path))}</select></label>
    <label>open deals <select id="fc-pipeline">${options(deals.files)}</select></label>
    <label>until <input id="fc-until" type="date"></label>
    <label>quota <input id="fc-quota" type="number" min="0" placeholder="none"></label></div>
    <div class="toolbar"><label>redesign <select id="fc-redesign"><option value="">none</option>${options(good.filter(f => f.kind === "redesign").map(f => f.path))}</select></label>
    <label>replications <input type="number" id="fc-n" min="2" value="20"></label>
    <button class="primary" id="fc-go">Forecast</button></div></div>
  <div id="fc-progress"></div><div id="fc-result"></div>${backtestPanel(deals.files)}`;
  wireBacktest();
  const draw = job => {
    document.getElementById("fc-progress").innerHTML = progressHtml(job) + (job.error ? `<div class="banner" id="fc-error">${esc(job.error)}</div>` : "");
    const r = job.result;
    if (!r) return;
    const q = r.quota ? `<p id="fc-quota-chance"><b>Chance to reach ${esc(r.quota.quota.toLocaleString("en"))}: ${(100 * r.quota.probability).toFixed(1)}%</b> (95% CI ${(100 * r.quota.ci_low).toFixed(1)}% to ${(100 * r.quota.ci_high).toFixed(1)}%)</p>` : "";
    document.getElementById("fc-result").innerHTML = q +
      (r.figure ? `<p><img class="figure" id="fan" src="${fileUrl(r.figure)}" alt="fan chart"></p>` : "") +
      `<pre id="fc-summary">${esc(r.summary)}</pre><p><a id="report-link" target="_blank" href="${fileUrl(r.report)}">the full report</a> · written to ${esc(r.out)}/ (with run.json)</p>`;
  };
  document.getElementById("fc-go").onclick = async () => {
    const redesign = document.getElementById("fc-redesign").value;
    try {
      const job = await api("/api/forecast", {path: document.getElementById("fc-scenario").value,
        pipeline: document.getElementById("fc-pipeline").value, until: document.getElementById("fc-until").value,
        quota: document.getElementById("fc-quota").value, redesigns: redesign ? [redesign] : [],
        replications: document.getElementById("fc-n").value});
      state.job = job; follow(job, draw);
    } catch (e) { status(e.message); document.getElementById("fc-progress").innerHTML = `<div class="banner">${esc(e.message)}</div>`; }
  };
}

// --- classroom -----------------------------------------------------------------------

async function classroomPage(path) {
  page.innerHTML = `<h2>Classroom: ${esc(path)}</h2>
  <p class="note">The flow analysis (formulas, no simulation) beside a short simulation, the story of the first leads, and the animation of the first replication.</p>
  <div class="toolbar"><label>replications <input type="number" id="cls-n" min="2" value="5"></label>
  <button class="primary" id="cls-go">Simulate and explain</button></div>
  <div id="cls-progress"></div><div id="cls-result"></div>`;
  const draw = job => {
    document.getElementById("cls-progress").innerHTML = progressHtml(job) + (job.error ? `<div class="banner">${esc(job.error)}</div>` : "");
    const r = job.result;
    if (!r) return;
    document.getElementById("cls-result").innerHTML = `<p><a id="animation-link" target="_blank" href="${fileUrl(r.animation)}">the animation</a> (first replication)</p>
      <h3>Formulas against the simulation</h3><pre id="versus">${esc(r.versus)}</pre>
      <h3>The first leads</h3><pre id="trace">${esc(r.trace.join("\n"))}</pre>
      <h3>Flow analysis</h3><pre id="analysis">${esc(r.analysis)}</pre>`;
  };
  document.getElementById("cls-go").onclick = async () => {
    try { const job = await api("/api/classroom", {path, replications: document.getElementById("cls-n").value}); state.job = job; follow(job, draw); }
    catch (e) { status(e.message); }
  };
}

route();
