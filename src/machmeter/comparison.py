"""A pull request's comparison: two revisions of an asv project, resolved, loaded and judged.

The one implementation behind ``machmeter check --base/--head`` and ``machmeter comment``, so that the
comment on a pull request says exactly what the check says.
"""

from __future__ import annotations

import os

from machmeter.config import MachmeterConfig, load_config
from machmeter.detect.engine import CheckReport, check_revisions, run_to_run_noises
from machmeter.detect.noise import NOISE_WINDOW
from machmeter.errors import MachmeterError
from machmeter.fingerprint import fingerprint_differences
from machmeter.project import AsvProject
from machmeter.results import load_results, result_commit_prefixes
from machmeter.series import Series, build_series, git_commit_order
from machmeter.triage import acknowledgements_for_pull_request, load_triage


def resolve_revision(revision: str, repo_path: str | None, named_prefixes: set[str], results_dir: str) -> str:
    """The commit a revision names: a full hash through git when the repository is there, else the
    revision matched against the hash prefixes that name result files (reading none of them)."""
    if repo_path and "://" not in repo_path:
        import git

        try:
            full = git.Repo(repo_path).commit(revision).hexsha
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            full = None
        except (git.BadName, ValueError, git.GitCommandError):
            raise MachmeterError(f"{repo_path}: unknown revision {revision!r}") from None
        if full is not None:
            if not any(full.startswith(prefix) for prefix in named_prefixes):
                raise MachmeterError(f"{results_dir}: no results for revision {revision!r} ({full[:8]})")
            return full
    matches = [p for p in named_prefixes if p.startswith(revision) or revision.startswith(p)]
    if not matches:
        raise MachmeterError(f"{results_dir}: no results for revision {revision!r} (and no repository to resolve it)")
    if len(matches) > 1:
        raise MachmeterError(f"{results_dir}: revision {revision!r} is ambiguous ({len(matches)} commits)")
    return revision if len(revision) > len(matches[0]) else matches[0]


def pull_request_commits(repo_path: str | None, base: str, head: str) -> list[str]:
    """The commits of ``base..head`` (empty without a local repository, or when git cannot tell)."""
    if not repo_path or "://" in repo_path:
        return []
    import git

    try:
        return git.Repo(repo_path).git.rev_list(f"{base}..{head}").split()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return []


def _full_hash(revision: str, commits: set[str], results_dir: str) -> str:
    found = [c for c in commits if c.startswith(revision)]
    if len(found) != 1:
        raise MachmeterError(f"{results_dir}: no results for revision {revision!r}" if not found
                             else f"{results_dir}: revision {revision!r} is ambiguous ({len(found)} commits)")
    return found[0]


def recent_history(project: AsvProject, named_prefixes: set[str], exclude: set[str], config: MachmeterConfig,
                   machine: str | None = None) -> list[Series] | None:
    """The series of the newest :data:`NOISE_WINDOW` commits of the branch that have results (the
    nightly runs a pull request is judged against), ``exclude`` left out; None without a repository
    to order them."""
    git_order = git_commit_order(project.repo, project.branches)
    if not git_order:
        return None
    lengths = {len(prefix) for prefix in named_prefixes}
    recent = [commit for commit in reversed(git_order)
              if commit not in exclude and any(commit[:n] in named_prefixes for n in lengths)][:NOISE_WINDOW]
    if not recent:
        return []
    results = load_results(project.results_dir, recent)
    return build_series(results, recent[::-1], config, machine)


def _fingerprint_warnings(results, base: str, head: str) -> list[str]:
    """One warning per machine whose base and head runs were made on other hardware or software: part
    of any difference between them is the machines' (pyperf shows the same wherever runs are compared)."""
    warnings = []
    for machine in sorted({m for m, _ in results.runs}):
        before, after = results.runs.get((machine, base)), results.runs.get((machine, head))
        if before is None or after is None:
            continue
        differences = fingerprint_differences(before, after)
        if differences:
            changed = "; ".join(f"{label} {old} -> {new}" for label, old, new in differences)
            warnings.append(f"{machine}: base and head ran on different machines or software ({changed}): "
                            "part of every difference between them is the machines'")
    return warnings


def compare_revisions(project: AsvProject, base: str, head: str, machine: str | None = None,
                      config: MachmeterConfig | None = None) -> CheckReport:
    """Every series of the two revisions compared, triage applied; the report carries the machines'
    fingerprints and the warnings of files that were skipped (the caller shows them)."""
    config = config if config is not None else load_config(project.root)
    acknowledgements = load_triage(config.triage_path)
    results_dir = project.results_dir
    # a pull request needs two commits: read only their files, whatever the history's length
    if not os.path.isdir(results_dir):
        raise MachmeterError(f"{results_dir}: results folder not found (run asv first)")
    named = result_commit_prefixes(results_dir)
    revisions = [resolve_revision(r, project.repo, named, results_dir) for r in (base, head)]
    results = load_results(results_dir, revisions)
    if not results.points:
        raise MachmeterError(f"{results_dir}: no results to check")
    if machine and machine not in results.machines:
        raise MachmeterError(f"{results_dir}: no results for machine {machine!r} "
                             f"(machines: {', '.join(sorted(results.machines)) or 'none'})")
    present = {p.commit for p in results.points}
    base_hash, head_hash = (_full_hash(r, present, results_dir) for r in revisions)
    acknowledgements = acknowledgements_for_pull_request(
        acknowledgements, pull_request_commits(project.repo, base_hash, head_hash), head_hash)
    history = recent_history(project, named, {base_hash, head_hash}, config, machine)
    report = check_revisions(build_series(results, [base_hash, head_hash], config, machine), base_hash, head_hash,
                             config, acknowledgements, run_to_run_noises(history or []),
                             None if history is not None else "no local repository to order earlier runs by")
    report.machines = {name: info for name, info in results.machines.items() if machine is None or name == machine}
    report.warnings = list(results.warnings) + report.warnings + _fingerprint_warnings(results, base_hash, head_hash)
    return report
