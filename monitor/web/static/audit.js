// The audit chain check: GET /api/v1/audit/verify and say ok or broken, big.
(() => {
  "use strict";
  const holder = document.getElementById("audit");
  if (!holder) return;
  const verdict = document.getElementById("verdict");
  const facts = document.getElementById("audit-facts");
  const again = document.getElementById("audit-again");

  async function check() {
    again.disabled = true;
    holder.dataset.state = "checking";
    verdict.className = "verdict unknown";
    verdict.textContent = "Checking…";
    try {
      const response = await fetch(holder.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const result = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error((result.error && result.error.message) || `status ${response.status}`);
      holder.dataset.state = result.ok ? "ok" : "broken";
      verdict.className = `verdict ${result.ok ? "ok" : "broken"}`;
      verdict.textContent = result.ok ? "✓ The chain is intact" : "✗ The chain is broken";
      document.getElementById("audit-records").textContent = String(result.records ?? "—");
      document.getElementById("audit-head").textContent = result.head || "—";
      const broken = result.first_broken;
      document.getElementById("audit-broken").textContent =
        broken ? `record ${broken.seq} (${broken.kind}): ${broken.reason}` : "none";
      document.getElementById("audit-when").textContent = new Date().toLocaleString();
      facts.hidden = false;
    } catch (error) {
      holder.dataset.state = "unavailable";
      verdict.textContent = `The check could not be run: ${error.message}`;
      facts.hidden = true;
    } finally {
      again.disabled = false;
    }
  }

  again.addEventListener("click", check);
  check();
})();
