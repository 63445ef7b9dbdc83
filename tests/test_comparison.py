"""``machmeter check --base/--head`` with the top-kernel tables MACHMETER_TRACE_DIR left: hand-written
asv results (no repository) and hand-written ``<commit>/<window>.kernels.json`` files."""

from __future__ import annotations

import json

import pytest

from machmeter.cli import main
from machmeter.comparison import TraceFolder

BASE, HEAD = "a" * 40, "b" * 40
SUITE = "md.MD"  # asv's name; Python's module path adds the benchmark folder: benchmarks.md.MD
PARAMS = {"n_atoms": "64", "device": "'cuda'"}
WINDOW = "benchmarks.md.MD_n_atoms=64,device=cuda.kernels.json"  # as instruments.counters names it
COLUMNS = ["result", "params", "version", "started_at", "duration"]
VALUES = {  # base, head: the wall time doubled, and the GPU did more work
    "time_md_step": (1.0e-3, 2.0e-3),
    "track_kernels_per_call": (134.0, 135.0),
    "track_gpu_kernel_time_per_call": (100.0, 217.0),
}
UNITS = {"time_md_step": ("time", "seconds", None), "track_kernels_per_call": ("track", "kernels", "count"),
         "track_gpu_kernel_time_per_call": ("track", "us", "time")}


def _kernels(*kernels):
    return {"name": f"benchmarks.{SUITE}(n_atoms=64,device=cuda)", "device": "cuda", "commit": None,
            "top_kernels": [{"name": n, "count": 1.0, "total_us": us} for n, us in kernels]}


@pytest.fixture
def project(tmp_path):
    results = tmp_path / "results"
    (results / "box").mkdir(parents=True)
    benchmarks = {"version": 2}
    for method, (kind, unit, metric_kind) in UNITS.items():
        benchmarks[f"{SUITE}.{method}"] = {"name": f"{SUITE}.{method}", "type": kind, "unit": unit,
                                          "metric_kind": metric_kind, "param_names": list(PARAMS),
                                          "params": [[v] for v in PARAMS.values()], "version": "1"}
    (results / "benchmarks.json").write_text(json.dumps(benchmarks))
    (results / "box" / "machine.json").write_text(json.dumps({"machine": "box", "version": 1}))
    for side, (commit, date) in enumerate(((BASE, 1), (HEAD, 2))):
        rows = {f"{SUITE}.{m}": [[values[side]], [[v] for v in PARAMS.values()], "1", date, 1.0]
                for m, values in VALUES.items()}
        (results / "box" / f"{commit[:8]}-host.json").write_text(json.dumps({
            "version": 2, "commit_hash": commit, "env_name": "host", "date": date, "params": {"machine": "box"},
            "result_columns": COLUMNS, "results": rows}))
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "results_dir": "results",
                                                        "repo": "https://example.invalid/p", "branches": ["main"]}))
    traces = tmp_path / "traces"
    for commit, table in ((BASE, _kernels(("gemm", 60.0), ("softmax", 40.0))),
                          (HEAD, _kernels(("gemm", 150.0), ("layernorm", 27.0)))):
        (traces / commit[:8]).mkdir(parents=True)
        (traces / commit[:8] / WINDOW).write_text(json.dumps(table))
    return tmp_path


def _check(project, capsys, *extra):
    main(["check", "--config", str(project / "asv.conf.json"), "--base", BASE, "--head", HEAD,
          "--format", "json", *extra])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    [wall] = [c for c in report["regressions"] + report["inconclusive"] if c["benchmark"].endswith("time_md_step")]
    return wall["explanation"], captured.err


def test_the_explanation_names_the_kernels_that_appeared_disappeared_or_grew(project, capsys, monkeypatch):
    monkeypatch.delenv("MACHMETER_TRACE_DIR", raising=False)
    explanation, err = _check(project, capsys, "--traces", str(project / "traces"))
    assert explanation.endswith(": the GPU does more work (new kernel: layernorm; gone: softmax; grew: gemm +90.0 us)")
    assert "kernels not named" not in err and "top-kernels" not in err
    # MACHMETER_TRACE_DIR is the default: the folder the runs wrote to
    monkeypatch.setenv("MACHMETER_TRACE_DIR", str(project / "traces"))
    assert _check(project, capsys)[0] == explanation
    monkeypatch.delenv("MACHMETER_TRACE_DIR")
    assert _check(project, capsys)[0].endswith(": the GPU does more work")  # no traces: no kernel named


def test_a_bad_or_missing_table_is_skipped_with_a_warning_naming_it(project, capsys, monkeypatch):
    monkeypatch.delenv("MACHMETER_TRACE_DIR", raising=False)
    bad = project / "traces" / HEAD[:8] / WINDOW
    bad.write_text('{"top_kernels": [{"name": "gemm"')  # truncated
    explanation, err = _check(project, capsys, "--traces", str(project / "traces"))
    assert explanation.endswith(": the GPU does more work")  # one side's table alone names nothing
    [line] = [line for line in err.splitlines() if str(bad) in line]
    assert "not a top-kernels table" in line and "skipped" in line
    bad.unlink()
    explanation, err = _check(project, capsys, "--traces", str(project / "traces"))
    assert explanation.endswith(": the GPU does more work")
    [line] = [line for line in err.splitlines() if "no top-kernels table" in line]
    assert f"{HEAD[:8]}/*md.MD_n_atoms=64,device=cuda.kernels.json" in line and "md.MD(n_atoms=64,device=cuda)" in line


def test_the_trace_folder_reads_each_table_once_and_warns_once(tmp_path):
    folder = TraceFolder(str(tmp_path))
    assert folder.kernels(BASE, SUITE, PARAMS) is None
    assert folder.kernels(BASE, SUITE, PARAMS) is None
    assert folder.warnings == [f"{tmp_path / BASE[:8]}: no traces there (No such file or directory): "
                               "kernels not named"]
    (tmp_path / HEAD[:8]).mkdir()
    # a table of the suite class alone, unparameterised, named by asv exactly as Python names it
    (tmp_path / HEAD[:8] / "md.Plain.kernels.json").write_text(json.dumps({"top_kernels": []}))
    (tmp_path / HEAD[:8] / "md.Odd.kernels.json").write_text(json.dumps({"top_kernels": [{"name": "k"}]}))
    assert folder.kernels(HEAD, "md.Plain", {}) == []
    assert folder.kernels(HEAD, "md.Odd", {}) is None
    assert folder.kernels(HEAD, "md.Odd", {}) is None
    assert folder.warnings[1:] == [f"{tmp_path / HEAD[:8] / 'md.Odd.kernels.json'}: not a top-kernels table "
                                   "(no top_kernels list of name, count and total_us): skipped"]


def test_traces_go_with_a_comparison(project, capsys):
    assert main(["check", "--config", str(project / "asv.conf.json"), "--history", "--traces", "x"]) == 2
    assert "--traces goes with --base/--head" in capsys.readouterr().err


def test_run_prs_own_trace_folder_is_read_without_warnings_for_what_it_does_not_hold(tmp_path):
    # run-pr keeps the traces of the suites it confirmed only: another suite's missing table, or a
    # commit it never traced, is no news there (a folder asked for by name still warns)
    (tmp_path / "aaaaaaaa").mkdir()
    implicit = TraceFolder(str(tmp_path), implicit=True)
    assert implicit.kernels("a" * 40, "md.MD", {}) is None and implicit.kernels("b" * 40, "md.MD", {}) is None
    assert implicit.trace("a" * 40, "md.MD", {}) is None
    assert implicit.warnings == []
    asked = TraceFolder(str(tmp_path))
    asked.kernels("a" * 40, "md.MD", {})
    asked.kernels("b" * 40, "md.MD", {})
    assert len(asked.warnings) == 2
