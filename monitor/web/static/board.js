// The live board: alerts over the API's SSE stream, clocks re-read every few seconds and counted
// down in between, one-click acknowledge. Plain DOM, no library; text is always set as text.
(() => {
  "use strict";

  const root = document.querySelector("[data-board]");
  if (!root) return;

  const CLOCK_REFRESH_MS = 5000;
  const DENSE_FROM = 4;                  // more alerts than this: smaller cards, so all fit on the screen
  const STALE_AFTER_MS = 15000;          // stream down this long: say so loudly, the board is not live
  const LIVE = new Set(["open", "acknowledged"]);
  const RANK = { escalation: 0, breach: 1, warning: 2 };
  const KIND = { warning: "Warning", breach: "Breach", escalation: "Escalation" };
  // Time since the alert fell due: for a breach that is how late the table is.
  const since = (kind, ms) => (kind === "breach" ? `late ${span(ms)}` : `${span(ms)} ago`);

  const site = root.dataset.site || null;
  const list = document.getElementById("alerts");
  const template = document.getElementById("alert-template");
  const names = JSON.parse(document.getElementById("standard-names").textContent || "{}");
  const live = document.getElementById("live");
  const stale = document.getElementById("stale");
  const toast = document.getElementById("toast");
  const nowLabel = document.getElementById("now");

  // The wall screen's clock may be off by minutes; count against the server's.
  let offset = 0;
  const learnServerTime = (iso) => {
    const server = Date.parse(iso);
    if (!Number.isNaN(server)) offset = server - Date.now();
  };
  learnServerTime(root.dataset.serverNow);
  const now = () => Date.now() + offset;

  let lastEventId = root.dataset.lastSeq || "0";
  let lostSince = null;
  let source = null;

  // ---- small helpers ---------------------------------------------------------------------
  // As case_path in format.py: readable segments, but an id with an empty, "." or ".." segment
  // (../../logout, /x) is encoded whole, or the browser would resolve it to another page.
  const caseHref = (c) => {
    const segments = c.split("/");
    const whole = segments.some((s) => s === "" || s === "." || s === "..");
    return "/cases/" + (whole ? encodeURIComponent(c) : segments.map(encodeURIComponent).join("/"));
  };
  const field = (el, name) => el.querySelector(`[data-field="${name}"]`);

  function span(ms) {
    // 0:45, 12:03, 1:02:03, 2 d 3 h
    const total = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(total / 86400), h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60), s = total % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (d) return `${d} d ${h} h`;
    if (h) return `${h}:${two(m)}:${two(s)}`;
    return `${m}:${two(s)}`;
  }

  let toastTimer = null;
  function say(message) {
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, 8000);
  }

  function toLogin() {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }

  // ---- alerts ----------------------------------------------------------------------------
  function fill(el, a) {
    el.dataset.alertId = a.id;
    el.dataset.kind = a.kind;
    el.dataset.case = a.case;
    el.dataset.standard = a.standard;
    el.dataset.state = a.state;
    el.dataset.site = a.site || "";
    el.dataset.dueAt = a.due_at || "";
    el.className = `alert kind-${a.kind} state-${a.state}`;
    field(el, "kind").textContent = KIND[a.kind] || a.kind;
    field(el, "standard-name").textContent = names[a.standard] || a.standard;
    const link = field(el, "case");
    link.textContent = a.case;
    link.href = caseHref(a.case);
    field(el, "site").textContent = a.site || "";
    field(el, "to").textContent = a.to || "the floor";
    const ack = field(el, "ack");
    ack.hidden = a.state !== "acknowledged";
    ack.textContent = a.state === "acknowledged" ? `✓ ${a.acknowledged_by || ""}${a.note ? `: “${a.note}”` : ""}` : "";
    const button = el.querySelector('button[data-action="ack"]');
    if (button) {
      button.hidden = a.state !== "open";
      button.disabled = false;
    }
  }

  function rank(el) {
    return [el.dataset.state === "open" ? 0 : 1, RANK[el.dataset.kind] ?? 9, el.dataset.dueAt];
  }

  function sortAlerts() {
    const items = [...list.children];
    items.sort((x, y) => {
      const a = rank(x), b = rank(y);
      return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
    });
    items.forEach((el) => list.appendChild(el));
    document.getElementById("alert-count").textContent = String(items.length);
    list.classList.toggle("dense", items.length > DENSE_FROM);
    document.getElementById("no-alerts").hidden = items.length > 0;
  }

  function findAlert(id) {
    return [...list.children].find((el) => el.dataset.alertId === id) || null;
  }

  function apply(a) {
    if (site && a.site !== site) return;
    let el = findAlert(a.id);
    if (LIVE.has(a.state)) {
      if (!el) {
        el = template.content.firstElementChild.cloneNode(true);
        list.appendChild(el);
      }
      fill(el, a);
    } else if (el) {
      el.remove();
    }
    sortAlerts();
    tick();
    // An alert opening or closing means a clock changed state or stopped.
    refreshClocksSoon();
  }

  async function acknowledge(button) {
    const el = button.closest("[data-alert-id]");
    const what = `${KIND[el.dataset.kind] || el.dataset.kind}: ${names[el.dataset.standard] || el.dataset.standard}, ${el.dataset.case}`;
    // One click acknowledges (SPEC §6.1). The note is optional: Cancel, or a kiosk that blocks
    // dialogs, acknowledges without one.
    const answer = window.prompt(`${what}\n\nAcknowledging. Note for the team (optional), e.g. “on my way”:`, "");
    const note = (answer || "").trim();
    button.disabled = true;
    let response;
    try {
      response = await fetch(`/api/v1/alerts/${encodeURIComponent(el.dataset.alertId)}/ack`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(note ? { note } : {}),
      });
    } catch (error) {
      button.disabled = false;
      say("Could not reach the monitor; the alert is not acknowledged. Try again.");
      return;
    }
    if (response.ok) {
      apply(await response.json());
      return;
    }
    button.disabled = false;
    if (response.status === 401) return toLogin();
    let message = `The monitor refused (${response.status}).`;
    try {
      message = (await response.json()).error.message || message;
    } catch (error) { /* not JSON */ }
    say(message);
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest('button[data-action="ack"]');
    if (button && !button.disabled) acknowledge(button);
  });

  // ---- the stream --------------------------------------------------------------------------
  function setLive(state, text) {
    root.dataset.stream = state;
    live.dataset.state = state;
    live.textContent = text;
  }

  function connect() {
    // The first connection resumes after the last action the page was drawn with; the browser
    // then sends Last-Event-ID itself on every reconnect.
    source = new EventSource(`/api/v1/alerts/stream?last_event_id=${encodeURIComponent(lastEventId)}`);
    source.addEventListener("open", () => {
      lostSince = null;
      setLive("open", "live");
    });
    source.addEventListener("alert", (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      apply(JSON.parse(event.data));
    });
    source.addEventListener("error", async () => {
      lostSince = lostSince || Date.now();
      setLive("lost", "reconnecting…");
      if (source.readyState !== EventSource.CLOSED) return;  // the browser retries by itself
      // Closed for good (an HTTP error): signed out, or the server is down. Find out which.
      try {
        const probe = await fetch("/api/v1/alerts?limit=1", { credentials: "same-origin" });
        if (probe.status === 401) return toLogin();
      } catch (error) { /* server down: retry below */ }
      setTimeout(connect, 3000);
    });
  }

  // ---- clocks ------------------------------------------------------------------------------
  let clockTimer = null;
  let refreshing = false;

  async function refreshClocks() {
    clearTimeout(clockTimer);
    if (refreshing) return;
    refreshing = true;
    try {
      const response = await fetch("/board/clocks" + (site ? `?site=${encodeURIComponent(site)}` : ""),
                                   { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected && new URL(response.url).pathname === "/login") return toLogin();
      if (response.ok) {
        const holder = document.createElement("div");
        holder.innerHTML = await response.text();   // our own server-rendered, escaped HTML
        const fresh = holder.querySelector("#clocks");
        if (fresh) {
          document.getElementById("clocks").replaceWith(fresh);
          learnServerTime(fresh.dataset.serverNow);
          tick();
        }
      }
    } catch (error) {
      /* the stale banner tells the floor; keep trying */
    } finally {
      refreshing = false;
      clockTimer = setTimeout(refreshClocks, CLOCK_REFRESH_MS);
    }
  }

  let soon = null;
  function refreshClocksSoon() {
    clearTimeout(soon);
    soon = setTimeout(refreshClocks, 300);
  }

  // ---- every second ------------------------------------------------------------------------
  function tick() {
    const t = now();
    if (nowLabel) nowLabel.textContent = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    for (const el of list.children) {
      const due = Date.parse(el.dataset.dueAt);
      const label = field(el, "since");
      if (label) label.textContent = Number.isNaN(due) ? "" : since(el.dataset.kind, t - due);
    }
    for (const el of document.querySelectorAll("#clocks [data-clock]")) {
      const deadline = Date.parse(el.dataset.deadline);
      if (Number.isNaN(deadline)) continue;
      const left = deadline - t;
      const warnAt = Date.parse(el.dataset.warnAt);
      let look = "running";
      if (left < 0) look = "breached";
      else if (!Number.isNaN(warnAt) && t >= warnAt) look = "warning";
      el.dataset.look = look;
      field(el, "left").textContent = left < 0 ? `${span(left)} late` : span(left);
    }
    stale.hidden = !(lostSince && Date.now() - lostSince > STALE_AFTER_MS);
    document.body.classList.toggle("stale", !stale.hidden);
  }

  sortAlerts();
  tick();
  setInterval(tick, 1000);
  connect();
  clockTimer = setTimeout(refreshClocks, CLOCK_REFRESH_MS);
})();
