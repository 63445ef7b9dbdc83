"""Renderers of a CheckReport: text (terminal), JSON (machines) and Markdown (the pull-request comment,
at most GitHub's 65,536 characters), and ``report_from_json``, which reads the JSON back (validated: the
comment job gets it from an artifact a pull request's run wrote).

The JSON (``machmeter check --format json``) is described by the JSON Schema beside this module,
``check-report.schema.json`` (shipped in the package: :func:`schema`), and carries its
``schema_version``: a report crosses workflows (written by a pull request's run, read by the comment
job), so a reader refuses a version it does not know instead of misreading it.
"""

from __future__ import annotations

import json
import math
import re

from machmeter import __version__
from machmeter.detect.engine import IMPROVEMENT, REGRESSION, Change, CheckReport
from machmeter.detect.shifts import EnvironmentShift
from machmeter.targets import TargetVerdict
from machmeter.errors import MachmeterError
from machmeter.report.units import format_value
from machmeter.series import series_label, suite_of

MARKER = "<!-- machmeter -->"

# The version of the report's JSON: raised when a field is removed, renamed or changes meaning (a field
# added keeps it); check-report.schema.json pins the same number.
SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "report/check-report.schema.json"


def schema() -> dict:
    """The JSON Schema of the report ``to_json`` writes."""
    import importlib.resources

    return json.loads(importlib.resources.files("machmeter").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8"))


def summary(report: CheckReport) -> dict:
    return {
        "series_checked": report.series_checked,
        "regressions": len(report.regressions),
        "improvements": len(report.improvements),
        "acknowledged": len(report.acknowledged),
        "inconclusive": len(report.inconclusive),
        "failures": len(report.failures),
        "environment_shifts": len(report.environment_shifts),
        "unchanged": report.unchanged,
        "skipped": report.skipped,
        "failed": report.failed,
    }


def to_json(report: CheckReport) -> str:
    data = {
        "schema_version": SCHEMA_VERSION,
        "mode": report.mode,
        "base": report.base,
        "head": report.head,
        "summary": summary(report),
        "regressions": [c.to_dict() for c in report.regressions],
        "improvements": [c.to_dict() for c in report.improvements],
        "acknowledged": [c.to_dict() for c in report.acknowledged],
        "inconclusive": [c.to_dict() for c in report.inconclusive],
        "failures": report.failures,
        "environment_shifts": [shift.to_dict() for shift in report.environment_shifts],
        "targets": [verdict.to_dict() for verdict in report.targets],
        "machines": report.machines,
        "warnings": report.warnings,
    }
    return json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"


def verdict_line(report: CheckReport) -> str:
    counts = summary(report)
    if report.failed:
        parts = []
        if counts["regressions"]:
            parts.append(f"{counts['regressions']} regression(s)")
        if counts["failures"]:
            parts.append(f"{counts['failures']} benchmark(s) failing")
        head = "FAIL: " + ", ".join(parts)
    else:
        head = "OK: no unacknowledged regression"
    inconclusive = f"{counts['inconclusive']} inconclusive, " if counts["inconclusive"] else ""
    return (f"{head} — {counts['improvements']} improvement(s), {counts['acknowledged']} acknowledged, "
            f"{inconclusive}{counts['unchanged']} unchanged, {counts['skipped']} skipped, {counts['series_checked']} series checked")


def _percent(change: float) -> str:
    return f"{change * 100:+.1f}%"


def _where(change: Change) -> str:
    return f"{change.commit[:8]}" if change.commit_range[0] == change.commit else (
        f"{change.commit_range[0][:8]}..{change.commit[:8]}")


def _rows(changes: list[Change]) -> list[list[str]]:
    return [[c.label, c.machine, format_value(c.before, c.unit), format_value(c.after, c.unit), _percent(c.change),
             "↑" if c.higher_is_better else "↓", _where(c),
             "" if c.confidence is None else f"{c.confidence:.3f}"] for c in changes]


def _target_label(verdict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in verdict.params.items())
    return f"{verdict.benchmark} ({params})" if params else verdict.benchmark


def _target_text(verdict) -> str:
    if verdict.minimum is not None and verdict.maximum is not None:
        return f"{verdict.minimum:g} to {verdict.maximum:g}"
    return f"≥ {verdict.minimum:g}" if verdict.minimum is not None else f"≤ {verdict.maximum:g}"


def _shift_line(shift: EnvironmentShift) -> str:
    where = shift.commit[:8] if shift.commit_range[0] == shift.commit else f"{shift.commit_range[0][:8]}..{shift.commit[:8]}"
    return (f"{shift.machine} at {where}: {shift.series_count} of {shift.series_total} series moved "
            f"(median {_percent(shift.median_change)}; {shift.regressions} worse, {shift.improvements} better): "
            + "; ".join(shift.evidence))


def limits(report: CheckReport) -> list[str]:
    """What limits the verdict (no noise estimate, inconclusive changes, other machines, files skipped):
    said beside the verdict in every format, not only on standard error."""
    return list(report.warnings)


def to_text(report: CheckReport) -> str:
    lines = [verdict_line(report)]
    lines += [f"warning: {warning}" for warning in limits(report)]
    header = ["series", "machine", "before", "after", "change", "better", "commits", "confidence"]
    for title, changes in (("Regressions", report.regressions), ("Improvements", report.improvements),
                           ("Acknowledged", report.acknowledged), ("Inconclusive", report.inconclusive)):
        if not changes:
            continue
        rows = [header, *_rows(changes)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines += ["", f"{title}:"]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        if title == "Acknowledged":
            lines += [f"  {c.label} on {c.machine}: {c.acknowledged}" for c in changes]
        lines += [f"  {c.label} on {c.machine}: {c.explanation}" for c in changes if c.explanation]
    traced = traced_suites(report)
    if traced:
        lines += ["", "Profiler traces (Chrome trace JSON: ui.perfetto.dev or chrome://tracing):"]
        lines += [f"  {series_label(suite, params)} on {machine}: "
                  + ", ".join(f"{side} {paths[side]}" for side in TRACE_SIDES if side in paths)
                  for suite, params, machine, paths in traced]
    if report.targets:
        lines += ["", "Targets:"]
        lines += [f"  {'met ' if t.met else 'MISS'}  {_target_label(t)} on {t.machine}: {t.value:.4g} "
                  f"(target {_target_text(t)}, {t.source}; margin {t.margin:+.1%})" for t in report.targets]
    if report.environment_shifts:
        lines += ["", "Environment shifts (the runner, not the code; not failing):"]
        lines += [f"  {_shift_line(shift)}" for shift in report.environment_shifts]
    if report.failures:
        lines += ["", "Failing at head:"]
        lines += [f"  {f['benchmark']}{f['params'] or ''} on {f['machine']}: {f['reason']}" for f in report.failures]
    return "\n".join(lines) + "\n"


COMMENT_LIMIT = 65_536   # GitHub's largest comment body, in characters
_CELL_LIMIT = 300        # one pathological benchmark name must not take the whole comment


# where GitHub would turn plain text into a mention (@user, @org/team), a reference (#1, owner/repo#1,
# GH-1) or a link (http://, https://, www., a@b.example): a word joiner (U+2060, invisible) goes there
_AUTOLINK = re.compile(r"(?<=[@#])|(?<=:)(?=//)|(?<=www)(?=\.)|(?<=GH)(?=-\d)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def markdown_escape(text) -> str:
    """Markdown of untrusted text: names, parameters and reasons come from results a pull request
    produced. Pipes and backticks would break tables and code, brackets would make links and images,
    angle brackets and ampersands HTML; mentions, references and bare URLs would notify people, link
    issues or make links (_AUTOLINK)."""
    escaped = (str(text).replace("\\", "\\\\").replace("&", "&amp;").replace("|", "\\|").replace("`", "\\`")
               .replace("[", "\\[").replace("]", "\\]").replace("<", "&lt;").replace(">", "&gt;")
               .replace("\r", " ").replace("\n", " "))
    return _AUTOLINK.sub(WORD_JOINER, escaped)


def _cell(text) -> str:
    text = str(text)
    return markdown_escape(text if len(text) <= _CELL_LIMIT else text[:_CELL_LIMIT - 1] + "…")


def compare_url(site_url: str, base: str, head: str) -> str:
    """The site's page comparing two commits (full hashes)."""
    return f"{site_url.rstrip('/')}/compare.html?base={base}&head={head}"


def _gpu(info: dict) -> str:
    gpu = str(info.get("gpu") or "").strip()
    return "" if gpu.lower() == "none" else gpu


def _machine_cell(machine: str, machines: dict) -> str:
    gpu = _gpu(machines.get(machine) or {})
    return f"{machine} ({gpu})" if gpu else machine


def _significance(change: Change) -> str:
    return change.method if change.confidence is None else f"{change.method}, confidence {change.confidence:.3f}"


def _markdown_table(changes: list[Change], machines: dict, cap: int | None, more: str,
                    with_reason: bool = False) -> list[str]:
    """The table of ``changes`` (the first ``cap`` of them), and a line counting those left out."""
    shown = changes if cap is None else changes[:cap]
    lines = []
    if shown:
        header = ["benchmark", "parameters", "machine (GPU)", "before → after", "change", "significance"]
        header += ["acknowledged because"] if with_reason else []
        # only where the counters said something: reports without counters keep their columns
        explained = any(c.explanation for c in shown)
        header += ["counters say"] if explained else []
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for c in shown:
            cells = [_cell(c.benchmark), _cell(", ".join(f"{k}={v}" for k, v in c.params.items())),
                     _cell(_machine_cell(c.machine, machines)),
                     f"{_cell(format_value(c.before, c.unit))} → {_cell(format_value(c.after, c.unit))}",
                     _percent(c.change), _cell(_significance(c))]
            cells += [_cell(c.acknowledged or "")] if with_reason else []
            cells += [_cell(c.explanation or "")] if explained else []
            lines.append("| " + " | ".join(cells) + " |")
    hidden = len(changes) - len(shown)
    if hidden:
        lines += [""] if shown else []
        lines.append(f"_… {hidden} more not shown: {more}_")
    return lines


def _fingerprint(machine: str, info: dict) -> str:
    """GPU, driver, CUDA and torch of one machine (asv's machine.json with machmeter's keys)."""
    gpu = _gpu(info)
    parts = [f"{gpu} ×{info['gpu_count']}" if gpu and str(info.get("gpu_count") or "1") not in ("0", "1")
             else gpu or "no GPU"]
    parts += [f"{label} {info[key]}" for key, label in (("gpu_driver", "driver"), ("cuda", "CUDA"),
                                                        ("torch", "torch"), ("cpu", "CPU"))
              if str(info.get(key) or "").strip()]
    return f"{_cell(machine)}: " + " · ".join(_cell(part) for part in parts)


def traced_suites(report: CheckReport) -> list[tuple[str, dict, str, dict[str, str]]]:
    """(suite class, params, machine, {side: trace path}) of each reported change's profiler traces,
    once per suite class, parameters and machine: a suite's series share its profiled window."""
    seen, traced = set(), []
    for change in (*report.regressions, *report.inconclusive, *report.acknowledged, *report.improvements):
        if not change.traces:
            continue
        suite = suite_of(change.benchmark) or change.benchmark
        key = (suite, tuple(change.params.items()), change.machine)
        if key not in seen:
            seen.add(key)
            traced.append((suite, change.params, change.machine, change.traces))
    return traced


def _traces_section(report: CheckReport, machines: dict, details_url: str | None, cap: int | None) -> list[str]:
    traced = traced_suites(report)
    if not traced:
        return []
    shown = traced if cap is None else traced[:max(cap, 1)]
    where = f"in [the benchmark run]({details_url})'s artifact" if details_url else "next to the results"
    lines = ["### Profiler traces", "",
             f"Chrome traces of the profiled calls (open them in ui.perfetto.dev or chrome://tracing), {where}:", ""]
    for suite, params, machine, paths in shown:
        label = f"{suite} ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else suite
        sides = ", ".join(f"{side} {_cell(paths[side])}" for side in TRACE_SIDES if side in paths)
        lines.append(f"- {_cell(label)} on {_cell(_machine_cell(machine, machines))}: {sides}")
    if len(shown) < len(traced):
        lines.append(f"- _… {len(traced) - len(shown)} more not shown_")
    return lines + [""]


def _full_report(report: CheckReport, site_url: str | None, details_url: str | None) -> str:
    """Where the whole report is, for whatever a shortened comment leaves out."""
    if site_url and report.base and report.head:
        return f"[the full comparison]({compare_url(site_url, report.base, report.head)})"
    if details_url:
        return f"[the full report]({details_url})"
    if report.base and report.head:
        return f"`machmeter check --base {report.base[:12]} --head {report.head[:12]}`"
    return "`machmeter check --history`"


def _markdown(report: CheckReport, site_url: str | None, details_url: str | None, cap: int | None,
              details_cap: int | None) -> str:
    more = _full_report(report, site_url, details_url)
    machines = report.machines
    icon = "❌" if report.failed else "✅"
    revisions = f" · `{report.base[:8]}` → `{report.head[:8]}`" if report.base and report.head else ""
    lines = [MARKER, f"**machmeter** {icon} {markdown_escape(verdict_line(report))}{revisions}", ""]
    warnings = limits(report)
    shown_warnings = warnings if cap is None else warnings[:max(cap, 3)]
    if warnings:
        lines += [f"> ⚠️ {_cell(warning)}" for warning in shown_warnings]
        if len(shown_warnings) < len(warnings):
            lines.append(f"> … {len(warnings) - len(shown_warnings)} more warning(s): {more}")
        lines.append("")
    accuracy = [c for c in report.regressions if c.kind == "accuracy"]
    performance = [c for c in report.regressions if c.kind != "accuracy"]
    if performance:
        lines += ["### Regressions", "", *_markdown_table(performance, machines, cap, more), ""]
    if accuracy:
        lines += ["### Accuracy drops", "", *_markdown_table(accuracy, machines, cap, more), ""]
    if report.targets:
        # misses first: they fail the check
        shown = sorted(report.targets, key=lambda t: (t.met, t.margin))
        shown = shown if cap is None else shown[:max(cap, 1)]
        missed = [t for t in report.targets if not t.met]
        lines += ["### Targets", "", f"**Gates: {len(report.targets) - len(missed)} met, {len(missed)} missed: "
                  + ("FAILED" if missed else "PASSED") + "**", "",
                  "| benchmark | parameters | machine (GPU) | value | target | margin | |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {_cell(t.benchmark)} | {_cell(', '.join(f'{k}={v}' for k, v in t.params.items()))} | "
                  f"{_cell(_machine_cell(t.machine, machines))} | {t.value:.4g} | {_cell(_target_text(t))} | "
                  f"{t.margin:+.1%} | {'✅' if t.met else '❌'} |" for t in shown]
        if len(shown) < len(report.targets):
            lines.append(f"\n_… {len(report.targets) - len(shown)} more not shown: {more}_")
        if missed:
            # what a reader does next: the goal is a promise, so either the code or the promise changes
            lines += ["", "Next steps: find the change that moved each missed value in the tables above (and its "
                      "profiler traces, where listed), fix it or measure again; if the goal itself changed, "
                      "edit it where it is declared (" + _cell(", ".join(sorted(
                          {"the benchmark's @declare" if t.source == "declared" else t.source for t in missed}))) + ")."]
        lines.append("")
    if report.environment_shifts:
        shifts = report.environment_shifts if cap is None else report.environment_shifts[:max(cap, 1)]
        lines += ["### Environment shifts (the runner changed, not the code: never a FAIL)", ""]
        lines += [f"- {_cell(_shift_line(shift))}" for shift in shifts]
        if len(shifts) < len(report.environment_shifts):
            lines.append(f"- _… {len(report.environment_shifts) - len(shifts)} more not shown: {more}_")
        lines.append("")
    if report.failures:
        shown = report.failures if cap is None else report.failures[:cap]
        lines += ["### Failing at head", ""]
        for f in shown:
            params = ", ".join(f"{k}={v}" for k, v in (f["params"] or {}).items())
            label = f"{f['benchmark']} ({params})" if params else f["benchmark"]
            lines.append(f"- {_cell(label)} on {_cell(_machine_cell(f['machine'], machines))}: {_cell(f['reason'])}")
        if len(shown) < len(report.failures):
            lines.append(f"- _… {len(report.failures) - len(shown)} more not shown: {more}_")
        lines.append("")
    lines += _traces_section(report, machines, details_url, cap)
    counts = summary(report)
    if report.improvements or report.acknowledged or report.inconclusive or counts["unchanged"] or counts["skipped"]:
        lines += [f"<details><summary>{counts['improvements']} improvement(s), {counts['acknowledged']} acknowledged, "
                  + (f"{counts['inconclusive']} inconclusive, " if counts["inconclusive"] else "")
                  + f"{counts['unchanged']} unchanged, "
                  f"{counts['skipped']} skipped</summary>", ""]
        if report.inconclusive:
            lines += ["#### Inconclusive (the runs cannot tell these from run-to-run noise: never a FAIL)", "",
                      *_markdown_table(report.inconclusive, machines, details_cap, more), ""]
        if report.improvements:
            lines += ["#### Improvements", "", *_markdown_table(report.improvements, machines, details_cap, more), ""]
        if report.acknowledged:
            lines += ["#### Acknowledged (triage file)", "",
                      *_markdown_table(report.acknowledged, machines, details_cap, more, with_reason=True), ""]
        lines += [f"{counts['unchanged']} series unchanged, {counts['skipped']} skipped "
                  f"(not comparable: a side missing or a series never judged).", "", "</details>", ""]
    if site_url and report.base and report.head:
        lines += [f"[Compare `{report.base[:8]}` → `{report.head[:8]}` on the site]"
                  f"({compare_url(site_url, report.base, report.head)})", ""]
    elif site_url:
        lines += [f"[The site]({site_url})", ""]
    footer = [_fingerprint(name, info if isinstance(info, dict) else {}) for name, info in sorted(machines.items())]
    lines += ["---", "<sub>" + "<br>".join([*footer, f"machmeter {__version__}"]) + "</sub>", ""]
    return "\n".join(lines)


def to_markdown(report: CheckReport, site_url: str | None = None, details_url: str | None = None,
                limit: int = COMMENT_LIMIT) -> str:
    """The pull-request comment: verdict, regressions, accuracy drops, the rest folded, the machines'
    fingerprints; at most ``limit`` characters, shortened with a pointer to the full report."""
    body = _markdown(report, site_url, details_url, None, None)
    if len(body) <= limit:
        return body
    # improvements and acknowledged changes give way first: regressions are what the comment is for
    body = _markdown(report, site_url, details_url, None, 0)
    if len(body) <= limit:
        return body
    low, high, best = 0, max(len(report.regressions), len(report.failures)), None
    while low <= high:
        middle = (low + high) // 2
        candidate = _markdown(report, site_url, details_url, middle, 0)
        if len(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best
    # not even the verdict and the footer fit (thousands of machines): cut, and say where the rest is
    note = f"\n\n_… truncated: {_full_report(report, site_url, details_url)}_\n"
    return _markdown(report, site_url, details_url, 0, 0)[:max(0, limit - len(note))] + note


# -- reading a report back: the comment job gets it from an artifact a pull request's run wrote, so
# every field is checked before use (data only: nothing in it is ever executed or followed)

COMMIT_HASH = re.compile(r"[0-9a-f]{7,40}")  # a commit named in a report: 7 to 40 hex digits
_CHANGE_FIELDS = {
    "benchmark": str, "params": dict, "machine": str, "env_name": str, "commit": str, "commit_range": list,
    "before": (int, float), "after": (int, float), "change": (int, float), "direction": str, "kind": str,
    "unit": str, "higher_is_better": bool, "confidence": (int, float, type(None)), "method": str, "reason": str,
    "acknowledged": (str, type(None)),
}
# added after schema_version 1 was first written: absent in older reports
_OPTIONAL_CHANGE_FIELDS = {"explanation": (str, type(None)), "still_open": (bool, type(None)),
                           "traces": (dict, type(None)), "detectable": (int, float, type(None))}
TRACE_SIDES = ("base", "head")
_SHIFT_FIELDS = {
    "machine": str, "env_names": list, "commit": str, "commit_range": list, "series_count": int, "series_total": int,
    "regressions": int, "improvements": int, "median_change": (int, float), "evidence": list,
}
_TARGET_FIELDS = {
    "benchmark": str, "params": dict, "machine": str, "commit": str, "value": (int, float),
    "minimum": (int, float, type(None)), "maximum": (int, float, type(None)), "margin": (int, float), "met": bool,
    "source": str,
}
_FAILURE_FIELDS = {"benchmark": str, "params": (dict, type(None)), "machine": str, "commit": str, "reason": str}


def _checked(entry, fields: dict, fail, where: str) -> dict:
    if not isinstance(entry, dict):
        fail(f"{where} is not an object")
    for name, kind in fields.items():
        value = entry.get(name)
        # a bool is an int to isinstance: only fields declared bool accept one
        accepts_bool = kind is bool or (isinstance(kind, tuple) and bool in kind)
        if not isinstance(value, kind) or (isinstance(value, bool) and not accepts_bool):
            fail(f"{where}.{name} is missing or of the wrong type")
    params = entry.get("params") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        fail(f"{where}.params must map names to strings")
    return {name: entry[name] for name in fields}


def _commit(value, fail, where: str) -> str:
    if not (isinstance(value, str) and COMMIT_HASH.fullmatch(value)):
        fail(f"{where} is not a commit hash")
    return value


def _entries(data: dict, name: str, fields: dict, fail, optional: dict | None = None):
    """(where, checked fields) of each record of the list ``data[name]`` (absent: none); ``optional``
    fields (added after schema_version 1 began) may be missing, and are None then."""
    entries = data.get(name, [])
    if not isinstance(entries, list):
        fail(f"{name} is not a list")
    for index, entry in enumerate(entries):
        where = f"{name}[{index}]"
        checked = _checked(entry, fields, fail, where)
        if optional:
            checked |= _checked({**dict.fromkeys(optional), **entry}, optional, fail, where)
        yield where, checked


def _commit_range(fields: dict, fail, where: str) -> None:
    """A record's commit and [old, new] commit range, checked; the range made a tuple."""
    if len(fields["commit_range"]) != 2:
        fail(f"{where}.commit_range needs two commits")
    _commit(fields["commit"], fail, f"{where}.commit")
    fields["commit_range"] = tuple(_commit(c, fail, f"{where}.commit_range") for c in fields["commit_range"])


def report_from_json(text: str, source: str) -> CheckReport:
    """The CheckReport that ``to_json`` wrote, validated field by field; errors name ``source``."""
    def fail(problem: str):
        raise MachmeterError(f"{source}: {problem}")

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"not valid JSON: {error.msg} at line {error.lineno}")
    except (ValueError, RecursionError) as error:  # too many digits, too deep
        fail(f"not valid JSON: {type(error).__name__}")
    if not isinstance(data, dict) or data.get("mode") not in ("revisions", "history"):
        fail("not a machmeter check report (expected the JSON of `machmeter check --format json`)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        written = "no schema_version" if version is None else f"schema_version {json.dumps(version)[:20]}"
        fail(f"{written}: this machmeter {__version__} reads check reports of schema_version {SCHEMA_VERSION} only "
             f"(write the report with the same machmeter version)")
    base = None if data.get("base") is None else _commit(data["base"], fail, "base")
    head = None if data.get("head") is None else _commit(data["head"], fail, "head")
    if data["mode"] == "revisions" and (base is None or head is None):
        fail("a comparison report needs base and head")
    counts = data.get("summary")
    if not isinstance(counts, dict) or not all(
            isinstance(counts.get(k), int) and not isinstance(counts.get(k), bool) and counts[k] >= 0
            for k in ("unchanged", "skipped", "series_checked")):
        fail("summary needs non-negative unchanged, skipped and series_checked counts")
    report = CheckReport(mode=data["mode"], base=base, head=head, unchanged=counts["unchanged"],
                         skipped=counts["skipped"], series_checked=counts["series_checked"])
    for group in ("regressions", "improvements", "acknowledged", "inconclusive"):
        for where, fields in _entries(data, group, _CHANGE_FIELDS, fail, _OPTIONAL_CHANGE_FIELDS):
            _commit_range(fields, fail, where)
            if not all(math.isfinite(fields[k]) for k in ("before", "after", "change")):
                fail(f"{where}: before, after and change must be finite numbers")
            if fields["detectable"] is not None and not (math.isfinite(fields["detectable"]) and fields["detectable"] >= 0):
                fail(f"{where}.detectable must be a non-negative finite number")
            if fields["direction"] not in (REGRESSION, IMPROVEMENT):
                fail(f"{where}.direction must be {REGRESSION!r} or {IMPROVEMENT!r}")
            traces = fields["traces"]
            if traces is not None and not all(side in TRACE_SIDES and isinstance(path, str) and path
                                              for side, path in traces.items()):
                fail(f"{where}.traces must map base/head to paths")
            getattr(report, group).append(Change(**fields))
    report.failures = [fields for _, fields in _entries(data, "failures", _FAILURE_FIELDS, fail)]
    for where, fields in _entries(data, "environment_shifts", _SHIFT_FIELDS, fail):
        if not all(isinstance(e, str) for e in fields["evidence"] + fields["env_names"]):
            fail(f"{where}: evidence and env_names must be lists of strings")
        _commit_range(fields, fail, where)
        report.environment_shifts.append(EnvironmentShift(**fields))
    for where, fields in _entries(data, "targets", _TARGET_FIELDS, fail):
        _commit(fields["commit"], fail, f"{where}.commit")
        if not all(v is None or math.isfinite(v) for v in (fields["value"], fields["minimum"], fields["maximum"],
                                                             fields["margin"])):
            fail(f"{where}: value, bounds and margin must be finite numbers")
        report.targets.append(TargetVerdict(**fields))
    machines = data.get("machines", {})
    if not isinstance(machines, dict) or not all(
            isinstance(info, dict) and all(isinstance(v, (str, int, float, bool, type(None))) for v in info.values())
            for info in machines.values()):
        fail("machines must map names to flat objects (asv's machine.json)")
    report.machines = machines
    warnings = data.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        fail("warnings must be a list of strings")
    report.warnings = warnings
    return report
