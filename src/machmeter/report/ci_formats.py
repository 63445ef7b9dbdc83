"""Renderers of a CheckReport for what CI systems already read: JUnit XML (test reporters), CSV
(spreadsheets, dashboards) and GitHub workflow commands (annotations on the run and the pull request).

Names, parameters and reasons come from results a pull request produced: each format escapes them its
own way (XML through ElementTree, with the characters XML 1.0 cannot hold replaced; CSV through the csv
module, with spreadsheet formulas neutralised; workflow commands percent-encoded as GitHub's toolkit
does), so no benchmark name can break the file or forge a line.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ElementTree

from machmeter.detect.engine import REGRESSION, Change, CheckReport
from machmeter.report.units import format_value
from machmeter.report.verdicts import _percent, _shift_line, _where, limits, summary, verdict_line


def _params(params: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items())


def _series(benchmark: str, params: dict | None, machine: str) -> str:
    params_text = _params(params)
    return f"{benchmark} ({params_text}) on {machine}" if params_text else f"{benchmark} on {machine}"


def change_numbers(change: Change) -> str:
    """The verdict's numbers in one line: before → after, the relative change, how it was judged."""
    confidence = "" if change.confidence is None else f", confidence {change.confidence:.3f}"
    return (f"{format_value(change.before, change.unit)} → {format_value(change.after, change.unit)} "
            f"({_percent(change.change)}), {change.method}{confidence}, commits {_where(change)}")


# -- JUnit XML: one testsuite, a testcase per change and per failing benchmark, and one passing testcase
# for the series that did not move (the report counts them, it does not name them)

# XML 1.0 cannot hold these at all, escaped or not: ElementTree would write them and the file would not parse
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _testcase(suite, classname: str, name: str):
    return ElementTree.SubElement(suite, "testcase", classname=_xml_text(classname), name=_xml_text(name), time="0")


def _outcome(case, tag: str, message: str, body: str, kind: str | None = None) -> None:
    element = ElementTree.SubElement(case, tag, message=_xml_text(message))
    if kind:
        element.set("type", kind)
    element.text = _xml_text(body)


def to_junit(report: CheckReport) -> str:
    counts = summary(report)
    suite = ElementTree.Element("testsuite", name="machmeter check")
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("mode", report.mode), ("base", report.base), ("head", report.head),
                        ("verdict", verdict_line(report))):
        if value:
            ElementTree.SubElement(properties, "property", name=name, value=_xml_text(value))

    def case_of(change: Change):
        # a history may change a series more than once: the commits tell its testcases apart
        where = f" at {_where(change)}" if report.mode == "history" else ""
        return _testcase(suite, change.benchmark, f"{change.label} on {change.machine} ({change.env_name}){where}")

    for change in report.regressions:
        _outcome(case_of(change), "failure", f"{change.label} on {change.machine}: {change_numbers(change)}",
                 change.reason or change_numbers(change), kind=f"{change.kind} regression")
    for failure in report.failures:
        case = _testcase(suite, failure["benchmark"], _series(failure["benchmark"], failure["params"], failure["machine"]))
        _outcome(case, "failure", f"failing at {failure['commit'][:8]}: {failure['reason']}", failure["reason"],
                 kind="failing benchmark")
    for change in report.inconclusive:
        # never a FAIL: a reporter shows it apart from the passes, with why
        _outcome(case_of(change), "skipped", f"inconclusive ({'worse' if change.direction == REGRESSION else 'better'}): "
                 f"{change_numbers(change)}; {change.reason}", change.reason)
    for group, status in ((report.improvements, "improvement"), (report.acknowledged, "acknowledged")):
        for change in group:
            out = ElementTree.SubElement(case_of(change), "system-out")
            out.text = _xml_text(f"{status}: {change_numbers(change)}"
                                 + (f"; acknowledged: {change.acknowledged}" if change.acknowledged else ""))
    rest = _testcase(suite, "machmeter", f"{counts['unchanged']} series unchanged, {counts['skipped']} skipped")
    notes = [f"warning: {warning}" for warning in limits(report)]
    notes += [f"environment shift: {_shift_line(shift)}" for shift in report.environment_shifts]
    if notes:
        ElementTree.SubElement(rest, "system-out").text = _xml_text("\n".join(notes))

    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(len(report.regressions) + len(report.failures)))
    suite.set("errors", "0")
    suite.set("skipped", str(len(report.inconclusive)))
    suites = ElementTree.Element("testsuites", name="machmeter",
                                 **{key: suite.get(key) for key in ("tests", "failures", "errors")})
    suites.append(suite)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# -- CSV: one row per change (and per failing benchmark), numbers unrounded in the series' unit

CSV_COLUMNS = ("status", "benchmark", "params", "machine", "env", "direction", "before", "after", "unit", "change",
               "confidence", "method", "commit_range", "reason")

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): a leading apostrophe
# keeps it text. Only text cells: numbers stay numbers.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(text) -> str:
    text = str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(report: CheckReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for status, changes in (("regression", report.regressions), ("inconclusive", report.inconclusive),
                            ("acknowledged", report.acknowledged), ("improvement", report.improvements)):
        for c in changes:
            writer.writerow([status, _csv_text(c.benchmark), _csv_text(json.dumps(c.params)), _csv_text(c.machine),
                             _csv_text(c.env_name), c.direction, repr(c.before), repr(c.after), _csv_text(c.unit),
                             repr(c.change), "" if c.confidence is None else repr(c.confidence), _csv_text(c.method),
                             "..".join(c.commit_range), _csv_text(c.acknowledged or c.reason)])
    for f in report.failures:
        writer.writerow(["failing", _csv_text(f["benchmark"]), _csv_text(json.dumps(f["params"] or {})),
                         _csv_text(f["machine"]), "", "", "", "", "", "", "", "", f["commit"], _csv_text(f["reason"])])
    return out.getvalue()


# -- GitHub workflow commands: an annotation per regression, failure, inconclusive change, warning and
# environment shift; the job summary (Markdown) is machmeter.commands.check's

def github_data(text) -> str:
    """A workflow command's message, encoded as GitHub's toolkit does (issueCommand's escapeData): a
    newline in a benchmark name can never start a command of its own."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text) -> str:
    """A workflow command's property value (title=...): the message's encoding, and ':' and ',', which
    end a property."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, title: str, message: str) -> str:
    return f"::{level} title={github_property(title)}::{github_data(message)}"


def to_github(report: CheckReport) -> str:
    lines = []
    for c in report.regressions:
        lines.append(_command("error", f"machmeter: {c.kind} regression in {c.label} on {c.machine}",
                              f"{change_numbers(c)}" + (f"; {c.reason}" if c.reason else "")))
    for f in report.failures:
        lines.append(_command("error", f"machmeter: failing {_series(f['benchmark'], f['params'], f['machine'])}",
                              f"at {f['commit'][:8]}: {f['reason']}"))
    for c in report.inconclusive:
        lines.append(_command("warning", f"machmeter: inconclusive {c.label} on {c.machine}",
                              f"{change_numbers(c)}; {c.reason}"))
    for shift in report.environment_shifts:
        lines.append(_command("warning", f"machmeter: environment shift on {shift.machine}", _shift_line(shift)))
    for warning in limits(report):
        lines.append(_command("warning", "machmeter", warning))
    lines.append(verdict_line(report))  # counts only: nothing from the results, a plain log line
    return "\n".join(lines) + "\n"
