// A standard's SMART card with the data half: replaces the YAML-only card when the API answers.
(() => {
  "use strict";
  const holder = document.getElementById("smart");
  if (!holder) return;
  const labels = JSON.parse(document.getElementById("smart-labels").textContent);
  // The page's words in its language (monitor/web/standards.py smart_words); the findings come translated.
  const words = JSON.parse(document.getElementById("smart-words").textContent);
  const source = document.getElementById("smart-source");
  const NUMBERS = {
    observed_ratio: (v) => words.observed_ratio.replace("{}", `${(v * 100).toFixed(1)}%`),
    sustainable_target_s: (v) => words.sustainable_target_s.replace("{}", String(Math.round(v))),
    coverage: (v) => words.coverage.replace("{}", `${(v * 100).toFixed(1)}%`),
  };
  const statusWord = (status) => words.statuses[status] || status;

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function render(evaluation) {
    const grid = element("div", "smart-grid");
    for (const [name, label] of Object.entries(labels)) {
      const c = (evaluation.criteria || {})[name] || { status: "unknown", findings: [] };
      const section = element("section", `criterion status-${c.status}`);
      section.dataset.criterion = name;
      const title = element("h3", "", label + " ");
      title.appendChild(element("span", `chip status-${c.status}`, statusWord(c.status)));
      section.appendChild(title);
      const items = [...(c.findings || [])];
      for (const [key, text] of Object.entries(NUMBERS)) {
        if (typeof c[key] === "number") items.push(text(c[key]));
      }
      if (items.length) {
        const list = element("ul");
        items.forEach((f) => list.appendChild(element("li", "", f)));
        section.appendChild(list);
      }
      grid.appendChild(section);
    }
    if ((evaluation.suggestions || []).length) {
      const section = element("section", "criterion status-unknown");
      section.appendChild(element("h3", "", words.suggestions));
      const list = element("ul");
      evaluation.suggestions.forEach((s) => list.appendChild(element("li", "", s)));
      section.appendChild(list);
      grid.appendChild(section);
    }
    document.getElementById("smart-card").replaceChildren(grid);
  }

  fetch(holder.dataset.smartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(async (response) => {
      if (!response.ok) throw new Error(String(response.status));
      const evaluation = await response.json();
      render(evaluation);
      const w = evaluation.window || {};
      source.textContent = words.source.replace("{start}", String(w.from || "").slice(0, 10))
        .replace("{end}", String(w.to || "").slice(0, 10)).replace("{grade}", statusWord(evaluation.grade));
      holder.dataset.loaded = "data";
    })
    .catch(() => {
      source.textContent = words.unavailable;
      holder.dataset.loaded = "static";
    });
})();
