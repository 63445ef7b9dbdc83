"""asv environment plugin "host": benchmark each commit with the host's own Python and packages.

Why: on GPU runners torch (and its CUDA libraries) is already installed and weighs several GB; asv's
virtualenv environments would download it again for every environment, and a runner with no network
cannot do that at all. This environment reuses the interpreter that runs asv, with every package it can
import, and installs only the benchmarked project, built offline (no build isolation, no index), into a
private folder that is put first on ``PYTHONPATH``. Each commit therefore runs its own code against the
host's torch, which is what a performance history of that code should compare.

Use it from ``asv.conf.json``::

    "environment_type": "host",
    "plugins": [".machmeter.asv_environment"],

(asv imports plugins outside its own package only when the name starts with a dot.)
The environment is named ``host-py3.X``: two different interpreters of one minor version (say two
venvs with different torch builds) share result files, so give each such runner its own asv machine
name (``machmeter machine --machine``), which keeps their results apart.
Leave ``pythons`` unset: asv then asks for the running interpreter's version, which this environment
serves. ``matrix`` requirements, if any, are pip-installed into the private folder (that needs an index).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

from asv import environment, util
from asv.console import log

HOST_PYTHONPATH_VARIABLE = "MACHMETER_HOST_PYTHONPATH"
_INFO_FILE = "machmeter-host.json"


HOST_PYTHON_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


class HostEnvironment(environment.Environment):
    """The interpreter running asv, plus this commit's build of the project first on the path."""

    tool_name = "host"

    def __init__(self, conf, python, requirements, tagged_env_vars):
        self._executable = sys.executable
        if not self.matches(python):
            raise environment.EnvironmentUnavailable(
                f"the host environment serves only the running Python ({HOST_PYTHON_VERSION}), not {python!r}"
            )
        # asv removes PYTHONPATH from every child process; keep the host's, since on runners that
        # carry packages as wheels it is how the host finds them (asv_runner included).
        os.environ.setdefault(HOST_PYTHONPATH_VARIABLE, os.environ.get("PYTHONPATH", ""))
        # asv's __init__ derives the folder name from these before it assigns them itself
        self._requirements = requirements
        self._tagged_env_vars = tagged_env_vars
        super().__init__(conf, HOST_PYTHON_VERSION, requirements, tagged_env_vars)

    @classmethod
    def matches(cls, python):
        return python in (HOST_PYTHON_VERSION, "same", sys.executable)

    @property
    def _site_dir(self) -> str:
        """This commit's build of the project; emptied before each install."""
        return os.path.join(self._path, "site")

    @property
    def _requirements_dir(self) -> str:
        """The matrix requirements, installed once per environment."""
        return os.path.join(self._path, "requirements")

    def _host_identity(self) -> dict:
        return {"executable": self._executable, "pythonpath": os.environ.get(HOST_PYTHONPATH_VARIABLE, "")}

    def check_presence(self):
        if not super().check_presence():
            return False
        try:
            with open(os.path.join(self._path, _INFO_FILE)) as stream:
                return json.load(stream) == self._host_identity()
        except (OSError, ValueError):
            return False

    def _setup(self):
        missing = subprocess.run(
            [self._executable, "-c", "import asv_runner, pip"],
            env=dict(os.environ, PYTHONPATH=os.environ.get(HOST_PYTHONPATH_VARIABLE, "")),
            capture_output=True,
        )
        if missing.returncode != 0:
            raise environment.EnvironmentUnavailable(
                f"{self._executable} cannot import asv_runner and pip; install them on the host"
            )
        bin_dir = os.path.join(self._path, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        os.makedirs(self._site_dir, exist_ok=True)
        site = shlex.quote(f"{self._site_dir}:{self._requirements_dir}")
        python = shlex.quote(self._executable)
        wrappers = {
            "python": f'exec {python} "$@"',
            "pip": f'exec {python} -m pip "$@"',
        }
        for name, command in wrappers.items():
            path = os.path.join(bin_dir, name)
            with open(path, "w") as stream:
                stream.write(
                    "#!/bin/sh\n"
                    f'PYTHONPATH={site}${{{HOST_PYTHONPATH_VARIABLE}:+:${HOST_PYTHONPATH_VARIABLE}}}\n'
                    # asv's benchmark.py drops PYTHONPATH entries from sys.path unless they are
                    # also given as ASV_PYTHONPATH
                    'ASV_PYTHONPATH="$PYTHONPATH"\n'
                    "export PYTHONPATH ASV_PYTHONPATH\n"
                    f"{command}\n"
                )
            os.chmod(path, 0o755)
        with open(os.path.join(self._path, _INFO_FILE), "w") as stream:
            json.dump(self._host_identity(), stream)
        for name, version in self._requirements.items():
            spec = name[4:] if name.startswith("pip+") else name
            self._pip(["install", "--target", self._requirements_dir, f"{spec}{version}" if version else spec])

    def _pip(self, args):
        return self.run_executable("python", ["-m", "pip", *args], timeout=self._install_timeout)

    def _build_project(self, repo, commit_hash, build_dir):
        if self._build_command is not None:
            return super()._build_project(repo, commit_hash, build_dir)
        log.info(f"Building {repo.get_decorated_hash(commit_hash, 8)} offline for {self.name}")
        self.run_executable(
            "python",
            ["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "--wheel-dir", self._global_env_vars["ASV_BUILD_CACHE_DIR"], build_dir],
            cwd=build_dir,
            timeout=self._install_timeout,
        )

    def _install_project(self, repo, commit_hash, build_dir):
        if self._install_command is not None:
            return super()._install_project(repo, commit_hash, build_dir)
        cache_dir = self._global_env_vars["ASV_BUILD_CACHE_DIR"]
        wheels = [name for name in os.listdir(cache_dir) if name.endswith(".whl")]
        if len(wheels) != 1:
            raise util.UserError(f"{cache_dir}: expected one built wheel, found {wheels}")
        log.info(f"Installing {repo.get_decorated_hash(commit_hash, 8)} into {self.name}")
        self._pip(["install", "--no-deps", "--no-index", "--no-compile", "--upgrade",
                   "--target", self._site_dir, os.path.join(cache_dir, wheels[0])])

    def _uninstall_project(self):
        if self._uninstall_command is not None:
            return super()._uninstall_project()
        self._set_installed_commit_hash(None)
        shutil.rmtree(self._site_dir, ignore_errors=True)
        os.makedirs(self._site_dir, exist_ok=True)

    def run(self, args, **kwargs):
        log.debug(f"Running '{' '.join(args)}' in {self.name}")
        return self.run_executable("python", args, **kwargs)
