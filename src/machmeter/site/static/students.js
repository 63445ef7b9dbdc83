/* Teachers and students: each view's students as points, speedup (x) against accuracy cost (y), the
   Pareto front joined by a line. Drawn by uPlot; names reach the page only as canvas text. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const plots = [];
  for (const view of page.views) {
    const box = document.getElementById(view.id);
    if (!box) continue;
    const width = Math.max(260, Math.min(box.clientWidth || 640, 900));
    const label = view.cost_unit ? `${view.cost_label} (${view.cost_unit}), lower is better` : `${view.cost_label}, lower is better`;
    const options = {
      width, height: 300,
      // room around the points for their names
      scales: {
        x: { time: false, range: (u, lo, hi) => [Math.max(0, lo - 0.15 * (hi - lo || lo)), hi + 0.15 * (hi - lo || hi)] },
        // a student can beat its teacher (a negative accuracy drop): below zero then
        y: { range: (u, lo, hi) => [Math.min(0, lo * 1.2), Math.max(0, hi * 1.2) || 1] },
      },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { label: "speedup over the teacher (x)", values: (u, splits) => splits.map((v) => `${+v.toPrecision(3)}x`) },
        { label, size: 90, gap: 4, labelSize: 20, values: (u, splits) => splits.map((v) => MM.formatValue(v, view.cost_unit)) },
      ],
      series: [
        {},
        { label: "student", stroke: "#1f77b4", paths: () => null, points: { show: true, size: 9, fill: "#1f77b4" } },
        { label: "Pareto front", stroke: "#d62728", width: 1.5, spanGaps: true, points: { show: true, size: 11, fill: "transparent" } },
      ],
      hooks: {
        draw: [(u) => {
          // each student's name beside its point
          const ctx = u.ctx;
          ctx.save();
          ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.fillStyle = "#333";
          view.students.forEach((name, i) => {
            const x = u.valToPos(view.speedup[i], "x", true), y = u.valToPos(view.cost[i], "y", true);
            ctx.fillText(name, x + 6 * devicePixelRatio, y - 6 * devicePixelRatio);
          });
          ctx.restore();
        }],
      },
    };
    plots.push(new uPlot(options, [view.speedup, view.cost, view.front], box));
  }
  window.machmeterStudents = plots;
  MM.ready();
});
