"""machmeter.fileio: a file is replaced whole or not at all, and reference JSON keeps each list of
numbers on one line."""

from __future__ import annotations

import json
import os

import pytest

from machmeter.fileio import json_text, write_text_atomic


def test_writes_and_creates_the_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "out.txt"
    write_text_atomic(str(path), "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"


def test_replaces_an_existing_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    write_text_atomic(str(path), "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(str(path), "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_a_write_that_fails_leaves_no_temporary(tmp_path):
    with pytest.raises(TypeError):
        write_text_atomic(str(tmp_path / "out.txt"), b"not text")
    assert os.listdir(tmp_path) == []


def test_json_text_keeps_lists_of_numbers_and_booleans_on_one_line():
    document = {"positions": [[0.0, 1.5, -2e-3], [1, 2, 3]], "fixed": [True, False], "name": "argon",
                "labels": ["a", "b"], "atoms": [{"z": 18}]}
    text = json_text(document)
    assert json.loads(text) == document and text.endswith("\n")
    assert "[0.0, 1.5, -0.002]" in text and "[1, 2, 3]" in text and "[true, false]" in text
    # lists of text or of objects stay one item a line
    assert '"labels": [\n' in text and '"atoms": [\n' in text


def test_json_text_escapes_unless_told_not_to():
    assert json_text({"unit": "Å"}) == '{\n "unit": "\\u00c5"\n}\n'
    assert json_text({"unit": "Å"}, ensure_ascii=False) == '{\n "unit": "Å"\n}\n'
