/* machmeter site: helpers shared by every page. Text from the results is only ever set with
   textContent (never innerHTML) or drawn as canvas text. */
"use strict";

const MM = (() => {
  const root = document.body.dataset.root || "";
  const cache = new Map();

  function json(path) {
    if (!cache.has(path)) {
      cache.set(path, fetch(root + path).then((response) => {
        if (!response.ok) throw new Error(`${path}: ${response.status} ${response.statusText}`);
        return response.json();
      }));
    }
    return cache.get(path);
  }

  // Mirrors machmeter.report.units.format_value (the tests compare the two).
  const TIME_SCALES = [[1.0, "s"], [1e-3, "ms"], [1e-6, "µs"], [1e-9, "ns"]];
  const BYTE_SCALES = [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];

  function roundHalfEven(x) {
    const n = Math.round(x);
    return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : n;  // Python rounds exact ties to even
  }

  function g4(value) {
    // Python's format(value, ".4g"): 4 significant digits, exponent form below 1e-4 and from 1e4
    if (value === 0) return Object.is(value, -0) ? "-0" : "0";
    if (!isFinite(value)) return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
    let exponent = Math.floor(Math.log10(Math.abs(value)));
    const scale = (e) => (e <= 3 ? value * 10 ** (3 - e) : value / 10 ** (e - 3));
    let scaled = scale(exponent);
    if (Math.abs(scaled) >= 10000) scaled = scale(++exponent);
    else if (Math.abs(scaled) < 1000) scaled = scale(--exponent);
    let digits = Math.abs(roundHalfEven(scaled));
    if (digits >= 10000) { digits = Math.round(digits / 10); exponent += 1; }
    const sign = value < 0 ? "-" : "";
    const text = String(digits);
    const trim = (t) => (t.includes(".") ? t.replace(/\.?0+$/, "") : t);
    if (exponent < -4 || exponent >= 4) {
      const power = `${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
      return `${sign}${trim(`${text[0]}.${text.slice(1)}`)}e${power}`;
    }
    if (exponent >= 3) return sign + text;
    if (exponent >= 0) return sign + trim(`${text.slice(0, exponent + 1)}.${text.slice(exponent + 1)}`);
    return sign + trim(`0.${"0".repeat(-exponent - 1)}${text}`);
  }

  function formatValue(value, unit) {
    if (value === null || value === undefined) return "failed";
    if (Number.isNaN(value)) return "skipped";
    if (unit === "seconds") {
      for (const [scale, name] of TIME_SCALES) {
        if (Math.abs(value) >= scale || scale === TIME_SCALES[TIME_SCALES.length - 1][0]) return `${g4(value / scale)} ${name}`;
      }
    }
    if (unit === "bytes") {
      for (const [scale, name] of BYTE_SCALES) {
        if (Math.abs(value) >= scale) return `${g4(value / scale)} ${name}`;
      }
      const whole = roundHalfEven(value);
      return `${whole === 0 && (value < 0 || Object.is(value, -0)) ? "-0" : whole} B`;
    }
    return `${g4(value)} ${unit || ""}`.trimEnd();
  }

  function percent(change) {
    if (change === null || change === undefined || Number.isNaN(change)) return "";
    if (!isFinite(change)) return change > 0 ? "+∞" : "−∞";
    return `${change >= 0 ? "+" : ""}${(change * 100).toFixed(1)}%`.replace("-", "−");
  }

  function dateText(ms) {
    if (!ms) return "";
    return new Date(ms).toISOString().slice(0, 10);
  }

  function dateTimeText(ms) {
    if (!ms) return "";
    return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  /* Search box, status and machine filters over the rows of a table (data-status, data-machine); rows
     set aside (data-set-aside: retired or valueless series) show only while #show-set-aside is checked. */
  function filterTable(table, onChange) {
    const search = document.getElementById("search");
    const status = document.getElementById("status-filter");
    const machine = document.getElementById("machine-filter");
    const setAside = document.getElementById("show-set-aside");
    const shown = document.getElementById("shown");
    const none = document.getElementById("none-shown");
    let rows = [];
    let texts = [];
    function index() {
      rows = Array.from(table.tBodies[0].rows);
      texts = rows.map((row) => row.textContent.toLowerCase().replace(/\s+/g, " "));
    }
    function apply() {
      const words = (search ? search.value : "").toLowerCase().split(/\s+/).filter(Boolean);
      const wanted = status ? status.value : "";
      const where = machine ? machine.value : "";
      const all = setAside ? setAside.checked : false;
      let count = 0;
      rows.forEach((row, i) => {
        const visible = (all || !row.dataset.setAside) && (!wanted || row.dataset.status === wanted)
          && (!where || row.dataset.machine === where) && words.every((word) => texts[i].includes(word));
        if (row.hidden === visible) row.hidden = !visible;
        count += visible;
      });
      const total = all ? rows.length : rows.filter((row) => !row.dataset.setAside).length;
      if (shown) shown.textContent = `${count} of ${total} shown`;
      if (none) none.hidden = count > 0;
      const query = new URLSearchParams(location.search);  // keeps the page's own (compare: base, head)
      for (const [name, value] of [["q", search ? search.value : ""], ["status", wanted], ["machine", where],
        ["all", all ? "1" : ""]]) {
        if (value) query.set(name, value); else query.delete(name);
      }
      const text = query.toString();
      history.replaceState(null, "", text ? `?${text}${location.hash}` : location.pathname + location.hash);
      if (onChange) onChange();
    }
    index();
    const query = new URLSearchParams(location.search);
    if (search && query.get("q")) search.value = query.get("q");
    if (status && query.get("status")) status.value = query.get("status");
    if (machine && query.get("machine")) machine.value = query.get("machine");
    if (setAside) setAside.checked = query.get("all") === "1";
    let timer = null;
    if (search) search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 80); });
    if (status) status.addEventListener("change", apply);
    if (machine) machine.addEventListener("change", apply);
    if (setAside) setAside.addEventListener("change", apply);
    apply();
    return { apply, reindex() { index(); apply(); } };
  }

  // The JSON holds each series' values as integers n of 10**e (smaller and faster than decimals).
  function decode(numbers, e) {
    if (!numbers) return numbers;
    const scale = 10 ** Math.abs(e);  // an exact power of ten: n / 10**k reads back the nearest double
    return e <= 0 ? numbers.map((n) => (n === null ? null : n / scale)) : numbers.map((n) => (n === null ? null : n * scale));
  }

  function decodeOne(n, e) {
    if (n === null || n === undefined) return null;
    return e <= 0 ? n / 10 ** -e : n * 10 ** e;
  }

  // a chart's line colours, and a legend under it (wraps on a narrow screen; names set as text)
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

  function legend(entries) {
    const list = element("div", null, "chart-legend");
    for (const entry of entries) {
      const item = element("span", null, "legend-entry");
      const swatch = element("span", null, "swatch");
      swatch.style.background = entry.colour;
      item.append(swatch, element("span", entry.label, "legend-text"));
      list.append(item);
    }
    return list;
  }

  function ready() {
    document.body.dataset.ready = "1";
    window.dispatchEvent(new Event("machmeter-ready"));
  }

  return { root, json, decode, decodeOne, formatValue, percent, dateText, dateTimeText, element, filterTable, PALETTE, legend, ready };
})();
