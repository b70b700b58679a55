/* KAM dashboard charts: draws every <canvas data-chart="..."> from the JSON its data-source names.
 * No inline script: data comes from Django's json_script. After drawing, the canvas gets
 * data-chart-ready="true" and data-chart-points="<n>" so tests (and people) can see it worked. */
(function () {
  "use strict";

  var COLORS = {
    sales: "#2563eb",
    purchases: "#0d9488",
    returns: "#dc2626",
    grid: "rgba(15, 23, 42, 0.08)",
    text: "#475569",
  };

  function readData(canvas) {
    var source = document.getElementById(canvas.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function money(value) {
    return new Intl.NumberFormat(document.documentElement.lang || undefined, {
      maximumFractionDigits: 0,
    }).format(value);
  }

  function revenueChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Sales", data: data.sales, backgroundColor: COLORS.sales, borderRadius: 3 },
          { label: "Purchases", data: data.purchases, backgroundColor: COLORS.purchases, borderRadius: 3 },
          { label: "Returns and credit notes", data: data.returns, backgroundColor: COLORS.returns, borderRadius: 3 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { color: COLORS.text, boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (ctx) { return ctx.dataset.label + ": " + money(ctx.parsed.y); },
            },
          },
        },
        scales: {
          x: { grid: { display: false }, ticks: { color: COLORS.text, maxRotation: 0, autoSkip: true } },
          y: { grid: { color: COLORS.grid }, ticks: { color: COLORS.text, callback: money } },
        },
      },
    });
  }

  var BUILDERS = { revenue: revenueChart };

  function draw(root) {
    if (!window.Chart) return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.chartReady === "true") return;
      var build = BUILDERS[canvas.dataset.chart];
      var data = readData(canvas);
      if (!build || !data) return;
      var chart = build(canvas, data);
      var points = chart.data.datasets.reduce(function (n, ds) {
        return n + ds.data.filter(function (v) { return v !== 0 && v !== null; }).length;
      }, 0);
      canvas.dataset.chartPoints = String(points);
      canvas.dataset.chartReady = "true";
    });
  }

  window.KamCharts = { draw: draw, builders: BUILDERS };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(); });
  } else {
    draw();
  }
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
