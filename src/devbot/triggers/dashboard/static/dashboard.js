// devbot dashboard: the live trajectory of a run page, from its server-sent events.
// The server renders (and escapes) each step's HTML; this only places it and updates the
// run's figures as text. When the run ends the page reloads to show its diff and report.
"use strict";
(function () {
  const live = document.querySelector("[data-live]");
  if (!live) return;
  const list = document.getElementById("trajectory");
  const source = new EventSource(live.dataset.live + "?after=" + live.dataset.after);
  source.addEventListener("step", function (message) {
    const step = JSON.parse(message.data);
    if (document.getElementById("ev-" + step.seq)) return;
    list.insertAdjacentHTML("beforeend", step.html);
    const empty = document.getElementById("no-steps");
    if (empty) empty.remove();
  });
  source.addEventListener("run", function (message) {
    const run = JSON.parse(message.data);
    for (const name of Object.keys(run)) {
      for (const field of document.querySelectorAll('[data-field="' + name + '"]')) {
        field.textContent = run[name];
        if (name === "status") field.className = "status " + run[name];
      }
    }
  });
  source.addEventListener("end", function () {
    source.close();
    window.location.reload();
  });
})();
