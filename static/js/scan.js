// The scan page: the image viewer (original / Grad-CAM / saliency, opacity, click to enlarge),
// also in content htmx swaps in, and a screen-reader announcement when the polled result
// block comes back with a new status. No inline code: the CSP allows none.
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

  // One layer at a time: its overlay image and its caption (with its colour scale).
  function showLayer(radio) {
    var viewer = document.getElementById(radio.dataset.layerFor);
    if (!viewer) { return; }
    viewer.querySelectorAll("img.overlay, .layer-note").forEach(function (element) {
      element.hidden = element.dataset.kind !== radio.value;
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[data-opacity-for]")) { applyOpacity(event.target); }
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[data-layer-for]")) { showLayer(event.target); }
  });

  // The review form asks for a class only with "Correct the class" (without JavaScript the
  // field is always there and the server says when it is needed).
  function syncVerdict(root) {
    if (!root || !root.querySelector) { return; }
    var select = root.querySelector("select[name=corrected_label]");
    if (!select) { return; }
    var chosen = root.querySelector("input[name=verdict]:checked");
    var field = select.closest(".field");
    field.hidden = !(chosen && chosen.value === "corrected") && !field.classList.contains("field-invalid");
  }

  document.addEventListener("DOMContentLoaded", function () { syncVerdict(document); });
  document.addEventListener("htmx:load", function (event) { syncVerdict(event.detail.elt); });
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[name=verdict]")) { syncVerdict(event.target.form); }
  });

  // Click to enlarge: the image fills the window; a second click or Escape puts it back.
  function setEnlarged(button, on) {
    button.classList.toggle("enlarged", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    document.body.classList.toggle("has-enlarged", on);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-enlarge]");
    if (button) { setEnlarged(button, !button.classList.contains("enlarged")); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll("[data-enlarge].enlarged").forEach(function (button) { setEnlarged(button, false); });
  });
})();
