// The scan page: opacity sliders of the heat maps. Works for content htmx swaps in too.
(function () {
  "use strict";

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
