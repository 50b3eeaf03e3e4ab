// Chart.js charts of the portal. Each canvas carries its data as JSON in data-series: no
// inline code, so the CSP needs no unsafe-inline (and htmx, which drops <script> elements
// from swapped content, keeps it). Charts in content that htmx swaps in are drawn on htmx:load.
(function () {
  "use strict";

  // Same hues as the .label-* classes of portal.css.
  var CLASS_COLOURS = {
    "Glioma": "#b3261e", "Meningioma": "#7a4bc2", "No tumour": "#1b6e3a", "Pituitary tumour": "#b35c00",
    "glioma": "#b3261e", "meningioma": "#7a4bc2", "notumor": "#1b6e3a", "pituitary": "#b35c00"
  };
  var MODEL_COLOURS = ["#1f5fa8", "#6b7785"];

  function series(canvas) {
    return canvas.dataset.series ? JSON.parse(canvas.dataset.series) : [];
  }

  // As the pages write a probability (scans.templatetags.portal.certainty): whole percents,
  // never "100 %" or "0 %".
  function certainty(v) {
    if (v > 0.99) { return "> 99 %"; }
    if (v < 0.01) { return "< 1 %"; }
    return Math.min(99, Math.max(1, Math.round(v * 100))) + " %";
  }

  function percentAxis() {
    return { min: 0, max: 1, ticks: { callback: function (v) { return Math.round(v * 100) + " %"; } } };
  }

  function probabilityChart(canvas) {
    var models = series(canvas);
    if (!models.length) { return null; }
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: models[0].labels,
        datasets: models.map(function (s, i) {
          return { label: s.model, data: s.values, backgroundColor: MODEL_COLOURS[i % MODEL_COLOURS.length] };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false,
        // No animation: a bar growing from zero shows numbers the model never gave.
        animation: false,
        scales: { y: percentAxis() },
        plugins: {
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + certainty(c.parsed.y); } } }
        }
      }
    });
  }

  // Final results on the chart: the classes' hues, and amber for "uncertain".
  var RESULT_COLOURS = {
    glioma: "#b3261e", meningioma: "#7a4bc2", notumor: "#1b6e3a", pituitary: "#b35c00", uncertain: "#9a6700"
  };

  // One series per final result, no line between points (a line would join different
  // classes), on a real time axis. Undated exams sit at their upload time, drawn hollow.
  function historyChart(canvas) {
    var points = series(canvas);
    if (!points.length) { return null; }
    var results = [];
    points.forEach(function (p) { if (results.indexOf(p.result) < 0) { results.push(p.result); } });
    var datasets = results.map(function (result) {
      var mine = points.filter(function (p) { return p.result === result; });
      var colour = RESULT_COLOURS[result] || "#55606b";
      return {
        label: mine[0].name,
        data: mine.map(function (p) { return { x: p.x, y: p.y, point: p }; }),
        showLine: false,
        clip: false,
        borderColor: colour,
        borderWidth: 2,
        backgroundColor: mine.map(function (p) { return p.dated ? colour : "#ffffff"; }),
        pointStyle: mine.map(function (p) { return p.changed ? "rectRot" : "circle"; }),
        pointRadius: 7,
        pointHoverRadius: 9
      };
    });
    var times = points.map(function (p) { return new Date(p.x).getTime(); });
    var day = 24 * 3600 * 1000;
    var first = Math.min.apply(null, times);
    var last = Math.max.apply(null, times);
    var margin = Math.max(day, (last - first) * 0.05);
    return new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false,
        animation: false,
        layout: { padding: { top: 12, right: 12 } },
        scales: {
          x: {
            type: "time", min: first - margin, max: last + margin,
            time: { tooltipFormat: "yyyy-MM-dd HH:mm", displayFormats: { day: "yyyy-MM-dd", week: "yyyy-MM-dd", month: "yyyy-MM", hour: "MM-dd HH:mm" } },
            ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 }
          },
          y: Object.assign(percentAxis(), { title: { display: true, text: "model's probability for the result" } })
        },
        plugins: {
          // The page's own legend names the colours and the point shapes.
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) {
                var p = items[0].raw.point;
                return p.dated ? p.x + " (acquired)" : p.x.slice(0, 16).replace("T", " ") + " (uploaded; no acquisition date)";
              },
              label: function (c) {
                var p = c.raw.point;
                var scans = p.scans.length > 1 ? p.scans.length + " slices (scans " + p.scans.join(", ") + ")" : "scan " + p.scans[0];
                return p.name + (p.changed ? " (set by a reviewer)" : "") + ": model's probability " + p.certainty + " · " + scans;
              }
            }
          }
        }
      }
    });
  }

  var KINDS = { probabilities: probabilityChart, history: historyChart };

  function drawCharts(root) {
    if (typeof Chart === "undefined" || !root.querySelectorAll) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (Chart.getChart(canvas)) { return; }
      var draw = KINDS[canvas.dataset.chart];
      if (draw) { draw(canvas); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (event) { drawCharts(event.detail.elt); });
})();
