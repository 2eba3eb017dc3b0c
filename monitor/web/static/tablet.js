// The staff tablet (SPEC §6.1): a touch is an event, queued in localStorage first and sent as one
// batch, so nothing is lost while the network is away or the tablet restarts. Each place shows
// the server's last known case and clocks with this tablet's unsent touches laid over them.
// No text here: every string comes from the page (#tablet-strings), where translation wraps it.
(function () {
  "use strict";
  const page = document.querySelector("[data-tablet]");
  const cfg = JSON.parse(document.getElementById("tablet-config").textContent);
  const text = JSON.parse(document.getElementById("tablet-strings").textContent);
  if (!cfg.site) return;
  const rules = cfg.rules;
  const actions = document.getElementById("actions"); // the one set of buttons, in the open place
  const MAX_BATCH = 1000; // SPEC §1
  const key = (name) => "smartmon.tablet." + cfg.site + "." + name;

  function load(name, fallback) {
    try { return JSON.parse(localStorage.getItem(key(name))) || fallback; } catch (e) { return fallback; }
  }
  function save(name, value) { localStorage.setItem(key(name), JSON.stringify(value)); }
  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
  }

  // What the last poll said, until this page's first poll answers (offline: until the network is back).
  let state = load("state", {places: {}});
  let queue = load("queue", []);       // touches not yet accepted by the monitor, in touch order
  let recent = [];                     // accepted, but not yet in a state read since
  let offset = state.now ? Date.parse(state.now) - Date.now() : 0; // the monitor's clock minus ours
  let sending = false;
  let online = navigator.onLine;
  let note = "";

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  const localFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: cfg.timezone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
  function siteLocal(date) { // 2026-11-24T18:02:05 in the site's timezone
    const p = {};
    for (const part of localFormat.formatToParts(date)) p[part.type] = part.value;
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute + ":" + p.second;
  }

  // -- what a place holds: the server's case, then this tablet's touches in order ---------------
  function view(placeId) {
    const server = state.places[placeId] || null;
    let caseId = server ? server.case : null;
    let events = server ? server.events.slice() : [];
    const known = new Set(events.map((e) => e.id));
    const mine = recent.concat(queue).filter((e) => e.attrs.place === placeId && !known.has(e.id));
    for (const e of mine) {
      if (rules.closes.includes(e.type)) { caseId = null; events = []; continue; }
      if (e.case !== caseId) { caseId = e.case; events = []; }
      events.push(e);
    }
    const clocks = server && caseId === server.case ? server.clocks.filter((c) => !ended(c, mine)) : [];
    return {caseId, events, clocks, pending: queue.filter((e) => e.attrs.place === placeId).length};
  }

  // Stopped or cancelled by a touch the monitor has not judged yet (SPEC §3.2: with `repeat`, a
  // stop ends its own key's clock, a cancel without the attribute every key's).
  function ended(clock, touches) {
    const end = rules.ends[clock.standard];
    if (!end) return false;
    const from = Date.parse(clock.start) - 30000; // the monitor's default clock_skew_tolerance
    return touches.some((e) => Date.parse(e.at) >= from && (
      end.cancels.includes(e.type) && (!end.attr || e.attrs[end.attr] == null || String(e.attrs[end.attr]) === clock.key) ||
      end.stops.includes(e.type) && (!end.attr || String(e.attrs[end.attr]) === clock.key)));
  }

  // `repeat: each` standards: a start takes the place's next order number, a stop the oldest open one.
  function correlation(type, events) {
    const attrs = {};
    for (const r of rules.repeats) {
      const started = events.filter((e) => r.starts.includes(e.type) && e.attrs[r.attr] != null).map((e) => e.attrs[r.attr]);
      if (r.starts.includes(type)) {
        attrs[r.attr] = started.reduce((most, v) => Math.max(most, Number(v) || 0), 0) + 1;
      } else if (r.stops.includes(type)) {
        const stopped = new Set(events.filter((e) => r.stops.includes(e.type)).map((e) => String(e.attrs[r.attr])));
        const open = started.find((v) => !stopped.has(String(v)));
        if (open != null) attrs[r.attr] = open;
      }
    }
    return attrs;
  }

  // PLACE/<site-local start time>, with -2, -3 … when this place had a visit begun in the same second.
  function newCase(placeId, now) {
    const base = placeId + "/" + siteLocal(now);
    const taken = new Set(recent.concat(queue).map((e) => e.case));
    taken.add(load("opened." + placeId, ""));
    let caseId = base;
    for (let n = 2; taken.has(caseId); n++) caseId = base + "-" + n;
    save("opened." + placeId, caseId);
    return caseId;
  }

  function record(placeId, type) {
    const now = new Date();
    const current = view(placeId);
    let caseId = current.caseId;
    if (!caseId) {
      if (!rules.opens.includes(type)) { note = text.no_case; render(); return; }
      caseId = newCase(placeId, now);
    }
    const attrs = type === rules.free ? {} : correlation(type, current.events);
    attrs.place = placeId;
    const event = {id: uuid(), case: caseId, type: type, at: now.toISOString(), site: cfg.site, attrs: attrs};
    const staff = document.getElementById("staff");
    if (staff && staff.value) event.staff = staff.value;
    queue.push(event);
    save("queue", queue); // before anything else: a reload or a crash now keeps the touch
    note = "";
    render();
    flush();
  }

  // -- the network ------------------------------------------------------------------------------
  function setOnline(value) {
    online = value && navigator.onLine;
    page.dataset.network = online ? "online" : "offline";
    document.getElementById("offline").hidden = online;
  }

  async function flush() {
    if (sending || !queue.length) return;
    sending = true;
    const batch = queue.slice(0, MAX_BATCH);
    note = say(text.sending, {n: batch.length});
    renderStatus();
    try {
      const response = await fetch(cfg.events_url, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(batch),
        headers: {"Content-Type": "application/json", "Accept": "application/json"}});
      if (response.status === 401 || response.status === 403) {
        note = say(text.signed_out, {n: queue.length});
      } else if (response.status === 202 || response.status === 400 || response.status === 413 || response.status === 422) {
        // Answered: stored, a duplicate of a stored one, or dead-lettered with its reason. Either way
        // the monitor has it and a resend could only be a duplicate.
        const body = await response.json().catch(() => ({}));
        const refused = (body.rejected || (body.error && body.error.details && body.error.details.rejected) || []).length;
        const ids = new Set(batch.map((e) => e.id));
        queue = queue.filter((e) => !ids.has(e.id));
        save("queue", queue);
        recent = recent.concat(batch.map((e) => Object.assign({}, e, {sentAt: Date.now()})));
        note = refused ? say(text.refused, {n: refused}) : "";
        setOnline(true);
      } else {
        note = "";
      }
    } catch (e) {
      setOnline(false);
      note = "";
    }
    sending = false;
    render();
    if (online) await poll(); // which sends what was touched meanwhile
  }

  let newestAsked = 0;
  async function poll() {
    const asked = Date.now();
    newestAsked = Math.max(newestAsked, asked);
    try {
      const response = await fetch(cfg.state_url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (response.status === 401 || response.status === 403) {
        note = say(text.signed_out, {n: queue.length});
        setOnline(true);
      } else if (response.ok) {
        const answer = await response.json();
        // Polls overlap (the timer and one after each send): an answer to an older question than the
        // newest asked may predate a send whose touches `recent` no longer holds.
        if (asked < newestAsked) return;
        state = answer;
        offset = Date.parse(state.now) - Date.now();
        save("state", state);
        recent = recent.filter((e) => e.sentAt >= asked);
        setOnline(true);
        if (queue.length) flush();
      }
    } catch (e) {
      setOnline(false);
    }
    render();
  }

  // -- drawing ----------------------------------------------------------------------------------
  function countdown(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function clockItem(clock, now) {
    const li = document.createElement("li");
    li.dataset.clock = clock.standard;
    li.dataset.standard = clock.standard;
    if (clock.key) li.dataset.key = clock.key;
    const name = document.createElement("span");
    name.className = "what";
    name.textContent = clock.key ? say(text.order, {clock: clock.name, key: clock.key}) : clock.name;
    const left = document.createElement("span");
    left.className = "left";
    left.dataset.field = "countdown";
    if (clock.state === "paused" || !clock.deadline) {
      li.dataset.look = "paused";
      left.textContent = text.paused;
    } else {
      const remaining = Date.parse(clock.deadline) - now;
      li.dataset.look = remaining < 0 ? "breached" : (clock.warn_at && now >= Date.parse(clock.warn_at) ? "warning" : "ok");
      left.textContent = remaining < 0 ? say(text.late, {time: countdown(remaining)}) : countdown(remaining);
    }
    li.append(name, left);
    return li;
  }

  function renderStatus() {
    const status = document.getElementById("status");
    status.textContent = note || (queue.length ? say(text.waiting, {n: queue.length}) : "");
    page.dataset.queue = String(queue.length);
  }

  function render() {
    const now = Date.now() + offset;
    for (const tile of document.querySelectorAll("[data-place]")) {
      const v = view(tile.dataset.place);
      tile.dataset.case = v.caseId || "";
      tile.querySelector('[data-field="case"]').textContent = v.caseId || text.free;
      tile.querySelector('[data-field="pending"]').textContent = v.pending ? say(text.waiting, {n: v.pending}) : "";
      const list = tile.querySelector('[data-field="clocks"]');
      list.replaceChildren(...v.clocks.map((c) => clockItem(c, now)));
      tile.dataset.look = ["breached", "warning"].find((look) => list.querySelector('[data-look="' + look + '"]')) || "";
      if (actions.parentElement === tile) {
        for (const button of actions.querySelectorAll("button[data-event]")) {
          button.disabled = !v.caseId && !rules.opens.includes(button.dataset.event);
        }
        actions.querySelector('[data-action="free"]').hidden = !v.caseId;
      }
    }
    renderStatus();
  }

  // -- wiring -----------------------------------------------------------------------------------
  document.getElementById("places").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const tile = button.closest("[data-place]");
    if (button.dataset.action === "open") {
      const opening = tile.dataset.open !== "true";
      for (const other of document.querySelectorAll('[data-place][data-open="true"]')) {
        other.dataset.open = "false";
        other.querySelector('[data-action="open"]').setAttribute("aria-expanded", "false");
      }
      tile.dataset.open = String(opening);
      button.setAttribute("aria-expanded", String(opening));
      // Right under the place's name, above its countdowns: a clock that appears or ends must not
      // move the buttons under a finger.
      if (opening) button.after(actions);
      actions.hidden = !opening;
      render();
    } else if (button.dataset.action === "free") {
      record(tile.dataset.place, rules.free);
    } else if (button.dataset.event) {
      record(tile.dataset.place, button.dataset.event);
    }
  });
  const staff = document.getElementById("staff");
  if (staff) {
    staff.value = load("staff", "");
    staff.addEventListener("change", () => save("staff", staff.value));
  }
  window.addEventListener("online", () => { setOnline(true); poll(); });
  window.addEventListener("offline", () => setOnline(false));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.worker_url, {scope: "/tablet"})
      .then(() => navigator.serviceWorker.ready)
      .then(() => { page.dataset.offlineReady = "true"; })
      .catch(() => { page.dataset.offlineReady = "false"; });
  }

  setOnline(navigator.onLine);
  render();
  setInterval(render, 1000);
  setInterval(poll, cfg.poll_seconds * 1000);
  poll();
})();
