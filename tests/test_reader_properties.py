"""Property-based tests (hypothesis) of the results reader and the site data over arbitrary JSON.

Whatever a result file holds, ``read_result_file`` returns a ResultFile whose points and run record can be
taken, or raises ResultsError naming the file; a results folder with such a file (and a benchmarks.json
entry of any shape) is read by ``read_history`` with that file skipped and a warning (or a ResultsError for
benchmarks.json), ``prepare_site`` makes every page's data of what was read, and ``machmeter check
--history`` ends in 0, 1 or 2, never with an internal error. Deterministic (derandomize) and without an
example database, so that a run leaves nothing behind."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import pathlib
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from machmeter import cli
from machmeter.config import MachmeterConfig
from machmeter.errors import MachmeterError, ResultsError
from machmeter.history import read_history
from machmeter.results import ResultFile, read_result_file, result_points
from machmeter.site.data import prepare_site

from .test_bad_input_corpus import BENCHMARKS, HEAD, result_document, write_base_project

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**400, max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["'cuda'", "64", "<script>alert(1)</script>", "e" * 40, "NaN", ""]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=24)

T, M = "suite.Time.time_step", "suite.Model.track_speed"
TOP_LEVEL = ("commit_hash", "env_name", "date", "params", "result_columns", "results", "version", "python")
ROWS = (T, M, "suite.Mem.peakmem_run")
ENTRY_FIELDS = ("type", "unit", "params", "param_names", "version", "higher_is_better", "metric_kind",
                "regression_threshold", "tolerance_abs", "tolerance_rel", "target_min", "target_max")


@st.composite
def asv_like_documents(draw):
    """A good result file with some of its fields, rows and columns replaced by arbitrary JSON: near
    enough to asv's shape that most of it gets past the first checks, into the parts that use it."""
    document = result_document(HEAD, 4, env_name="bad")
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(("top", "row", "cell", "cell", "cell", "new row", "fingerprint")))
        value = draw(json_values)
        if where == "top":
            document[draw(st.sampled_from(TOP_LEVEL))] = value
        elif where == "fingerprint" and isinstance(document.get("params"), dict):
            document["params"][draw(st.sampled_from(("machine", "gpu", "cuda")))] = value
        elif where == "new row" and isinstance(document.get("results"), dict):
            document["results"][draw(st.text(max_size=30))] = value
        elif isinstance(document.get("results"), dict):
            name = draw(st.sampled_from(ROWS))
            row = document["results"].get(name)
            if where == "row" or not isinstance(row, list):
                document["results"][name] = value
            else:
                index = draw(st.integers(0, 11))
                row.extend([None] * (index + 1 - len(row)))
                row[index] = value
    return document


documents = st.one_of(json_values, asv_like_documents())


def _text(document) -> str:
    return json.dumps(document, allow_nan=True)


@settings(max_examples=200, **SETTINGS)
@given(content=st.one_of(documents.map(_text).map(str.encode), st.binary(max_size=200)))
def test_a_result_file_is_read_or_refused_by_name(content):
    with tempfile.TemporaryDirectory() as folder:
        path = str(pathlib.Path(folder) / "eeeeeeee-bad.json")
        pathlib.Path(path).write_bytes(content)
        benchmarks = _benchmarks(BENCHMARKS)
        try:
            parsed = read_result_file(path, benchmarks, "m")
        except ResultsError as error:
            assert error.path == path and str(error).startswith(path) and "\n" not in str(error)
            return
        assert isinstance(parsed, ResultFile) and isinstance(parsed.commit, str)
        points = result_points(parsed)
        assert all(p.value is None or isinstance(p.value, float) for p in points)
        run = parsed.run
        assert run.started_at is None or isinstance(run.started_at, int)


@st.composite
def benchmarks_documents(draw):
    """benchmarks.json: arbitrary JSON, or asv's with entries and fields replaced by arbitrary JSON."""
    if draw(st.booleans()):
        return draw(json_values)
    entries = copy.deepcopy(BENCHMARKS)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from((T, M, "suite.New.track_new")))
        if draw(st.booleans()) or not isinstance(entries.get(name), dict):
            entries[name] = draw(json_values)
        else:
            entries[name][draw(st.sampled_from(ENTRY_FIELDS))] = draw(json_values)
    return entries


@settings(max_examples=150, **SETTINGS)
@given(document=benchmarks_documents())
def test_benchmarks_and_machine_files_are_read_or_refused_by_name(document):
    from machmeter.results import benchmark_info, load_benchmarks, load_machine

    with tempfile.TemporaryDirectory() as folder:
        (pathlib.Path(folder) / "m").mkdir()
        pathlib.Path(folder, "benchmarks.json").write_text(_text(document))
        pathlib.Path(folder, "m", "machine.json").write_text(_text(document))
        try:
            benchmarks = load_benchmarks(folder)
        except ResultsError as error:
            assert error.path == str(pathlib.Path(folder, "benchmarks.json")) and "\n" not in str(error)
        else:
            for name in list(benchmarks):
                info = benchmark_info(benchmarks, name)
                assert isinstance(info.unit, str) and all(isinstance(p, str) for p in info.param_names)
            benchmark_info(benchmarks, "suite.Other.track_gone")  # a stand-in, from whatever is there
        try:
            assert isinstance(load_machine(folder, "m"), dict)
        except ResultsError as error:
            assert error.path.endswith("machine.json")


def _benchmarks(entries):
    from machmeter.results import load_benchmarks

    with tempfile.TemporaryDirectory() as folder:
        pathlib.Path(folder, "benchmarks.json").write_text(json.dumps(entries, allow_nan=True))
        return load_benchmarks(folder)


@st.composite
def projects(draw):
    """(the bad result file's document, benchmarks.json's entries): one file and maybe one entry changed."""
    entries = copy.deepcopy(BENCHMARKS)
    if draw(st.booleans()):
        name = draw(st.sampled_from((T, M)))
        entries[name][draw(st.sampled_from(ENTRY_FIELDS))] = draw(json_values)
    return draw(documents), entries


@settings(max_examples=120, **SETTINGS)
@given(project=projects())
def test_a_folder_with_any_file_gives_site_data_and_a_check(project):
    document, entries = project
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        write_base_project(root)
        bad = root / "results" / "m" / "eeeeeeee-bad.json"
        bad.write_text(_text(document))
        (root / "results" / "benchmarks.json").write_text(json.dumps(entries, allow_nan=True))
        before = {p: p.read_bytes() for p in (root / "results").rglob("*.json")}
        try:
            history = read_history(str(root / "results"), None, MachmeterConfig(), stats=True, branch_only=False)
        except ResultsError as error:  # only benchmarks.json may stop the whole folder
            assert error.path.endswith("benchmarks.json"), error
            history = None
        if history is not None:
            read = {c for s in history.series for c in s.commits}
            assert {"a" * 40, "b" * 40, "c" * 40, "d" * 40} <= read  # the good files are all there
            # the bad file is read, or skipped with a warning that names it
            assert any(w.startswith(str(bad)) for w in history.warnings) or _reads(document, entries)
            try:
                data = prepare_site("p", history, MachmeterConfig(), [])
            except MachmeterError as error:
                assert "\n" not in str(error)
            else:
                assert data.summary["series"] == len(data.series) > 0
                json.dumps([s.latest for s in data.series], allow_nan=True)
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = cli.main(["check", "--history", "--config", str(root / "asv.conf.json")])
        assert status in (0, 1, 2), err.getvalue()
        assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
        assert {p: p.read_bytes() for p in (root / "results").rglob("*.json")} == before


def test_the_strategies_reach_past_the_first_checks():
    """The asv-like documents are not all refused at once: some are read, so the properties test more
    than the reader's front door (a fixed sample, deterministic)."""
    from hypothesis import find

    read = find(asv_like_documents(), lambda d: _reads(d) and d != result_document(HEAD, 4, env_name="bad"),
                settings=settings(database=None, derandomize=True, max_examples=500))
    assert isinstance(read, dict)


def _reads(document, entries=BENCHMARKS) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "eeeeeeee-bad.json"
        path.write_text(_text(document))
        try:
            read_result_file(str(path), _benchmarks(entries), "m")
        except ResultsError:
            return False
        return True

