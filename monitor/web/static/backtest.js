// Back-test a standards file's text against the version in force (POST /api/v1/standards/backtest)
// and draw proposed vs current compliance per standard. Shared by the editor and the history page;
// the words come in the page's language from the #backtest-words block.
(() => {
  "use strict";
  const DAYS = 28;
  const WORDS = JSON.parse(document.getElementById("backtest-words").textContent);
  const say = (template, values = {}) => template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  const pct = (c) => (c && c.compliance !== null && c.compliance !== undefined ? `${(c.compliance * 100).toFixed(1)} %` : "—");
  const counts = (c) => (c ? say(WORDS.counts, { met: c.met, missed: c.missed, open: c.breached, cancelled: c.cancelled })
    : WORDS.new_standard);

  function cell(row, text, name) {
    const td = document.createElement("td");
    td.textContent = text;
    if (name) td.dataset.field = name;
    row.appendChild(td);
    return td;
  }

  async function run(file, text) {
    const response = await fetch(`/api/v1/standards/backtest?file=${encodeURIComponent(file)}&days=${DAYS}`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/yaml", Accept: "application/json" }, body: text,
    });
    let body = {};
    try { body = await response.json(); } catch (error) { /* keep {} */ }
    return { ok: response.ok, status: response.status, body };
  }

  function render(container, body) {
    container.replaceChildren();
    const title = document.createElement("p");
    title.className = "backtest-title";
    title.textContent = say(WORDS.title, { days: DAYS, from: body.window.from, to: body.window.to });
    container.appendChild(title);
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const label of WORDS.headings) {
      const th = document.createElement("th");
      th.textContent = label;
      head.appendChild(th);
    }
    const rows = table.createTBody();
    for (const s of body.standards) {
      const row = rows.insertRow();
      row.dataset.standard = s.standard;
      cell(row, s.standard);
      cell(row, pct(s.current), "current");
      cell(row, pct(s.proposed), "proposed");
      const before = s.current && s.current.compliance, after = s.proposed.compliance;
      const change = before === null || before === undefined || after === null ? "—"
        : say(WORDS.points, { change: `${after >= before ? "+" : ""}${((after - before) * 100).toFixed(1)}` });
      cell(row, change, "change");
      cell(row, s.truncated ? say(WORDS.first_cases, { counts: counts(s.proposed) }) : counts(s.proposed));
    }
    container.appendChild(table);
    if (!body.standards.length) title.textContent += ` ${WORDS.no_standards}`;
    container.hidden = false;
  }

  function warn(box, warnings) {
    box.replaceChildren();
    for (const text of warnings || []) {
      const p = document.createElement("p");
      p.textContent = `⚠ ${text}`;
      box.appendChild(p);
    }
    box.hidden = !(warnings && warnings.length);
  }

  // What a failed back-test or save says: the monitor's own (translated) message, else its status.
  const refusal = (body, status) => (body.error && body.error.message) || say(WORDS.refused, { status });

  window.smartmonBacktest = { run, render, warn, say, refusal, words: WORDS };
})();
