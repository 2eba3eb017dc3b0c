// Compliance: fetch the report JSON (SPEC §6) and draw one bar chart per standard as inline SVG.
(() => {
  "use strict";
  const holder = document.getElementById("report");
  if (!holder) return;
  const status = document.getElementById("report-status");
  const body = document.getElementById("report-body");
  const SVG = "http://www.w3.org/2000/svg";
  // The page's words in its language (monitor/web/reports.py report_words): {name} is filled in.
  const WORDS = JSON.parse(document.getElementById("report-words").textContent);
  const w = (key, values = {}) => WORDS[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  const STATS = new Set(["met", "missed", "breached", "cancelled", "data_gap", "compliance", "mean_s", "p50_s",
                         "p90_s", "p95_s", "max_s", "goal_met"]);
  const W = 800, LABEL = 190, ROW = 28, TOP = 24;

  const el = (tag, className, text) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const pct = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(1)} %`);
  const secs = (s) => (s === null || s === undefined ? "—" : s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);
  const groupLabel = (row) => Object.entries(row).filter(([k]) => !STATS.has(k)).map(([, v]) => v ?? "—").join(" · ") || w("whole_period");

  function chart(standard) {
    const rows = standard.rows || [];
    const height = TOP + ROW * Math.max(rows.length, 1) + 10;
    const scale = (r) => LABEL + (W - LABEL - 60) * r;
    const figure = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img",
                                "aria-label": w("compliance_of", { standard: standard.standard }) });
    for (const r of [0, 0.25, 0.5, 0.75, 1]) {
      figure.appendChild(svg("line", { class: "grid", x1: scale(r), x2: scale(r), y1: TOP - 6, y2: height - 6 }));
      figure.appendChild(svg("text", { x: scale(r), y: 14, "text-anchor": "middle" }, `${r * 100} %`));
    }
    rows.forEach((row, i) => {
      const y = TOP + i * ROW;
      figure.appendChild(svg("text", { x: 4, y: y + 15 }, groupLabel(row).slice(0, 28)));
      const value = row.compliance;
      const kind = value === null || value === undefined ? "none" : row.goal_met ? "good" : "bad";
      const bar = svg("rect", { class: `bar-${kind}`, x: LABEL, y, height: ROW - 8, rx: 3,
                                width: Math.max(value ? scale(value) - LABEL : 0, 2) });
      bar.appendChild(svg("title", {}, w("bar_title", { group: groupLabel(row), share: pct(value), met: row.met, missed: row.missed, breached: row.breached })));
      figure.appendChild(bar);
      figure.appendChild(svg("text", { x: (value ? scale(value) : LABEL) + 6, y: y + 15 }, pct(value)));
    });
    if (typeof standard.goal_ratio === "number") {
      const x = scale(standard.goal_ratio);
      const goal = svg("line", { class: "goal", x1: x, x2: x, y1: TOP - 6, y2: height - 6 });
      goal.appendChild(svg("title", {}, w("goal", { share: pct(standard.goal_ratio) })));
      figure.appendChild(goal);
    }
    return figure;
  }

  // A standard's name in lines of at most LINE characters, broken between words: never cut.
  const LINE = 28, LINE_HEIGHT = 15;
  function lines(text) {
    const out = [];
    for (const word of text.split(/\s+/)) {
      const last = out.length - 1;
      if (last >= 0 && (out[last] + " " + word).length <= LINE) out[last] += " " + word;
      else out.push(word);
    }
    return out;
  }

  // One bar per standard (its whole-period compliance), each with its own goal tick.
  function summary(standards) {
    const names = standards.map(({ standard }) => lines(standard.name || standard.standard));
    const tops = [];
    let bottom = TOP;
    for (const name of names) {
      tops.push(bottom);
      bottom += Math.max(ROW, name.length * LINE_HEIGHT + 13);
    }
    const height = bottom + 10;
    const scale = (r) => LABEL + (W - LABEL - 60) * r;
    const figure = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img",
                                "aria-label": w("compliance_of_all") });
    for (const r of [0, 0.25, 0.5, 0.75, 1]) {
      figure.appendChild(svg("line", { class: "grid", x1: scale(r), x2: scale(r), y1: TOP - 6, y2: height - 6 }));
      figure.appendChild(svg("text", { x: scale(r), y: 14, "text-anchor": "middle" }, `${r * 100} %`));
    }
    standards.forEach(({ standard, total }, i) => {
      const y = tops[i];
      const name = standard.name || standard.standard;
      const label = svg("text", { x: 4, y: y + 15 });
      names[i].forEach((line, n) => label.appendChild(svg("tspan", { x: 4, dy: n ? LINE_HEIGHT : 0 }, line)));
      figure.appendChild(label);
      const bar = svg("rect", { class: `bar-${total.goal_met ? "good" : "bad"}`, x: LABEL, y, height: ROW - 8, rx: 3,
                                width: Math.max(scale(total.compliance) - LABEL, 2) });
      bar.appendChild(svg("title", {}, w("total_title", { name, share: pct(total.compliance), goal: pct(standard.goal_ratio) })));
      figure.appendChild(bar);
      figure.appendChild(svg("text", { x: scale(total.compliance) + 6, y: y + 15 }, pct(total.compliance)));
      if (typeof standard.goal_ratio === "number") {
        const x = scale(standard.goal_ratio);
        figure.appendChild(svg("line", { class: "goal", x1: x, x2: x, y1: y - 3, y2: y + ROW - 5 }));
      }
    });
    return figure;
  }

  // The whole-period figures: the report's own total when it gives one, else the single row.
  function totalOf(standard) {
    const rows = standard.rows || [];
    const total = standard.total || (rows.length === 1 ? rows[0] : null);
    return total && typeof total.compliance === "number" ? total : null;
  }

  function table(standard) {
    const t = el("table");
    const head = el("tr");
    WORDS.columns
      .forEach((h, i) => head.appendChild(el("th", i ? "num" : "", h)));
    t.appendChild(el("thead")).appendChild(head);
    const tbody = t.appendChild(el("tbody"));
    for (const row of standard.rows || []) {
      const tr = el("tr");
      [groupLabel(row), row.met, row.missed, row.breached, row.cancelled, row.data_gap, pct(row.compliance),
       secs(row.mean_s), secs(row.p50_s), secs(row.p90_s), secs(row.p95_s), secs(row.max_s),
       row.goal_met === null || row.goal_met === undefined ? "—" : row.goal_met ? w("goal_met") : w("goal_not_met")]
        .forEach((v, i) => tr.appendChild(el("td", i ? "num" : "", String(v ?? "—"))));
      tbody.appendChild(tr);
    }
    return t;
  }

  fetch(holder.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(async (response) => {
      const report = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error((report.error && report.error.message) || `status ${response.status}`);
      const standards = report.standards || [];
      status.textContent = w("status", { count: standards.length, from: String(report.from).slice(0, 10),
                                         to: String(report.to).slice(0, 10) }) +
        (report.chain_head ? w("status_head", { head: String(report.chain_head).slice(0, 16) }) : "");
      const judged = standards.map((standard) => ({ standard, total: totalOf(standard) })).filter((x) => x.total);
      const idle = standards.filter((standard) => !(standard.rows || []).some((row) => typeof row.compliance === "number"));
      if (judged.length) {
        const overview = el("section", "report-standard");
        overview.appendChild(el("h2", "", w("all_standards")));
        overview.appendChild(summary(judged));
        body.appendChild(overview);
      }
      if (idle.length) {
        body.appendChild(el("p", "muted", w("idle", { names: idle.map((x) => x.name || x.standard).join(", ") })));
      }
      for (const standard of standards.filter((x) => !idle.includes(x))) {
        const section = el("section", "report-standard");
        section.dataset.standard = standard.standard;
        const versions = (standard.versions || []).join(", ");
        const title = section.appendChild(el("h2", "", standard.name || standard.standard));
        title.appendChild(el("small", "muted", ` ${standard.standard}${versions ? ` · ${w("version", { versions })}` : ""}`));
        section.appendChild(chart(standard));
        section.appendChild(table(standard));
        body.appendChild(section);
      }
      holder.dataset.loaded = "true";
    })
    .catch((error) => {
      status.textContent = w("failed", { reason: error.message });
      holder.dataset.loaded = "false";
    });
})();
