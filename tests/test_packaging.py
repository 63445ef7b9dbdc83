"""Packaged like a project: the LICENSE pyproject names, a wheel that carries the package data and runs
from where it is installed, and the CPU Docker image built and run (where a docker daemon answers)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "machmeter"
# what the wheel must carry besides modules: pages, their scripts and styles, the report's schema, data
PACKAGE_DATA = ("site/templates", "site/static", "report/check-report.schema.json", "data")


def test_the_license_is_the_one_pyproject_names():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / "LICENSE").read_text()
    assert project["license"] == {"text": "MIT"}
    assert text.startswith("MIT License") and "Copyright (c) 2026 The machmeter developers" in text


def _build_wheel(source: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    # no build isolation: the build backend installed here, so the build needs no network
    if importlib.util.find_spec("build") is not None:
        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("machmeter-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    # a copy of what a build reads, so the build leaves no build/ or egg-info in the checkout
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return _build_wheel(source, tmp_path_factory.mktemp("dist"))


def test_the_wheel_carries_the_package_data_and_the_license(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for entry in PACKAGE_DATA:
        path = PACKAGE / entry
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files, entry
        for file in files:
            assert f"machmeter/{file.relative_to(PACKAGE).as_posix()}" in names, file
    assert any(name.endswith(".dist-info/licenses/LICENSE") or name.endswith(".dist-info/LICENSE") for name in names)
    assert any(name.endswith(".dist-info/entry_points.txt") for name in names)


def test_the_installed_wheel_runs_and_finds_its_data(wheel, tmp_path):
    target = tmp_path / "installed"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                             str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # the schema is package data read through importlib.resources: it raises if the wheel lacks it
    probe = ("import machmeter, machmeter.cli; from machmeter.report.verdicts import schema; "
             "print(machmeter.__file__); schema(); raise SystemExit(machmeter.cli.main(['--version']))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0].startswith(str(target)), "the wheel's copy, not the checkout's"
    assert "machmeter " in result.stdout


def _docker_or_skip() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on PATH: the CPU image is built and run where docker exists")
    info = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          timeout=60)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"docker client present but no daemon answers ({reason})")
    return docker


def test_the_cpu_image_builds_and_runs():
    docker = _docker_or_skip()
    tag = f"machmeter-test-cpu:{os.getpid()}"
    build = subprocess.run([docker, "build", "-f", "docker/Dockerfile.cpu", "-t", tag, "."], cwd=ROOT,
                           capture_output=True, text=True, timeout=3600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    try:
        run = subprocess.run([docker, "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0 and run.stdout.startswith("machmeter "), run.stdout + run.stderr
        check = subprocess.run([docker, "run", "--rm", tag, "check", "--help"], capture_output=True, text=True,
                               timeout=300)
        assert check.returncode == 0 and "--format" in check.stdout, check.stderr
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, timeout=300)
