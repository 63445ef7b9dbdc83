"""The pull-request job's cost cap: confirmation rounds stop before the job would pass ``max_cost``
times one run a side, the first always runs, and the printed cost says so."""

from types import SimpleNamespace

import pytest

import machmeter.comparison
import machmeter.pull_request_runs as pr
from machmeter.errors import MachmeterError

FIRST_ROUND_SECONDS = 50.0  # one asv run of the whole selection


@pytest.fixture
def fake_job(monkeypatch):
    """run_pull_request with asv replaced by a clock: a first-round run costs 50 s, a confirmation run
    ``confirm_seconds``; one benchmark is flagged."""
    measured = []

    def measure_round(project, machine, commit, number, bench, quick, extra, run_asv):
        seconds = FIRST_ROUND_SECONDS if not bench else fake_job.confirm_seconds
        measured.append((number, commit, bench))
        return pr.RoundLog(commit, number, seconds, 0, None)

    regression = SimpleNamespace(benchmark="suite.Class.time_step")
    monkeypatch.setattr(pr, "measure_round", measure_round)
    monkeypatch.setattr(pr, "_measured_commit", lambda repo, revision: revision * 8)
    monkeypatch.setattr(machmeter.comparison, "compare_revisions",
                        lambda *args: SimpleNamespace(regressions=[regression]))
    project = SimpleNamespace(repo=None, results_dir="/nonexistent")

    def fake_job(confirm_seconds, **options):
        fake_job.confirm_seconds = confirm_seconds
        measured.clear()
        report, log = pr.run_pull_request(project, "a", "b", "box", run_asv=lambda *a, **k: 0, **options)
        return log, list(measured)
    return fake_job


def confirmation_runs(measured):
    return [m for m in measured if m[2]]


def test_cheap_confirmation_runs_every_round_asked(fake_job):
    log, measured = fake_job(10.0, rounds=2, confirm_rounds=2, max_cost=3.0)
    assert len(confirmation_runs(measured)) == 4
    assert log.confirm_rounds_stopped is None
    assert log.cost_multiple() == pytest.approx((200 + 40) / 100)
    assert "= 2.4x one run a side (100 s)" in log.cost()


def test_expensive_confirmation_stops_at_the_cap_after_its_first_round(fake_job):
    # 2 rounds a side: 200 s = 2x; a confirmation round of 2 x 40 s brings 2.8x, a second would be 3.6x
    log, measured = fake_job(40.0, rounds=2, confirm_rounds=3, max_cost=3.0)
    runs = confirmation_runs(measured)
    assert len(runs) == 2 and {commit for _, commit, _ in runs} == {"a" * 8, "b" * 8}
    assert log.confirm_rounds_stopped == (1, 3)
    assert "(1 of 3 rounds: the next would pass --max-cost 3x)" in log.cost()
    assert "= 2.8x one run a side" in log.cost()


def test_the_first_confirmation_round_runs_even_past_the_cap(fake_job):
    # three first rounds already cost 3x: no regression fails the job unconfirmed
    log, measured = fake_job(50.0, rounds=3, confirm_rounds=2, max_cost=3.0)
    assert len(confirmation_runs(measured)) == 2
    assert log.confirm_rounds_stopped == (1, 2)


def test_no_cap_runs_every_round(fake_job):
    log, measured = fake_job(50.0, rounds=3, confirm_rounds=3, max_cost=None)
    assert len(confirmation_runs(measured)) == 6
    assert log.confirm_rounds_stopped is None


def test_a_cap_that_is_not_positive_is_refused(fake_job):
    with pytest.raises(MachmeterError, match="--max-cost must be positive"):
        fake_job(10.0, rounds=2, confirm_rounds=2, max_cost=-1.0)
