"""Direction resolution, project configuration and the triage file."""

from __future__ import annotations

import pytest

from machmeter.config import MachmeterConfig, load_config
from machmeter.errors import MachmeterError
from machmeter.results import BenchmarkInfo, ResultPoint, ResultSet
from machmeter.series import build_series, default_meaning, resolve_meaning
from machmeter.triage import load_triage


def _info(name, type_="track", unit="unit", higher=None, kind=None, **attributes):
    return BenchmarkInfo(name=name, type=type_, unit=unit, param_names=(), params=(), version="v",
                         higher_is_better=higher, metric_kind=kind, attributes=attributes)


@pytest.mark.parametrize("type_, unit, expected", [
    ("time", "seconds", ("seconds", False, "time")),
    ("peakmemory", "bytes", ("bytes", False, "memory")),
    ("track", "steps/s", ("steps/s", True, "throughput")),
    ("track", "ns/day", ("ns/day", True, "throughput")),
    ("track", "ms", ("ms", False, "time")),
    ("track", "J", ("J", False, "energy")),
    ("track", "unit", ("unit", False, "count")),  # asv's own convention: lower is better
])
def test_default_meaning_by_type_and_unit(type_, unit, expected):
    assert default_meaning(_info("b", type_, unit)) == expected


def test_declared_beats_config_beats_default(tmp_path):
    (tmp_path / "machmeter.toml").write_text(
        '[[benchmarks]]\npattern = "suite.*similarity"\nhigher_is_better = true\nkind = "accuracy"\n'
        'tolerance_abs = 0.02\n')
    config = load_config(str(tmp_path))
    from_config = resolve_meaning("suite.track_similarity", _info("suite.track_similarity"), config)
    assert (from_config.higher_is_better, from_config.kind, from_config.source, from_config.tolerance_abs) == (
        True, "accuracy", "config", 0.02)
    declared = resolve_meaning("suite.track_similarity",
                               _info("suite.track_similarity", higher=False, kind="accuracy", tolerance_abs=0.5), config)
    assert (declared.higher_is_better, declared.source, declared.tolerance_abs) == (False, "declared", 0.02)
    assert resolve_meaning("other.track_x", _info("other.track_x"), config).source == "default"


def test_config_from_pyproject_and_its_errors(tmp_path):
    assert load_config(str(tmp_path)) == MachmeterConfig(triage_path=str(tmp_path / "machmeter-triage.toml"))
    (tmp_path / "pyproject.toml").write_text('[tool.machmeter]\nignore = ["*.GpuRunState.*"]\n'
                                             '[tool.machmeter.thresholds]\ntime = 0.1\n')
    config = load_config(str(tmp_path))
    assert config.thresholds == {"time": 0.1}
    assert config.ignored("gpu_run_state.GpuRunState.track_gpu_power")
    (tmp_path / "pyproject.toml").write_text('[tool.machmeter]\nthreshold = 0.1\n')
    with pytest.raises(MachmeterError, match=r"pyproject.toml \[tool.machmeter\]: unknown machmeter setting"):
        load_config(str(tmp_path))
    (tmp_path / "machmeter.toml").write_text("thresholds = [")
    with pytest.raises(MachmeterError, match="machmeter.toml: not valid TOML"):
        load_config(str(tmp_path))


def test_triage_entries_and_bad_entries(tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text('[[acknowledged]]\nbenchmark = "md.*"\ncommit = "abcdef1"\nreason = "ok"\n'
                    'params = { device = "cuda" }\n')
    (entry,) = load_triage(str(path))
    assert entry.matches("md.Suite.time_step", {"device": "'cuda'"}, "box", "abcdef1234")
    assert not entry.matches("md.Suite.time_step", {"device": "'cpu'"}, "box", "abcdef1234")
    assert not entry.matches("md.Suite.time_step", {"device": "'cuda'"}, "box", "bbbbbbb")
    assert load_triage(str(tmp_path / "absent.toml")) == []
    path.write_text('[[acknowledged]]\nbenchmark = "md.*"\ncommit = "abc"\nreason = "x"\n')
    with pytest.raises(MachmeterError, match="shorter than 7"):
        load_triage(str(path))


def _point(commit, date, value, version="v", machine="m"):
    return ResultPoint(benchmark="b.track_x", params={}, machine=machine, env_name="e", commit=commit, date=date,
                       value=value, benchmark_version=version)


def test_benchmark_version_change_splits_the_series():
    points = [_point("c1", 1, 1.0, "v1"), _point("c2", 2, 1.0, "v1"), _point("c3", 3, 5.0, "v2")]
    series = build_series(ResultSet({}, {}, points, []), ["c1", "c2", "c3"], MachmeterConfig())
    assert sorted(len(s.points) for s in series) == [1, 2]
    assert {s.key.version for s in series} == {"v1", "v2"}
