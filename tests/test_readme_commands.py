"""README.md's two set-up commands are what CI and users run: keep them and .ci/run in step."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _bash_blocks(text):
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_exactly_the_readme_test_command():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    test_command = next(b for b in blocks if "pytest" in b)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_main_job_runs_the_demo_after_the_same_install():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    main_job = next(b for b in blocks if "machmeter demo" in b)
    test_command = next(b for b in blocks if "pytest" in b)
    def install(command):
        return next(part.strip() for part in command.split("&&") if "pip install" in part)

    assert install(main_job) == install(test_command)
