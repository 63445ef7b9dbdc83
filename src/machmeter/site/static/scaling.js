/* Scaling: a benchmark's value against a numeric parameter, one line per chosen commit, asv's 99% CI as
   error bars (drawn on uPlot's canvas). Every name reaches the page as text (textContent) or canvas text. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const viewSelect = document.getElementById("scaling-view");
  const state = { plot: null, view: null, group: null, lines: [] };
  window.machmeterScaling = state;
  if (!viewSelect) { MM.ready(); return; }
  const heldBox = document.getElementById("scaling-held");
  const commitSelect = document.getElementById("scaling-commits");
  const box = document.getElementById("scaling-chart");
  const table = document.getElementById("scaling-table");
  const note = document.getElementById("scaling-note");

  function showView(index) {
    const view = page.views[index];
    state.view = view;
    const group = view.groups[view.default_group];
    heldBox.replaceChildren();
    view.held.forEach((held, i) => {
      const label = MM.element("label", `${held.name} `);
      const select = document.createElement("select");
      select.dataset.held = String(i);
      held.values.forEach((value, j) => {
        const option = MM.element("option", value);
        option.value = String(j);
        option.selected = group && value === group.held[i];
        select.append(option);
      });
      select.addEventListener("change", draw);
      label.append(select);
      heldBox.append(label);
    });
    commitSelect.replaceChildren();
    for (const commit of view.commits.slice().reverse()) {  // newest first
      const option = MM.element("option", commit.label);
      option.value = String(commit.at);
      option.selected = view.defaults.includes(commit.at);
      commitSelect.append(option);
    }
    document.getElementById("scaling-title").textContent = `${view.benchmark} against ${view.parameter} on ${view.machine}`;
    draw();
  }

  function chosenGroup(view) {
    const held = Array.from(heldBox.querySelectorAll("select")).map((s) => view.held[+s.dataset.held].values[+s.value]);
    return view.groups.find((g) => g.held.every((value, i) => value === held[i])) || null;
  }

  function range(values, log) {
    const finite = values.filter((v) => v !== null && v !== undefined && (!log || v > 0));
    if (!finite.length) return log ? [1, 10] : [0, 1];
    let low = Math.min(...finite), high = Math.max(...finite);
    if (log) return [low / 1.3, high * 1.3];
    const pad = 0.08 * (high - low || Math.abs(high) || 1);
    return [low - pad, high + pad];
  }

  function draw() {
    const view = state.view;
    const group = chosenGroup(view);
    state.group = group;
    const chosen = Array.from(commitSelect.selectedOptions).map((o) => +o.value).sort((a, b) => a - b);
    const labels = new Map(view.commits.map((c) => [c.at, c.label]));
    state.lines = group ? chosen.filter((at) => group.lines[at]).map((at, n) => ({
      at, label: labels.get(at), colour: MM.PALETTE[n % MM.PALETTE.length], ...group.lines[at],
    })) : [];
    const missing = group ? chosen.filter((at) => !group.lines[at]).length : 0;
    note.textContent = !group ? "No results at these values: choose others."
      : !chosen.length ? "Choose one or more commits."
        : missing ? `${missing} of the chosen commits have no value at these settings.` : "";
    if (state.plot) state.plot.destroy();
    box.replaceChildren();
    state.plot = null;
    if (state.lines.length) plot(view);
    fillTable(view);
  }

  function plot(view) {
    const lines = state.lines;
    const unit = view.unit;
    const yValues = lines.flatMap((l) => [...l.y, ...l.lo, ...l.hi]);
    const options = {
      width: Math.max(260, Math.min(box.clientWidth || 640, 1100)), height: 320,
      scales: {
        x: { time: false, distr: view.log_x ? 3 : 1, range: () => range(view.sizes, view.log_x) },
        y: { distr: view.log_y ? 3 : 1, range: () => range(yValues, view.log_y) },
      },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { label: view.parameter, splits: () => view.sizes, filter: (u, splits) => splits, values: (u, splits) => splits.map((v) => (v === null ? "" : `${+v.toPrecision(4)}`)) },
        { label: unit || "value", size: 80, gap: 4, labelSize: 20, values: (u, splits) => splits.map((v) => (v === null ? "" : MM.formatValue(v, unit))) },
      ],
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.colour, width: 1.5, spanGaps: true,
        points: { show: true, size: 7, fill: l.colour } }))],
      hooks: {
        draw: [(u) => {
          // each value's 99% CI as a vertical bar with caps, in its line's colour
          const ctx = u.ctx, cap = 4 * devicePixelRatio;
          ctx.save();
          ctx.lineWidth = 1.2 * devicePixelRatio;
          lines.forEach((l) => {
            ctx.strokeStyle = l.colour;
            view.sizes.forEach((size, i) => {
              if (l.lo[i] === null || l.hi[i] === null) return;
              const x = u.valToPos(size, "x", true), top = u.valToPos(l.hi[i], "y", true), bottom = u.valToPos(l.lo[i], "y", true);
              ctx.beginPath();
              ctx.moveTo(x, top); ctx.lineTo(x, bottom);
              ctx.moveTo(x - cap, top); ctx.lineTo(x + cap, top);
              ctx.moveTo(x - cap, bottom); ctx.lineTo(x + cap, bottom);
              ctx.stroke();
            });
          });
          ctx.restore();
        }],
      },
    };
    state.plot = new uPlot(options, [view.sizes, ...lines.map((l) => l.y)], box);
    box.append(MM.legend(lines.map((l) => ({ label: l.label, colour: l.colour }))));
  }

  function fillTable(view) {
    const head = document.createElement("tr");
    head.append(MM.element("th", view.parameter));
    for (const line of state.lines) head.append(MM.element("th", line.label.split(" ")[0]));
    table.tHead.replaceChildren(head);
    const rows = view.sizes.map((size, i) => {
      const row = document.createElement("tr");
      row.append(MM.element("td", view.size_texts[i]));
      for (const line of state.lines) {
        const cell = MM.element("td", line.text[i]);
        if (line.ci[i]) cell.append(MM.element("div", `99% CI ${line.ci[i]}`, "muted ci"));
        row.append(cell);
      }
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  viewSelect.addEventListener("change", () => showView(+viewSelect.value));
  commitSelect.addEventListener("change", draw);
  // scaling.html#<benchmark id> opens that benchmark's first view
  const wanted = Array.from(viewSelect.options).find((o) => `#${o.dataset.benchmark}` === location.hash);
  if (wanted) viewSelect.value = wanted.value;
  showView(+viewSelect.value);
  MM.ready();
});
