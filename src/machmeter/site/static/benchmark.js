/* Benchmark page: the history chart of the selected parameter combination on the selected machines.
   x is the commit order (dates on the axis), y the value in the benchmark's unit, with asv's CI or IQR
   band, the change points of machmeter check, failed runs and runs on a throttled or shared GPU.
   Drawn by uPlot on a canvas: every label, legend entry and hover line is canvas text or set with
   textContent, so no string from the results is ever read as markup. */
"use strict";

(() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const box = document.getElementById("chart");
  const pointBox = document.getElementById("point");
  const selects = Array.from(document.querySelectorAll("select[data-param]"));
  const machineBoxes = Array.from(document.querySelectorAll("input[name=machine]"));
  const logScale = document.getElementById("log-scale");
  const showBand = document.getElementById("show-band");
  const splitBox = document.getElementById("time-split");
  // this script runs from the middle of the page (the chart first): the tables under it come later
  const parsed = new Promise((resolve) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve);
    else resolve();
  });
  // uPlot's script comes after this one (benchmark.html): the chart's data is asked for first, while
  // uPlot is evaluated. Its load event, caught on the way down to its element, says it has run.
  const library = new Promise((resolve, reject) => {
    const loaded = () => {
      if (!window.uPlot) return false;
      document.removeEventListener("load", loaded, true);
      resolve();
      return true;
    };
    if (loaded()) return;
    document.addEventListener("load", loaded, true);
    parsed.then(() => { if (!loaded()) reject(new Error("the chart library did not load")); });
  });
  let settled = null;
  const firstDraw = new Promise((resolve) => { settled = resolve; });  // the chart drawn, or why not said
  // the tables, parsed inert in their <template> (benchmark.html), go live once the chart has had its
  // frame (or a moment, where frames wait: a tab in the background)
  const tables = Promise.all([parsed, firstDraw]).then(() => new Promise((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 250);
  })).then(() => {
    const later = document.getElementById("tables-later");
    if (later) later.replaceWith(later.content);
  });
  const ready = () => { settled(); return tables.then(() => MM.ready()); };
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
  const MARKERS_UP_TO = 500;  // past that a point is under a pixel: a line shows more
  const STATE_COLOURS = { regression: "#c62828", improvement: "#2e7d32", acknowledged: "#8d6e63", environment: "#6a1b9a" };
  const AXIS_FONT = "12px system-ui, sans-serif";
  const CHAR_PX = 7;  // about the width of one character of AXIS_FONT
  const direction = page.higher_is_better ? "higher is better" : "lower is better";
  let commits = null;
  let charts = null;  // the selection's decoded series files, kept to redraw (log scale, band)
  let chosen = [];
  let request = 0;
  const history = { plot: null, figure: null, hover: null };
  const split = { plot: null, figure: null, hover: null };

  function colour(index, alpha) {
    const hex = PALETTE[index % PALETTE.length];
    if (alpha === undefined) return hex;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return `rgba(${r},${g},${b},${alpha})`;
  }

  function selection() {
    const params = selects.map((select) => select.value);
    const machines = new Set(machineBoxes.filter((input) => input.checked).map((input) => input.value));
    return page.series.filter((s) => s.charted && machines.has(s.machine)
      && s.params.every((value, i) => value === null || value === params[i]));
  }

  function select(id) {
    const series = page.series.find((s) => s.id === id && s.charted);
    if (!series) return false;
    series.params.forEach((value, i) => { if (value !== null && selects[i]) selects[i].value = value; });
    if (machineBoxes.length > 1) machineBoxes.forEach((input) => { input.checked = input.value === series.machine; });
    return true;
  }

  function short(hash) { return hash.slice(0, 8); }

  function commitLines(index) {
    const subject = commits.subject[index];
    return [`${short(commits.hash[index])}${subject ? ` ${subject.length > 80 ? subject.slice(0, 79) + "…" : subject}` : ""}`,
      [commits.author[index], MM.dateTimeText(commits.date[index])].filter(Boolean).join(" · ")];
  }

  function traceName(series, several) {
    let name = series.machine;
    if (several) name += ` · ${series.env}${series.version ? ` · v${series.version.slice(0, 6)}` : ""}`;
    return name;
  }

  function placeTicks(first, last, count) {
    const splits = [];
    for (let i = 0; i < count; i++) {
      const value = Math.round(first + (count === 1 ? 0 : (i * (last - first)) / (count - 1)));
      if (!splits.includes(value)) splits.push(value);
    }
    let texts = splits.map((i) => MM.dateText(commits.date[i]));
    if (new Set(texts).size < texts.length) {  // several commits a day: the time too
      texts = splits.map((i) => MM.dateTimeText(commits.date[i]).replace(" UTC", ""));
    }
    return { splits, texts };
  }

  function ticks(low, high, width) {
    const first = Math.max(0, Math.ceil(low));
    const last = Math.min(commits.branch_length - 1, Math.floor(high));
    if (last < first) return { splits: [], texts: [] };
    // as many labels as fit side by side at the plot's width (and a gap): labels that run into each
    // other are read by nobody, and a phone fits two or three
    let placed = null;
    for (let count = Math.min(7, last - first + 1); count >= 1; count--) {
      placed = placeTicks(first, last, count);
      const widest = Math.max(0, ...placed.texts.map((text) => text.length));
      if (placed.splits.length * (widest * CHAR_PX + 20) <= Math.max(150, width)) break;
    }
    return placed;
  }

  // the commit axis: dates at commit indices, as many as fit; recomputed at every zoom by uPlot. The
  // last label is centred on the last commit: the plot keeps half a label's room on its right for it.
  function commitAxis() {
    let placed = { splits: [], texts: [] };
    return {
      rightRoom: () => 6 + (CHAR_PX / 2) * Math.max(10, ...placed.texts.map((text) => text.length)),
      label: "commit order (date of the commit)", font: AXIS_FONT, labelFont: AXIS_FONT, size: 40,
      splits: (u, axis, min, max) => { placed = ticks(min, max, u.bbox.width / devicePixelRatio); return placed.splits; },
      values: (u, splits) => splits.map((value) => placed.texts[placed.splits.indexOf(value)] || ""),
    };
  }

  function padding(xAxis) {
    return [12, () => xAxis.rightRoom(), 0, 0];
  }

  // tick labels in the unit where it scales (27.2 µs, 1.5 GiB: never 2.72e-05), else plain numbers
  function valueAxis(label, unit) {
    const scaled = unit === "seconds" || unit === "bytes";
    return {
      label, font: AXIS_FONT, labelFont: AXIS_FONT,
      values: (u, splits) => splits.map((value) => MM.formatValue(value, scaled ? unit : "")),
      size: (u, values) => 14 + CHAR_PX * Math.max(3, ...(values || []).map((text) => text.length)),
    };
  }

  // one x for every series of a chart: the union of their commit indices, each series null where absent
  function align(xsList) {
    const union = Array.from(new Set(xsList.flat())).sort((a, b) => a - b);
    const position = new Map(union.map((x, i) => [x, i]));
    return { x: union, place: (xs, values) => {
      const out = new Array(union.length).fill(null);
      xs.forEach((x, i) => { out[position.get(x)] = values[i] === undefined ? null : values[i]; });
      return out;
    } };
  }

  function xsOf(chart) {
    return chart.x || chart.y.map((_, i) => chart.x0 + i);
  }

  /* What the history chart shows, library aside: lines (with band), and the marks drawn over them. */
  function historyFigure() {
    const several = new Set(chosen.map((s) => s.machine)).size < chosen.length;
    const log = logScale.checked;
    const { x, place } = align(charts.map(xsOf));
    const positive = (values) => (log ? values.map((v) => (v !== null && v > 0 ? v : null)) : values);
    const lines = charts.map((chart, n) => {
      const xs = xsOf(chart);
      const band = chart.band && showBand.checked;
      return {
        series: chosen[n].id, label: traceName(chosen[n], several), colour: colour(n), xs,
        y: positive(place(xs, chart.y)), band: band ? chart.band : null,
        lo: band ? positive(place(xs, chart.lo)) : null, hi: band ? positive(place(xs, chart.hi)) : null,
        // a series whose every run here failed has no point: no legend entry to promise one
        hasPoints: chart.y.some((value) => value !== null),
        changes: (chart.changes || []).map((m) => ({ ...m,
          state: m.ack !== null && m.ack !== undefined ? "acknowledged" : m.direction })),
        shifts: chart.shifts || [], failed: chart.failed || [], flags: chart.flags || [],
        targets: chart.target ? [chart.target.min, chart.target.max].filter((b) => b !== null && b !== undefined) : [],
      };
    });
    const marks = [];  // the legend's shared entries: once, where they have points
    if (lines.some((l) => l.shifts.length)) marks.push({ label: "environment shift", colour: STATE_COLOURS.environment });
    if (lines.some((l) => l.failed.length)) marks.push({ label: "failed runs", colour: "#c62828" });
    if (lines.some((l) => l.flags.length)) marks.push({ label: "GPU throttled or shared", colour: "#ef6c00" });
    return { x, lines, marks, log };
  }

  function markLines(line, at) {
    const out = [];
    line.changes.filter((m) => m.at === at).forEach((m) => {
      out.push(`${m.direction} ${MM.percent(m.change)}: ${MM.formatValue(m.before, page.unit)} → ${MM.formatValue(m.after, page.unit)}`
        + ` (${short(commits.hash[m.since])}…${short(commits.hash[m.at])})`);
      if (m.ack !== null && m.ack !== undefined) out.push(`acknowledged: ${m.ack}`);
      else if (m.direction === "regression") out.push(m.open ? "open" : "resolved");
    });
    line.shifts.filter((m) => m.at === at).forEach((m) => {
      out.push(`environment shift ${MM.percent(m.change)} (${short(commits.hash[m.since])}…${short(commits.hash[m.at])})`, ...m.evidence);
    });
    if (line.failed.includes(at)) out.push("a run failed here");
    if (line.flags.includes(at)) out.push("GPU throttled or shared during this run");
    return out;
  }

  // the marks over the lines, on uPlot's canvas (its pixels: valToPos(..., true), bbox)
  function drawMarks(u, figure) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const px = devicePixelRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    const vertical = (at, stroke, lineWidth, dash) => {
      const x = u.valToPos(at, "x", true);
      ctx.beginPath();
      ctx.setLineDash(dash.map((d) => d * px));
      ctx.strokeStyle = stroke;
      ctx.lineWidth = lineWidth * px;
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    };
    const symbol = (at, fraction, draw) => {
      const x = u.valToPos(at, "x", true);
      const y = top + height * (1 - fraction);
      ctx.beginPath();
      ctx.setLineDash([]);
      draw(x, y, 4 * px);
    };
    figure.lines.forEach((line, n) => {
      if (!u.series[history.seriesOf[n]].show) return;
      line.targets.forEach((bound) => {  // the series' absolute target (machmeter.targets)
        const y = u.valToPos(bound, "y", true);
        ctx.beginPath();
        ctx.setLineDash([8 * px, 4 * px]);
        ctx.strokeStyle = "#1565c0";
        ctx.lineWidth = 1.5 * px;
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
      });
      line.changes.forEach((m) => vertical(m.at, STATE_COLOURS[m.state], 1, [2, 3]));
      // the runner changed here (machmeter.detect.shifts): one event, not this series' regression
      line.shifts.forEach((m) => {
        vertical(m.at, STATE_COLOURS.environment, 2, [6, 4]);
        symbol(m.at, 0.95, (x, y, r) => { ctx.lineWidth = 2 * px; ctx.strokeRect(x - r, y - r, 2 * r, 2 * r); });
      });
      line.failed.forEach((at) => symbol(at, 0.03, (x, y, r) => {
        ctx.strokeStyle = "#c62828";
        ctx.lineWidth = 2 * px;
        ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r);
        ctx.stroke();
      }));
      line.flags.forEach((at) => symbol(at, 0.08, (x, y, r) => {
        ctx.strokeStyle = "#ef6c00";
        ctx.lineWidth = 2 * px;
        ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath();
        ctx.stroke();
      }));
      line.changes.forEach((m) => {  // a triangle at the level after the change, pointing the way it went
        if (figure.log && !(m.after > 0)) return;
        const x = u.valToPos(m.at, "x", true);
        const y = u.valToPos(m.after, "y", true);
        const r = 6 * px;
        const up = m.after > m.before ? -1 : 1;
        ctx.beginPath();
        ctx.setLineDash([]);
        ctx.moveTo(x, y + up * r);
        ctx.lineTo(x - r, y - up * r * 0.8);
        ctx.lineTo(x + r, y - up * r * 0.8);
        ctx.closePath();
        ctx.fillStyle = STATE_COLOURS[m.state];
        ctx.fill();
        ctx.strokeStyle = "#fff";
        ctx.lineWidth = px;
        ctx.stroke();
      });
    });
    ctx.restore();
  }

  function legend(entries, onToggle) {
    const list = MM.element("div", null, "chart-legend");
    entries.forEach((entry) => {
      const item = MM.element(onToggle && entry.toggles !== undefined ? "button" : "span", null, "legend-entry");
      if (item.tagName === "BUTTON") {
        item.type = "button";
        item.setAttribute("aria-pressed", "true");
        item.addEventListener("click", () => {
          const shown = item.getAttribute("aria-pressed") !== "true";
          item.setAttribute("aria-pressed", String(shown));
          onToggle(entry.toggles, shown);
        });
      }
      const swatch = MM.element("span", null, "swatch");
      swatch.style.background = entry.colour;
      item.append(swatch, MM.element("span", entry.label, "legend-text"));
      list.appendChild(item);
    });
    return list;
  }

  function tooltip(holder, lines) {
    if (!holder.tip) {
      holder.tip = MM.element("div", null, "chart-tip");
      holder.tip.hidden = true;
    }
    const tip = holder.tip;
    tip.replaceChildren(...lines.map((text, i) => MM.element("div", text, i === 0 ? "tip-head" : null)));
    tip.hidden = lines.length === 0;
    return tip;
  }

  function placeTip(u, tip, left, top) {
    const over = u.over;
    if (tip.parentNode !== over) over.appendChild(tip);
    const room = over.clientWidth;
    tip.style.left = `${Math.max(0, Math.min(left + 12, room - tip.offsetWidth - 2))}px`;
    tip.style.top = `${Math.max(0, top - tip.offsetHeight - 10)}px`;
  }

  // the point nearest the cursor among the shown series of `candidates` (indices into u.series)
  function nearest(u, candidates) {
    const { left, top, idx } = u.cursor;
    if (idx === null || idx === undefined || left < 0) return null;
    let best = null;
    candidates.forEach((si) => {
      if (!u.series[si].show) return;
      const value = u.data[si][idx];
      if (value === null || value === undefined) return;
      const distance = Math.abs(u.valToPos(value, u.series[si].scale || "y") - top);
      if (!best || distance < best.distance) best = { si, idx, value, distance };
    });
    return best;
  }

  // the runs first..last of consecutive indices where present(i): each(start, end) for each
  function spans(first, last, present, each) {
    let start = -1;
    for (let i = first; i <= last + 1; i++) {
      const here = i <= last && present(i);
      if (here && start < 0) start = i;
      else if (!here && start >= 0) { each(start, i - 1); start = -1; }
    }
  }

  /* uPlot breaks a line at a gap (a failed or skipped run) by clipping the canvas to the stretches
     between gaps; a few dozen gaps in 2,000 commits made that clip cost a software-drawn canvas ~25 ms
     a draw (scripts/site_load_speed.py). Here each stretch is a line of its own: the same breaks,
     unclipped. The bands are drawn the same way, under the lines (drawBands). */
  let linear = null;
  function linePaths(u, si, first, last) {
    linear = linear || uPlot.paths.linear();
    const values = u.data[si];
    let paths = null;
    spans(first, last, (i) => values[i] !== null && values[i] !== undefined, (start, end) => {
      const stretch = linear(u, si, start, end);
      if (paths) paths.stroke.addPath(stretch.stroke);
      else paths = stretch;
    });
    if (!paths) return linear(u, si, first, last);
    paths.clip = null;
    return paths;
  }

  const NO_PATHS = () => ({ stroke: null, fill: null, clip: null, band: null, gaps: null, flags: 0 });

  // each band (u.series indices of its upper and lower bound) where both bounds have values
  function drawBands(u, bands) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    u.bandStretches = 0;  // for the browser tests
    bands.forEach((band) => {
      if (!u.series[band.hi].show) return;
      const [x, high, low] = [u.data[0], u.data[band.hi], u.data[band.lo]];
      ctx.fillStyle = band.fill;
      // a shape per stretch: Chromium fills one path of a hundred shapes ~5× slower than the hundred
      spans(0, x.length - 1, (i) => high[i] !== null && low[i] !== null, (start, end) => {
        const shape = new Path2D();
        for (let i = start; i <= end; i++) shape.lineTo(u.valToPos(x[i], "x", true), u.valToPos(high[i], "y", true));
        for (let i = end; i >= start; i--) shape.lineTo(u.valToPos(x[i], "x", true), u.valToPos(low[i], "y", true));
        shape.closePath();
        ctx.fill(shape);
        u.bandStretches += 1;
      });
    });
    ctx.restore();
  }

  function sizeOf(height) {
    return { width: Math.max(200, box.clientWidth - 2), height };
  }

  function chartHeight() { return box.clientWidth < 600 ? 360 : 460; }

  function drawHistory() {
    const figure = historyFigure();
    const series = [{}];
    const data = [figure.x];
    const bands = [];
    history.seriesOf = [];
    const main = [];
    const dense = figure.x.length > MARKERS_UP_TO;
    figure.lines.forEach((line, n) => {
      history.seriesOf.push(series.length);
      main.push(series.length);
      // dense lines thin: a 1-pixel line is drawn several times faster than a 1.5-pixel one
      series.push({ label: line.label, stroke: line.colour, width: dense ? 1 : 1.5, spanGaps: false, paths: linePaths,
        points: { show: !dense, size: figure.x.length > 200 ? 4 : 6, fill: line.colour } });
      data.push(line.y);
      if (line.band) {  // its bounds: series of their own for the y range, drawn by drawBands
        series.push({ label: `${line.band === "ci_99" ? "CI 99%" : "IQR"} ${line.label}`, stroke: "transparent", width: 0,
          points: { show: false }, paths: NO_PATHS });
        data.push(line.hi);
        series.push({ label: "", stroke: "transparent", width: 0, points: { show: false }, paths: NO_PATHS });
        data.push(line.lo);
        bands.push({ hi: series.length - 2, lo: series.length - 1, fill: colour(n, 0.18) });
      }
    });
    const axes = [commitAxis(), valueAxis(page.unit ? `${page.unit} (${direction})` : direction, page.unit)];
    const options = {
      ...sizeOf(chartHeight()), series, legend: { show: false }, padding: padding(axes[0]),
      scales: { x: { time: false, range: (u, low, high) => [low - 0.5, high + 0.5] }, y: { distr: figure.log ? 3 : 1 } },
      axes,
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      hooks: { drawAxes: [(u) => drawBands(u, bands)], draw: [(u) => drawMarks(u, figure)],
        setCursor: [(u) => hoverHistory(u, figure, main)] },
    };
    if (history.plot) history.plot.destroy();
    box.replaceChildren();
    const toggle = (n, shown) => {
      history.plot.setSeries(history.seriesOf[n], { show: shown });
      if (figure.lines[n].band) {  // its band goes with it
        history.plot.setSeries(history.seriesOf[n] + 1, { show: shown });
        history.plot.setSeries(history.seriesOf[n] + 2, { show: shown });
      }
    };
    box.appendChild(legend([...figure.lines.map((line, n) => ({ label: line.label, colour: line.colour, toggles: n, listed: line.hasPoints })),
      ...figure.marks].filter((entry) => entry.listed !== false), toggle));
    history.plot = new uPlot(options, data, box);
    history.figure = figure;
    box.chart = history.plot;  // for the browser tests: what is drawn, and where
    box.figure = figure;
    const over = history.plot.over;
    let pressedAt = null;
    over.addEventListener("mousedown", (event) => { pressedAt = [event.clientX, event.clientY]; });
    over.addEventListener("click", (event) => {  // a click, not the end of a zoom drag: open the commit
      const still = pressedAt && Math.abs(event.clientX - pressedAt[0]) + Math.abs(event.clientY - pressedAt[1]) < 4;
      if (still && history.hover && page.commit_url) window.open(page.commit_url + commits.hash[history.hover.at], "_blank", "noopener");
    });
    over.addEventListener("mouseleave", () => { if (history.tip) history.tip.hidden = true; });
  }

  function hoverHistory(u, figure, main) {
    const hit = nearest(u, main);
    if (!hit) { history.hover = null; if (history.tip) history.tip.hidden = true; return; }
    const line = figure.lines[main.indexOf(hit.si)];
    const at = figure.x[hit.idx];
    history.hover = { at, value: hit.value, label: line.label };
    const tip = tooltip(history, [MM.formatValue(hit.value, page.unit), ...commitLines(at), line.label, ...markLines(line, at)]);
    tip.style.borderColor = line.colour;
    placeTip(u, tip, u.cursor.left, u.valToPos(hit.value, "y"));
    showPoint(history.hover);
  }

  function showPoint(hover) {
    const hash = commits.hash[hover.at];
    pointBox.replaceChildren();
    const head = MM.element("div", null, "point-head");
    if (page.commit_url) {
      const link = MM.element("a", hash.slice(0, 12));
      link.href = page.commit_url + hash;
      link.target = "_blank";
      link.rel = "noopener";
      head.appendChild(link);
    } else {
      head.appendChild(MM.element("code", hash.slice(0, 12)));
    }
    head.appendChild(MM.element("span", ` ${MM.formatValue(hover.value, page.unit)} on ${hover.label}`, "point-value"));
    pointBox.appendChild(head);
    pointBox.appendChild(MM.element("div", commits.subject[hover.at] || "(no repository: commit message unknown)", "subject"));
    pointBox.appendChild(MM.element("div", [commits.author[hover.at], MM.dateTimeText(commits.date[hover.at])].filter(Boolean).join(" · "), "muted"));
  }

  function message(target, holder, text) {
    if (holder.plot) { holder.plot.destroy(); holder.plot = null; }
    target.replaceChildren(MM.element("p", text, "muted loading"));
  }

  // where a call's time goes (machmeter.site.profiles): GPU kernel time under the rest of the wall
  async function drawSplit(mine) {
    if (!splitBox) return;
    const withSplit = chosen.filter((s) => s.split);
    if (!withSplit.length) {
      message(splitBox, split, "No GPU kernel time for this selection (a CPU run, or no profiled window).");
      return;
    }
    let splits;
    try {
      splits = await Promise.all(withSplit.map((s) => MM.json(`data/split/${s.split}.json`)));
    } catch (error) {  // the history chart above still stands
      if (mine === request) message(splitBox, split, `This chart could not be drawn: ${error.message}`);
      return;
    }
    if (mine !== request) return;  // a newer selection is being drawn
    const several = new Set(withSplit.map((s) => s.machine)).size < withSplit.length;
    const { x, place } = align(splits.map((s) => s.x));
    const series = [{}];
    const data = [x];
    const parts = [];  // per series: its label, and the u.series indices of its wall (stacked) and GPU parts
    const entries = [];
    splits.forEach((values, n) => {
      const shade = chosen.indexOf(withSplit[n]);  // the history chart's colour of the same series
      const label = traceName(withSplit[n], several);
      const gpu = place(values.x, values.gpu);
      const host = place(values.x, values.host);
      // stacked: the wall (GPU + the rest) drawn first, the GPU part over its lower share
      const wall = gpu.map((g, i) => (g === null || host[i] === null ? null : g + host[i]));
      series.push({ label: `host and gaps · ${label}`, stroke: colour(shade), width: 1, fill: colour(shade, 0.35), points: { show: false } });
      data.push(wall);
      series.push({ label: `GPU kernel time · ${label}`, stroke: colour(shade), width: 1, fill: colour(shade, 0.85), points: { show: false } });
      data.push(gpu);
      parts.push({ label, wall: series.length - 2, gpu: series.length - 1, gpuValues: gpu, hostValues: host });
      entries.push({ label: `GPU kernel time · ${label}`, colour: colour(shade, 0.85) }, { label: `host and gaps · ${label}`, colour: colour(shade, 0.35) });
    });
    const axes = [commitAxis(), valueAxis("µs per call", "")];
    const options = {
      ...sizeOf(300), series, legend: { show: false }, padding: padding(axes[0]),
      scales: { x: { time: false, range: (u, low, high) => [low - 0.5, high + 0.5] }, y: { range: (u, low, high) => [0, high * 1.05 || 1] } },
      axes,
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      hooks: { setCursor: [(u) => {
        const hit = nearest(u, parts.map((p) => p.wall));
        if (!hit) { if (split.tip) split.tip.hidden = true; return; }
        const part = parts.find((p) => p.wall === hit.si);
        const wall = MM.formatValue(hit.value, "µs");
        const tip = tooltip(split, [`GPU kernel time ${MM.formatValue(part.gpuValues[hit.idx], "µs")} of ${wall}`,
          `host and gaps ${MM.formatValue(part.hostValues[hit.idx], "µs")} of ${wall}`, `${short(commits.hash[x[hit.idx]])} ${part.label}`]);
        placeTip(u, tip, u.cursor.left, u.valToPos(hit.value, "y"));
      }] },
    };
    if (split.plot) split.plot.destroy();
    splitBox.replaceChildren(legend(entries));
    split.plot = new uPlot(options, data, splitBox);
    split.plot.over.addEventListener("mouseleave", () => { if (split.tip) split.tip.hidden = true; });
    // for the browser tests: each part's own values, as the files hold them
    splitBox.chart = split.plot;
    splitBox.figure = parts.flatMap((p) => [{ name: `GPU kernel time · ${p.label}`, y: p.gpuValues, stackedOn: null },
      { name: `host and gaps · ${p.label}`, y: p.hostValues, stackedOn: `GPU kernel time · ${p.label}` }]);
  }

  async function draw() {
    const mine = ++request;
    const picked = selection();
    if (!picked.length) {
      message(box, history, "No series for this selection: choose other parameters or machines.");
      ready();
      return;
    }
    window.history.replaceState(null, "", `${location.pathname}${location.search}#${picked[0].id}`);
    tables.then(() => document.querySelectorAll("#series-table tr[data-series]").forEach((row) => {
      row.classList.toggle("selected", picked.some((s) => s.id === row.dataset.series));
    }));
    try {
      const [, allCommits, ...files] = await Promise.all([library,
        MM.json("data/commits.json"), ...picked.map((s) => MM.json(`data/series/${s.id}.json`))]);
      if (mine !== request) return;
      commits = allCommits;
      for (const chart of files) {
        if (chart.decoded) continue;
        chart.y = MM.decode(chart.y, chart.e);
        chart.lo = MM.decode(chart.lo, chart.eb);
        chart.hi = MM.decode(chart.hi, chart.eb);
        chart.decoded = true;
      }
      chosen = picked;
      charts = files;
      drawHistory();
      await drawSplit(mine);
      ready();
    } catch (error) {
      message(box, history, `The chart could not be drawn: ${error.message}`);
      ready();
    }
  }

  function hashId() {
    try { return decodeURIComponent(location.hash.slice(1)); } catch (error) { return ""; }
  }

  // the charts follow the page's width (a phone turned, a window resized)
  let width = box.clientWidth;
  new ResizeObserver(() => {
    if (box.clientWidth === width) return;
    width = box.clientWidth;
    if (history.plot) history.plot.setSize(sizeOf(chartHeight()));
    if (split.plot) split.plot.setSize(sizeOf(300));
  }).observe(box);

  // the controls redraw on change; Enter in them must not submit the form (no inline handler: the CSP)
  document.getElementById("chart-controls").addEventListener("submit", (event) => event.preventDefault());
  select(hashId());
  selects.forEach((s) => s.addEventListener("change", draw));
  machineBoxes.forEach((input) => input.addEventListener("change", draw));
  logScale.addEventListener("change", () => { if (charts) drawHistory(); });
  showBand.addEventListener("change", () => { if (charts) drawHistory(); });
  tables.then(() => document.querySelectorAll("button.show").forEach((button) => button.addEventListener("click", () => {
    if (select(button.dataset.series)) { draw(); box.scrollIntoView({ behavior: "smooth", block: "center" }); }
  })));
  window.addEventListener("hashchange", () => { if (select(hashId())) draw(); });
  draw();
})();
