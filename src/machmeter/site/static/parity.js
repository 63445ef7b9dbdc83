/* Force parity: per view, at the chosen commit, the parity scatter (every force component, the student's
   against the teacher's and the teacher's against its reference data, with the line y = x; its
   components fetched from the commit's data/parity/ file), the distribution of the atoms' force errors
   (atoms per log-spaced error bin, a step line per student) and the table of quantiles and tracked
   figures. Every name reaches the page as text (textContent) or canvas text. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const states = [];
  window.machmeterParity = states;
  const colourOf = (view, student) => MM.PALETTE[Math.max(0, view.students.indexOf(student)) % MM.PALETTE.length];
  const first = [];
  page.views.forEach((view) => {
    const box = document.getElementById(view.id);
    const section = document.getElementById(`${view.id}-section`);
    if (!box || !section) return;
    const scatterBox = document.getElementById(`${view.id}-scatter`);
    const why = section.querySelector("p.parity-why");
    const notes = section.querySelector("p.parity-notes");
    const select = section.querySelector("select.parity-commit");
    // scatter: the uPlot drawn, scatterAt: the commit (index in view.commits) whose scatter is settled
    // (drawn, or its reason given), scatterReason: why none is drawn
    const state = { view, plot: null, commit: null, scatter: null, scatterAt: null, scatterReason: null };
    states.push(state);

    function noScatter(at, reason) {
      if (state.scatter) state.scatter.destroy();
      state.scatter = null;
      scatterBox.replaceChildren();
      scatterBox.hidden = true;
      why.textContent = `No parity scatter at this commit: ${reason}.`;
      why.hidden = false;
      state.scatterReason = reason;
      state.scatterAt = at;
    }

    function drawScatter(at, commit, file) {
      const scatter = commit.scatter;
      if (state.scatter) state.scatter.destroy();
      scatterBox.replaceChildren();
      scatterBox.hidden = false;
      why.hidden = true;
      const rows = new Map(commit.rows.map((row) => [row.student, row]));
      const facets = scatter.series.map((s, n) => [file.x[s.against], file.y[n]]);
      let lo = Infinity, hi = -Infinity;
      for (const [xs, ys] of facets) {
        for (const v of xs) { if (v < lo) lo = v; if (v > hi) hi = v; }
        for (const v of ys) { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
      if (!(hi > lo)) { lo -= 1; hi += 1; }
      const pad = 0.04 * (hi - lo);
      lo -= pad; hi += pad;
      const range = () => [lo, hi];
      const colours = scatter.series.map((s) => colourOf(view, s.student));
      const size = Math.max(240, Math.min(scatterBox.clientWidth || 520, 560));
      const options = {
        mode: 2, width: size, height: Math.min(size, 460),
        scales: { x: { time: false, range }, y: { range } },
        legend: { show: false },
        cursor: { show: false, drag: { x: false, y: false } },
        axes: [
          { label: `teacher's component (${view.unit})` },
          { label: `student's component (${view.unit})`, size: 56 },
        ],
        series: [{},
          { label: "y = x", stroke: "#888", width: 1, paths: uPlot.paths.linear(), points: { show: false } },
          ...scatter.series.map((s, n) => ({ label: s.student, stroke: colours[n], fill: `${colours[n]}66`, width: 1,
            paths: uPlot.paths.points(), points: { show: false, size: 5, width: 1 } }))],
      };
      state.scatter = new uPlot(options, [null, [[lo, hi], [lo, hi]], ...facets], scatterBox);
      const figures = (row) => (row ? ["MAE", "RMSE", "R²"].map((label) => `${label} ${row.figure_texts[label] || "–"}`).join(", ") : "");
      scatterBox.append(MM.legend([
        { label: "y = x", colour: "#888" },
        ...scatter.series.map((s, n) => ({
          label: `${s.student}${s.against === "reference" ? ` against ${scatter.source}` : ""}: ${figures(rows.get(s.student))}`,
          colour: colours[n] })),
      ]));
      const text = [`${scatter.components} components of ${scatter.atoms} atoms (the structures of ${scatter.source}).`, ...scatter.notes];
      notes.textContent = text.join(" ");
      notes.hidden = false;
      state.scatterReason = null;
      state.scatterAt = at;
    }

    function showScatter(at, commit) {
      notes.hidden = true;
      const scatter = commit.scatter;
      if (!scatter || scatter.reason) {
        noScatter(at, scatter ? scatter.reason : "this build holds no scatter data");
        return Promise.resolve();
      }
      state.scatterAt = null;
      return MM.json(scatter.file).then((file) => {
        if (state.commit === commit) drawScatter(at, commit, file);
      }, (error) => {
        if (state.commit === commit) noScatter(at, `its components could not be loaded (${error.message})`);
      });
    }

    function draw(at) {
      const commit = view.commits[at];
      state.commit = commit;
      if (state.plot) state.plot.destroy();
      box.replaceChildren();
      const colours = commit.rows.map((row) => colourOf(view, row.student));
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
      return showScatter(at, commit);
    }

    select.addEventListener("change", () => draw(+select.value));
    first.push(draw(+select.value || 0));
  });
  Promise.all(first).finally(() => MM.ready());
});
