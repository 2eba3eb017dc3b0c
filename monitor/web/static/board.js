// The live board: one card per clock with unresolved alerts, re-read from /board/alerts at each
// change on the API's SSE stream; clocks re-read every few seconds and counted down in between;
// one click acknowledges all of a clock's open alerts. Plain DOM, no library.
(() => {
  "use strict";

  const root = document.querySelector("[data-board]");
  if (!root) return;

  const CLOCK_REFRESH_MS = 5000;
  const STALE_AFTER_MS = 15000;          // stream down this long: say so loudly, the board is not live
  const ALARM_KEY = "smartmon.board.alarm";  // per screen: localStorage belongs to this browser
  const ALARMING = new Set(["breach", "escalation"]);
  const WORDS = JSON.parse(document.getElementById("board-strings").textContent);
  const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, name) => values[name]);
  const KIND = { warning: WORDS.warning, breach: WORDS.breach, escalation: WORDS.escalation };
  // Time since the alert fell due: for a breach that is how late the table is.
  const since = (kind, ms) => fill(kind === "breach" ? WORDS.late : WORDS.ago, { time: span(ms) });

  const site = root.dataset.site || null;
  // The site's clock, as on its cards ("due 18:02"), whatever zone the screen itself is set to.
  const siteZone = root.dataset.timezone || undefined;
  const names = JSON.parse(document.getElementById("standard-names").textContent || "{}");
  const live = document.getElementById("live");
  const stale = document.getElementById("stale");
  const toast = document.getElementById("toast");
  const nowLabel = document.getElementById("now");
  const alarmToggle = document.getElementById("alarm-toggle");
  const picker = document.getElementById("site-picker");

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
  const siteQuery = site ? `?site=${encodeURIComponent(site)}` : "";
  const field = (el, name) => el.querySelector(`[data-field="${name}"]`);
  const cards = () => [...document.querySelectorAll("#alerts [data-alert-id]")];

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

  // ---- server-rendered panels ------------------------------------------------------------
  // Fetch a fragment of our own escaped HTML and swap the element with that id; one at a time,
  // and once more afterwards when asked again meanwhile, so the last change is always shown.
  function panel(url, id, after) {
    let busy = false, again = false;
    return async function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (response.redirected && new URL(response.url).pathname === "/login") return toLogin();
        if (response.ok) {
          const holder = document.createElement("div");
          holder.innerHTML = await response.text();
          const fresh = holder.querySelector(`#${id}`);
          if (fresh) {
            document.getElementById(id).replaceWith(fresh);
            after(fresh);
            tick();
          }
        }
      } catch (error) {
        /* the stale banner tells the floor; the next change or timer tries again */
      } finally {
        busy = false;
        if (again) { again = false; refresh(); }
      }
    };
  }

  // ---- alarm on a new breach (off by default, remembered per screen) -----------------------
  let alarmOn = false;
  try { alarmOn = window.localStorage.getItem(ALARM_KEY) === "on"; } catch (error) { /* storage blocked */ }
  function showAlarmSetting() {
    alarmToggle.textContent = alarmOn ? WORDS.alarm_on : WORDS.alarm_off;
    alarmToggle.setAttribute("aria-pressed", String(alarmOn));
    document.body.dataset.alarm = alarmOn ? "on" : "off";
  }
  alarmToggle.addEventListener("click", () => {
    alarmOn = !alarmOn;
    try { window.localStorage.setItem(ALARM_KEY, alarmOn ? "on" : "off"); } catch (error) { /* this page only */ }
    showAlarmSetting();
  });
  showAlarmSetting();

  let audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.6);
    } catch (error) { /* no audio on this screen: the flash still shows */ }
  }
  function alarm() {
    document.body.dataset.alarms = String(Number(document.body.dataset.alarms || 0) + 1);
    document.body.classList.remove("flash");
    void document.body.offsetWidth;        // restart the animation
    document.body.classList.add("flash");
    beep();
  }

  // Clocks already past their deadline when seen, so only a clock newly breaching sounds (once,
  // not again when it escalates).
  const clockOf = (el) => `${el.dataset.standard}|${el.dataset.case}|${el.dataset.key}`;
  const seen = new Set(cards().filter((el) => ALARMING.has(el.dataset.kind)).map(clockOf));
  const refreshAlerts = panel(`/board/alerts${siteQuery}`, "alerts-panel", () => {
    let fresh = false;
    for (const el of cards()) {
      if (!ALARMING.has(el.dataset.kind) || seen.has(clockOf(el))) continue;
      seen.add(clockOf(el));
      fresh = fresh || el.dataset.state === "open";
    }
    if (fresh && alarmOn) alarm();
  });

  // ---- acknowledging -----------------------------------------------------------------------
  async function acknowledge(button) {
    const el = button.closest("[data-alert-id]");
    const ids = (el.dataset.openIds || "").split(" ").filter(Boolean);
    const what = fill(WORDS.ack_what, { kind: KIND[el.dataset.kind] || el.dataset.kind,
      standard: names[el.dataset.standard] || el.dataset.standard, case: field(el, "case").textContent });
    // One click acknowledges every open alert of the clock (SPEC §6.1); Cancel leaves them open.
    const answer = window.prompt(`${what}\n\n${WORDS.ack_prompt}`, "");
    if (answer === null) {
      say(WORDS.not_acked);
      return;
    }
    const note = answer.trim();
    button.disabled = true;
    const failures = [];
    for (const id of ids) {
      try {
        const response = await fetch(`/api/v1/alerts/${encodeURIComponent(id)}/ack`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(note ? { note } : {}),
        });
        if (response.status === 401) return toLogin();
        // 409: it resolved or was acknowledged meanwhile; nothing left to do for it.
        if (!response.ok && response.status !== 409) {
          let message = fill(WORDS.refused, { status: response.status });
          try { message = (await response.json()).error.message || message; } catch (error) { /* not JSON */ }
          failures.push(message);
        }
      } catch (error) {
        failures.push(WORDS.unreachable);
      }
    }
    button.disabled = false;
    if (failures.length) say(`${failures[0]} ${WORDS.partly}`);
    refreshAlerts();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest('#alerts button[data-action="ack"]');
    if (button && !button.disabled) acknowledge(button);
  });

  if (picker) {
    picker.addEventListener("change", () => picker.form.submit());
  }

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
      const wasLost = lostSince !== null;
      lostSince = null;
      setLive("open", WORDS.live);
      if (wasLost) { refreshAlerts(); refreshClocks(); }
    });
    source.addEventListener("alert", (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      const a = JSON.parse(event.data);
      if (site && a.site !== site) return;
      refreshAlerts();
      // An alert opening or closing means a clock changed state or stopped.
      refreshClocksSoon();
    });
    source.addEventListener("error", async () => {
      lostSince = lostSince || Date.now();
      setLive("lost", WORDS.reconnecting);
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
  const swapClocks = panel(`/board/clocks${siteQuery}`, "clocks", (fresh) => learnServerTime(fresh.dataset.serverNow));
  async function refreshClocks() {
    clearTimeout(clockTimer);
    await swapClocks();
    clockTimer = setTimeout(refreshClocks, CLOCK_REFRESH_MS);
  }

  let soon = null;
  function refreshClocksSoon() {
    clearTimeout(soon);
    soon = setTimeout(refreshClocks, 300);
  }

  // ---- every second ------------------------------------------------------------------------
  function tick() {
    const t = now();
    if (nowLabel) nowLabel.textContent = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: siteZone });
    for (const el of cards()) {
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
      field(el, "left").textContent = left < 0 ? fill(WORDS.late, { time: span(left) }) : span(left);
    }
    stale.hidden = !(lostSince && Date.now() - lostSince > STALE_AFTER_MS);
    document.body.classList.toggle("stale", !stale.hidden);
  }

  tick();
  setInterval(tick, 1000);
  connect();
  clockTimer = setTimeout(refreshClocks, CLOCK_REFRESH_MS);
})();
