"""Every format of ``machmeter check`` and ``run-pr`` by name: the renderers of machmeter.report.verdicts
(text, JSON, Markdown) and of machmeter.report.ci_formats (JUnit XML, CSV, GitHub annotations), which
renders with verdicts' helpers, so the registry sits above both."""

from __future__ import annotations

from machmeter.detect.engine import CheckReport
from machmeter.report.ci_formats import to_csv, to_github, to_junit
from machmeter.report.verdicts import to_json, to_markdown, to_text

RENDERERS = {"text": to_text, "json": to_json, "markdown": to_markdown,
             "junit": to_junit, "csv": to_csv, "github": to_github}


def render(report: CheckReport, fmt: str, site_url: str | None = None, details_url: str | None = None) -> str:
    if fmt == "markdown":
        return to_markdown(report, site_url=site_url, details_url=details_url)
    return RENDERERS[fmt](report)
