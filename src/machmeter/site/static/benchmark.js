/* Benchmark page: the history chart of the selected parameter combination on the selected machines.
   x is the commit order (dates on the axis), y the value in the benchmark's unit, with asv's CI or IQR
   band, the change points of machmeter check, failed runs and runs on a throttled or shared GPU. */
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
  let splitDrawn = false;
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
  const MARKERS_UP_TO = 500;
  const STATE_COLOURS = { regression: "#c62828", improvement: "#2e7d32", acknowledged: "#8d6e63", environment: "#6a1b9a" };
  const direction = page.higher_is_better ? "higher is better" : "lower is better";
  let commits = null;
  let drawn = false;
  let request = 0;
  let ticking = false;

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

  function hoverText(index, value) {
    const hash = commits.hash[index];
    const subject = commits.subject[index];
    const author = commits.author[index];
    let text = `<b>${MM.plotlyText(MM.formatValue(value, page.unit))}</b><br>${MM.plotlyText(hash.slice(0, 8))}`;
    if (subject) text += ` ${MM.plotlyText(subject.length > 80 ? subject.slice(0, 79) + "…" : subject)}`;
    text += `<br>${MM.plotlyText([author, MM.dateTimeText(commits.date[index])].filter(Boolean).join(" · "))}`;
    return text;
  }

  function xs(chart) {
    if (chart.x) return chart.x;
    return chart.y.map((_, i) => chart.x0 + i);
  }

  function traceName(series, several) {
    let name = series.machine;
    if (several) name += ` · ${series.env}${series.version ? ` · v${series.version.slice(0, 6)}` : ""}`;
    return name;
  }

  function placeTicks(first, last, count) {
    const tickvals = [];
    for (let i = 0; i < count; i++) {
      const value = Math.round(first + (count === 1 ? 0 : (i * (last - first)) / (count - 1)));
      if (!tickvals.includes(value)) tickvals.push(value);
    }
    let ticktext = tickvals.map((i) => MM.dateText(commits.date[i]));
    if (new Set(ticktext).size < ticktext.length) {  // several commits a day: the time too
      ticktext = tickvals.map((i) => MM.dateTimeText(commits.date[i]).replace(" UTC", ""));
    }
    return { tickvals, ticktext };
  }

  function ticks(low, high) {
    const first = Math.max(0, Math.ceil(low));
    const last = Math.min(commits.branch_length - 1, Math.floor(high));
    if (last < first) return { tickvals: [], ticktext: [] };
    // as many labels as fit side by side at the chart's width (about 7 px a character and a gap):
    // labels that run into each other are read by nobody, and a phone fits two or three
    const width = Math.max(150, box.clientWidth - 90);
    let placed = null;
    for (let count = Math.min(7, last - first + 1); count >= 1; count--) {
      placed = placeTicks(first, last, count);
      const widest = Math.max(0, ...placed.ticktext.map((text) => text.length));
      if (placed.tickvals.length * (widest * 7 + 20) <= width) break;
    }
    return placed;
  }

  function traces(charts, chosen) {
    const several = new Set(chosen.map((s) => s.machine)).size < chosen.length;
    const data = [];
    const shapes = [];
    const listed = new Set();  // the legend's shared entries (failed runs, flags, shifts): once, where they have points
    const once = (group) => {
      if (listed.has(group)) return false;
      listed.add(group);
      return true;
    };
    let low = Infinity;
    let high = -Infinity;
    charts.forEach((chart, n) => {
      const series = chosen[n];
      const x = xs(chart);
      low = Math.min(low, x[0]);
      high = Math.max(high, x[x.length - 1]);
      const label = traceName(series, several);  // the text; plotly reads a trace name as markup
      const name = MM.plotlyText(label);
      if (chart.band && showBand.checked) {
        data.push({ x, y: chart.lo, type: "scatter", mode: "lines", line: { width: 0 }, hoverinfo: "skip",
          showlegend: false, legendgroup: series.id, connectgaps: false });
        data.push({ x, y: chart.hi, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty",
          fillcolor: colour(n, 0.18), hoverinfo: "skip", showlegend: false, legendgroup: series.id, connectgaps: false,
          name: chart.band === "ci_99" ? "CI 99%" : "IQR" });
      }
      data.push({
        // every marker is an SVG node: past a few hundred commits they cost more to draw than they show,
        // so a long history is a line (hover still finds each commit)
        x, y: chart.y, type: "scatter", mode: chart.y.length > MARKERS_UP_TO ? "lines" : "lines+markers",
        // a series whose every run here failed has no point: no legend entry to promise one
        name, legendgroup: series.id, showlegend: chart.y.some((value) => value !== null), customdata: x, line: { width: 1.5, color: colour(n) },
        marker: { size: chart.y.length > 200 ? 3 : 5, color: colour(n) }, connectgaps: false,
        hovertext: chart.y.map((value, i) => (value === null ? "" : hoverText(x[i], value))),
        hovertemplate: "%{hovertext}<extra>%{fullData.name}</extra>", meta: { series: series.id, main: true, label },
      });
      if (chart.changes) {
        const marks = chart.changes;
        data.push({
          x: marks.map((m) => m.at), y: marks.map((m) => m.after), type: "scatter", mode: "markers",
          name: `change points (${name})`, legendgroup: series.id, showlegend: false,
          marker: { size: 12, line: { width: 1, color: "#fff" },
            symbol: marks.map((m) => (m.after > m.before ? "triangle-up" : "triangle-down")),
            color: marks.map((m) => STATE_COLOURS[m.ack !== null && m.ack !== undefined ? "acknowledged" : m.direction]) },
          hovertext: marks.map((m) => {
            let text = `<b>${m.direction} ${MM.plotlyText(MM.percent(m.change))}</b>`
              + `<br>${MM.plotlyText(MM.formatValue(m.before, page.unit))} → ${MM.plotlyText(MM.formatValue(m.after, page.unit))}`
              + `<br>${MM.plotlyText(commits.hash[m.since].slice(0, 8))}…${MM.plotlyText(commits.hash[m.at].slice(0, 8))}`;
            if (m.ack !== null && m.ack !== undefined) text += `<br>acknowledged: ${MM.plotlyText(m.ack)}`;
            else if (m.direction === "regression") text += m.open ? "<br>open" : "<br>resolved";
            return text;
          }),
          hovertemplate: "%{hovertext}<extra></extra>", meta: { changes: true },
        });
        marks.forEach((m) => shapes.push({ type: "line", xref: "x", yref: "paper", x0: m.at, x1: m.at, y0: 0, y1: 1,
          line: { color: STATE_COLOURS[m.ack !== null && m.ack !== undefined ? "acknowledged" : m.direction], width: 1, dash: "dot" } }));
      }
      if (chart.target) {
        // the series' absolute target (machmeter.targets): the value must stay on the right side of it
        [chart.target.min, chart.target.max].forEach((bound) => {
          if (bound === null || bound === undefined) return;
          shapes.push({ type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: bound, y1: bound,
            line: { color: "#1565c0", width: 1.5, dash: "longdash" } });
        });
      }
      if (chart.shifts) {
        // the runner changed here (machmeter.detect.shifts): one event, not this series' regression
        chart.shifts.forEach((m) => shapes.push({ type: "line", xref: "x", yref: "paper", x0: m.at, x1: m.at, y0: 0, y1: 1,
          line: { color: STATE_COLOURS.environment, width: 2, dash: "dash" } }));
        data.push({
          x: chart.shifts.map((m) => m.at), y: chart.shifts.map(() => 0.95), yaxis: "y2", type: "scatter", mode: "markers",
          name: "environment shift", legendgroup: "shifts", showlegend: once("shifts"),
          marker: { symbol: "square-open", size: 9, color: STATE_COLOURS.environment, line: { width: 2 } },
          hovertext: chart.shifts.map((m) => `<b>environment shift ${MM.plotlyText(MM.percent(m.change))}</b>`
            + m.evidence.map((e) => `<br>${MM.plotlyText(e)}`).join("")
            + `<br>${MM.plotlyText(commits.hash[m.since].slice(0, 8))}…${MM.plotlyText(commits.hash[m.at].slice(0, 8))}`),
          hovertemplate: "%{hovertext}<extra></extra>",
        });
      }
      if (chart.failed) {
        data.push({ x: chart.failed, y: chart.failed.map(() => 0.03), yaxis: "y2", type: "scatter", mode: "markers",
          name: "failed runs", legendgroup: "failed", showlegend: once("failed"),
          marker: { symbol: "x-thin-open", size: 8, color: "#c62828", line: { width: 2 } },
          hovertext: chart.failed.map((i) => `failed<br>${MM.plotlyText(commits.hash[i].slice(0, 8))} ${MM.plotlyText(commits.subject[i] || "")}`),
          hovertemplate: "%{hovertext}<extra>%{fullData.name}</extra>" });
      }
      if (chart.flags) {
        data.push({ x: chart.flags, y: chart.flags.map(() => 0.08), yaxis: "y2", type: "scatter", mode: "markers",
          name: "GPU throttled or shared", legendgroup: "flags", showlegend: once("flags"),
          marker: { symbol: "diamond-open", size: 8, color: "#ef6c00", line: { width: 2 } },
          hovertext: chart.flags.map((i) => `GPU throttled or shared during this run<br>${MM.plotlyText(commits.hash[i].slice(0, 8))}`),
          hovertemplate: "%{hovertext}<extra>%{fullData.name}</extra>" });
      }
    });
    const range = low <= high ? [low - 0.5, high + 0.5] : undefined;
    const layout = {
      height: box.clientWidth < 600 ? 360 : 460, margin: { l: 70, r: 20, t: 10, b: 60 }, hovermode: "closest", showlegend: true,
      // above the plot: below it, a wrapped legend ran into the axis title on a narrow screen
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" }, shapes, uirevision: chosen.map((s) => s.id).join(),
      xaxis: { title: { text: "commit order (date of the commit)" }, range, ...ticks(range ? range[0] : 0, range ? range[1] : 0),
        zeroline: false, showgrid: true, automargin: true },
      yaxis: { title: { text: page.unit ? `${MM.plotlyText(page.unit)} (${direction})` : direction }, type: logScale.checked ? "log" : "linear", zeroline: false },
      yaxis2: { overlaying: "y", range: [0, 1], visible: false, fixedrange: true },
    };
    return { data, layout };
  }

  function showPoint(event) {
    const hit = event.points && event.points.find((p) => p.data.meta && p.data.meta.main);
    if (!hit) return;
    const index = hit.customdata;
    const hash = commits.hash[index];
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
    head.appendChild(MM.element("span", ` ${MM.formatValue(hit.y, page.unit)} on ${hit.data.meta.label}`, "point-value"));
    pointBox.appendChild(head);
    pointBox.appendChild(MM.element("div", commits.subject[index] || "(no repository: commit message unknown)", "subject"));
    pointBox.appendChild(MM.element("div", [commits.author[index], MM.dateTimeText(commits.date[index])].filter(Boolean).join(" · "), "muted"));
  }

  function openCommit(event) {
    const hit = event.points && event.points.find((p) => p.data.meta && p.data.meta.main);
    if (!hit || !page.commit_url) return;
    window.open(page.commit_url + commits.hash[hit.customdata], "_blank", "noopener");
  }

  function message(text) {
    if (drawn && window.Plotly) { window.Plotly.purge(box); drawn = false; }
    box.replaceChildren(MM.element("p", text, "muted loading"));
  }

  // where a call's time goes (machmeter.site.profiles): GPU kernel time and the rest of the wall, stacked
  async function drawSplit(Plotly, chosen, mine) {
    if (!splitBox) return;
    const withSplit = chosen.filter((s) => s.split);
    if (!withSplit.length) {
      if (splitDrawn) { Plotly.purge(splitBox); splitDrawn = false; }
      splitBox.replaceChildren(MM.element("p", "No GPU kernel time for this selection (a CPU run, or no profiled window).", "muted loading"));
      return;
    }
    let splits;
    try {
      splits = await Promise.all(withSplit.map((s) => MM.json(`data/split/${s.split}.json`)));
    } catch (error) {  // the history chart above still stands
      if (mine === request) splitBox.replaceChildren(MM.element("p", `This chart could not be drawn: ${error.message}`, "muted loading"));
      return;
    }
    if (mine !== request) return;  // a newer selection is being drawn
    const several = new Set(withSplit.map((s) => s.machine)).size < withSplit.length;
    const data = [];
    let low = Infinity;
    let high = -Infinity;
    splits.forEach((split, n) => {
      const series = withSplit[n];
      const shade = chosen.indexOf(series);  // the history chart's colour of the same series
      const label = traceName(series, several);
      low = Math.min(low, split.x[0]);
      high = Math.max(high, split.x[split.x.length - 1]);
      const hover = (part, values) => values.map((value, i) => `<b>${MM.plotlyText(part)} ${MM.plotlyText(MM.formatValue(value, "µs"))}</b>`
        + ` of ${MM.plotlyText(MM.formatValue(split.gpu[i] + split.host[i], "µs"))}<br>${MM.plotlyText(commits.hash[split.x[i]].slice(0, 8))}`
        + ` ${MM.plotlyText(label)}`);
      [["GPU kernel time", split.gpu, 0.85], ["host and gaps", split.host, 0.35]].forEach(([part, values, alpha]) => {
        data.push({ x: split.x, y: values, type: "scatter", mode: "lines", stackgroup: series.id, name: MM.plotlyText(`${part} · ${label}`),
          line: { width: 1, color: colour(shade) }, fillcolor: colour(shade, alpha), hovertext: hover(part, values),
          hovertemplate: "%{hovertext}<extra></extra>" });
      });
    });
    const range = [low - 0.5, high + 0.5];
    const layout = { height: 300, margin: { l: 70, r: 20, t: 10, b: 60 }, hovermode: "closest",
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { title: { text: "commit order (date of the commit)" }, range, ...ticks(range[0], range[1]), zeroline: false, automargin: true },
      yaxis: { title: { text: "µs per call" }, rangemode: "tozero", zeroline: false } };
    if (!splitDrawn) splitBox.replaceChildren();
    await Plotly.react(splitBox, data, layout, { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] });
    splitDrawn = true;
  }

  async function draw() {
    const mine = ++request;
    const chosen = selection();
    if (!chosen.length) {
      message("No series for this selection: choose other parameters or machines.");
      MM.ready();
      return;
    }
    history.replaceState(null, "", `${location.pathname}${location.search}#${chosen[0].id}`);
    document.querySelectorAll("#series-table tr[data-series]").forEach((row) => {
      row.classList.toggle("selected", chosen.some((s) => s.id === row.dataset.series));
    });
    try {
      const [Plotly, allCommits, ...charts] = await Promise.all([
        MM.loadPlotly(), MM.json("data/commits.json"), ...chosen.map((s) => MM.json(`data/series/${s.id}.json`))]);
      if (mine !== request) return;
      commits = allCommits;
      for (const chart of charts) {
        if (chart.decoded) continue;
        chart.y = MM.decode(chart.y, chart.e);
        chart.lo = MM.decode(chart.lo, chart.eb);
        chart.hi = MM.decode(chart.hi, chart.eb);
        chart.decoded = true;
      }
      const { data, layout } = traces(charts, chosen);
      if (!drawn) box.replaceChildren();
      await Plotly.react(box, data, layout, { responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d"] });
      if (!drawn) {
        drawn = true;
        box.on("plotly_hover", showPoint);
        box.on("plotly_click", openCommit);
        box.on("plotly_relayout", (event) => {
          if (ticking || !("xaxis.range[0]" in event || "xaxis.autorange" in event)) return;
          const [low, high] = box.layout.xaxis.range;
          ticking = true;
          Plotly.relayout(box, { "xaxis.tickvals": ticks(low, high).tickvals, "xaxis.ticktext": ticks(low, high).ticktext })
            .finally(() => { ticking = false; });
        });
      }
      await drawSplit(Plotly, chosen, mine);
      MM.ready();
    } catch (error) {
      message(`The chart could not be drawn: ${error.message}`);
      MM.ready();
    }
  }

  function hashId() {
    try { return decodeURIComponent(location.hash.slice(1)); } catch (error) { return ""; }
  }

  // the controls redraw on change; Enter in them must not submit the form (no inline handler: the CSP)
  document.getElementById("chart-controls").addEventListener("submit", (event) => event.preventDefault());
  select(hashId());
  selects.forEach((s) => s.addEventListener("change", draw));
  machineBoxes.forEach((input) => input.addEventListener("change", draw));
  logScale.addEventListener("change", () => {
    if (drawn) window.Plotly.relayout(box, { "yaxis.type": logScale.checked ? "log" : "linear" });
  });
  showBand.addEventListener("change", draw);
  document.querySelectorAll("button.show").forEach((button) => button.addEventListener("click", () => {
    if (select(button.dataset.series)) { draw(); box.scrollIntoView({ behavior: "smooth", block: "center" }); }
  }));
  window.addEventListener("hashchange", () => { if (select(hashId())) draw(); });
  draw();
})();
