// salessim studio: the what-if page. Sliders for headcounts, lead rates, a stage's work and
// delay means and its routing odds; each move reruns on common random numbers, and the
// values can be written into the file (the form's round trip). Uses studio.js's helpers.
"use strict";

// A stage's mean as written ("1 hour", 5): its number and unit, for a slider.
function meanParts(value) {
  const m = String(value).trim().match(/^([0-9]*\.?[0-9]+)\s*(.*)$/);
  return m ? {number: Number(m[1]), unit: m[2]} : null;
}
function round(x) { return +x.toPrecision(4); }

// The odds of a stage's routing with one target's share set: the others keep their ratio.
function oddsSplit(base, target, share) {
  const rest = 1 - base[target], out = {};
  const others = Object.keys(base).filter(t => t !== target);
  for (const t of Object.keys(base))  // in the file's order
    out[t] = t === target ? round(share) : rest > 0 ? round(base[t] * (1 - share) / rest) : round((1 - share) / others.length);
  if (others.length) {  // the last other target takes the rounding, so the odds sum to 1
    const last = others[others.length - 1];
    out[last] = round(1 - Object.values(out).reduce((a, b) => a + b, 0) + out[last]);
  }
  return out;
}

async function whatifPage(path) {
  const here = location.hash;
  const file = await api("/api/file?path=" + encodeURIComponent(path));
  const check = await api("/api/check", {path, text: file.text});
  if (location.hash !== here) return;  // the user moved on meanwhile
  if (!check.valid) { page.innerHTML = `<div class="banner">${esc(check.problems[0].message)}</div>`; return; }
  const slider = (key, label, value, max, step, unit) =>
    `<label class="slider"><span>${esc(label)}</span><input type="range" data-key="${esc(key)}" data-unit="${esc(unit || "")}" min="0" max="${max}" step="${step}" value="${value}" data-base="${value}"><output>${esc(value + (unit ? " " + unit : ""))}</output></label>`;
  const stageSliders = Object.entries(check.knobs.stages || {}).map(([sid, k]) => {
    const times = ["work", "delay"].filter(t => k[t + ".mean"] !== undefined && meanParts(k[t + ".mean"])).map(t => {
      const {number, unit} = meanParts(k[t + ".mean"]);
      return slider(`stages.${sid}.${t}.mean`, `${sid} ${t} mean`, number, round(Math.max(2 * number, 1)), round(Math.max(number, 0.5) / 20), unit);
    });
    const targets = Object.keys(k.next || {});
    const odds = targets.length > 1 ? `<label class="slider"><span>${esc(sid)} → ${esc(targets[0])}</span><input type="range" data-odds="${esc(sid)}" data-target="${esc(targets[0])}" data-split='${esc(JSON.stringify(k.next))}' min="0" max="1" step="0.01" value="${k.next[targets[0]]}" data-base="${k.next[targets[0]]}"><output>${esc(targets.map(t => `${t} ${k.next[t]}`).join(" / "))}</output></label>` : "";
    return times.join("") + odds;
  }).join("");
  page.innerHTML = `<h2>What-if: ${esc(path)}</h2>
  <p class="note">Each move reruns the scenario against itself on the same random numbers (common random numbers): the difference and its paired 95% interval. An odds slider sets one target's share; the other targets keep their ratio.</p>
  <div class="row"><div class="panel" id="sliders"><b>Headcounts and lead rates</b>${Object.entries(check.knobs.roles).map(([n, v]) => slider(`roles.${n}.headcount`, `${n} headcount`, v, Math.max(2 * v, v + 3), 1)).join("")}
   ${Object.entries(check.knobs.sources).map(([n, v]) => slider(`sources.${n}.rate`, `${n} rate`, v, +(2 * v).toFixed(3), +(v / 20).toPrecision(2))).join("")}
   ${stageSliders ? `<b>Stages: means and routing odds</b>${stageSliders}` : ""}
   <div class="toolbar"><label>replications <input type="number" id="wi-n" min="2" value="10"></label>
   <button id="wi-write">Write these values into ${esc(path.split("/").pop())}</button></div><div id="wi-written"></div></div>
  <div class="wide"><div id="wi-progress"></div><div id="wi-result"></div></div></div>`;
  let timer = null;
  const draw = job => {
    document.getElementById("wi-progress").innerHTML = progressHtml(job) + (job.error ? `<div class="banner">${esc(job.error)}</div>` : "");
    const r = job.result;
    if (!r) return;
    document.getElementById("wi-result").innerHTML = `<table id="whatif"><tr><th>KPI</th><th>baseline</th><th>what-if</th><th>difference</th><th>paired 95% CI</th><th>change</th></tr>` +
      r.table.map(t => `<tr><td>${esc(t.KPI)}</td><td class="num">${esc(t.baseline)}</td><td class="num">${esc(t["redesign mean"])}</td><td class="num">${esc(t.difference)}</td><td class="num">${esc(t["difference CI"])}</td><td class="num">${esc(t.change)}</td></tr>`).join("") + "</table>";
  };
  const moved = () => [...document.querySelectorAll("#sliders input[type=range]")].filter(s => s.value !== s.dataset.base);
  const values = () => {
    const out = {};
    for (const s of moved()) {
      if (s.dataset.key) out[s.dataset.key] = s.value + (s.dataset.unit ? " " + s.dataset.unit : "");
      else for (const [t, p] of Object.entries(oddsSplit(JSON.parse(s.dataset.split), s.dataset.target, Number(s.value))))
        out[`stages.${s.dataset.odds}.next.${t}`] = String(p);
    }
    return out;
  };
  const rerun = async () => {
    const chosen = values();
    if (!Object.keys(chosen).length) { document.getElementById("wi-result").innerHTML = "<p class='note'>Move a slider.</p>"; return; }
    try { const job = await api("/api/whatif", {path, values: chosen, replications: document.getElementById("wi-n").value}); state.job = job; follow(job, draw); }
    catch (e) { status(e.message); }
  };
  document.querySelectorAll("#sliders input[type=range]").forEach(s => s.addEventListener("input", () => {
    s.nextElementSibling.textContent = s.dataset.odds
      ? Object.entries(oddsSplit(JSON.parse(s.dataset.split), s.dataset.target, Number(s.value))).map(([t, p]) => `${t} ${p}`).join(" / ")
      : s.value + (s.dataset.unit ? " " + s.dataset.unit : "");
    clearTimeout(timer); timer = setTimeout(rerun, 250);
  }));
  // The sliders' values into the file: the form's round trip (comments and layout kept).
  document.getElementById("wi-write").onclick = async () => {
    const changes = {};
    for (const s of moved()) {
      if (s.dataset.key) {
        const [group, name, ...field] = s.dataset.key.split(".");
        const value = s.value + (s.dataset.unit ? " " + s.dataset.unit : "");
        if (group === "stages") ((changes.stages = changes.stages || {})[name] = changes.stages[name] || {})[field.join(".")] = value;
        else (changes[group] = changes[group] || {})[name] = Number(s.value);
      } else {
        const sid = s.dataset.odds;
        ((changes.stages = changes.stages || {})[sid] = changes.stages[sid] || {}).next = oddsSplit(JSON.parse(s.dataset.split), s.dataset.target, Number(s.value));
      }
    }
    if (!Object.keys(changes).length) { status("no slider moved"); return; }
    try {
      const now = await api("/api/file?path=" + encodeURIComponent(path));
      const {text} = await api("/api/form", {text: now.text, changes});
      await api("/api/save", {path, text, version: now.version});
      const before = now.text.split("\n"), after = text.split("\n");
      const lines = before.length === after.length
        ? after.flatMap((line, i) => line === before[i] ? [] : ["- " + before[i], "+ " + line]) : after.filter(line => !before.includes(line)).map(l => "+ " + l);
      document.getElementById("wi-written").innerHTML = `<p>Saved ${esc(path)} (the previous version is in .studio-backups/); the sliders now start from the saved values. The lines that changed, comments and layout kept:</p><pre id="wi-lines">${esc(lines.join("\n"))}</pre>`;
      document.querySelectorAll("#sliders input[type=range]").forEach(s => s.dataset.base = s.value);  // the file is the new baseline
      status(`saved ${path}`);
    } catch (e) { status(e.message); document.getElementById("wi-written").innerHTML = `<div class="banner">${esc(e.message)}</div>`; }
  };
}

