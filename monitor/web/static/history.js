// The history page: back-test any earlier version against the one in force.
(() => {
  "use strict";
  const history = document.getElementById("history");
  if (!history) return;
  const texts = JSON.parse(document.getElementById("version-texts").textContent || "{}");
  const { run, render, refusal, words } = window.smartmonBacktest;

  history.addEventListener("click", async (event) => {
    const button = event.target.closest('button[data-action="backtest"]');
    if (!button) return;
    const result = button.closest("section").querySelector("[data-result]");
    button.disabled = true;
    result.hidden = false;
    result.textContent = words.replaying;
    try {
      const { ok, status, body } = await run(history.dataset.file, texts[button.dataset.version]);
      if (ok) render(result, body);
      else result.textContent = refusal(body, status);
    } catch (error) {
      result.textContent = words.unreachable;
    } finally {
      button.disabled = false;
    }
  });
})();
