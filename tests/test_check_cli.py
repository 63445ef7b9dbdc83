"""``machmeter check`` on results without a repository: synthetic histories and the public mjwarp one."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from machmeter.cli import main
from scripts.synthetic_history import write_asv_results

EXTERNAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "external", "mjwarp-asv")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    truth = write_asv_results(str(root / "results"), n_commits=80, n_series=24, n_machines=1, seed=7)
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p",
                                                    "results_dir": "results", "branches": ["main"]}))
    return root, truth


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_history_finds_the_labelled_changes_without_a_repository(synthetic, capsys):
    root, truth = synthetic
    status, out, _ = _run(["check", "--history", "--config", str(root / "asv.conf.json"), "--format", "json"], capsys)
    report = json.loads(out)
    found = report["regressions"] + report["improvements"]
    big = [(key, change) for key, changes in truth.items() for change in changes if abs(change.relative_change) >= 0.1]
    assert big, "the synthetic history should hold large changes"
    hits = 0
    for (machine, benchmark, params), change in big:
        hits += any(c["benchmark"] == benchmark and tuple(c["params"].values()) == params and c["machine"] == machine
                    for c in found)
    assert hits >= 0.9 * len(big)
    assert status == (1 if report["regressions"] else 0)
    assert report["summary"]["series_checked"] == 24


def test_pull_request_by_commit_prefix_reads_only_two_commits(synthetic, capsys):
    root, _ = synthetic
    names = sorted(os.listdir(root / "results" / "gpu-runner-0"))
    first, last = names[0].split("-")[0], names[-2].split("-")[0]
    status, out, err = _run(["check", "--config", str(root / "asv.conf.json"), "--base", first[:6],
                             "--head", last, "--format", "json"], capsys)
    report = json.loads(out)
    # without a repository the earlier runs cannot be ordered into a noise estimate: said first; the
    # changes inside the prior that this leaves undecided are counted in a second line
    assert status in (0, 1) and err.count("\n") in (1, 2)
    assert "inconclusive" in err.splitlines()[-1]
    assert "no run-to-run noise estimate (no local repository to order earlier runs by)" in err
    assert report["base"].startswith(first[:6]) and len(report["base"]) == 40
    assert report["summary"]["series_checked"] == 24


@pytest.mark.parametrize("argv, message", [
    (["--base", "zzzz", "--head", "zzzz"], "no results for revision 'zzzz'"),
    (["--history", "--machine", "nowhere"], "no results for machine 'nowhere'"),
    (["--base", "abc"], "--base needs --head"),
])
def test_bad_input_is_one_line_and_exit_2(synthetic, capsys, argv, message):
    root, _ = synthetic
    status, out, err = _run(["check", "--config", str(root / "asv.conf.json"), *argv], capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_corrupt_file_is_skipped_with_a_warning_and_the_rest_checked(synthetic, tmp_path, capsys):
    root, _ = synthetic
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    victim = sorted((copy / "results" / "gpu-runner-0").glob("*-host-*.json"))[10]
    victim.write_text(victim.read_text()[:100])
    status, out, err = _run(["check", "--history", "--config", str(copy / "asv.conf.json")], capsys)
    assert status in (0, 1)
    assert f"{victim}: not valid JSON" in err
    assert "series checked" in out


def test_output_file_is_written_whole(synthetic, tmp_path, capsys):
    root, _ = synthetic
    target = tmp_path / "out" / "verdicts.md"
    _run(["check", "--history", "--config", str(root / "asv.conf.json"), "--format", "markdown",
          "--output", str(target)], capsys)
    assert target.read_text().startswith("<!-- machmeter -->")
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".machmeter-")]


def test_results_elsewhere_than_the_configuration_says(synthetic, tmp_path, capsys):
    root, _ = synthetic
    moved = tmp_path / "restored-artifact"
    shutil.copytree(root / "results", moved)
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p",
                                                        "results_dir": "nowhere", "branches": ["main"]}))
    status, out, _ = _run(["check", "--history", "--config", str(tmp_path / "asv.conf.json"), "--results", str(moved),
                           "--format", "json"], capsys)
    assert status in (0, 1) and json.loads(out)["summary"]["series_checked"] == 24


def test_the_ci_formats_end_to_end_and_the_job_summary(synthetic, tmp_path, capsys, monkeypatch):
    import csv
    import io
    import xml.etree.ElementTree as ElementTree

    root, _ = synthetic
    config = str(root / "asv.conf.json")
    status, out, _ = _run(["check", "--history", "--config", config, "--format", "json"], capsys)
    report = json.loads(out)
    changes = sum(len(report[g]) for g in ("regressions", "improvements", "acknowledged", "inconclusive"))
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit_status, junit, _ = _run(["check", "--history", "--config", config, "--format", "junit"], capsys)
    cases = ElementTree.fromstring(junit.encode()).findall("./testsuite/testcase")
    assert junit_status == status and len(cases) == changes + len(report["failures"]) + 1
    assert not summary.exists(), "only --format github writes the job summary"
    _, table, _ = _run(["check", "--history", "--config", config, "--format", "csv"], capsys)
    assert len(list(csv.DictReader(io.StringIO(table)))) == changes + len(report["failures"])
    github_status, annotations, _ = _run(["check", "--history", "--config", config, "--format", "github"], capsys)
    assert github_status == status
    assert sum(line.startswith("::error ") for line in annotations.splitlines()) == len(report["regressions"]) + len(
        report["failures"])
    assert summary.read_text().startswith("<!-- machmeter -->")


@pytest.mark.parametrize("where", ["results/benchmarks.json", "results/gpu-runner-0/report.md", "results"])
def test_an_output_inside_the_results_is_refused_and_nothing_changes(synthetic, capsys, where):
    root, _ = synthetic
    before = {p: p.read_bytes() for p in (root / "results").rglob("*") if p.is_file()}
    status, out, err = _run(["check", "--history", "--config", str(root / "asv.conf.json"),
                             "--output", str(root / where)], capsys)
    assert status == 2 and out == ""
    assert err.splitlines() == [f"machmeter check: error: --output {root / where}: inside the results folder "
                                f"{root / 'results'}; write the report elsewhere"]
    assert {p: p.read_bytes() for p in (root / "results").rglob("*") if p.is_file()} == before


def test_an_output_that_is_a_folder_or_unwritable_is_one_line(synthetic, tmp_path, capsys, monkeypatch):
    import errno

    from machmeter import fileio

    root, _ = synthetic
    check = ["check", "--history", "--config", str(root / "asv.conf.json"), "--output"]
    status, _, err = _run([*check, str(tmp_path)], capsys)
    assert status == 2 and err.splitlines()[-1] == f"machmeter check: error: {tmp_path}: is a folder, not a file to write"

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(fileio.tempfile, "mkstemp", read_only)
    status, _, err = _run([*check, str(tmp_path / "r.txt")], capsys)
    assert status == 2
    assert err.splitlines()[-1] == f"machmeter check: error: {tmp_path / 'r.txt'}: cannot be written: Read-only file system"


@pytest.mark.skipif(not os.path.isdir(EXTERNAL), reason="shared external results not beside the checkout")
def test_public_mjwarp_history_checks_without_errors(tmp_path, capsys):
    status, out, err = _run(["check", "--history", "--config", os.path.join(EXTERNAL, "asv.conf.json"),
                             "--format", "json"], capsys)
    assert status in (0, 1), err
    report = json.loads(out)
    # 280 series, split further wherever a benchmark's code (asv's version hash) changed
    assert report["summary"]["series_checked"] >= 280
    # no file was skipped; what the warnings say is what limits the verdict
    assert [w for w in report["warnings"] if "environment shift" not in w and "inconclusive" not in w] == []
    assert "adenzler-asv-runner" in report["machines"]
    # the runner benchmarked some commits weeks after their parents (its runs are usually a day apart):
    # what moved there is put on the runner, once, with the gap as the evidence
    shifts = report["environment_shifts"]
    assert shifts and all(any("days apart" in e for e in s["evidence"]) for s in shifts)
    folded = {(c["benchmark"], s["commit"]) for s in shifts for c in s["series"]}
    assert not folded & {(c["benchmark"], c["commit"]) for c in report["regressions"]}
    assert all(c["confidence"] >= 0.95 for c in report["regressions"] + report["improvements"])
