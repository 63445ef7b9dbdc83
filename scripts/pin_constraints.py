"""Print .github/constraints.txt: the exact versions, as installed here, of machmeter's dependencies and
of theirs (for Python 3.12 on Linux), and of the build backend. Run it where `pip install .` resolved:

    python3 scripts/pin_constraints.py > .github/constraints.txt
"""

from __future__ import annotations

import importlib.metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# the workflows' Python and platform: markers are judged for them, not for this interpreter
TARGET = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
HEADER = """\
# Exact versions of machmeter's dependencies (and theirs) for the workflow jobs on GitHub's runners
# whose output is trusted: the PR comment job (it may write comments), the nightly's validation of the
# runners' results (the writer pushes what it passes) and the site build (deployed). A new release of
# any of them reaches those jobs only through a change to this file, reviewed like code.
# Regenerate in an environment where `pip install .` resolved (Python 3.12, Linux):
#   python3 scripts/pin_constraints.py > .github/constraints.txt"""


def closure(root: str = "machmeter") -> dict[str, str]:
    """Every installed distribution ``root`` needs, by name: its version without a local label (+cpu)."""
    versions: dict[str, str] = {}
    todo = [root]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in versions:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # not needed on this platform after all
        versions[name] = distribution.version.split("+")[0]
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(TARGET):
                todo.append(requirement.name)
    versions.pop(canonicalize_name(root))
    versions["setuptools"] = importlib.metadata.version("setuptools").split("+")[0]  # the build backend
    return versions


if __name__ == "__main__":
    print(HEADER)
    for name, version in sorted(closure().items()):
        print(f"{name}=={version}")
