"""machmeter.project: asv.conf.json read by asv itself, every path absolute against the file's folder,
and a missing or broken configuration one line naming it."""

from __future__ import annotations

import json
import os

import pytest

from machmeter.errors import MachmeterError
from machmeter.project import load_project


def _write(folder, **conf):
    path = folder / "asv.conf.json"
    path.write_text(json.dumps({"version": 1, "project": "p", "repo": ".", **conf}))
    return path


def test_paths_are_absolute_against_the_configs_folder(tmp_path, monkeypatch):
    _write(tmp_path, results_dir="out/results", html_dir="../site", branches=["main", ""])
    monkeypatch.chdir(tmp_path)
    project = load_project("asv.conf.json")
    assert project.config_path == str(tmp_path / "asv.conf.json") and project.root == str(tmp_path)
    assert project.repo == str(tmp_path) and project.results_dir == str(tmp_path / "out" / "results")
    assert project.html_dir == os.path.normpath(str(tmp_path / ".." / "site"))
    assert project.branches == ("main",)  # an empty branch name is no branch


def test_a_repository_url_stays_a_url(tmp_path):
    project = load_project(str(_write(tmp_path, repo="https://example.invalid/p.git")))
    assert project.repo == "https://example.invalid/p.git"


def test_asvs_defaults(tmp_path):
    project = load_project(str(_write(tmp_path)))
    assert project.results_dir == str(tmp_path / "results") and project.html_dir == str(tmp_path / "html")


def test_a_missing_configuration_names_the_file(tmp_path):
    with pytest.raises(MachmeterError, match=r"asv.conf.json: asv configuration not found \(pass --config\)"):
        load_project(str(tmp_path / "asv.conf.json"))


@pytest.mark.parametrize("text", ['{"version": 1, "project": "p", "repo": ".", "results_dir": 3', '[1, 2]'])
def test_a_broken_configuration_is_one_line_naming_the_file(tmp_path, text):
    (tmp_path / "asv.conf.json").write_text(text)
    with pytest.raises(MachmeterError) as error:
        load_project(str(tmp_path / "asv.conf.json"))
    assert str(error.value).startswith(f"{tmp_path / 'asv.conf.json'}: ") and "\n" not in str(error.value)
