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
        scales: { y: percentAxis() },
        plugins: {
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + (c.parsed.y * 100).toFixed(1) + " %"; } } }
        }
      }
    });
  }

  function historyChart(canvas) {
    var points = series(canvas);
    if (!points.length) { return null; }
    var scans = [];
    points.forEach(function (p) { if (scans.indexOf(p.scan) < 0) { scans.push(p.scan); } });
    var models = [];
    points.forEach(function (p) { if (models.indexOf(p.model) < 0) { models.push(p.model); } });
    var labels = scans.map(function (id) {
      var first = points.find(function (p) { return p.scan === id; });
      return first.date + " (scan " + id + ")";
    });
    var datasets = models.map(function (model, i) {
      var byScan = {};
      points.forEach(function (p) { if (p.model === model) { byScan[p.scan] = p; } });
      var rows = scans.map(function (id) { return byScan[id] || null; });
      return {
        label: model,
        data: rows.map(function (p) { return p ? p.confidence : null; }),
        classes: rows.map(function (p) { return p ? p.label : ""; }),
        borderColor: MODEL_COLOURS[i % MODEL_COLOURS.length],
        pointBackgroundColor: rows.map(function (p) { return p ? CLASS_COLOURS[p.label] : "#000"; }),
        pointRadius: 6, spanGaps: true, tension: 0
      };
    });
    return new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false,
        scales: { y: percentAxis() },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (c) {
                return c.dataset.label + ": " + c.dataset.classes[c.dataIndex] + ", " + (c.parsed.y * 100).toFixed(1) + " %";
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
