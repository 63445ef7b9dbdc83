/* Tables of the overview, regressions and machines pages: filters, and sparklines drawn lazily for the rows in view. */
"use strict";

(() => {
  const table = document.getElementById("rows");
  if (!table) { MM.ready(); return; }
  MM.filterTable(table);
  MM.ready();

  const cells = table.querySelectorAll("tr[data-spark]");
  if (!cells.length || !("IntersectionObserver" in window)) return;
  const colours = { regressed: "#c62828", acknowledged: "#8d6e63", improved: "#2e7d32", steady: "#546e7a" };
  const queue = [];
  let drawing = false;

  function drawNext(Plotly) {
    // one sparkline a frame: the page stays responsive while they appear
    const row = queue.shift();
    if (!row) { drawing = false; return; }
    MM.json(`data/spark/${row.dataset.spark}.json`).then((chunk) => {
      const values = chunk[Number(row.dataset.sparkAt)] || [];
      const cell = row.querySelector("td.spark");
      if (values.length > 1 && cell && !cell.dataset.drawn) {
        cell.dataset.drawn = "1";
        const box = MM.element("div", null, "sparkline");
        cell.appendChild(box);
        Plotly.newPlot(box, [{
          y: values, type: "scatter", mode: "lines", hoverinfo: "skip",
          line: { width: 1.2, color: colours[row.dataset.status] || "#546e7a" },
        }], {
          width: 140, height: 28, margin: { l: 1, r: 1, t: 2, b: 2 }, showlegend: false,
          xaxis: { visible: false, fixedrange: true }, yaxis: { visible: false, fixedrange: true },
          paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
        }, { staticPlot: true, displayModeBar: false });
      }
    }).catch(() => {}).finally(() => requestAnimationFrame(() => drawNext(Plotly)));
  }

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      queue.push(entry.target);
    }
    if (queue.length && !drawing) {
      drawing = true;
      MM.loadPlotly().then(drawNext).catch(() => { drawing = false; });
    }
  }, { rootMargin: "200px" });
  cells.forEach((row) => observer.observe(row));
})();
