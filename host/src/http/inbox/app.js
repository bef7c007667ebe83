// smsdesk web inbox: plain JavaScript over the agent API. Every text from a
// customer or a plugin is untrusted: it is only ever set with textContent.
"use strict";

const state = { token: sessionStorage.getItem("smsdesk-token") || "", me: null, current: null, tickets: [] };
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

async function api(method, path, body) {
  const init = { method, headers: { Authorization: "Bearer " + state.token } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) {
    signOut("Your token is not valid.");
    throw new Error("unauthorized");
  }
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

// --- sign in ---------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/api/v1/me");
  } catch (e) {
    $("signin-error").textContent = e.message === "unauthorized" ? "That token is not valid." : e.message;
    return;
  }
  sessionStorage.setItem("smsdesk-token", token);
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("brand").textContent = state.me.brand;
  $("whoami").textContent = state.me.name + " (" + state.me.role + ")";
  const sel = $("assignee");
  sel.replaceChildren(el("option", "Unassigned"));
  sel.firstChild.value = "";
  for (const u of state.me.users) {
    const o = el("option", u.name + " (" + u.id + ")");
    o.value = u.id;
    sel.append(o);
  }
  await loadQueue();
  listen();
}

function signOut(message) {
  sessionStorage.removeItem("smsdesk-token");
  state.token = "";
  if (state.stream) state.stream.abort();
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  $("signin-error").textContent = message || "";
}

// --- the queue ---------------------------------------------------------------

async function loadQueue() {
  const p = new URLSearchParams();
  const status = $("f-status").value, owner = $("f-owner").value, who = $("f-assignee").value, q = $("f-q").value;
  if (status) p.set("status", status);
  if (owner) p.set("owner", owner);
  if (who) p.set("assignee", who);
  if (q) p.set("q", q);
  if ($("f-overdue").checked) p.set("overdue", "true");
  const data = await api("GET", "/api/v1/tickets?" + p.toString());
  state.tickets = data.tickets;
  const list = $("queue");
  list.replaceChildren();
  for (const t of data.tickets) {
    const li = el("li");
    li.dataset.id = t.id;
    li.dataset.reference = t.reference;
    if (state.current === t.id) li.classList.add("selected");
    const head = el("div");
    head.append(el("strong", t.reference + " "), el("span", t.contact));
    const meta = el("div", null, "meta");
    meta.append(el("span", t.status, "badge"), el("span", t.priority, "badge " + t.priority));
    if (t.assignee) meta.append(el("span", "@" + t.assignee, "badge"));
    if (t.team) meta.append(el("span", t.team, "badge"));
    for (const o of t.overdue) meta.append(el("span", "overdue: " + o.replace("_", " "), "badge overdue"));
    const preview = el("div", t.last_message ? t.last_message.body : "", "preview");
    li.append(head, meta, preview);
    li.addEventListener("click", () => openTicket(t.id));
    list.append(li);
  }
}

// --- one ticket --------------------------------------------------------------

async function openTicket(id) {
  state.current = id;
  for (const li of $("queue").children) li.classList.toggle("selected", Number(li.dataset.id) === id);
  const t = await api("GET", "/api/v1/tickets/" + id);
  if (state.current !== id) return;
  $("empty").hidden = true;
  $("ticket").hidden = false;
  $("context-pane").hidden = false;
  $("t-ref").textContent = t.reference;
  $("t-contact").textContent = t.contact;
  const badges = $("t-badges");
  badges.replaceChildren(
    el("span", t.status, "badge"),
    el("span", t.owner === "human" ? "human" : "bot", "badge"),
    el("span", t.priority, "badge " + t.priority)
  );
  badges.id = "t-badges";
  badges.dataset.status = t.status;
  badges.dataset.owner = t.owner;
  if (t.assignee) badges.append(el("span", "@" + t.assignee, "badge"));
  for (const tag of t.tags) badges.append(el("span", "#" + tag, "badge tag"));
  for (const o of t.overdue) badges.append(el("span", "overdue: " + o.replace("_", " "), "badge overdue"));
  if (t.first_response_due && !t.first_human_response_at) badges.append(el("span", "first reply due " + when(t.first_response_due), "badge"));
  if (t.csat_rating) badges.append(el("span", "CSAT " + t.csat_rating + "/5", "badge"));
  $("t-reason").textContent = t.handoff_reason ? "Handed off: " + t.handoff_reason : "";
  $("priority").value = t.priority;
  $("assignee").value = t.assignee || "";

  const thread = $("thread");
  thread.replaceChildren();
  for (const m of t.messages) {
    const li = el("li", m.body, m.direction + " " + m.author);
    li.dataset.id = m.id;
    li.dataset.status = m.status;
    const meta = el("span", m.author + " · " + when(m.created_at) + (m.direction === "outbound" ? " · " + m.status + (m.error_code ? " " + m.error_code : "") : ""), "meta");
    li.append(meta);
    thread.append(li);
  }
  thread.lastElementChild && thread.lastElementChild.scrollIntoView({ block: "end" });

  const profile = $("profile");
  profile.replaceChildren();
  if (t.profile) {
    const add = (k, v) => { if (v !== null && v !== undefined && v !== "") profile.append(el("dt", k), el("dd", v)); };
    add("Name", t.profile.name);
    add("Tier", t.profile.tier);
    add("CRM id", t.profile.id);
    for (const [k, v] of t.profile.attributes || []) add(k, v);
  } else {
    profile.append(el("dd", "No CRM profile"));
  }
  const intents = $("intents");
  intents.replaceChildren(...t.intents.map((i) => el("li", i.label + " " + Math.round(i.confidence * 100) + "%")));
  $("notes").replaceChildren(...t.notes.map((n) => el("li", n.author + ": " + n.body)));
  $("trace").replaceChildren(...t.traces.map((x) => el("li", x.role + " " + x.plugin + "@" + x.version + " " + x.outcome + " " + (x.duration_us / 1000).toFixed(1) + " ms" + (x.detail ? " — " + x.detail : ""))));
  $("timeline").replaceChildren(...t.timeline.map((e) => el("li", when(e.at) + " · " + e.actor + " " + describe(e))));

  const canned = await api("GET", "/api/v1/tickets/" + id + "/canned");
  const sel = $("canned");
  sel.replaceChildren(el("option", "Canned responses…"));
  sel.firstChild.value = "";
  for (const c of canned.canned) {
    const o = el("option", c.name + (c.text ? "" : " (" + c.error + ")"));
    o.value = c.text || "";
    o.disabled = !c.text;
    sel.append(o);
  }
}

// One timeline entry in words.
function describe(e) {
  const d = e.detail || {};
  switch (e.kind) {
    case "opened": return "opened the ticket";
    case "reopened": return "reopened it (" + (d.why || "") + ")";
    case "status": return "moved it " + (d.from ? d.from + " → " : "to ") + d.to + (d.why ? " (" + d.why + ")" : "");
    case "handoff": return "handed it to people: " + d.reason + " [" + d.priority + (d.team ? ", " + d.team : "") + "]";
    case "handback": return "gave it back to the bot";
    case "takeover": return "took it over";
    case "assigned": return d.assignee ? "assigned it to " + d.assignee + (d.team ? " (" + d.team + ")" : "") : "unassigned it";
    case "tags": return "tags" + (d.added || []).map((t) => " +" + t).join("") + (d.removed || []).map((t) => " −" + t).join("");
    case "priority": return "set priority " + d.to;
    case "note": return "added a note";
    case "reply": return "replied (" + d.segments + " segment" + (d.segments === 1 ? "" : "s") + ")";
    case "csat_sent": return "sent the satisfaction survey";
    case "csat": return "rated it " + d.rating + "/5";
    default: return e.kind + " " + JSON.stringify(d);
  }
}

async function act(path, body) {
  if (!state.current) return;
  $("compose-error").textContent = "";
  try {
    await api("POST", "/api/v1/tickets/" + state.current + path, body);
    await Promise.all([openTicket(state.current), loadQueue()]);
  } catch (e) {
    $("compose-error").textContent = e.message;
  }
}

// --- the composer --------------------------------------------------------------

let counting = null;
function countSoon() {
  clearTimeout(counting);
  counting = setTimeout(async () => {
    const body = $("composer").value;
    const p = await api("POST", "/api/v1/segments", { body });
    $("counter").textContent = p.characters + " characters · " + p.segments + " segment" + (p.segments === 1 ? "" : "s") + " · " + p.encoding;
    $("counter").dataset.segments = p.segments;
    $("counter").dataset.encoding = p.encoding;
  }, 120);
}

async function send() {
  const body = $("composer").value.trim();
  if (!body) return;
  $("send").disabled = true;
  try {
    await act("/reply", { body });
    if (!$("compose-error").textContent) {
      $("composer").value = "";
      countSoon();
    }
  } finally {
    $("send").disabled = false;
  }
}

// --- live updates ----------------------------------------------------------------

async function listen() {
  const ctrl = new AbortController();
  state.stream = ctrl;
  try {
    const res = await fetch("/api/v1/events", { headers: { Authorization: "Bearer " + state.token }, signal: ctrl.signal });
    if (!res.ok) throw new Error(res.statusText);
    $("live").classList.add("on");
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        onEvent(event, data);
      }
    }
  } catch (e) {
    if (ctrl.signal.aborted) return;
  }
  $("live").classList.remove("on");
  if (state.token && !ctrl.signal.aborted) setTimeout(listen, 2000);
}

let refreshing = null;
function onEvent(event, data) {
  if (event !== "ticket" && event !== "reload") return;
  let ticket = null;
  try { ticket = JSON.parse(data).ticket; } catch (e) { /* reload */ }
  clearTimeout(refreshing);
  refreshing = setTimeout(() => {
    loadQueue();
    if (state.current && (event === "reload" || ticket === state.current)) openTicket(state.current);
  }, 100);
}

// --- wiring -----------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
  $("signout").addEventListener("click", () => signOut());
  for (const id of ["f-status", "f-owner", "f-assignee", "f-overdue"]) $(id).addEventListener("change", loadQueue);
  $("f-q").addEventListener("input", () => { clearTimeout(state.searching); state.searching = setTimeout(loadQueue, 250); });
  $("composer").addEventListener("input", countSoon);
  $("canned").addEventListener("change", () => { if ($("canned").value) { $("composer").value = $("canned").value; countSoon(); } $("canned").value = ""; });
  $("send").addEventListener("click", send);
  $("add-note").addEventListener("click", async () => { const body = $("note").value.trim(); if (body) { await act("/notes", { body }); $("note").value = ""; } });
  $("assign").addEventListener("click", () => act("/assign", { assignee: $("assignee").value || null }));
  $("round-robin").addEventListener("click", () => {
    const team = (state.tickets.find((t) => t.id === state.current) || {}).team || (state.me.teams[0] || "");
    act("/assign", { team, round_robin: true });
  });
  $("priority").addEventListener("change", () => act("/priority", { priority: $("priority").value }));
  $("add-tag").addEventListener("click", () => { const tag = $("tag").value.trim(); if (tag) { act("/tags", { add: [tag] }); $("tag").value = ""; } });
  $("pending").addEventListener("click", () => act("/status", { status: "pending" }));
  $("snooze").addEventListener("click", () => act("/status", { status: "snoozed", snooze_minutes: 60 }));
  $("resolve").addEventListener("click", () => act("/status", { status: "resolved" }));
  $("reopen").addEventListener("click", () => act("/status", { status: "open" }));
  $("handback").addEventListener("click", () => act("/handback"));
  if (state.token) signIn(state.token);
});
