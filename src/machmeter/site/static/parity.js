/* Force parity: per view, the distribution of the atoms' force errors at the chosen commit (atoms per
   log-spaced error bin, a step line per student) and the table of quantiles and tracked figures. Every
   name reaches the page as text (textContent) or canvas text. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const states = [];
  window.machmeterParity = states;
  page.views.forEach((view, index) => {
    const box = document.getElementById(view.id);
    const section = document.getElementById(`${view.id}-section`);
    if (!box || !section) return;
    const select = section.querySelector("select.parity-commit");
    const state = { view, plot: null, commit: null };
    states.push(state);

    function draw(at) {
      const commit = view.commits[at];
      state.commit = commit;
      if (state.plot) state.plot.destroy();
      box.replaceChildren();
      const colours = commit.rows.map((row) => MM.PALETTE[Math.max(0, view.students.indexOf(row.student)) % MM.PALETTE.length]);
      if (commit.x.length) {
        const options = {
          width: Math.max(260, Math.min(box.clientWidth || 640, 1100)), height: 300,
          scales: { x: { time: false, distr: 3 }, y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          axes: [
            { label: `per-atom force error |ΔF| (${view.unit})`, values: (u, splits) => splits.map((v) => (v === null ? "" : v.toExponential(0))) },
            { label: "atoms", size: 50 },
          ],
          series: [{}, ...commit.rows.map((row, n) => ({ label: row.student, stroke: colours[n], width: 1.5,
            paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } }))],
        };
        state.plot = new uPlot(options, [commit.x, ...commit.counts], box);
        box.append(MM.legend(commit.rows.map((row, n) => ({ label: row.student, colour: colours[n] }))));
      } else {
        box.append(MM.element("p", "Every atom's error is exactly zero at this commit: nothing to draw on a log scale.", "muted loading"));
      }
      const rows = commit.rows.map((row) => {
        const tr = document.createElement("tr");
        const zeros = row.zeros ? ` (${row.zeros} exactly 0)` : "";
        for (const text of [row.student, `${row.atoms}${zeros}`, row.p50_text, row.p95_text, row.max_text,
          ...page.figure_labels.map((label) => row.figure_texts[label])]) tr.append(MM.element("td", text));
        return tr;
      });
      section.querySelector("table.parity-figures").tBodies[0].replaceChildren(...rows);
      const structures = section.querySelector(".parity-structures table");
      if (structures) {
        structures.tBodies[0].replaceChildren(...commit.rows.flatMap((row) => row.structures.map((s) => {
          const tr = document.createElement("tr");
          for (const text of [row.student, s.label, String(s.atoms), s.p50_text, s.p95_text, s.max_text]) tr.append(MM.element("td", text));
          return tr;
        })));
      }
    }

    select.addEventListener("change", () => draw(+select.value));
    draw(+select.value || 0);
  });
  MM.ready();
});
