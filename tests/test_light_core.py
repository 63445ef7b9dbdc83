"""The light core: check, site, comment, machine and serve work without torch, transformers or ase (the
suites' extras), in a fresh interpreter where importing any of them fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("torch", "transformers", "ase", "sevenn")

# sys.modules[name] = None makes `import name` (and of any submodule) raise ImportError, as on a host
# where `pip install machmeter` installed only the core
PROBE = textwrap.dedent("""
    import contextlib, io, json, os, sys
    for name in {heavy!r}:
        sys.modules[name] = None
    sys.path.insert(0, {root!r})
    from scripts.synthetic_history import write_asv_results
    import machmeter.cli

    def run(argv):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                status = machmeter.cli.main(argv)
        except SystemExit as exit:
            status = exit.code
        return status, out.getvalue()

    statuses = {{}}
    for verb in ("check", "comment", "site", "machine", "serve"):
        status, out = run([verb, "--help"])
        statuses[verb + " --help"] = (status, "usage: machmeter " + verb in out)
    work = sys.argv[1]
    write_asv_results(os.path.join(work, "results"), n_commits=20, n_series=6, n_machines=1, seed=1)
    config = os.path.join(work, "asv.conf.json")
    with open(config, "w") as stream:
        json.dump({{"version": 1, "project": "p", "repo": "https://example.invalid/p",
                    "results_dir": "results", "branches": ["main"]}}, stream)
    statuses["check"] = run(["check", "--history", "--config", config, "--format", "junit"])[0], True
    statuses["site"] = run(["site", "--config", config, "--output", os.path.join(work, "site")])[0], True
    statuses["machine"] = run(["machine", "--machine", "core", "--machine-file",
                               os.path.join(work, "machine.json")])[0], True
    statuses["loaded"] = sorted(m for m in sys.modules if sys.modules[m] is not None and m.split(".")[0] in {heavy!r})
    print(json.dumps(statuses))
""").format(heavy=HEAVY, root=ROOT)


def test_core_commands_run_without_torch_transformers_or_ase(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    assert statuses.pop("loaded") == []
    for what, (status, usage) in statuses.items():
        assert usage and status in ((0, 1) if what == "check" else (0,)), (what, status, result.stderr[-2000:])
    machine = json.loads((tmp_path / "machine.json").read_text())["core"]
    assert machine["torch"] == "" and "gpu" in machine


def test_the_core_dependencies_hold_none_of_the_suites():
    import tomllib

    project = tomllib.loads(open(os.path.join(ROOT, "pyproject.toml")).read())["project"]
    names = {requirement.split(">")[0].split("=")[0].split(";")[0].strip() for requirement in project["dependencies"]}
    assert not names & {"torch", "transformers", "ase", "sevenn"}
    assert {"torch>=2.1", "ase>=3.23", "transformers>=4.40"} <= set(project["optional-dependencies"]["suites"])
    # README's commands install [test], which brings every suite's extra
    assert "machmeter[suites,mlff,embeddings]" in project["optional-dependencies"]["test"]
