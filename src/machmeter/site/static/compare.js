/* Compare page: compare.html?base=<commit>&head=<commit> (full hashes or unique prefixes).
   Every series' value at the two commits (data/rev/<hash prefix>.json, aligned with data/series.json), the
   relative change, direction-aware, flagged beyond the series' threshold. */
"use strict";

(() => {
  const query = new URLSearchParams(location.search);
  const baseInput = document.getElementById("base");
  const headInput = document.getElementById("head");
  const info = document.getElementById("revision-info");
  const table = document.getElementById("rows");
  const controls = document.getElementById("compare-controls");
  const messageBox = document.getElementById("message");
  const base = (query.get("base") || "").trim().toLowerCase();
  const head = (query.get("head") || "").trim().toLowerCase();
  baseInput.value = base;
  headInput.value = head;
  const ORDER = { regression: 0, improvement: 1, changed: 2, unchanged: 3, only: 4 };
  const LABELS = { regression: "regression", improvement: "improvement", changed: "benchmark changed",
    unchanged: "unchanged", only: "one side" };

  function message(text) {
    messageBox.textContent = text;
    messageBox.hidden = false;
  }

  function fillCommitList() {
    MM.json("data/commits.json").then((commits) => {
      const list = document.getElementById("known-commits");
      const options = [];
      for (let i = commits.hash.length - 1; i >= 0 && options.length < 500; i--) {
        const option = document.createElement("option");
        option.value = commits.hash[i];
        option.label = `${MM.dateText(commits.date[i])} ${commits.subject[i] || ""}`.trim();
        options.push(option);
      }
      list.replaceChildren(...options);
    }).catch(() => {});
  }

  async function revision(name, label) {
    if (!/^[0-9a-f]{4,64}$/.test(name)) throw new Error(`${label}: ${JSON.stringify(name)} is not a commit hash`);
    const commits = await MM.json("data/commits.json");
    const length = commits.rev_prefix;
    if (name.length < length) throw new Error(`${label}: give at least ${length} characters of the hash`);
    let bucket;
    try {
      bucket = await MM.json(`data/rev/${name.slice(0, length)}.json`);
    } catch (error) {
      throw new Error(`${label}: no results for ${name} on this site`);
    }
    const found = Object.keys(bucket).filter((hash) => hash.startsWith(name));
    if (found.length !== 1) {
      throw new Error(found.length ? `${label}: ${name} names ${found.length} commits, give more of the hash`
        : `${label}: no results for ${name} on this site`);
    }
    return { commit: found[0], ...bucket[found[0]] };
  }

  // the check's policy of the series, as data/series.json carries it (site/data.py compare_policy):
  // nothing about kinds is decided here
  function verdict(i, series, before, after) {
    if (before === null || after === null) return { verdict: "only", change: null };
    const difference = after - before;
    const change = before === 0 ? (after === 0 ? 0 : Math.sign(after) * Infinity) : difference / Math.abs(before);
    const higher = series.higher_is_better[i];
    const worse = higher ? after < before : after > before;
    const better = higher ? after > before : after < before;
    const rule = series.judged_by[i];
    const floor = series.noise_floor[i] || 0;
    const absolute = series.tolerance_abs[i];
    const relative = series.tolerance_rel[i];
    if (rule === null || (!worse && !better)) return { verdict: "unchanged", change };
    if (absolute !== null && Math.abs(difference) <= absolute) return { verdict: "unchanged", change };
    if (rule === "tolerance") {
      if (relative !== null && Math.abs(difference) <= relative * Math.abs(before)) return { verdict: "unchanged", change };
      // a student's error that moves between runs: its run-to-run noise floor widens the tolerance
      if (floor > 0 && Math.abs(change) <= floor) return { verdict: "unchanged", change };
    } else if (Math.abs(change) < Math.max(series.threshold[i], floor)) {
      return { verdict: "unchanged", change };
    }
    return { verdict: worse ? "regression" : "improvement", change };
  }

  function limitText(i, series) {
    const rule = series.judged_by[i];
    if (rule === "tolerance") return "tolerance";
    if (rule === null) return "never judged";
    return `${(Math.max(series.threshold[i], series.noise_floor[i] || 0) * 100).toFixed(1)}%`;
  }

  function describe(rev, label, commitUrl) {
    const block = MM.element("div", null, "revision");
    block.appendChild(MM.element("span", `${label} `, "muted"));
    if (commitUrl) {
      const link = MM.element("a", rev.commit.slice(0, 12));
      link.href = commitUrl + rev.commit;
      block.appendChild(link);
    } else {
      block.appendChild(MM.element("code", rev.commit.slice(0, 12)));
    }
    block.appendChild(MM.element("span", ` ${MM.dateTimeText(rev.date)}${rev.on_branch ? "" : " (off the branch)"} `, "muted"));
    if (rev.subject) block.appendChild(MM.element("span", rev.subject, "subject"));
    if (rev.author) block.appendChild(MM.element("span", ` — ${rev.author}`, "muted"));
    return block;
  }

  async function run() {
    if (!base || !head) {
      message("Give two commits: compare.html?base=<commit hash>&head=<commit hash>.");
      fillCommitList();
      MM.ready();
      return;
    }
    try {
      const [series, commits, before, after] = await Promise.all([
        MM.json("data/series.json"), MM.json("data/commits.json"), revision(base, "base"), revision(head, "head")]);
      info.replaceChildren(describe(before, "base", commits.commit_url), describe(after, "head", commits.commit_url));
      // series that differ only by asv's benchmark version are one benchmark: its code changed in between
      for (const rev of [before, after]) {
        if (!rev.decoded) rev.v = rev.v.map((n, i) => MM.decodeOne(n, series.e[i]));
        rev.decoded = true;
      }
      const groups = new Map();
      for (let i = 0; i < series.id.length; i++) {
        if (before.v[i] === null && after.v[i] === null) continue;
        if (!groups.has(series.group[i])) groups.set(series.group[i], []);
        groups.get(series.group[i]).push(i);
      }
      const rows = [];
      for (const members of groups.values()) {
        const atBase = members.find((i) => before.v[i] !== null);
        const atHead = members.find((i) => after.v[i] !== null);
        if (atBase !== undefined && atHead !== undefined && atBase !== atHead) {
          const change = before.v[atBase] === 0 ? null : (after.v[atHead] - before.v[atBase]) / Math.abs(before.v[atBase]);
          rows.push({ i: atHead, b: before.v[atBase], a: after.v[atHead], verdict: "changed", change });
          continue;
        }
        const i = atHead !== undefined ? atHead : atBase;
        rows.push({ i, b: before.v[i], a: after.v[i], ...verdict(i, series, before.v[i], after.v[i]) });
      }
      rows.sort((x, y) => ORDER[x.verdict] - ORDER[y.verdict]
        || Math.abs(y.change || 0) - Math.abs(x.change || 0) || x.i - y.i);
      const body = document.createDocumentFragment();
      const counts = { regression: 0, improvement: 0, changed: 0, unchanged: 0, only: 0 };
      for (const row of rows) {
        counts[row.verdict] += 1;
        const i = row.i;
        const tr = document.createElement("tr");
        tr.dataset.status = row.verdict;
        tr.dataset.machine = series.machine[i];
        const status = MM.element("td");
        status.appendChild(MM.element("span", LABELS[row.verdict],
          `status ${row.verdict === "regression" ? "regressed" : row.verdict === "improvement" ? "improved" : "steady"}`));
        tr.appendChild(status);
        const name = MM.element("td");
        const link = MM.element("a", series.benchmark[i]);
        link.href = `benchmarks/${series.page[i]}.html#${series.id[i]}`;
        name.appendChild(link);
        if (series.params[i]) name.appendChild(MM.element("span", ` ${series.params[i]}`, "params"));
        tr.appendChild(name);
        tr.appendChild(MM.element("td", series.machine[i]));
        tr.appendChild(MM.element("td", row.b === null ? "—" : MM.formatValue(row.b, series.unit[i]), "num"));
        tr.appendChild(MM.element("td", row.a === null ? "—" : MM.formatValue(row.a, series.unit[i]), "num"));
        tr.appendChild(MM.element("td", row.change === null ? "" : MM.percent(row.change), `num ${row.verdict}`));
        if (row.verdict === "changed") tr.lastChild.title = "the benchmark's code changed between the two commits";
        tr.appendChild(MM.element("td", limitText(i, series), "num muted"));
        body.appendChild(tr);
      }
      table.tBodies[0].replaceChildren(body);
      table.hidden = false;
      controls.hidden = false;
      const summary = MM.element("p", `${counts.regression} regression(s), ${counts.improvement} improvement(s), `
        + `${counts.unchanged} unchanged, ${counts.changed} with a changed benchmark (asv version: not compared), `
        + `${counts.only} measured at one commit only.`, "lead");
      summary.id = "compare-summary";
      info.appendChild(summary);
      MM.filterTable(table);
    } catch (error) {
      message(error.message);
      fillCommitList();
    }
    MM.ready();
  }

  run();
})();
