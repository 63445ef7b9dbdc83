"""The project's git repository: every question machmeter asks git, through gitpython, in one place.

A repository is optional almost everywhere: asv results can be checked and published without one
(commits are then ordered by the dates asv recorded), so most questions answer "nothing known" when
there is no local repository (none configured, a URL, a missing folder, not a git repository).

Names given to git come from the command line and from asv.conf.json (``branches``): one beginning
with '-' is refused with a :class:`MachmeterError` naming it, because git would read it as an option.
``git`` is imported inside the functions so that ``import machmeter`` stays light (the benchmarks
import machmeter inside asv's processes).
"""

from __future__ import annotations

import os
import re
import tempfile

from machmeter.errors import MachmeterError

_HEX = re.compile(r"[0-9a-f]{7,64}")


def is_commit_hash(text: str) -> bool:
    """Whether a name is a (possibly abbreviated) commit hash: lower-case hex, 7-64 characters
    (SHA-1 or SHA-256). Such a name may also name a file."""
    return bool(_HEX.fullmatch(text))


def refuse_option(name: str, what: str = "revision") -> str:
    """``name`` (a branch or revision handed to git), refused when git would read it as an option
    (``--output=FILE`` writes a file): names come from configuration and command lines, never as options."""
    if not isinstance(name, str):
        raise MachmeterError(f"{what} {name!r} is not a name")
    if name.startswith("-"):
        raise MachmeterError(f"{what} {name!r} starts with '-': git would read it as an option; refusing it")
    return name


def _open(repo_path: str | None):
    """The gitpython ``Repo`` at ``repo_path``, or None when there is no local repository there."""
    if not repo_path or "://" in repo_path or not os.path.isdir(repo_path):
        return None
    import git

    try:
        return git.Repo(repo_path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def commit_order(repo_path: str | None, branches) -> list[str] | None:
    """First-parent history of the first of ``branches`` that exists (HEAD when none is given), oldest
    first; None when there is no local repository or none of them exists."""
    repo = _open(repo_path)
    if repo is None:
        return None
    import git

    for branch in list(branches) or ["HEAD"]:
        try:
            return [c.hexsha for c in repo.iter_commits(refuse_option(branch, "branch"), first_parent=True)][::-1]
        except (git.GitCommandError, ValueError):
            continue
    return None


def commit_hash(repo_path: str | None, revision: str) -> str | None:
    """The full hash of the commit ``revision`` names; None without a local repository; a
    MachmeterError naming the repository when it does not know the revision."""
    repo = _open(repo_path)
    if repo is None:
        return None
    import git

    try:
        return repo.commit(refuse_option(revision)).hexsha
    except (git.BadName, ValueError, git.GitCommandError):
        raise MachmeterError(f"{repo_path}: unknown revision {revision!r}") from None


def commits_between(repo_path: str | None, base: str, head: str) -> list[str]:
    """The commits of ``base..head`` (a pull request's: base excluded, head included); empty without a
    local repository, or when git cannot tell."""
    repo = _open(repo_path)
    if repo is None:
        return []
    import git

    try:
        return repo.git.rev_list(f"{refuse_option(base)}..{refuse_option(head)}").split()
    except git.GitCommandError:
        return []


def last_commits(repo_path: str | None, count: int) -> list[str]:
    """The last ``count`` commits of HEAD's first-parent history, oldest first; a MachmeterError when
    there is no repository with commits."""
    repo = _open(repo_path)
    if repo is None:
        raise MachmeterError(f"{repo_path}: not a git repository")
    import git

    try:
        commits = [c.hexsha for c in repo.iter_commits("HEAD", first_parent=True, max_count=count)]
    except (ValueError, git.GitCommandError) as error:
        raise MachmeterError(f"{repo_path}: not a git repository with commits ({error.__class__.__name__})") from None
    return commits[::-1]


def commit_info(repo_path: str | None, commits: list[str]) -> dict[str, tuple[str, str, int]]:
    """(subject, author, committer date in ms) of each commit the local repository knows, read in one
    ``git log``; names that are not commit hashes are never given to git; {} without a repository."""
    repo = _open(repo_path) if commits else None
    if repo is None:
        return {}
    import git

    wanted = [c for c in commits if is_commit_hash(c)]
    # thousands of commits: on standard input, not the command line
    with tempfile.TemporaryFile("w+", encoding="ascii") as names:
        names.write("\n".join(wanted) + "\n")
        names.seek(0)
        try:
            out = repo.git.log("--no-walk=unsorted", "--ignore-missing", "--stdin",
                               "--format=%H%x00%an%x00%ct%x00%s%x00", istream=names)
        except git.GitCommandError:
            return {}
    fields = out.split("\x00")
    info = {}
    for start in range(0, len(fields) - 3, 4):
        commit, author, seconds, subject = fields[start:start + 4]
        try:
            info[commit.strip()] = (subject, author, int(seconds) * 1000)
        except ValueError:
            continue
    return info
