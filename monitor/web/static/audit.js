// The audit chain check: GET /api/v1/audit/verify and say ok or broken, big.
(() => {
  "use strict";
  const holder = document.getElementById("audit");
  if (!holder) return;
  const verdict = document.getElementById("verdict");
  const facts = document.getElementById("audit-facts");
  const again = document.getElementById("audit-again");
  // The page's words in its language (monitor/web/reports.py audit_words): {name} is filled in.
  const WORDS = JSON.parse(document.getElementById("audit-words").textContent);
  const w = (key, values = {}) => WORDS[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

  async function check() {
    again.disabled = true;
    holder.dataset.state = "checking";
    verdict.className = "verdict unknown";
    verdict.textContent = w("checking");
    try {
      const response = await fetch(holder.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const result = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error((result.error && result.error.message) || `status ${response.status}`);
      holder.dataset.state = result.ok ? "ok" : "broken";
      verdict.className = `verdict ${result.ok ? "ok" : "broken"}`;
      verdict.textContent = result.ok ? w("intact") : w("broken");
      document.getElementById("audit-records").textContent = String(result.records ?? "—");
      document.getElementById("audit-head").textContent = result.head || "—";
      const broken = result.first_broken;
      document.getElementById("audit-broken").textContent =
        broken ? w("broken_record", { seq: broken.seq, kind: broken.kind, reason: broken.reason }) : w("none");
      document.getElementById("audit-when").textContent = new Date().toLocaleString(document.documentElement.lang);
      facts.hidden = false;
    } catch (error) {
      holder.dataset.state = "unavailable";
      verdict.textContent = w("failed", { reason: error.message });
      facts.hidden = true;
    } finally {
      again.disabled = false;
    }
  }

  again.addEventListener("click", check);
  check();
})();
