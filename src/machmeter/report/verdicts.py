"""Renderers of a CheckReport: text (terminal), JSON (machines) and Markdown (pull-request comments).

JSON schema (``machmeter check --format json``)::

    {
      "mode": "revisions" | "history",
      "base": "<full hash>" | null, "head": "<full hash>" | null,
      "summary": {"series_checked": n, "regressions": n, "improvements": n, "acknowledged": n,
                  "failures": n, "unchanged": n, "skipped": n, "failed": bool},
      "regressions": [Change...], "improvements": [Change...], "acknowledged": [Change...],
      "failures": [{"benchmark", "params", "machine", "commit", "reason"}...],
      "machines": {"<machine>": {<asv machine.json, GPU fingerprint included>}},
      "warnings": ["<file>: <problem> (skipped)", ...]
    }

    Change = {"benchmark": asv name without parameters, "params": {name: value as asv writes it},
              "machine", "env_name", "commit": full hash of the first commit at the new level,
              "commit_range": [last commit at the old level, first at the new level],
              "before", "after", "change": relative change (0.05 = +5%), "direction":
              "regression" | "improvement", "kind", "unit", "higher_is_better", "confidence": 0..1 | null,
              "method", "reason", "acknowledged": triage reason | null}
"""

from __future__ import annotations

import json

from machmeter.detect.engine import Change, CheckReport
from machmeter.report.units import format_value

MARKER = "<!-- machmeter -->"


def summary(report: CheckReport) -> dict:
    return {
        "series_checked": report.series_checked,
        "regressions": len(report.regressions),
        "improvements": len(report.improvements),
        "acknowledged": len(report.acknowledged),
        "failures": len(report.failures),
        "unchanged": report.unchanged,
        "skipped": report.skipped,
        "failed": report.failed,
    }


def to_json(report: CheckReport) -> str:
    data = {
        "mode": report.mode,
        "base": report.base,
        "head": report.head,
        "summary": summary(report),
        "regressions": [c.to_dict() for c in report.regressions],
        "improvements": [c.to_dict() for c in report.improvements],
        "acknowledged": [c.to_dict() for c in report.acknowledged],
        "failures": report.failures,
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
    return (f"{head} — {counts['improvements']} improvement(s), {counts['acknowledged']} acknowledged, "
            f"{counts['unchanged']} unchanged, {counts['skipped']} skipped, {counts['series_checked']} series checked")


def _percent(change: float) -> str:
    return f"{change * 100:+.1f}%"


def _where(change: Change) -> str:
    return f"{change.commit[:8]}" if change.commit_range[0] == change.commit else (
        f"{change.commit_range[0][:8]}..{change.commit[:8]}")


def _rows(changes: list[Change]) -> list[list[str]]:
    return [[c.label, c.machine, format_value(c.before, c.unit), format_value(c.after, c.unit), _percent(c.change),
             "↑" if c.higher_is_better else "↓", _where(c),
             "" if c.confidence is None else f"{c.confidence:.3f}"] for c in changes]


def to_text(report: CheckReport) -> str:
    lines = [verdict_line(report)]
    header = ["series", "machine", "before", "after", "change", "better", "commits", "confidence"]
    for title, changes in (("Regressions", report.regressions), ("Improvements", report.improvements),
                           ("Acknowledged", report.acknowledged)):
        if not changes:
            continue
        rows = [header, *_rows(changes)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines += ["", f"{title}:"]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        if title == "Acknowledged":
            lines += [f"  {c.label} on {c.machine}: {c.acknowledged}" for c in changes]
    if report.failures:
        lines += ["", "Failing at head:"]
        lines += [f"  {f['benchmark']}{f['params'] or ''} on {f['machine']}: {f['reason']}" for f in report.failures]
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def markdown_escape(text: str) -> str:
    """Table-safe Markdown: pipes and backticks in benchmark names or parameters break tables and code."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
            .replace("<", "&lt;").replace(">", "&gt;").replace("\n", " "))


def _markdown_table(changes: list[Change]) -> list[str]:
    lines = ["| benchmark | parameters | machine | before | after | change | significance |",
             "|---|---|---|---|---|---|---|"]
    for c in changes:
        params = ", ".join(f"{k}={v}" for k, v in c.params.items())
        significance = c.method if c.confidence is None else f"{c.method}, confidence {c.confidence:.3f}"
        lines.append("| " + " | ".join(markdown_escape(cell) for cell in (
            c.benchmark, params, c.machine, format_value(c.before, c.unit), format_value(c.after, c.unit),
            _percent(c.change), significance)) + " |")
    return lines


def to_markdown(report: CheckReport) -> str:
    icon = "❌" if report.failed else "✅"
    lines = [MARKER, f"**machmeter** {icon} {markdown_escape(verdict_line(report))}", ""]
    accuracy = [c for c in report.regressions if c.kind == "accuracy"]
    performance = [c for c in report.regressions if c.kind != "accuracy"]
    if performance:
        lines += ["### Regressions", *_markdown_table(performance), ""]
    if accuracy:
        lines += ["### Accuracy drops", *_markdown_table(accuracy), ""]
    if report.failures:
        lines += ["### Failing at head"]
        lines += [f"- {markdown_escape(f['benchmark'])} on {markdown_escape(f['machine'])}: "
                  f"{markdown_escape(f['reason'])}" for f in report.failures]
        lines.append("")
    if report.improvements or report.acknowledged:
        lines += ["<details><summary>Improvements and acknowledged changes</summary>", ""]
        if report.improvements:
            lines += ["#### Improvements", *_markdown_table(report.improvements), ""]
        if report.acknowledged:
            lines += ["#### Acknowledged", *_markdown_table(report.acknowledged), ""]
        lines += ["</details>", ""]
    return "\n".join(lines)


RENDERERS = {"text": to_text, "json": to_json, "markdown": to_markdown}
