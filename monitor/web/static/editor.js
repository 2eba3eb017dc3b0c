// The standards editor: PUT the YAML with If-Match, show 422 problems by line and column, 412 conflicts;
// back-test the text against the version in force; after a save, say which version was stored.
(() => {
  "use strict";
  const form = document.getElementById("editor");
  if (!form) return;
  const area = document.getElementById("yaml");
  const status = document.getElementById("status");
  const position = document.getElementById("position");
  const problemsBox = document.getElementById("problems-box");
  const problems = document.getElementById("problems");
  const conflict = document.getElementById("conflict");
  const saveButton = document.getElementById("save");
  const warnings = document.getElementById("warnings");
  const result = document.getElementById("backtest-result");
  const { run, render, warn, say, refusal, words } = window.smartmonBacktest;
  const WORDS = JSON.parse(document.getElementById("editor-words").textContent);
  const lang = document.documentElement.lang;
  const savedAt = (iso) => new Date(iso).toLocaleString(lang, { timeZone: "UTC", dateStyle: "medium", timeStyle: "medium" });
  let version = form.dataset.version;          // the ETag we edit from: "0" for a new file
  let saved = area.value;

  function where() {
    const before = area.value.slice(0, area.selectionStart).split("\n");
    position.textContent = say(WORDS.position, { line: before.length, column: before[before.length - 1].length + 1 });
  }
  ["keyup", "click", "select", "input"].forEach((e) => area.addEventListener(e, where));

  function goTo(line, column) {
    const lines = area.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) offset += lines[i].length + 1;
    offset += Math.max(0, (column || 1) - 1);
    area.focus();
    area.setSelectionRange(offset, offset);
    // Scroll the line into view: lines are of equal height in the monospace textarea.
    const lineHeight = area.scrollHeight / Math.max(lines.length, 1);
    area.scrollTop = Math.max(0, (line - 5) * lineHeight);
    where();
  }

  function showProblems(body) {
    problems.replaceChildren();
    const details = (body.error && body.error.details) || [];
    const message = (body.error && body.error.message) || WORDS.refused;
    document.getElementById("problems-title").textContent =
      say(details.length === 1 ? WORDS.problems_one : WORDS.problems_many, { message, count: details.length });
    for (const d of details) {
      const item = document.createElement("li");
      const jump = document.createElement("button");
      jump.type = "button";
      jump.textContent = `${d.file}:${d.line}:${d.column}: ${d.message}`;
      jump.dataset.line = d.line;
      jump.addEventListener("click", () => goTo(Number(d.line) || 1, Number(d.column) || 1));
      item.appendChild(jump);
      problems.appendChild(item);
    }
    problemsBox.hidden = false;
    problemsBox.scrollIntoView({ block: "nearest" });
  }

  async function save(ifMatch) {
    saveButton.disabled = true;
    status.textContent = WORDS.saving;
    problemsBox.hidden = true;
    conflict.hidden = true;
    let response;
    try {
      response = await fetch(form.dataset.url, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/yaml", "If-Match": `"${ifMatch}"`, Accept: "application/json" },
        body: area.value,
      });
    } catch (error) {
      status.textContent = WORDS.not_saved;
      saveButton.disabled = false;
      return;
    }
    saveButton.disabled = false;
    let body = {};
    try { body = await response.json(); } catch (error) { /* keep {} */ }
    if (response.ok) {
      const was = version;
      version = String(body.version);
      form.dataset.version = version;
      saved = area.value;
      status.textContent = say(was !== "0" ? WORDS.saved_over : WORDS.saved, { version, was });
      document.getElementById("editing").textContent = say(WORDS.editing, { version });
      warn(warnings, body.warnings);
      listVersions();
      return;
    }
    status.textContent = "";
    if (response.status === 422) return showProblems(body);
    if (response.status === 412) return showConflict();
    if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); return; }
    status.textContent = refusal(body, response.status);
  }

  async function showConflict() {
    let latest = null;
    try {
      const head = await fetch(form.dataset.url, { credentials: "same-origin" });
      const tag = (head.headers.get("ETag") || "").replace(/"/g, "");
      if (tag) conflict.dataset.current = tag;
      const history = await fetch(`${form.dataset.url}/versions?limit=1`, { credentials: "same-origin" });
      latest = (await history.json()).items[0] || null;
    } catch (error) { /* the message still says what happened */ }
    document.getElementById("conflict-text").textContent = latest
      ? say(WORDS.conflict, { current: latest.version, author: WORDS.authors[latest.author] || latest.author, at: savedAt(latest.created_at), version })
      : say(WORDS.conflict_unknown, { version });
    conflict.hidden = false;
    conflict.scrollIntoView({ block: "nearest" });
  }

  async function listVersions() {
    try {
      const response = await fetch(`${form.dataset.url}/versions?limit=10000`, { credentials: "same-origin" });
      if (!response.ok) return;
      const rows = (await response.json()).items.map((v) => {
        const row = document.createElement("tr");
        row.dataset.version = v.version;
        for (const [text, cls] of [[v.version, "num"], [WORDS.authors[v.author] || v.author, ""], [savedAt(v.created_at), ""]]) {
          const td = document.createElement("td");
          td.textContent = String(text);
          if (cls) td.className = cls;
          row.appendChild(td);
        }
        return row;
      });
      document.querySelector("#versions tbody").replaceChildren(...rows);
    } catch (error) { /* the list is refreshed on the next save or reload */ }
  }

  document.getElementById("backtest").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    problemsBox.hidden = true;
    result.hidden = false;
    result.textContent = WORDS.replaying;
    try {
      const { ok, status: code, body } = await run(form.dataset.file, area.value);
      if (ok) {
        render(result, body);
        warn(warnings, body.warnings);
      } else if (code === 422) {
        result.hidden = true;
        showProblems(body);
      } else {
        result.textContent = refusal(body, code);
      }
    } catch (error) {
      result.textContent = words.unreachable;
    } finally {
      button.disabled = false;
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(version);
  });
  document.getElementById("overwrite").addEventListener("click", () => save(conflict.dataset.current || version));
  area.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save(version); }
  });
  window.addEventListener("beforeunload", (event) => {
    if (area.value !== saved) { event.preventDefault(); event.returnValue = ""; }
  });
})();
