/* Account page forms: the override's segment list follows the chosen model. */
(function () {
  "use strict";

  function syncSegments(form) {
    const model = form.querySelector("[data-model-select]");
    const segment = form.querySelector("[data-segment-select]");
    if (!model || !segment) return;
    const label = model.options[model.selectedIndex].text;
    let firstAllowed = null;
    let currentAllowed = false;
    for (const group of segment.querySelectorAll("optgroup")) {
      const allowed = group.label === label;
      group.hidden = !allowed;
      group.disabled = !allowed;
      if (allowed) {
        firstAllowed = group.querySelector("option");
        currentAllowed = group.contains(segment.options[segment.selectedIndex]);
      }
    }
    if (!currentAllowed && firstAllowed) firstAllowed.selected = true;
  }

  function init(root) {
    for (const select of (root || document).querySelectorAll("[data-model-select]")) {
      syncSegments(select.form);
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-model-select]")) syncSegments(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
