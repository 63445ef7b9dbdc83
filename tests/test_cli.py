"""The machmeter CLI: thin verbs, one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from machmeter.cli import main


def test_machine_merges_the_fingerprint_into_asv_machine_file(tmp_path, capsys):
    machine_file = tmp_path / "asv-machine.json"
    machine_file.write_text(json.dumps({"other": {"machine": "other", "cpu": "x"}, "version": 1}))
    assert main(["machine", "--machine", "box", "--machine-file", str(machine_file)]) == 0
    stored = json.loads(machine_file.read_text())
    assert stored["other"] == {"machine": "other", "cpu": "x"}  # other machines untouched
    box = stored["box"]
    assert box["machine"] == "box"
    import torch

    assert box["torch"] == torch.__version__
    if not torch.cuda.is_available():
        assert box["gpu"] == "none" and box["gpu_count"] == "0"
    assert {"arch", "cpu", "num_cpu", "os", "ram"} <= set(box)
    assert "gpu_driver" in capsys.readouterr().out

    box_before = dict(box)
    assert main(["machine", "--machine", "box", "--machine-file", str(machine_file)]) == 0
    assert json.loads(machine_file.read_text())["box"] == box_before


def test_machine_refuses_a_corrupt_machine_file_without_touching_it(tmp_path, capsys):
    machine_file = tmp_path / "asv-machine.json"
    machine_file.write_text('{"box": {"machine": "bo')
    assert main(["machine", "--machine", "box", "--machine-file", str(machine_file)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert str(machine_file) in err and "unreadable" in err
    assert machine_file.read_text() == '{"box": {"machine": "bo'


@pytest.mark.parametrize("content", ['[1, 2]', '{"version": 1, "box": 5}'])
def test_machine_refuses_a_machine_file_of_the_wrong_shape(tmp_path, capsys, content):
    machine_file = tmp_path / "asv-machine.json"
    machine_file.write_text(content)
    assert main(["machine", "--machine", "box", "--machine-file", str(machine_file)]) == 2
    assert "not an asv machine file" in capsys.readouterr().err
    assert machine_file.read_text() == content


def test_demo_without_config_is_a_one_line_error(tmp_path, capsys):
    assert main(["demo", "--config", str(tmp_path / "asv.conf.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "asv configuration not found" in err


def test_python_dash_m_and_console_script_agree():
    out = subprocess.run([sys.executable, "-m", "machmeter", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("machmeter ")


@pytest.mark.parametrize("argv", [[], ["nonsense"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
