"""The pull-request comment's Markdown (machmeter.report.verdicts): a golden body for a known comparison,
escaping of untrusted names, the size limit, and the report read back from an artifact's JSON."""

from __future__ import annotations

import json
import re

import pytest

from machmeter import __version__
from machmeter.detect.engine import Change, CheckReport
from machmeter.errors import MachmeterError
from machmeter.report.verdicts import (COMMENT_LIMIT, MARKER, markdown_escape, report_from_json, to_json,
                                       to_markdown)


BASE, HEAD = "1" * 8 + "a" * 32, "2" * 8 + "b" * 32


def change(benchmark, params, before, after, kind, unit, direction, method="mann-whitney", confidence=0.999,
           higher_is_better=False, acknowledged=None):
    return Change(benchmark=benchmark, params=params, machine="h100-runner", env_name="host-py3.12", commit=HEAD,
                  commit_range=(BASE, HEAD), before=before, after=after, change=(after - before) / abs(before),
                  direction=direction, kind=kind, unit=unit, higher_is_better=higher_is_better,
                  confidence=confidence, method=method, acknowledged=acknowledged)


def known_report() -> CheckReport:
    return CheckReport(
        mode="revisions", base=BASE, head=HEAD, unchanged=17, skipped=2, series_checked=24,
        regressions=[
            change("md.LJ.time_step|fused", {"n_atoms": "4096", "device": "'cuda'"}, 0.00123, 0.00145, "time",
                   "seconds", "regression", confidence=0.9991),
            change("embed.Esm.track_peak_memory", {"kernel": "`flash`"}, 2.5 * 2**30, 2.8 * 2**30, "memory", "bytes",
                   "regression", method="ci-overlap", confidence=None),
            change("md.LJ.track_force_mae", {}, 0.010, 0.030, "accuracy", "eV/Å", "regression", method="tolerance",
                   confidence=None),
        ],
        improvements=[change("md.LJ.track_steps_per_second", {"n_atoms": "64"}, 1000.0, 1200.0, "throughput",
                             "steps/s", "improvement", higher_is_better=True)],
        acknowledged=[change("embed.Esm.time_encode", {"batch": "8"}, 0.5, 0.55, "time", "seconds", "regression",
                             acknowledged="exact attention | accepted")],
        failures=[{"benchmark": "embed.Esm.time_encode", "params": {"batch": "64"}, "machine": "h100-runner",
                   "commit": HEAD, "reason": "newly failing at head: it fails the check"}],
        machines={"h100-runner": {"machine": "h100-runner", "gpu": "NVIDIA H100 80GB HBM3", "gpu_count": "1",
                                  "gpu_driver": "550.54.15", "cuda": "12.4", "torch": "2.5.1+cu124",
                                  "cpu": "AMD EPYC 9654"}},
    )


SITE = "https://octo.github.io/repo"

GOLDEN = r"""<!-- machmeter -->
**machmeter** ❌ FAIL: 3 regression(s), 1 benchmark(s) failing — 1 improvement(s), 1 acknowledged, 17 unchanged, 2 skipped, 24 series checked · `11111111` → `22222222`

### Regressions

| benchmark | parameters | machine (GPU) | before → after | change | significance |
|---|---|---|---|---|---|
| md.LJ.time_step\|fused | n_atoms=4096, device='cuda' | h100-runner (NVIDIA H100 80GB HBM3) | 1.23 ms → 1.45 ms | +17.9% | mann-whitney, confidence 0.999 |
| embed.Esm.track_peak_memory | kernel=\`flash\` | h100-runner (NVIDIA H100 80GB HBM3) | 2.5 GiB → 2.8 GiB | +12.0% | ci-overlap |

### Accuracy drops

| benchmark | parameters | machine (GPU) | before → after | change | significance |
|---|---|---|---|---|---|
| md.LJ.track_force_mae |  | h100-runner (NVIDIA H100 80GB HBM3) | 0.01 eV/Å → 0.03 eV/Å | +200.0% | tolerance |

### Failing at head

- embed.Esm.time_encode (batch=64) on h100-runner (NVIDIA H100 80GB HBM3): newly failing at head: it fails the check

<details><summary>1 improvement(s), 1 acknowledged, 17 unchanged, 2 skipped</summary>

#### Improvements

| benchmark | parameters | machine (GPU) | before → after | change | significance |
|---|---|---|---|---|---|
| md.LJ.track_steps_per_second | n_atoms=64 | h100-runner (NVIDIA H100 80GB HBM3) | 1000 steps/s → 1200 steps/s | +20.0% | mann-whitney, confidence 0.999 |

#### Acknowledged (triage file)

| benchmark | parameters | machine (GPU) | before → after | change | significance | acknowledged because |
|---|---|---|---|---|---|---|
| embed.Esm.time_encode | batch=8 | h100-runner (NVIDIA H100 80GB HBM3) | 500 ms → 550 ms | +10.0% | mann-whitney, confidence 0.999 | exact attention \| accepted |

17 series unchanged, 2 skipped (not comparable: a side missing or a series never judged).

</details>

[Compare `11111111` → `22222222` on the site](https://octo.github.io/repo/compare.html?base=11111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&head=22222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb)

---
<sub>h100-runner: NVIDIA H100 80GB HBM3 · driver 550.54.15 · CUDA 12.4 · torch 2.5.1+cu124 · CPU AMD EPYC 9654<br>machmeter {version}</sub>
"""


def test_golden_comment_for_a_known_comparison():
    assert to_markdown(known_report(), site_url=SITE + "/") == GOLDEN.replace("{version}", __version__)


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_untrusted_names_cannot_break_the_table_or_make_links_and_html():
    hostile = "bench|x`code`[click](https://evil.example)![img](x)<img src=x onerror=alert(1)>\nsecond line"
    report = known_report()
    report.regressions = [change(hostile, {"p|q": "`v`|w"}, 1.0, 2.0, "time", "seconds", "regression")]
    body = to_markdown(report)
    row = next(line for line in body.splitlines() if line.startswith("| bench\\|"))
    assert _unescaped_pipes(row) == 7  # six cells, nothing more
    assert not re.search(r"(?<!\\)[\[\]`<>]", row)  # no link, image, code span or HTML can open
    assert r"bench\|x\`code\`\[click\](https:⁠//evil.example)!\[img\](x)&lt;img src=x onerror=alert(1)&gt; second line" in row
    assert markdown_escape(r"a\|b") == r"a\\\|b"  # a backslash cannot un-escape the pipe after it


def test_mentions_references_and_bare_urls_from_the_results_stay_plain_text():
    hostile = "@octocat @org/team #12 org/repo#34 GH-56 https://evil.example http://x.example www.evil.example a@b.example"
    report = known_report()
    report.regressions = [change(hostile, {"p": "@param #7"}, 1.0, 2.0, "time", "seconds", "regression")]
    report.machines = {"@runner": {"gpu": "GPU #8 see https://evil.example"}}
    report.failures = [{"benchmark": "b", "params": None, "machine": "@runner", "commit": HEAD,
                        "reason": "fails, ask @octocat about #9"}]
    report.warnings = ["results/@x/#1.json: www.evil.example"]
    body = to_markdown(report)
    # what GitHub links or notifies: @login, #n, GH-n, a scheme's ://, www., an e-mail address
    live = re.findall(r"@\w|#\d|GH-\d|://|www\.", body, re.IGNORECASE)
    assert live == []
    visible = body.replace("\u2060", "")
    assert "@octocat @org/team #12" in visible and "ask @octocat about #9" in visible
    assert markdown_escape("a@b #1 https://x") == "a@\u2060b #\u20601 https:\u2060//x"


def test_check_json_read_back_renders_the_same_comment():
    report = known_report()
    again = report_from_json(to_json(report), "verdicts.json")
    assert to_markdown(again, site_url=SITE) == to_markdown(report, site_url=SITE)
    assert again.failed and again.acknowledged[0].acknowledged == "exact attention | accepted"


def _explained_report() -> CheckReport:
    report = known_report()
    report.regressions[0].explanation = "wall +18%, GPU kernel time +117%, kernels 134 -> 135: the GPU does more work"
    report.improvements[0].explanation = "wall -17%, counters unchanged: host side or noise | @octocat <b>"
    return report


def test_explanations_render_in_text_markdown_and_json_and_read_back():
    from machmeter.report.verdicts import to_text

    report = _explained_report()
    text = to_text(report)
    assert ("  md.LJ.time_step|fused(n_atoms=4096, device='cuda') on h100-runner: wall +18%, GPU kernel time +117%, "
            "kernels 134 -> 135: the GPU does more work\n") in text
    body = to_markdown(report)
    lines = body.splitlines()
    header = lines[lines.index("### Regressions") + 2]
    assert header.endswith("| significance | counters say |")
    row = next(line for line in lines if line.startswith("| md.LJ.time_step"))
    # GitHub shows "-&gt;" as "->"
    assert row.endswith("| wall +18%, GPU kernel time +117%, kernels 134 -&gt; 135: the GPU does more work |")
    # rows without an explanation keep an empty cell; an untrusted explanation is escaped
    assert next(line for line in lines if line.startswith("| embed.Esm.track_peak_memory")).endswith("|  |")
    improvement = next(line for line in lines if line.startswith("| md.LJ.track_steps_per_second"))
    assert improvement.endswith("host side or noise \\| @\u2060octocat &lt;b&gt; |")
    data = json.loads(to_json(report))
    assert data["regressions"][0]["explanation"].startswith("wall +18%") and data["regressions"][1]["explanation"] is None
    again = report_from_json(to_json(report), "verdicts.json")
    assert again.regressions[0].explanation == report.regressions[0].explanation
    assert to_markdown(again) == body


def test_a_report_written_before_explanations_reads_back_without_them():
    data = json.loads(to_json(known_report()))
    for group in ("regressions", "improvements", "acknowledged", "inconclusive"):
        for entry in data[group]:
            del entry["explanation"]
    again = report_from_json(json.dumps(data), "old.json")
    assert all(c.explanation is None for c in again.regressions)
    assert "counters say" not in to_markdown(again)
    data["regressions"][0]["explanation"] = 3
    with pytest.raises(MachmeterError, match="regressions\\[0\\].explanation is missing or of the wrong type"):
        report_from_json(json.dumps(data), "bad.json")


def test_without_a_site_url_there_is_no_compare_link_and_a_cpu_runner_says_so():
    report = known_report()
    report.machines = {"vm": {"gpu": "none", "gpu_count": "0", "cuda": "", "torch": "2.13.0+cpu", "cpu": "AMD EPYC"}}
    body = to_markdown(report)
    assert "compare.html" not in body and "on the site" not in body
    assert "<sub>vm: no GPU · torch 2.13.0+cpu · CPU AMD EPYC<br>" in body


def test_a_clean_comparison_says_ok_and_folds_the_counts():
    report = CheckReport(mode="revisions", base=BASE, head=HEAD, unchanged=30, series_checked=30)
    body = to_markdown(report, site_url=SITE)
    assert body.splitlines()[1].startswith("**machmeter** ✅ OK: no unacknowledged regression")
    assert "### Regressions" not in body and "### Accuracy drops" not in body
    assert "<details><summary>0 improvement(s), 0 acknowledged, 30 unchanged, 0 skipped</summary>" in body


def _many(count, direction, name="suite.Module.time_operation_with_a_rather_long_name"):
    return [change(f"{name}_{i}", {"size": str(i), "dtype": "'float32'"}, 1.0, 1.5 if direction == "regression"
                   else 0.5, "time", "seconds", direction) for i in range(count)]


def test_improvements_give_way_before_any_regression_is_cut():
    report = known_report()
    report.regressions = _many(60, "regression")
    report.improvements = _many(5000, "improvement")
    body = to_markdown(report, site_url=SITE)
    assert len(body) <= COMMENT_LIMIT
    assert all(f"time_operation_with_a_rather_long_name_{i} |" in body for i in range(60))
    assert f"_… 5000 more not shown: [the full comparison]({SITE}/compare.html?base={BASE}&head={HEAD})_" in body
    assert body.rstrip().endswith("</sub>")


@pytest.mark.parametrize("site, details, link", [
    (SITE, None, f"[the full comparison]({SITE}/compare.html?base={BASE}&head={HEAD})"),
    (None, "https://github.com/octo/repo/actions/runs/42", "[the full report](https://github.com/octo/repo/actions/runs/42)"),
    (None, None, f"`machmeter check --base {BASE[:12]} --head {HEAD[:12]}`"),
])
def test_thousands_of_regressions_stay_within_githubs_limit_with_a_link(site, details, link):
    report = known_report()
    report.regressions = _many(3000, "regression")
    body = to_markdown(report, site_url=site, details_url=details)
    assert len(body) <= COMMENT_LIMIT < len(to_markdown(report, site_url=site, details_url=details, limit=10**9))
    shown = body.count("time_operation_with_a_rather_long_name_")
    assert 100 < shown < 3000
    assert f"_… {3000 - shown} more not shown: {link}_" in body
    assert body.startswith(MARKER) and "<sub>h100-runner: NVIDIA H100" in body


def test_when_not_even_the_footer_fits_the_body_is_cut_with_a_pointer():
    report = known_report()
    report.machines = {f"runner-{i}": {"gpu": "NVIDIA H100 80GB HBM3 " + "x" * 200, "torch": "2.5.1"} for i in range(400)}
    body = to_markdown(report, site_url=SITE, limit=20_000)
    assert len(body) <= 20_000 and body.startswith(MARKER)
    assert body.endswith(f"_… truncated: [the full comparison]({SITE}/compare.html?base={BASE}&head={HEAD})_\n")


def test_a_single_enormous_name_is_shortened_in_its_cell():
    report = known_report()
    report.regressions = [change("x" * 100_000, {}, 1.0, 2.0, "time", "seconds", "regression")]
    body = to_markdown(report)
    assert len(body) < 10_000 and "x" * 299 + "…" in body


def test_history_reports_render_without_commits_and_link_the_site():
    report = CheckReport(mode="history", series_checked=5, unchanged=5)
    body = to_markdown(report, site_url=SITE)
    assert "→ `" not in body.splitlines()[1] and f"[The site]({SITE})" in body


def _report_json(**changes) -> str:
    data = json.loads(to_json(known_report()))
    for path, value in changes.items():
        target = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[keys[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
    ("[]", "not a machmeter check report"),
    (_report_json(schema_version=2), "schema_version 2: this machmeter"),
    (_report_json(schema_version="1"), 'schema_version "1": this machmeter'),
    (_report_json(schema_version=True), "schema_version true: this machmeter"),
    (_report_json().replace('"schema_version": 1,', ''), "no schema_version: this machmeter"),
    (_report_json(head="HEAD; rm -rf /"), "head is not a commit hash"),
    (_report_json(base=None), "a comparison report needs base and head"),
    (_report_json(**{"summary.unchanged": -1}), "summary needs non-negative"),
    (_report_json(**{"regressions.0.before": "1 ms"}), "regressions[0].before is missing or of the wrong type"),
    (_report_json(**{"regressions.0.higher_is_better": 1}), "regressions[0].higher_is_better is missing"),
    (_report_json(**{"regressions.0.change": True}), "regressions[0].change is missing or of the wrong type"),
    (_report_json(**{"regressions.0.params": {"n": 4096}}), "regressions[0].params must map names to strings"),
    (_report_json(**{"regressions.0.commit_range": [BASE]}), "regressions[0].commit_range needs two commits"),
    (_report_json(**{"improvements.0.direction": "sideways"}), "improvements[0].direction must be"),
    (_report_json(**{"failures.0.reason": None}), "failures[0].reason is missing or of the wrong type"),
    (_report_json(machines={"m": {"gpu": {"nested": 1}}}), "machines must map names to flat objects"),
    (_report_json(warnings="oops"), "warnings must be a list of strings"),
    (_report_json().replace('"after": 0.03', '"after": NaN'), "before, after and change must be finite numbers"),
])
def test_a_forged_or_broken_report_is_a_one_line_error_naming_the_file(text, problem):
    with pytest.raises(MachmeterError) as error:
        report_from_json(text, "artifact/verdicts.json")
    message = str(error.value)
    assert message.startswith("artifact/verdicts.json: ") and problem in message and "\n" not in message


def _traced_report() -> CheckReport:
    report = known_report()
    regression = report.regressions[0]
    regression.traces = {"base": ".asv/results/h100-runner/traces/aaaa1111/md.LJ_n_atoms=4096.trace.json",
                         "head": ".asv/results/h100-runner/traces/bbbb2222/md.LJ_n_atoms=4096.trace.json"}
    return report


def test_traces_are_listed_once_per_suite_in_text_and_markdown_and_read_back():
    from machmeter.report.verdicts import to_text

    report = _traced_report()
    # a second series of the same suite, parameters and machine shares the window's trace: one line
    twin = next((c for c in report.improvements if c.benchmark.rpartition(".")[0] == "md.LJ"
                 and c.params == report.regressions[0].params and c.machine == report.regressions[0].machine), None)
    if twin is not None:
        twin.traces = dict(report.regressions[0].traces)
    body = to_markdown(report, details_url="https://github.com/o/r/actions/runs/1")
    lines = body.splitlines()
    start = lines.index("### Profiler traces")
    listed = [line for line in lines[start:] if line.startswith("- ")]
    assert "in [the benchmark run](https://github.com/o/r/actions/runs/1)'s artifact" in lines[start + 2]
    assert listed[0] == ("- md.LJ (n_atoms=4096, device='cuda') on h100-runner (NVIDIA H100 80GB HBM3): base "
                         ".asv/results/h100-runner/traces/aaaa1111/md.LJ_n_atoms=4096.trace.json, head "
                         ".asv/results/h100-runner/traces/bbbb2222/md.LJ_n_atoms=4096.trace.json")
    assert sum("md.LJ (n_atoms=4096" in line for line in listed) == 1
    assert "Profiler traces (Chrome trace JSON" in to_text(report)
    again = report_from_json(to_json(report), "verdicts.json")
    assert again.regressions[0].traces == report.regressions[0].traces
    assert to_markdown(again, details_url="https://github.com/o/r/actions/runs/1") == body
    assert "Profiler traces" not in to_markdown(known_report())


@pytest.mark.parametrize("traces", [{"elsewhere": "x.json"}, {"base": ""}, {"head": 3}, ["x.json"]])
def test_a_report_with_bad_traces_is_refused(traces):
    data = json.loads(to_json(_traced_report()))
    data["regressions"][0]["traces"] = traces
    with pytest.raises(MachmeterError, match="regressions\\[0\\].traces"):
        report_from_json(json.dumps(data), "bad.json")
