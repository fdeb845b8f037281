// salessim studio: completion in the editor. The keys valid at the cursor (with their
// one-line help) and the values of an enum come from the scenario's JSON Schema, through
// /api/complete. Ctrl-Space asks; typing a key or after "key: " asks by itself.
"use strict";

const completion = {box: null, items: [], index: 0, start: 0, timer: null};
const LINE_HEIGHT = 18, PAD_TOP = 4, PAD_LEFT = 8;  // as .code and .text pre in studio.css

function caret(area) {
  const lines = area.value.slice(0, area.selectionStart).split("\n");
  return {line: lines.length, column: lines[lines.length - 1].length};
}

function charWidth(host) {
  const probe = document.createElement("span");
  probe.style.cssText = "position:absolute;visibility:hidden;white-space:pre;font:inherit";
  probe.textContent = "x".repeat(40);
  host.appendChild(probe);
  const width = probe.getBoundingClientRect().width / 40;
  probe.remove();
  return width;
}

function hideCompletion() {
  if (completion.box) completion.box.remove();
  completion.box = null; completion.items = [];
}

async function askCompletion(area, explicit) {
  const text = area.value, at = area.selectionStart, {line, column} = caret(area);
  let answer;
  try { answer = await api("/api/complete", {text, line, column}); } catch (e) { hideCompletion(); return; }
  if (area.value !== text || area.selectionStart !== at) return;  // typed on meanwhile
  if (!answer.items.length) { hideCompletion(); if (explicit) status("nothing to complete here"); return; }
  showCompletion(area, answer, line);
}

function showCompletion(area, answer, line) {
  hideCompletion();
  const host = area.parentElement;
  const box = document.createElement("ul");
  box.id = "completion"; box.className = "completion"; box.setAttribute("role", "listbox");
  box.innerHTML = answer.items.map((item, i) =>
    `<li data-i="${i}" data-label="${esc(item.label)}" class="${item.kind}"><b>${esc(item.label)}</b>` +
    (item.detail ? ` <span class="help">${esc(item.detail)}</span>` : "") + "</li>").join("");
  box.style.top = (PAD_TOP + line * LINE_HEIGHT) + "px";
  box.style.left = (PAD_LEFT + answer.start * charWidth(host)) + "px";
  host.appendChild(box);
  // The list in view, by scrolling the code view down only (never sideways: the gutter stays).
  const view = host.closest(".code"), bottom = box.offsetTop + box.offsetHeight + PAD_TOP;
  if (bottom > view.scrollTop + view.clientHeight) view.scrollTop = Math.min(bottom - view.clientHeight, box.offsetTop - LINE_HEIGHT - PAD_TOP);
  Object.assign(completion, {box, items: answer.items, index: 0, start: answer.start});
  box.querySelectorAll("li").forEach(li => li.onmousedown = e => { e.preventDefault(); acceptCompletion(area, +li.dataset.i); });
  markCompletion();
}

// Typing on with the list open narrows it at once (the server's answer follows).
function narrowCompletion(area) {
  const {column} = caret(area);
  const prefix = area.value.slice(area.selectionStart - (column - completion.start), area.selectionStart);
  const keep = completion.items.filter(item => item.label.startsWith(prefix));
  if (!keep.length) { hideCompletion(); return; }
  completion.box.querySelectorAll("li").forEach(li => { if (!li.dataset.label.startsWith(prefix)) li.remove(); });
  completion.box.querySelectorAll("li").forEach((li, i) => li.dataset.i = i);
  completion.items = keep; completion.index = 0;
  markCompletion();
}

function markCompletion() {
  completion.box.querySelectorAll("li").forEach((li, i) => li.classList.toggle("active", i === completion.index));
  const active = completion.box.querySelector("li.active"), box = completion.box;
  if (active && active.offsetTop < box.scrollTop) box.scrollTop = active.offsetTop;
  else if (active && active.offsetTop + active.offsetHeight > box.scrollTop + box.clientHeight) box.scrollTop = active.offsetTop + active.offsetHeight - box.clientHeight;
}

function acceptCompletion(area, i) {
  const item = completion.items[i];
  const at = area.selectionStart, {column} = caret(area);
  const rest = area.value.slice(at).split("\n")[0];
  const suffix = item.kind === "key" && !/^\s*:/.test(rest) ? ": " : "";
  area.focus();
  area.setSelectionRange(at - (column - completion.start), at);
  hideCompletion();
  document.execCommand("insertText", false, item.label + suffix);  // one undo step; fires input
  if (suffix) completion.timer = setTimeout(() => askCompletion(area, false), 150);  // its values
}

// Chrome scrolls the code view to the wrong place when the full-height textarea over the
// coloured copy changes: keep the view where it was, then bring the caret's line into it.
function keepCaretInView(area) {
  const view = area.closest(".code");
  let kept = null;
  area.addEventListener("beforeinput", () => { kept = [view.scrollTop, view.scrollLeft]; });
  area.addEventListener("input", () => {
    const restore = () => {
      if (kept) [view.scrollTop, view.scrollLeft] = kept;
      const top = PAD_TOP + (caret(area).line - 1) * LINE_HEIGHT;
      if (top < view.scrollTop) view.scrollTop = top;
      else if (top + LINE_HEIGHT > view.scrollTop + view.clientHeight) view.scrollTop = top + LINE_HEIGHT - view.clientHeight;
    };
    restore(); requestAnimationFrame(restore);
  });
}

// Wire completion into the editor's textarea (before its own key handling).
function attachCompletion(area) {
  keepCaretInView(area);
  area.addEventListener("keydown", e => {
    if (e.ctrlKey && (e.key === " " || e.code === "Space")) {
      e.preventDefault(); e.stopImmediatePropagation(); askCompletion(area, true); return;
    }
    if (!completion.box) return;
    const moves = {ArrowDown: 1, ArrowUp: -1};
    if (e.key in moves) {
      completion.index = (completion.index + moves[e.key] + completion.items.length) % completion.items.length;
      markCompletion();
    } else if (e.key === "Enter" || e.key === "Tab") {
      acceptCompletion(area, completion.index);
    } else if (e.key === "Escape") {
      hideCompletion();
    } else return;
    e.preventDefault(); e.stopImmediatePropagation();
  });
  area.addEventListener("input", e => {
    clearTimeout(completion.timer);
    if (completion.box && e.inputType === "insertText" && /^[\w\-]$/.test(e.data || "")) narrowCompletion(area);
    if (e.inputType === "insertText" && /^[\w\- :{,]$/.test(e.data || "")) {
      completion.timer = setTimeout(() => askCompletion(area, false), 150);
    } else hideCompletion();
  });
  area.addEventListener("blur", () => setTimeout(hideCompletion, 150));
  area.addEventListener("click", hideCompletion);
}
