// livewatch dashboard: the live alert feed (server-sent events) and the evidence check.
// Rows are built with textContent only, so alert text can never inject markup.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function currentFilters() {
  const form = document.getElementById("filters");
  const chosen = {};
  if (!form) return chosen;
  for (const el of form.querySelectorAll("select")) {
    if (el.value) chosen[el.name] = el.value;
  }
  return chosen;
}

function matches(alert, filters) {
  const field = { category: "category", severity: "severity", stream: "stream_id", brand: "brand", status: "status", mode: "mode" };
  for (const [name, value] of Object.entries(filters)) {
    if (String(alert[field[name]] ?? "") !== value) return false;
  }
  return true;
}

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

function badge(text, cls) {
  const span = document.createElement("span");
  span.className = "badge " + cls;
  span.textContent = text;
  return span;
}

// A 0..1 confidence as the server renders it ("—" for alerts of schema 1.0, which have none).
function percent(value) {
  if (typeof value !== "number" || !isFinite(value)) return "—";
  return Math.floor(Math.min(Math.max(value, 0), 1) * 100 + 0.5) + "%";
}

function alertRow(a) {
  const tr = document.createElement("tr");
  tr.dataset.alertId = a.alert_id;
  tr.className = "fresh";
  tr.appendChild(cell(a.detected_at, "muted"));
  const title = document.createElement("td");
  const link = document.createElement("a");
  link.href = "/alerts/" + encodeURIComponent(a.alert_id);
  link.textContent = a.title || a.rule_id;
  title.appendChild(link);
  tr.appendChild(title);
  tr.appendChild(cell(a.category));
  const sev = cell(""); sev.appendChild(badge(a.severity, "sev-" + a.severity)); tr.appendChild(sev);
  tr.appendChild(cell(percent(a.confidence), "confidence"));
  tr.appendChild(cell(a.stream_id));
  tr.appendChild(cell(a.brand || ""));
  const rule = cell(a.rule_id + " v" + a.rule_version);
  if (a.mode === "shadow") { rule.appendChild(document.createTextNode(" ")); rule.appendChild(badge("shadow", "mode-shadow")); }
  tr.appendChild(rule);
  const st = cell("", "status"); st.appendChild(badge(a.status || "new", "st-" + (a.status || "new"))); tr.appendChild(st);
  return tr;
}

function startFeed() {
  const table = document.getElementById("feed");
  if (!table) return;
  const body = table.tBodies[0];
  const live = document.getElementById("live");
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => { live.textContent = "live"; live.classList.add("on"); });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.classList.remove("on"); });
  source.addEventListener("alert", (ev) => {
    const a = Object.assign({ status: "new" }, JSON.parse(ev.data).alert);
    const old = body.querySelector('tr[data-alert-id="' + CSS.escape(a.alert_id) + '"]');
    if (old) { old.replaceWith(alertRow(a)); return; }
    if (!matches(a, currentFilters())) return;
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.insertBefore(alertRow(a), body.firstChild);
  });
  source.addEventListener("decision", (ev) => {
    const d = JSON.parse(ev.data);
    const row = body.querySelector('tr[data-alert-id="' + CSS.escape(d.alert_id) + '"] td.status');
    if (row) { row.textContent = ""; row.appendChild(badge(d.status, "st-" + d.status)); }
  });
}

function startVerify() {
  const button = document.getElementById("verify-evidence");
  if (!button) return;
  button.addEventListener("click", async () => {
    const out = document.getElementById("verify-result");
    out.textContent = "checking…";
    const resp = await fetch("/api/alerts/" + encodeURIComponent(button.dataset.alert) + "/evidence/verify",
                             { headers: { "X-CSRF-Token": csrfToken() } });
    const data = await resp.json();
    if (!resp.ok) { out.textContent = data.detail || ("error " + resp.status); out.className = "error"; return; }
    out.textContent = data.intact ? "hash chain intact" : ("changed after the fact: " + data.problems.join("; "));
    out.className = data.intact ? "okmsg" : "error";
  });
}

document.addEventListener("DOMContentLoaded", () => { startFeed(); startVerify(); });
