/* The overview's sparklines, drawn while the page is still arriving: this script runs from the page's
   head, watches the rows' trend cells appear as the parser adds them and draws the first screen's from
   the values its rows carry, the others from data/spark/<n>.json once they come into view. Each is one
   SVG polyline of the row's bucketed history: no chart library to fetch and start. */
"use strict";

(() => {
  if (!("IntersectionObserver" in window) || !("MutationObserver" in window)) return;
  // the site's root from this script's own address (<root>static/sparklines.js): the body, which
  // names it for the other scripts, may not be parsed yet
  const root = document.currentScript.src.replace(/static\/sparklines\.js(\?.*)?$/, "");
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 140;
  const HEIGHT = 28;
  const COLOURS = { regressed: "#c62828", acknowledged: "#8d6e63", improved: "#2e7d32", steady: "#546e7a" };
  const chunks = new Map();
  const queue = [];
  let drawing = false;

  function chunk(n) {
    if (!chunks.has(n)) {
      chunks.set(n, fetch(`${root}data/spark/${n}.json`).then((response) => {
        if (!response.ok) throw new Error(`data/spark/${n}.json: ${response.status}`);
        return response.json();
      }));
    }
    return chunks.get(n);
  }

  function sparkline(values, stroke) {
    const known = values.map((v, i) => [i, v]).filter(([, v]) => v !== null && Number.isFinite(v));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "sparkline");
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("width", WIDTH);
    svg.setAttribute("height", HEIGHT);
    if (known.length < 2) return svg;
    const low = Math.min(...known.map(([, v]) => v));
    const high = Math.max(...known.map(([, v]) => v));
    const x = (i) => 1 + ((WIDTH - 2) * i) / (values.length - 1);
    // a flat history is a line across the middle
    const y = (v) => (high === low ? HEIGHT / 2 : 2 + (HEIGHT - 4) * (1 - (v - low) / (high - low)));
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", known.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", stroke);
    line.setAttribute("stroke-width", "1.2");
    svg.appendChild(line);
    return svg;
  }

  function draw(row, cell, history) {
    if (history.length > 1 && !cell.dataset.drawn) {
      cell.dataset.drawn = "1";
      cell.appendChild(sparkline(history, COLOURS[row.dataset.status] || COLOURS.steady));
    }
  }

  function drawQueued() {
    // the rows that came into view, at once (a polyline each is cheap), then the next ones a frame later
    const rows = queue.splice(0);
    if (!rows.length) { drawing = false; return; }
    Promise.all(rows.map((row) => chunk(row.dataset.spark).then((values) => {
      draw(row, row.querySelector("td.spark"), values[Number(row.dataset.sparkAt)] || []);
    }).catch(() => {}))).finally(() => requestAnimationFrame(drawQueued));
  }

  const inView = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      inView.unobserve(entry.target);
      queue.push(entry.target);
    }
    if (queue.length && !drawing) {
      drawing = true;
      drawQueued();
    }
  }, { rootMargin: "200px" });

  // a row's trend cell as it arrives: the first screen's rows carry their values (build.py: no fetch to
  // wait for, drawn before the page first renders), the others are drawn once they come into view
  function watch(cell) {
    const row = cell.parentNode;
    if (!row || !row.dataset || row.dataset.spark === undefined || cell.dataset.drawn) return;
    if (row.dataset.sparkValues) draw(row, cell, JSON.parse(row.dataset.sparkValues));
    else inView.observe(row);
  }

  document.querySelectorAll("tr[data-spark] td.spark").forEach(watch);
  if (document.readyState !== "loading") return;
  const arriving = new MutationObserver((records) => {
    for (const record of records) {
      record.addedNodes.forEach((node) => {
        if (node.nodeName === "TD" && node.classList.contains("spark")) watch(node);
        else if (node.nodeName === "TR") { const cell = node.querySelector("td.spark"); if (cell) watch(cell); }
      });
    }
  });
  arriving.observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", () => arriving.disconnect());
})();
