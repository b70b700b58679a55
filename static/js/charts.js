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

  /* The page's language (<html lang>, set from the browser's Accept-Language by Django), so the
   * charts format numbers and dates as the rest of the page does. */
  function lang() { return document.documentElement.lang || undefined; }

  var formats = {};
  function formatter(key, make) {
    if (!formats[key]) formats[key] = make(lang());
    return formats[key];
  }

  function money(value) {
    return formatter("money0", function (l) {
      return new Intl.NumberFormat(l, { maximumFractionDigits: 0 });
    }).format(value);
  }

  function moneyCents(value) {
    return formatter("money2", function (l) {
      return new Intl.NumberFormat(l, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }).format(value);
  }

  function score(value) {
    return formatter("score", function (l) {
      return new Intl.NumberFormat(l, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    }).format(value);
  }

  /* "2026-05" -> "May 2026" / "Mai 2026"; anything else is shown as it is. */
  function monthLabel(value) {
    var m = /^(\d{4})-(\d{2})$/.exec(value);
    if (!m) return value;
    return formatter("month", function (l) {
      return new Intl.DateTimeFormat(l, { month: "short", year: "numeric", timeZone: "UTC" });
    }).format(new Date(Date.UTC(+m[1], +m[2] - 1, 1)));
  }

  /* "2026-05-31" -> the locale's short date ("5/31/2026", "31.5.2026"). */
  function dayLabel(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!m) return value;
    return formatter("day", function (l) {
      return new Intl.DateTimeFormat(l, { dateStyle: "medium", timeZone: "UTC" });
    }).format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])));
  }

  function revenueChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels.map(monthLabel),
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
              label: function (ctx) {
                var currency = data.currency ? " " + data.currency : "";
                return ctx.dataset.label + ": " + moneyCents(ctx.parsed.y) + currency;
              },
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

  var SEGMENT_COLORS = {
    strategic: "#059669", star: "#2563eb", status: "#d97706", streamline: "#94a3b8",
    transactional: "#94a3b8", repeated: "#38bdf8", long_term: "#3b82f6", partnership: "#8b5cf6",
    strategic_alliance: "#10b981", network: "#047857",
    pre_kam: "#94a3b8", early_kam: "#38bdf8", mid_kam: "#3b82f6", partnership_kam: "#8b5cf6",
    synergistic_kam: "#10b981", uncoupling_kam: "#ef4444",
    market_exchange: "#94a3b8", captive_buyer: "#d97706", captive_supplier: "#0ea5e9",
    strategic_partnership: "#10b981",
  };
  var BAND_FILLS = ["rgba(148,163,184,.10)", "rgba(56,189,248,.09)", "rgba(59,130,246,.08)",
    "rgba(139,92,246,.08)", "rgba(16,185,129,.09)"];

  function segColor(segment) { return SEGMENT_COLORS[segment] || "#64748b"; }

  /* Cut-off lines with quadrant names (4S, Bensaou) or stage bands along the diagonal (MW). */
  var matrixBackdrop = {
    id: "kamMatrixBackdrop",
    beforeDatasetsDraw: function (chart) {
      var spec = chart.options.plugins.kamMatrixBackdrop;
      if (!spec) return;
      var ctx = chart.ctx, area = chart.chartArea, x = chart.scales.x, y = chart.scales.y;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      ctx.font = "600 13px system-ui, -apple-system, Segoe UI, sans-serif";
      if (spec.cutoff) {
        var cx = x.getPixelForValue(spec.cutoff.x), cy = y.getPixelForValue(spec.cutoff.y);
        ctx.strokeStyle = "rgba(15,23,42,.45)";
        ctx.setLineDash([6, 5]);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(cx, area.top); ctx.lineTo(cx, area.bottom);
        ctx.moveTo(area.left, cy); ctx.lineTo(area.right, cy);
        ctx.stroke();
        ctx.setLineDash([]);
        (spec.quadrants || []).forEach(function (q) {
          var px = q.x_high ? area.right - 10 : area.left + 10;
          var py = q.y_high ? area.top + 18 : area.bottom - 10;
          ctx.textAlign = q.x_high ? "right" : "left";
          ctx.fillStyle = segColor(q.segment);
          ctx.globalAlpha = 0.85;
          ctx.fillText(q.label, px, py);
          ctx.globalAlpha = 1;
        });
      }
      if (spec.bands) {
        // S = (X + Y) / 2 = t is the line X + Y = 2t: fill between consecutive lines.
        spec.bands.forEach(function (band, i) {
          var lo = 2 * band.from, hi = 2 * band.to;
          function linePoints(sum) {
            // the segment of x + y = sum inside the 0-100 square
            var x0 = Math.max(0, sum - 100), x1 = Math.min(100, sum);
            return [[x0, sum - x0], [x1, sum - x1]];
          }
          var a = linePoints(lo), b = linePoints(hi);
          ctx.fillStyle = BAND_FILLS[i % BAND_FILLS.length];
          ctx.beginPath();
          // corners of the square between the two lines
          var pts = [];
          [[0, 0], [100, 0], [100, 100], [0, 100]].forEach(function (c) {
            var s = c[0] + c[1];
            if (s >= lo && s <= hi) pts.push(c);
          });
          pts = pts.concat(a, b);
          var mx = 0, my = 0;
          pts.forEach(function (p) { mx += p[0]; my += p[1]; });
          mx /= pts.length; my /= pts.length;
          pts.sort(function (p, q) {
            return Math.atan2(p[1] - my, p[0] - mx) - Math.atan2(q[1] - my, q[0] - mx);
          });
          pts.forEach(function (p, k) {
            var px = x.getPixelForValue(p[0]), py = y.getPixelForValue(p[1]);
            if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
          });
          ctx.closePath();
          ctx.fill();
          if (i > 0) {
            ctx.strokeStyle = "rgba(15,23,42,.35)";
            ctx.setLineDash([6, 5]);
            ctx.beginPath();
            ctx.moveTo(x.getPixelForValue(a[0][0]), y.getPixelForValue(a[0][1]));
            ctx.lineTo(x.getPixelForValue(a[1][0]), y.getPixelForValue(a[1][1]));
            ctx.stroke();
            ctx.setLineDash([]);
          }
          // the stage name on the diagonal, in the middle of its band
          var mid = (band.from + band.to) / 2;
          ctx.save();
          ctx.translate(x.getPixelForValue(mid), y.getPixelForValue(mid));
          // along the band (the line X + Y = constant runs down to the right)
          ctx.rotate(Math.atan2(y.getPixelForValue(0) - y.getPixelForValue(100),
            x.getPixelForValue(100) - x.getPixelForValue(0)));
          ctx.textAlign = "center";
          ctx.fillStyle = segColor(band.segment);
          ctx.globalAlpha = 0.9;
          ctx.textBaseline = "middle";
          ctx.fillText(band.label, 0, 0);
          ctx.restore();
        });
      }
      ctx.restore();
    },
  };

  function openPoint(chart, elements) {
    if (!elements.length) return;
    var el = elements[0];
    var point = chart.data.datasets[el.datasetIndex].data[el.index];
    var url = point && point.url;
    if (url) window.location.assign(url);
  }

  function axis(title) {
    return {
      min: 0, max: 100,
      title: { display: true, text: title, color: COLORS.text, font: { weight: "600" } },
      grid: { color: COLORS.grid },
      ticks: { color: COLORS.text, stepSize: 10 },
    };
  }

  function matrixChart(canvas, data) {
    if (data.kind === "distribution") return distributionChart(canvas, data);
    var datasets = data.segments.map(function (seg) {
      return {
        label: seg.label,
        data: data.points.filter(function (p) { return p.segment === seg.segment; }),
        backgroundColor: segColor(seg.segment),
        borderColor: "#fff",
        borderWidth: 1.5,
        pointRadius: 6,
        pointHoverRadius: 9,
      };
    });
    return new window.Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        onClick: function (event, elements, chart) { openPoint(chart, elements); },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        plugins: {
          kamMatrixBackdrop: { cutoff: data.cutoff, quadrants: data.quadrants, bands: data.bands },
          legend: { position: "bottom", labels: { color: COLORS.text, boxWidth: 10, usePointStyle: true } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var p = ctx.raw;
                return p.name + " (" + ctx.dataset.label + "): " + score(p.x) + " / " + score(p.y);
              },
            },
          },
        },
        scales: { x: axis(data.x.label), y: axis(data.y.label) },
      },
      plugins: [matrixBackdrop],
    });
  }

  function distributionChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.bars.map(function (b) { return b.label; }),
        datasets: [{
          label: "Accounts",
          data: data.bars.map(function (b) { return { x: b.label, y: b.count, url: b.url }; }),
          backgroundColor: data.bars.map(function (b) { return segColor(b.segment); }),
          borderRadius: 4,
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        onClick: function (event, elements, chart) { openPoint(chart, elements); },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        plugins: { legend: { display: false } },
        scales: {
          x: { grid: { display: false }, ticks: { color: COLORS.text } },
          y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { color: COLORS.text, precision: 0 } },
        },
      },
    });
  }

  var MODEL_COLORS = { webster: "#0d9488", millman_wilson: "#7c3aed", bensaou: "#d97706", four_s: "#2563eb" };

  /* The segment of each model per run: one stepped line per model, each on its own band (a
   * category y axis listing that model's segments, lowest rung at the bottom), sharing the runs
   * along x. */
  function historyChart(canvas, data) {
    var scales = {
      x: {
        grid: { color: COLORS.grid },
        ticks: { color: COLORS.text, maxRotation: 0, autoSkip: true },
      },
    };
    var datasets = data.models.map(function (m) {
      scales[m.model] = {
        type: "category",
        labels: m.segments.slice().reverse(),  // a vertical category axis lists top down
        offset: true,
        stack: "history",
        stackWeight: m.segments.length,
        position: "left",
        grid: { color: COLORS.grid },
        border: { color: MODEL_COLORS[m.model] || COLORS.text, width: 3 },
        ticks: { color: COLORS.text, font: { size: 11 }, autoSkip: false },
        title: { display: true, text: m.label, color: MODEL_COLORS[m.model] || COLORS.text, font: { weight: "600" } },
      };
      var color = MODEL_COLORS[m.model] || "#64748b";
      return {
        label: m.label,
        yAxisID: m.model,
        data: m.data,
        stepped: true,  // a segment holds from its run until the next one
        borderColor: color,
        backgroundColor: color,
        borderWidth: 2,
        pointRadius: 4,
        pointHoverRadius: 6,
        spanGaps: false,
      };
    });
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.runs.map(function (r) { return dayLabel(r.date); }),
        datasets: datasets,
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
              title: function (items) {
                var run = data.runs[items[0].dataIndex];
                return items[0].label + " (run " + run.run + ")";
              },
              label: function (ctx) {
                return ctx.dataset.label + ": " + ctx.chart.scales[ctx.dataset.yAxisID].getLabelForValue(ctx.parsed.y);
              },
            },
          },
        },
        scales: scales,
      },
    });
  }

  var BUILDERS = { revenue: revenueChart, matrix: matrixChart, history: historyChart };

  function draw(root) {
    if (!window.Chart) return;
    // Charts whose canvas an htmx swap replaced: free them (a new canvas gets its own chart).
    Object.values(window.Chart.instances).forEach(function (chart) {
      if (!document.contains(chart.canvas)) chart.destroy();
    });
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.chartReady === "true") return;
      var build = BUILDERS[canvas.dataset.chart];
      var data = readData(canvas);
      if (!build || !data) return;
      var chart = build(canvas, data);
      var points = chart.data.datasets.reduce(function (n, ds) {
        return n + ds.data.filter(function (v) {
          if (v && typeof v === "object") return v.y !== 0 && v.y !== null;
          return v !== 0 && v !== null;
        }).length;
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
  // After an htmx swap (outerHTML replaces the target itself), draw whatever is new on the page.
  document.addEventListener("htmx:afterSettle", function () { draw(); });
})();
