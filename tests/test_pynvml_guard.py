"""The ``pynvml`` module machmeter imports must be the modern one of ``nvidia-ml-py``.

``nvidia-ml-py3`` (a 2017 fork, pulled in by e.g. CHGNet) installs a ``pynvml.py`` at the same path and
silently overwrites the modern module: energy, MIG and process queries then disappear or change.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import pathlib
import re

import pytest

pynvml = pytest.importorskip("pynvml")

SOURCES = pathlib.Path(__file__).resolve().parent.parent / "src" / "machmeter"


def pynvml_problems(module_file: str, distribution) -> list[str]:
    """What is wrong with the module at ``module_file`` as ``distribution``'s pynvml.py (empty: nothing)."""
    entries = [f for f in distribution.files or () if str(f) == "pynvml.py"]
    if not entries:
        return [f"{distribution.metadata['Name']} does not install pynvml.py"]
    entry = entries[0]
    problems = []
    if pathlib.Path(distribution.locate_file(entry)).resolve() != pathlib.Path(module_file).resolve():
        problems.append(f"pynvml is imported from {module_file}, not from {distribution.locate_file(entry)}")
    if entry.hash is not None:
        digest = hashlib.new(entry.hash.mode, pathlib.Path(module_file).read_bytes()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry.hash.value:
            problems.append(f"{module_file} is not the file {distribution.metadata['Name']} installed "
                            "(overwritten, e.g. by nvidia-ml-py3)")
    return problems


def test_pynvml_is_the_file_nvidia_ml_py_installed():
    distribution = importlib.metadata.distribution("nvidia-ml-py")
    assert pynvml_problems(pynvml.__file__, distribution) == []


def test_no_other_distribution_provides_pynvml():
    assert importlib.metadata.packages_distributions().get("pynvml") == ["nvidia-ml-py"]
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("nvidia-ml-py3")


def test_every_nvml_call_machmeter_makes_exists():
    """nvidia-ml-py3's module lacks e.g. the _v2 process queries and the MIG mode that machmeter uses."""
    used = set()
    for path in SOURCES.rglob("*.py"):
        used.update(re.findall(r"\bpynvml\.([A-Za-z_][A-Za-z_0-9]*)", path.read_text()))
    assert {"nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetMemoryInfo"} <= used  # the scan works
    assert sorted(name for name in used if not hasattr(pynvml, name)) == []


def test_an_overwritten_module_is_detected(tmp_path):
    """The guard fails where the file differs from what nvidia-ml-py's RECORD says it installed."""
    real = importlib.metadata.distribution("nvidia-ml-py")
    overwritten = tmp_path / "pynvml.py"
    overwritten.write_text("# nvidia-ml-py3 7.352.0\ndef nvmlInit():\n    pass\n")

    class Relocated:
        files = real.files
        metadata = real.metadata

        @staticmethod
        def locate_file(entry):
            return tmp_path / str(entry)

    problems = pynvml_problems(str(overwritten), Relocated)
    assert len(problems) == 1 and "overwritten" in problems[0]
    assert pynvml_problems(str(overwritten), real)[0].startswith("pynvml is imported from")
