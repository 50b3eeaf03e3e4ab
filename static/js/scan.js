// The scan page: opacity sliders of the heat maps (also in content htmx swaps in), and a
// screen-reader announcement when the polled result block comes back with a new status.
(function () {
  "use strict";

  var lastStatus = null;

  function announceStatus(block) {
    var announcer = document.getElementById("status-announcer");
    if (!announcer || !block || block.id !== "scan-result") { return; }
    if (lastStatus !== null && block.dataset.status !== lastStatus) {
      announcer.textContent = block.dataset.statusText;
    }
    lastStatus = block.dataset.status;
  }

  document.addEventListener("DOMContentLoaded", function () { announceStatus(document.getElementById("scan-result")); });
  document.addEventListener("htmx:load", function (event) { announceStatus(event.detail.elt); });

  function applyOpacity(slider) {
    var target = document.getElementById(slider.dataset.opacityFor);
    if (!target) { return; }
    target.querySelectorAll("img.overlay").forEach(function (img) {
      img.style.opacity = String(slider.value / 100);
    });
    slider.setAttribute("aria-valuetext", slider.value + " percent");
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[data-opacity-for]")) { applyOpacity(event.target); }
  });
})();
