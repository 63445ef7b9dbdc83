"""Reading a whole results folder into series: the order of its commits (read_history itself is tested
with the site's data, tests/test_site_data.py, and on all cores, tests/test_parallel.py)."""

from __future__ import annotations

from machmeter.history import order_commits


def test_commit_order_from_git_then_dates():
    dates = {"c3": 3, "c1": 1, "pr": 2, "c2": 9}
    assert order_commits(dates, None) == ["c1", "pr", "c3", "c2"]  # by date alone
    assert order_commits(dates, ["c1", "c2", "c3"]) == ["c1", "c2", "c3", "pr"]  # branch history first
    assert order_commits(dates, ["c1", "c2", "c3"], branch_only=True) == ["c1", "c2", "c3"]
    assert order_commits(dates, None, branch_only=True) == ["c1", "pr", "c3", "c2"]  # no branch known
