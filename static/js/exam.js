// Exam page: the slice browser (← and → or the thumbnails, the slice number kept in the URL's
// #slice-N so a refresh or a shared link opens the same slice) and, while slices are still
// being classified, a refresh every few seconds.
(function () {
  "use strict";

  var REFRESH_MS = 3000;

  function setUp(browser) {
    var slices = browser.querySelectorAll(".slice");
    var thumbnails = browser.querySelectorAll(".thumbnail");
    var position = document.getElementById("slice-position");
    var toggle = document.getElementById("heatmap-toggle");
    var current = 0;
    if (!slices.length) { return; }

    function showHeatmap() {
      var heatmap = slices[current].querySelector(".slice-heatmap");
      var image = slices[current].querySelector(".slice-image");
      var on = Boolean(heatmap && toggle.checked);
      if (heatmap) { heatmap.hidden = !on; }
      image.hidden = on;
    }

    function show(index) {
      if (index < 0 || index >= slices.length) { return; }
      slices[current].hidden = true;
      thumbnails[current].removeAttribute("aria-current");
      current = index;
      slices[current].hidden = false;
      thumbnails[current].setAttribute("aria-current", "true");
      thumbnails[current].scrollIntoView({ block: "nearest", inline: "nearest" });
      position.textContent = "Slice " + (current + 1) + " of " + slices.length;
      history.replaceState(null, "", "#slice-" + (current + 1));
      showHeatmap();
    }

    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) { return; }
      if (event.target.matches && event.target.matches("textarea, select, input[type=text]")) { return; }
      if (event.key === "ArrowLeft") { show(current - 1); event.preventDefault(); }
      if (event.key === "ArrowRight") { show(current + 1); event.preventDefault(); }
    });
    document.addEventListener("click", function (event) {
      var control = event.target.closest("[data-step], [data-go]");
      if (!control) { return; }
      event.preventDefault();
      show(control.dataset.step ? current + Number(control.dataset.step) : Number(control.dataset.go) - 1);
    });
    toggle.addEventListener("change", showHeatmap);

    var asked = /^#slice-(\d+)$/.exec(window.location.hash);
    if (asked) { show(Number(asked[1]) - 1); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var browser = document.getElementById("slice-browser");
    if (browser) { setUp(browser); }
    var summary = document.getElementById("exam-summary");
    if (summary && Number(summary.dataset.pending) > 0) {
      window.setTimeout(function () { window.location.reload(); }, REFRESH_MS);
    }
  });
})();
