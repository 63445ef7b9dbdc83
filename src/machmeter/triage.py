"""Triage that lives in the repository: a committed file of acknowledged changes.

```toml
[[acknowledged]]
benchmark = "md_lennard_jones.LennardJonesArgon.track_steps_per_second"   # fnmatch pattern
commit = "3f2c1ab"               # prefix of the first commit at the new level
machine = "h100-runner"          # optional: every machine when omitted
params = { n_atoms = "4096" }    # optional: only these parameter values (as asv writes them)
reason = "exact neighbour list: 3% slower, accepted"
```
A change that matches an entry is reported as acknowledged instead of failing the check. In a pull
request's comparison an entry may name any commit of the pull request (the one that made the change):
committing the entry makes a new head, which the entry could never name.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field, replace

from machmeter.config import read_toml
from machmeter.errors import MachmeterError


@dataclass(frozen=True)
class Acknowledgement:
    benchmark: str
    commit: str
    reason: str
    machine: str | None = None
    params: dict = field(default_factory=dict)

    def matches(self, benchmark: str, params: dict, machine: str, commit: str) -> bool:
        return (
            fnmatch.fnmatchcase(benchmark, self.benchmark)
            and commit.startswith(self.commit)
            and (self.machine is None or self.machine == machine)
            # asv writes string parameters quoted ("'cuda'"); accept them written either way
            and all(params.get(name) in (value, repr(value)) for name, value in self.params.items())
        )


def load_triage(path: str | None) -> list[Acknowledgement]:
    if not path or not os.path.isfile(path):
        return []
    entries = read_toml(path).get("acknowledged", [])
    if not isinstance(entries, list):
        raise MachmeterError(f"{path}: acknowledged must be a list of tables ([[acknowledged]])")
    acknowledgements = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MachmeterError(f"{path}: acknowledged[{index}] must be a table, not {type(entry).__name__}")
        missing = [key for key in ("benchmark", "commit", "reason") if not isinstance(entry.get(key), str)]
        if missing:
            raise MachmeterError(f"{path}: acknowledged[{index}] needs {', '.join(missing)}")
        if len(entry["commit"]) < 7:
            raise MachmeterError(f"{path}: acknowledged[{index}]: commit {entry['commit']!r} is shorter than 7 characters")
        if not isinstance(entry.get("machine", ""), str):
            raise MachmeterError(f"{path}: acknowledged[{index}]: machine must be a string")
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise MachmeterError(f"{path}: acknowledged[{index}]: params must be a table")
        acknowledgements.append(Acknowledgement(entry["benchmark"], entry["commit"], entry["reason"],
                                                entry.get("machine"), {k: str(v) for k, v in params.items()}))
    return acknowledgements


def acknowledgement_for(acknowledgements, benchmark, params, machine, commit) -> Acknowledgement | None:
    return next((a for a in acknowledgements if a.matches(benchmark, params, machine, commit)), None)


def acknowledgements_for_pull_request(acknowledgements: list[Acknowledgement], pull_request_commits: list[str],
                                      head: str) -> list[Acknowledgement]:
    """The entries as they apply to a comparison whose head is ``head``: an entry naming one of the pull
    request's own commits (``base..head``) acknowledges the change seen at its head."""
    applied = []
    for acknowledgement in acknowledgements:
        applied.append(acknowledgement)
        if any(commit.startswith(acknowledgement.commit) for commit in pull_request_commits):
            applied.append(replace(acknowledgement, commit=head))
    return applied
