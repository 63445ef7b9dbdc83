"""The GitHub workflows in .github/workflows: valid against GitHub's schema, clean under zizmor, and
holding the security invariants of docs/ci.md (read from the YAML, so an edit that breaks one fails here)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PR_WORKFLOW, COMMENT_WORKFLOW, NIGHTLY, CI = "pr-benchmarks.yml", "pr-comment.yml", "nightly.yml", "ci.yml"


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    return {on: None} if isinstance(on, str) else {t: None for t in on} if isinstance(on, list) else on


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


def _uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def test_the_four_workflows_are_there():
    assert {f.name for f in FILES} == {CI, NIGHTLY, PR_WORKFLOW, COMMENT_WORKFLOW}


def test_workflows_validate_against_githubs_schema():
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                             *map(str, FILES)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _zizmor() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "zizmor")
    found = beside if os.path.isfile(beside) else shutil.which("zizmor")
    assert found, "zizmor is a test dependency (pip install -e '.[test]')"
    return found


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing_offline(persona):
    result = subprocess.run([_zizmor(), "--offline", "--no-progress", f"--persona={persona}", str(WORKFLOWS)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0 and "No findings to report" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("name", [f.name for f in FILES])
def test_least_privilege_and_pinned_actions(name):
    text = (WORKFLOWS / name).read_text()
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {}, "nothing by default: each job says what it needs"
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}: job {job_name} must declare its permissions"
    assert "pull_request_target" not in text
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line
    # values from events reach scripts through env, never pasted into the script (template injection)
    for job in workflow["jobs"].values():
        assert "${{" not in _runs(job), name


@pytest.mark.parametrize("name", [f.name for f in FILES])
def test_checkouts_keep_no_credentials_except_where_results_are_pushed(name):
    for job_name, job in _load(name)["jobs"].items():
        writes = job["permissions"].get("contents") == "write"
        for step in _steps(job):
            if _uses(step, "actions/checkout"):
                assert step["with"]["persist-credentials"] is writes, f"{name}: {job_name}"


def test_ci_runs_readme_test_command_on_every_push_and_pull_request():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.strip() for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)]
    command = next(b for b in blocks if "pytest" in b)
    workflow = _load(CI)
    assert set(_triggers(workflow)) == {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert _steps(job)[-1]["run"].strip() == command


def test_pull_request_benchmarks_run_without_secrets_or_write_access():
    text = (WORKFLOWS / PR_WORKFLOW).read_text()
    workflow = _load(PR_WORKFLOW)
    assert set(_triggers(workflow)) == {"pull_request"}
    assert "secrets." not in text and "github.token" not in text and "GITHUB_TOKEN" not in text
    (job,) = workflow["jobs"].values()
    assert set(job["permissions"].values()) == {"read"}
    assert "self-hosted" in job["runs-on"]
    runs = _runs(job)
    assert "machmeter run-pr" in runs and "--confirm-rounds" in runs and "--format json" in runs and "--format markdown" in runs
    assert "--format github" in runs  # annotations and the job summary
    upload = next(s for s in _steps(job) if _uses(s, "actions/upload-artifact"))
    assert upload["with"]["name"] == "machmeter-report" and "machmeter-report/" in upload["with"]["path"]


BENCHMARK_LABEL = "run-benchmark"


def test_pull_request_benchmarks_run_only_with_the_label_and_another_label_cancels_nothing():
    workflow = _load(PR_WORKFLOW)
    assert set(_triggers(workflow)["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "labeled"}
    (job,) = workflow["jobs"].values()
    gate = " ".join(job["if"].split())
    # the fork check stays, and the job needs the label, and a label event runs it only for that label
    assert "github.event.pull_request.head.repo.full_name == github.repository &&" in gate
    assert f"contains(github.event.pull_request.labels.*.name, '{BENCHMARK_LABEL}')" in gate
    assert f"(github.event.action != 'labeled' || github.event.label.name == '{BENCHMARK_LABEL}')" in gate
    assert "||" not in gate.replace(f"(github.event.action != 'labeled' || github.event.label.name == "
                                    f"'{BENCHMARK_LABEL}')", ""), "no other way round the gate"
    # a run the gate skips takes a group of its own (its run id), so it never cancels a running benchmark
    group = " ".join(workflow["concurrency"]["group"].split())
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert f"contains(github.event.pull_request.labels.*.name, '{BENCHMARK_LABEL}')" in group
    assert f"github.event.label.name == '{BENCHMARK_LABEL}'" in group and group.endswith("|| github.run_id }}")


def test_the_comment_job_never_runs_pull_request_code_and_takes_the_pr_from_the_event():
    pr_name = _load(PR_WORKFLOW)["name"]
    workflow = _load(COMMENT_WORKFLOW)
    triggers = _triggers(workflow)
    assert list(triggers) == ["workflow_run"]
    assert triggers["workflow_run"] == {"workflows": [pr_name], "types": ["completed"]}
    (job,) = workflow["jobs"].values()
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]
    assert job["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write"}
    steps = _steps(job)
    for step in steps:
        if _uses(step, "actions/checkout"):
            # the default branch only: no ref or repository of the pull request
            assert not {"ref", "repository"} & set(step.get("with", {}))
    install = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
    download = next(i for i, s in enumerate(steps) if _uses(s, "actions/download-artifact"))
    assert install < download, "machmeter is installed before the untrusted artifact lands"
    artifact = steps[download]["with"]
    assert artifact["run-id"] == "${{ github.event.workflow_run.id }}" and artifact["path"].startswith("${{ runner.temp }}")
    post = next(s for s in steps if "machmeter comment" in s.get("run", ""))
    assert post is steps[-1]
    # nothing of the artifact runs after the download: only machmeter comment, which reads it as JSON
    assert [s.get("run", "") for s in steps[download + 1:]] == [post["run"]]
    assert "--report" in post["run"] and "--pr" not in post["run"]
    assert "--expect-head" in post["run"] and post["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert post["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert "--author \"github-actions[bot]\"" in post["run"]


def test_nightly_benchmarks_every_gpu_type_and_one_run_writes_at_a_time():
    workflow = _load(NIGHTLY)
    assert set(_triggers(workflow)) == {"schedule", "workflow_dispatch"}
    assert workflow["concurrency"]["cancel-in-progress"] is False and workflow["concurrency"]["group"]
    jobs = workflow["jobs"]
    bench = jobs["benchmark"]
    entries = bench["strategy"]["matrix"]["include"]
    assert len(entries) >= 2 and len({e["machine"] for e in entries}) == len(entries)
    assert all("self-hosted" in e["labels"] for e in entries) and bench["runs-on"] == "${{ matrix.labels }}"
    assert bench["env"]["MACHINE"] == "${{ matrix.machine }}"
    runs = _runs(bench)
    assert 'machmeter machine --machine "$MACHINE"' in runs and 'asv run --machine "$MACHINE"' in runs
    writers = [name for name, job in jobs.items() if "write" in job["permissions"].values()]
    assert sorted(writers) == ["deploy", "notify", "results"]
    # the job that may push runs no code of the repository and installs nothing
    assert not re.search(r"pip|machmeter|asv |python", _runs(jobs["results"]))
    assert jobs["results"]["needs"] == "validate" and jobs["site"]["needs"] == "results"
    assert "machmeter site --output site" in _runs(jobs["site"])
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(_uses(s, "actions/deploy-pages") for s in _steps(jobs["deploy"]))


def _hosted(job: dict) -> bool:
    labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
    return all(isinstance(label, str) and label.startswith("ubuntu-") for label in labels)


def test_pull_requests_and_nightly_runs_never_share_a_runner():
    (pr_job,) = _load(PR_WORKFLOW)["jobs"].values()
    pr_labels = set(pr_job["runs-on"])
    for entry in _load(NIGHTLY)["jobs"]["benchmark"]["strategy"]["matrix"]["include"]:
        nightly = set(entry["labels"])
        # a runner takes a job when it has all the job's labels: each side needs one the other lacks
        assert nightly - pr_labels and pr_labels - nightly, (entry["machine"], sorted(pr_labels))


def test_the_results_writer_runs_on_githubs_runner_and_only_receives_validated_artifacts():
    jobs = _load(NIGHTLY)["jobs"]
    writer, validate = jobs["results"], jobs["validate"]
    assert _hosted(writer) and _hosted(validate)
    assert validate["permissions"] == {"contents": "read"} and validate["needs"] == "benchmark"
    assert "needs.validate.result == 'success'" in writer["if"]
    (download,) = [s for s in _steps(writer) if _uses(s, "actions/download-artifact")]
    assert download["with"] == {"name": "validated-results", "path": "."}
    steps = _steps(validate)
    (runners,) = [s for s in steps if _uses(s, "actions/download-artifact")]
    # each runner's artifact in a folder of its own: merged, one runner's benchmarks.json would replace another's
    assert runners["with"]["pattern"] == "results-*" and "merge-multiple" not in runners["with"]
    script = _runs(validate)
    assert "machmeter check --history" in script and "(skipped)" in script and '! -type f ! -type d' in script
    assert script.index("pip install") < script.index("machmeter check")
    (upload,) = [s for s in steps if _uses(s, "actions/upload-artifact") and s["with"]["name"] != "check-reports"]
    assert upload["with"]["name"] == "validated-results"
    assert steps.index(runners) > next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))


def test_the_issue_writer_reads_only_the_validated_checks_and_the_bisect_is_optional():
    jobs = _load(NIGHTLY)["jobs"]
    notify = jobs["notify"]
    assert _hosted(notify) and notify["permissions"] == {"contents": "read", "issues": "write"}
    assert notify["needs"] == "validate" and "needs.validate.result == 'success'" in notify["if"]
    steps = _steps(notify)
    # one artifact, the validate job's own reports; the default branch's checkout, no other ref
    (download,) = [s for s in steps if _uses(s, "actions/download-artifact")]
    assert download["with"] == {"name": "check-reports", "path": "reports"}
    assert all("ref" not in s.get("with", {}) for s in steps if _uses(s, "actions/checkout"))
    script = _runs(notify)
    assert "machmeter notify" in script and script.index("pip install") < script.index("machmeter notify")
    (run,) = [s for s in steps if "machmeter notify" in s.get("run", "")]
    assert run["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    validate = _runs(jobs["validate"])
    assert 'cp "$RUNNER_TEMP/$machine.json" "reports/$machine.json"' in validate
    assert [s["with"]["name"] for s in _steps(jobs["validate"]) if _uses(s, "actions/upload-artifact")] == [
        "validated-results", "check-reports"]
    # the bisect: on the GPU runner, after the benchmarks, only when asked, its output uploaded
    bench = _steps(jobs["benchmark"])
    (bisect,) = [s for s in bench if "asv find" in s.get("run", "")]
    condition = "${{ inputs.bisect || vars.MACHMETER_BISECT == 'true' }}"
    assert bisect["if"] == condition and bench.index(bisect) > next(
        i for i, s in enumerate(bench) if "asv run" in s.get("run", ""))
    (upload,) = [s for s in bench if _uses(s, "actions/upload-artifact") and "bisect" in s["with"]["name"]]
    assert upload["if"] == condition and upload["with"]["path"] == "bisect/"
    dispatch = _triggers(_load(NIGHTLY))["workflow_dispatch"]["inputs"]
    assert dispatch["bisect"]["type"] == "boolean" and dispatch["bisect"]["default"] is False


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".github" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert re.fullmatch(r"[a-z0-9-]+", name) and re.fullmatch(r"[0-9][0-9a-z.]*", version), line
            pins[name] = version
    return pins


def test_pip_installs_on_githubs_runners_are_pinned():
    """Jobs on GitHub's runners hold write tokens or make what is published: every pip install there
    takes .github/constraints.txt, which pins machmeter's dependencies exactly."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _constraints()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for text in project["project"]["dependencies"] + project["build-system"]["requires"]:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"python_version": "3.12"}):
            assert canonicalize_name(requirement.name) in pins, requirement.name
    checked = 0
    for name in (NIGHTLY, COMMENT_WORKFLOW):
        for job_name, job in _load(name)["jobs"].items():
            if not _hosted(job):
                continue
            for line in _runs(job).splitlines():
                if "pip install" in line:
                    assert "-c .github/constraints.txt" in line, f"{name}: {job_name}: {line.strip()}"
                    checked += 1
    assert checked >= 4  # the comment job, the nightly's validation, its site build and its notify job


ACTION = ROOT / "action.yml"


def test_the_composite_action_validates_and_zizmor_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions",
                             str(ACTION)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([_zizmor(), "--offline", "--no-progress", "--persona=pedantic", str(ACTION)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0 and "No findings to report" in result.stdout, result.stdout + result.stderr


def test_the_composite_action_checks_comments_only_when_asked_and_fails_as_check_does():
    action = yaml.safe_load(ACTION.read_text())
    assert {"base", "head", "results", "comment"} <= set(action["inputs"])
    assert action["inputs"]["base"]["required"] and action["inputs"]["comment"]["default"] == "false"
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite" and all(step.get("shell") == "bash" for step in steps)
    # inputs reach the scripts through env, never pasted into them (template injection)
    assert all("${{" not in step["run"] for step in steps)
    check = next(step for step in steps if step.get("id") == "check")
    assert '--results "$RESULTS"' in check["run"] and "--format json" in check["run"] and "--format github" in check["run"]
    (comment,) = [step for step in steps if "machmeter comment" in step["run"]]
    assert "inputs.comment == 'true'" in comment["if"] and "--report" in comment["run"]
    assert steps[-1]["run"].strip() == 'exit "$STATUS"'
    assert (ROOT / "docs" / "ci.md").read_text().count("action.yml") >= 1


def test_the_bisect_targets_every_parameter_combination_of_the_flagged_benchmark(tmp_path):
    """The nightly's own snippet, run on a check report: asv find must select the flagged benchmark's
    combinations (asv matches ``name(params)``) and not a benchmark whose name merely starts alike."""
    from asv.benchmarks import Benchmarks

    (bisect,) = [s for s in _steps(_load(NIGHTLY)["jobs"]["benchmark"]) if "asv find" in s.get("run", "")]
    snippet = re.search(r"<<'PY'\n(.*?)\n\s*PY\n", bisect["run"], re.S).group(1)
    (tmp_path / "bisect").mkdir()
    (tmp_path / "bisect" / "check.json").write_text(json.dumps({"regressions": [
        {"benchmark": "md.MD.time_step", "commit_range": ["aaaa", "bbbb"], "higher_is_better": False}]}))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(snippet)], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "aaaa..bbbb" and out[2] == "rise"

    class Conf:
        benchmark_dir = "benchmarks"

    found = [{"name": "md.MD.time_step", "params": [["64", "512"]], "param_names": ["n"]},
             {"name": "md.MD.time_step_latency", "params": [["64"]], "param_names": ["n"]}]
    selected = Benchmarks(Conf(), found, regex=[out[1]])
    assert list(selected) == ["md.MD.time_step"] and selected.benchmark_selection["md.MD.time_step"] == [0, 1]
