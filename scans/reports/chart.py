"""The case-history trend chart as a PNG, drawn on the server with matplotlib (the page's
Chart.js chart cannot be put in a PDF). Imported by the worker only."""

import io
from datetime import datetime

from scans.selectors import HistoryChart

# The page's colours and marks (static/js/charts.js), so the PDF and the screen agree: undated
# exams (placed at their upload time) hollow, results a reviewer changed as diamonds.
RESULT_COLOURS = {
    "glioma": "#b3261e",
    "meningioma": "#7a4bc2",
    "notumor": "#1b6e3a",
    "pituitary": "#b35c00",
    "uncertain": "#9a6700",
}


def trend_chart_png(chart: HistoryChart, *, names: dict[str, str]) -> bytes | None:
    """One point per exam and final result: the model's probability for that result over time.
    None when there is nothing to plot."""
    if not chart.points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7.0, 2.6), dpi=150)
    try:
        for key in sorted({p["result"] for p in chart.points}):
            colour = RESULT_COLOURS.get(key, "#55606b")
            for changed, marker in ((False, "o"), (True, "D")):
                chosen = [p for p in chart.points if p["result"] == key and p["changed"] is changed]
                if not chosen:
                    continue
                axes.scatter(
                    [datetime.fromisoformat(p["x"]) for p in chosen],
                    [p["y"] for p in chosen],
                    marker=marker,
                    s=40,
                    edgecolors=colour,
                    linewidths=1.5,
                    facecolors=[colour if p["dated"] else "#ffffff" for p in chosen],
                    label=names.get(key, key) + (" (changed by reviewer)" if changed else ""),
                    zorder=3,
                )
        axes.set_ylim(0, 1.05)
        axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25 %", "50 %", "75 %", "100 %"])
        axes.set_ylabel("Model's probability\nfor the final result", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(True, color="#dddddd", linewidth=0.5, zorder=0)
        axes.legend(fontsize=7, loc="lower left", frameon=False, ncol=3)
        figure.autofmt_xdate()
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)
