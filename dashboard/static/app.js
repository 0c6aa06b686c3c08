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

// Bidirectional controls in alert text would reorder what is shown ("…/exe.gpj"): show a mark instead.
function neutral(text) {
  return String(text ?? "").replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "\ufffd");
}

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = neutral(text);
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
  title.className = "title";
  const link = document.createElement("a");
  link.href = "/alerts/" + encodeURIComponent(a.alert_id);
  link.textContent = neutral(a.title || a.rule_id);
  if (a.title_truncated) link.title = "shortened: the alert page shows the full text";
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
  const source = liveSource(live);
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

// The live event stream; it ends for good when the session is signed out or the token revoked.
function liveSource(live) {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => { live.textContent = "live"; live.classList.add("on"); });
  source.addEventListener("signed-out", () => {
    source.close();
    live.textContent = "signed out: reload to sign in"; live.classList.remove("on");
  });
  return source;
}

async function api(method, path, body) {
  const resp = await fetch(path, {
    method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await resp.json(); } catch (e) { /* 204 */ }
  return { status: resp.status, data };
}

// The triage desk: j/k move (claiming the alert), c/d/e decide, o opens it.
function startTriage() {
  const table = document.getElementById("queue");
  if (!table) return;
  const me = table.dataset.me;
  const msg = document.getElementById("triage-msg");
  const live = document.getElementById("live");
  let current = null;

  const rows = () => Array.from(table.querySelectorAll("tr.q"));
  const takenByOther = (tr) => tr.dataset.claimedBy && tr.dataset.claimedBy !== me;
  const say = (text) => { msg.hidden = !text; msg.textContent = neutral(text || ""); };
  const setClaim = (tr, user) => {
    tr.dataset.claimedBy = user || "";
    tr.querySelector("td.claim").textContent = neutral(user || "");
  };

  async function select(tr) {
    if (current) current.classList.remove("selected");
    current = tr;
    if (!tr) { say("Queue done: nothing left to triage."); return; }
    tr.classList.add("selected");
    tr.scrollIntoView({ block: "nearest" });
    const { status, data } = await api("POST", "/api/alerts/" + encodeURIComponent(tr.dataset.alertId) + "/claim");
    if (status === 409) { say(data.detail); return; }
    if (status === 200) { setClaim(tr, me); say(""); }
  }

  function step(direction) {
    const all = rows();
    let i = current ? all.indexOf(current) : -1;
    for (;;) {
      i += direction;
      if (i < 0 || i >= all.length) return select(current && all.includes(current) ? current : null);
      if (!takenByOther(all[i])) return select(all[i]);
    }
  }

  async function decideCurrent(decision) {
    if (!current) return;
    if (takenByOther(current)) { say(current.dataset.claimedBy + " is judging this alert now: pick another one"); return; }
    const path = "/api/alerts/" + encodeURIComponent(current.dataset.alertId) + "/decisions";
    let { status, data } = await api("POST", path, { decision });
    if (status === 409 && /already/.test(data.detail || "")) {
      if (!window.confirm(data.detail)) { say(data.detail); return; }
      ({ status, data } = await api("POST", path, { decision, override: true }));
    }
    if (status !== 201) { say(data.detail || ("error " + status)); return; }
    const done = current;
    const next = rows().slice(rows().indexOf(done) + 1).find((tr) => !takenByOther(tr));
    done.remove();
    say(decision + "ed: " + done.dataset.alertId.slice(0, 8));
    current = null;
    select(next || null);
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest && ev.target.closest("input, textarea, select")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const actions = { j: () => step(1), k: () => step(-1), c: () => decideCurrent("confirm"),
                      d: () => decideCurrent("dismiss"), e: () => decideCurrent("escalate"),
                      o: () => current && (window.location.href = current.querySelector("a").href) };
    if (actions[ev.key]) { ev.preventDefault(); actions[ev.key](); }
  });

  const source = liveSource(live);
  source.addEventListener("claim", (ev) => {
    const c = JSON.parse(ev.data);
    const tr = table.querySelector('tr.q[data-alert-id="' + CSS.escape(c.alert_id) + '"]');
    if (tr) setClaim(tr, c.user);
  });
  source.addEventListener("decision", (ev) => {
    const d = JSON.parse(ev.data);
    const tr = table.querySelector('tr.q[data-alert-id="' + CSS.escape(d.alert_id) + '"]');
    if (tr && tr !== current) tr.remove();
  });
  step(1);
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

document.addEventListener("DOMContentLoaded", () => { startFeed(); startTriage(); startVerify(); });
