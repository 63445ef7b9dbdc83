"""The one reader of asv's result files (format version 2).

Layout: ``results/benchmarks.json`` (what each benchmark is, including the attributes machmeter's
``declare`` puts there), ``results/<machine>/machine.json`` and ``results/<machine>/<hash>-<env>.json``.
In a result file each row of ``results`` is zipped against ``result_columns`` (asv drops trailing empty
columns), the values of a parameterised benchmark follow ``itertools.product`` of its params, ``null``
means the benchmark failed and a bare ``NaN`` that it was skipped.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import math
import os
import re
import stat
from array import array
from dataclasses import dataclass, field

import numpy as np

from machmeter.errors import ResultsError

RESULT_FORMAT_VERSION = 2


@dataclass(frozen=True)
class BenchmarkInfo:
    name: str
    type: str
    unit: str
    param_names: tuple[str, ...]
    params: tuple[tuple[str, ...], ...]
    version: str | None
    higher_is_better: bool | None
    metric_kind: str | None
    attributes: dict = field(default_factory=dict, compare=False, hash=False)
    removed: bool = False  # not in today's benchmarks.json: a stand-in (benchmark_info)

    @property
    def parameter_combinations(self) -> list[dict[str, str]]:
        if not self.params:
            return [{}]
        return [dict(zip(self.param_names, combo)) for combo in itertools.product(*self.params)]


@dataclass(slots=True)
class ResultPoint:
    """One value of one benchmark, parameter combination, machine, environment and commit."""

    benchmark: str
    params: dict[str, str]
    machine: str
    env_name: str
    commit: str
    date: int | None  # milliseconds since the epoch (the commit's date, as asv records it)
    value: float | None  # None: failed; NaN: skipped
    benchmark_version: str | None = None
    ci_99: tuple[float, float] | None = None
    quartiles: tuple[float, float] | None = None
    samples: list[float] | None = None
    number: int | None = None
    repeat: int | None = None
    runs: list[float | None] | None = None  # this commit's value in each archived run (machmeter run-pr)

    @property
    def failed(self) -> bool:
        return self.value is None

    @property
    def skipped(self) -> bool:
        return self.value is not None and math.isnan(self.value)


@dataclass
class ResultSet:
    benchmarks: dict[str, BenchmarkInfo]
    machines: dict[str, dict]
    points: list[ResultPoint]
    warnings: list[str]
    # (machine, commit) -> the fingerprint asv stored with that run (its result file's "params")
    runs: dict[tuple[str, str], dict] = field(default_factory=dict)


# Limits on what the reader accepts: a real asv result file is a few MB and 4-5 levels deep; anything far
# beyond is a corrupt or hostile file, refused before it can exhaust memory, recursion or time.
MAX_JSON_FILE_BYTES = 256 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_PARAMETER_COMBINATIONS = 100_000
DATE_RANGE_MS = (-62_135_596_800_000, 253_402_300_799_000)  # the years 1 to 9999, what a date can name

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_PLAIN_JSON_STRING = re.compile(rb'"[^"]*"')  # a string without escapes
# every byte but quotes and brackets: deleted first, what is left is a small fraction of a result file
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_BRACKET_STEP = np.zeros(256, dtype=np.int32)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def _json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects, without parsing it (brackets inside strings ignored)."""
    if b"\\" in raw:  # escapes: a quote may be part of a string, strings are found in the whole text
        structure = _JSON_STRING.sub(b"", raw).translate(None, _NOT_STRUCTURE)
    else:  # without escapes every quote opens or closes a string, and the strings' other bytes can go first
        structure = _PLAIN_JSON_STRING.sub(b"", raw.translate(None, _NOT_STRUCTURE))
    steps = _BRACKET_STEP[np.frombuffer(structure, dtype=np.uint8)]
    return int(np.cumsum(steps).max(initial=0))


def read_json_file(path: str):
    """The JSON in ``path``, a regular file within the size and nesting limits (asv's bare NaN accepted)."""
    try:
        status = os.stat(path)  # follows a symlink: what counts is what would be read
    except FileNotFoundError:
        raise ResultsError(path, "file not found") from None
    except OSError as error:
        raise ResultsError(path, f"cannot be read: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        # a FIFO would block forever, a device such as /dev/zero never ends
        raise ResultsError(path, "not a regular file")
    if status.st_size > MAX_JSON_FILE_BYTES:
        raise ResultsError(path, f"{status.st_size} bytes, more than the {MAX_JSON_FILE_BYTES} a results file may have")
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_JSON_FILE_BYTES + 1)
    except OSError as error:
        raise ResultsError(path, f"cannot be read: {error.strerror or error}") from None
    if len(raw) > MAX_JSON_FILE_BYTES:  # grew since the stat
        raise ResultsError(path, f"more than the {MAX_JSON_FILE_BYTES} bytes a results file may have")
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise ResultsError(path, f"nested more than {MAX_JSON_DEPTH} levels deep (not an asv file)")
    try:
        return json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as error:
        raise ResultsError(path, f"not valid JSON (truncated or corrupt?): {error.msg} at line {error.lineno}") from None
    except UnicodeDecodeError as error:
        raise ResultsError(path, f"not UTF-8 text (binary?): {error.reason} at byte {error.start}") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise ResultsError(path, f"not valid JSON: {error}") from None
    except RecursionError:  # the depth check counts brackets; this is the backstop should it ever miss
        raise ResultsError(path, "nested too deep (not an asv file)") from None


# The types JSON gives, checked a whole list at a time (C speed: a long history has millions of values);
# anything else (a subclass, from a caller that is not the JSON reader) is checked item by item.
_STRING_TYPE = frozenset({str})
_FLOAT_TYPE = frozenset({float})
_NUMBER_TYPES = frozenset({int, float})  # a bool is no number: its type is bool
_NUMBER_OR_NONE_TYPES = _NUMBER_TYPES | {type(None)}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_string_list(value) -> bool:
    return isinstance(value, list) and (_STRING_TYPE.issuperset(map(type, value))
                                        or all(isinstance(item, str) for item in value))


def _are_numbers(values: list) -> bool:
    return _NUMBER_TYPES.issuperset(map(type, values)) or all(_is_number(v) for v in values)


def _are_numbers_or_none(values: list) -> bool:
    return _NUMBER_OR_NONE_TYPES.issuperset(map(type, values)) or all(v is None or _is_number(v) for v in values)


def _check_benchmark_entry(path: str, name: str, entry: dict) -> None:
    """The attributes machmeter reads from one benchmarks.json entry have the types asv writes."""
    for key in ("type", "unit", "version", "metric_kind"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ResultsError(path, f"benchmark {name!r}: {key} must be a string, not {type(entry[key]).__name__}")
    for key in ("regression_threshold", "tolerance_abs", "tolerance_rel", "target_min", "target_max"):
        if entry.get(key) is not None and not _is_number(entry[key]):
            raise ResultsError(path, f"benchmark {name!r}: {key} must be a number, not {type(entry[key]).__name__}")
    low, high = entry.get("target_min"), entry.get("target_max")
    for key, bound in (("target_min", low), ("target_max", high)):
        if bound is not None and not math.isfinite(bound):
            raise ResultsError(path, f"benchmark {name!r}: {key} must be a finite number, not {bound!r}")
    if low is not None and high is not None and low > high:
        raise ResultsError(path, f"benchmark {name!r}: target_min {low:g} is above target_max {high:g}")
    params, param_names = entry.get("params", []), entry.get("param_names", [])
    if not (isinstance(params, list) and all(_is_string_list(v) for v in params)
            and _is_string_list(param_names) and len(param_names) == len(params)):
        raise ResultsError(path, f"benchmark {name!r}: params must be one list of strings per param_names entry")


#: asv's per-value statistics a history carries (history.SeriesStats): the 99% interval's bounds, the quartiles
INTERVAL_COLUMNS = ("stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75")
_NUMBER_COLUMNS = INTERVAL_COLUMNS + ("stats_number", "stats_repeat")


def _check_result_row(path: str, name: str, row: dict, param_values: list) -> None:
    """One row's params, values and statistics have the types asv writes, and no more combinations than a
    row can hold: a row is spread into one point per combination, so a claim of 10**10 must not be believed."""
    if "params" in row and not (isinstance(row["params"], list) and all(_is_string_list(v) for v in row["params"])):
        raise ResultsError(path, f"not an asv result file: benchmark {name!r}: params must be lists of strings")
    combinations = math.prod(len(values) for values in param_values)
    if combinations > MAX_PARAMETER_COMBINATIONS:
        raise ResultsError(path, f"benchmark {name!r}: {combinations} parameter combinations, more than the "
                                 f"{MAX_PARAMETER_COMBINATIONS} a row may hold")
    values = row.get("result")
    if isinstance(values, list) and combinations > len(values):
        raise ResultsError(path, f"benchmark {name!r}: params make {combinations} combinations but the row holds "
                                 f"{len(values)} results")
    for key in _NUMBER_COLUMNS:
        column = row.get(key)
        if isinstance(column, list) and not _are_numbers_or_none(column):
            raise ResultsError(path, f"benchmark {name!r}: {key} must hold numbers")
    samples = row.get("samples")
    if row.get("version") is not None and not isinstance(row["version"], str):
        raise ResultsError(path, f"benchmark {name!r}: version must be a string, not {type(row['version']).__name__}")
    if isinstance(samples, list) and not all(
            each is None or (isinstance(each, list) and _are_numbers(each)) for each in samples):
        raise ResultsError(path, f"benchmark {name!r}: samples must be one flat list of numbers per combination")


def load_benchmarks(results_dir: str) -> dict[str, BenchmarkInfo]:
    path = os.path.join(results_dir, "benchmarks.json")
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise ResultsError(path, "expected a JSON object of benchmarks")
    benchmarks = {}
    for name, entry in data.items():
        if name == "version" or not isinstance(entry, dict):
            continue
        _check_benchmark_entry(path, name, entry)
        higher = entry.get("higher_is_better")
        benchmarks[name] = BenchmarkInfo(
            name=name,
            type=entry.get("type", "track"),
            unit=entry.get("unit") or ("seconds" if entry.get("type") == "time" else "unit"),
            param_names=tuple(entry.get("param_names", ())),
            params=tuple(tuple(values) for values in entry.get("params", ())),
            version=entry.get("version"),
            higher_is_better=higher if isinstance(higher, bool) else None,
            metric_kind=entry.get("metric_kind"),
            attributes=entry,
        )
    return benchmarks


# asv's types by the method name's prefix (asv.benchmark's name rules), with the unit asv gives each
_TYPE_BY_PREFIX = (("timeraw_", "time", "seconds"), ("time_", "time", "seconds"), ("peakmem_", "peakmemory", "bytes"),
                   ("mem_", "memory", "bytes"), ("track_", "track", ""))


def benchmark_info(benchmarks: dict[str, BenchmarkInfo], name: str) -> BenchmarkInfo | None:
    """benchmarks.json's entry of ``name``; for a benchmark no longer in it, a stand-in, kept in
    ``benchmarks`` so that every reader (the parser, the meanings, the site) sees the same one.

    asv rewrites benchmarks.json from today's suite on every run, so a benchmark removed since keeps its
    results but loses its entry: without one its unit was the placeholder "unit" and its parameters
    param1, param2... The stand-in says what asv's own rules do: the type and unit by the method's prefix
    (a ``track_``'s unit: that of the method of the same name elsewhere, else none rather than a made-up
    one), and the parameter names of the benchmark's class siblings (asv parameters are declared on the
    class, shared by its methods)."""
    info = benchmarks.get(name)
    if info is not None:
        return info
    method = name.rsplit(".", 1)[-1]
    kind = next(((type_, unit) for prefix, type_, unit in _TYPE_BY_PREFIX if method.startswith(prefix)), None)
    owner = name.rsplit(".", 1)[0] + "." if "." in name else None
    siblings = sorted((other for key, other in benchmarks.items()
                       if owner and key.startswith(owner) and "." not in key[len(owner):] and other.param_names),
                      key=lambda other: other.name)
    if kind is None and not siblings:
        return None  # nothing to go on: the defaults of machmeter.series.default_meaning
    type_, unit = kind or ("track", "")
    if type_ == "track":
        # the same method elsewhere in the suite (a suite's mixin shared by classes) measures the same
        # thing: its unit, where all of them agree
        units = {other.unit for key, other in benchmarks.items() if key.rsplit(".", 1)[-1] == method}
        unit = units.pop() if len(units) == 1 else unit
    stand_in = BenchmarkInfo(name=name, type=type_, unit=unit,
                             param_names=siblings[0].param_names if siblings else (),
                             params=siblings[0].params if siblings else (), version=None, higher_is_better=None,
                             metric_kind=None, attributes={}, removed=True)
    benchmarks[name] = stand_in
    return stand_in


def load_machine(results_dir: str, machine: str) -> dict:
    path = os.path.join(results_dir, machine, "machine.json")
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise ResultsError(path, "expected a JSON object")
    return data


def iter_result_files(results_dir: str, commit_prefixes=None):
    """(machine, path) of every result file, machine folders and files in sorted order; with
    ``commit_prefixes``, only files named after one of those commits (asv names them ``<hash>-<env>``)."""
    for machine in sorted(os.listdir(results_dir)):
        folder = os.path.join(results_dir, machine)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or name == "machine.json":
                continue
            named = name.split("-", 1)[0]
            if commit_prefixes is not None and not any(c.startswith(named) or named.startswith(c)
                                                       for c in commit_prefixes):
                continue
            yield machine, os.path.join(folder, name)


def result_commit_prefixes_by_machine(results_dir: str) -> dict[str, set[str]]:
    """Each machine's commit-hash prefixes that name its result files: what a revision can be resolved
    against, and which runs there are, without reading any file."""
    prefixes: dict[str, set[str]] = {}
    for machine, path in iter_result_files(results_dir):
        prefixes.setdefault(machine, set()).add(path.rsplit(os.sep, 1)[1].split("-", 1)[0])
    return prefixes


_STAT_COLUMNS = _NUMBER_COLUMNS + ("samples",)

NAN = float("nan")  # a statistic asv did not store


def row_intervals(row: dict, count: int) -> array | None:
    """asv's statistics of one result row as one array: the ``count`` values of each of INTERVAL_COLUMNS in
    turn (NaN where asv wrote null or nothing); None when the row has none (a track_ benchmark)."""
    columns = [row.get(key) for key in INTERVAL_COLUMNS]
    if not any(isinstance(column, list) for column in columns):
        return None
    out = array("d")
    for column in columns:
        if not isinstance(column, list):
            out.extend(array("d", [NAN]) * count)
            continue
        if len(column) > count:
            column = column[:count]
        try:  # a number for every value (the common row), or null where asv had none (failed, skipped)
            try:
                part = array("d", column)
            except TypeError:
                part = array("d", [NAN if v is None else v for v in column])
        except TypeError:  # anything else in the file: no statistic
            part = array("d", [float(v) if isinstance(v, (int, float)) else NAN for v in column])
        out.extend(part)
        if len(part) < count:
            out.extend(array("d", [NAN]) * (count - len(part)))
    return out


def parameter_value(stored: str) -> str:
    """A parameter as the benchmark saw it: asv stores each one as its repr (``'cuda'``, ``64``), the
    benchmark's own code formats the value itself (``cuda``); what is no Python literal stays as stored."""
    try:
        return str(ast.literal_eval(stored))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return stored


@functools.lru_cache(maxsize=65536)
def _combinations_cached(param_names: tuple, param_values: tuple) -> tuple[dict, ...]:
    return tuple(dict(zip(param_names, combo)) for combo in itertools.product(*param_values)) or ({},)


def _combinations(info: BenchmarkInfo | None, param_values: list) -> tuple[dict, ...]:
    """The params of each value of a row, in asv's itertools.product order; one shared (read-only) dict
    per combination, since a long history repeats them millions of times."""
    key = tuple(tuple(values) for values in param_values)
    return _combinations_cached(tuple(_parameter_names(info, param_values)), key)


def _column(row: dict, key: str, length: int) -> list | None:
    """A per-combination statistics column, padded to ``length`` (None where absent)."""
    column = row.get(key)
    if not isinstance(column, list):
        return None
    return column + [None] * (length - len(column)) if len(column) < length else column


@dataclass(slots=True)
class ResultFile:
    """One result file, parsed but not yet spread into points: the rows of each benchmark."""

    path: str
    machine: str
    env_name: str
    commit: str
    date: int | None
    rows: list[tuple[str, tuple, list, str | None, dict]]  # (benchmark, combinations, values, version, row)
    run_params: dict = field(default_factory=dict)  # the machine's fingerprint when this run was made

    @property
    def run(self) -> "RunRecord":
        """What this run says of itself: the fingerprint stored with it and when asv started it (the
        earliest benchmark's ``started_at``; asv's ``date`` is the commit's, not the run's)."""
        times = [row.get("started_at") for *_, row in self.rows]
        times = [t for t in times if _is_number(t) and math.isfinite(t)]
        return RunRecord(self.run_params, int(min(times)) if times else None)


@dataclass(frozen=True)
class RunRecord:
    """One asv run of one commit on one machine and environment: the fingerprint (the result file's
    ``params``) and when it started (ms since the epoch, None where asv wrote no ``started_at``)."""

    params: dict
    started_at: int | None


def read_result_file(path: str, benchmarks: dict[str, BenchmarkInfo], machine: str | None = None) -> ResultFile:
    try:
        return _read_result_file(path, benchmarks, machine)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError) as error:
        # a file of the right JSON but the wrong shape: name it, never a traceback
        raise ResultsError(path, f"not an asv result file of format {RESULT_FORMAT_VERSION} "
                                 f"({type(error).__name__}: {error})") from None


def _parameter_names(info: BenchmarkInfo | None, param_values: list) -> list[str]:
    """Today's names where they fit the row's parameters (an old result may predate a parameter)."""
    if info is not None and len(info.param_names) == len(param_values):
        return list(info.param_names)
    return [f"param{i + 1}" for i in range(len(param_values))]


def _read_result_file(path: str, benchmarks: dict[str, BenchmarkInfo], machine: str | None) -> ResultFile:
    return _parse_result_data(read_json_file(path), path, benchmarks, machine)


def _parse_result_data(data, path: str, benchmarks: dict[str, BenchmarkInfo], machine: str | None) -> ResultFile:
    if not isinstance(data, dict):
        raise ResultsError(path, "expected a JSON object")
    version = data.get("version")
    if version != RESULT_FORMAT_VERSION:
        raise ResultsError(path, f"asv result format version {version!r}, machmeter reads version {RESULT_FORMAT_VERSION}")
    for key in ("commit_hash", "result_columns", "results"):
        if key not in data:
            raise ResultsError(path, f"missing {key!r}")
    columns = data["result_columns"]
    if not _is_string_list(columns) or not isinstance(data["results"], dict):
        raise ResultsError(path, "result_columns must be a list of names and results an object")
    if not isinstance(data["commit_hash"], str) or not data["commit_hash"]:
        raise ResultsError(path, f"commit_hash must be a string, not {type(data['commit_hash']).__name__}")
    if not isinstance(data.get("env_name", ""), str):
        raise ResultsError(path, f"env_name must be a string, not {type(data['env_name']).__name__}")
    if data.get("date") is not None and not _is_number(data["date"]):
        raise ResultsError(path, f"date must be a number, not {type(data['date']).__name__}")
    if data.get("date") is not None and not (DATE_RANGE_MS[0] <= data["date"] <= DATE_RANGE_MS[1]):
        raise ResultsError(path, f"date must be milliseconds since the epoch, not {data['date']!r}")
    if isinstance(data.get("params"), dict) and not all(
            v is None or isinstance(v, str) or _is_number(v) for v in data["params"].values()):
        raise ResultsError(path, "params (the machine's fingerprint) must map names to strings")
    rows = []
    for name, raw_row in data["results"].items():
        if not isinstance(raw_row, list):
            raise ResultsError(path, f"benchmark {name!r}: a result row must be a list")
        row = dict(zip(columns, raw_row))  # asv drops trailing empty columns: zip stops early
        # the row's own params are the truth for that commit (an explicit [] means unparameterised)
        info = benchmark_info(benchmarks, name)
        param_values = row["params"] if "params" in row else (list(info.params) if info else [])
        _check_result_row(path, name, row, param_values)
        combinations = _combinations(info, param_values)
        values = row.get("result")
        if not isinstance(values, list):
            values = [values] * len(combinations)
        if len(values) < len(combinations):
            values = values + [None] * (len(combinations) - len(values))
        if _FLOAT_TYPE.issuperset(map(type, values)):  # the common row: every value measured
            values = list(values)
        else:
            values = [float(v) if isinstance(v, (int, float)) else None for v in values]
        rows.append((name, combinations, values, row.get("version"), row))
    run_params = data.get("params") if isinstance(data.get("params"), dict) else {}
    return ResultFile(path, machine or run_params.get("machine", ""), data.get("env_name", ""),
                      data["commit_hash"], data.get("date"), rows, run_params)


def load_result_file(path: str, benchmarks: dict[str, BenchmarkInfo], machine: str | None = None) -> list[ResultPoint]:
    return result_points(read_result_file(path, benchmarks, machine))


def result_points(parsed: ResultFile) -> list[ResultPoint]:
    points = []
    for name, combinations, values, version, row in parsed.rows:
        columns_of = [_column(row, key, len(combinations)) for key in _STAT_COLUMNS]
        has_stats = any(column is not None for column in columns_of)
        for index, params in enumerate(combinations):
            point = ResultPoint(name, params, parsed.machine, parsed.env_name, parsed.commit, parsed.date,
                                values[index], version)
            if has_stats:
                ci_a, ci_b, q_25, q_75, number, repeat, samples = (
                    None if column is None else column[index] for column in columns_of)
                point.ci_99 = (ci_a, ci_b) if ci_a is not None and ci_b is not None else None
                point.quartiles = (q_25, q_75) if q_25 is not None and q_75 is not None else None
                point.number, point.repeat, point.samples = number, repeat, samples
            points.append(point)
    return points


# --------------------------------------------------------------------------------------------------
# The run archive: each run of a commit kept apart, beside asv's file.
#
# asv keeps one result file per machine, commit and environment, and a later run of the same commit
# replaces its values (or, with --append-samples, pools its samples): the identity of each run is lost,
# and with it the only evidence of how much runs differ. ``machmeter run-pr`` copies asv's file after
# every run into ``<hash>-<env>.runs.jsonl`` beside it, one line per run, each line the whole asv result
# document of that run. asv reads only ``*.json`` files, so the archive never disturbs asv, and asv's
# own file stays what asv wrote.

RUN_ARCHIVE_SUFFIX = ".runs.jsonl"


def run_archive_path(result_path: str) -> str:
    return (result_path[:-len(".json")] if result_path.endswith(".json") else result_path) + RUN_ARCHIVE_SUFFIX


def archive_run(result_path: str, since_ms: int | None = None) -> int:
    """Append the run asv just wrote to ``result_path`` to its run archive; the archive's run count.

    ``since_ms``: keep only the benchmarks this run measured (asv's ``started_at`` at or after it): an
    ``asv run --bench`` of a few benchmarks leaves the others' older values in the file, and archiving
    those again would count one run twice."""
    from machmeter.fileio import write_text_atomic

    data = read_json_file(result_path)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ResultsError(result_path, "expected an asv result object")
    if since_ms is not None:
        columns = data.get("result_columns") or []
        at = columns.index("started_at") if "started_at" in columns else None
        data["results"] = {name: row for name, row in data["results"].items()
                           if at is not None and isinstance(row, list) and len(row) > at
                           and isinstance(row[at], (int, float)) and row[at] >= since_ms}
        if not data["results"]:
            return 0
    archive = run_archive_path(result_path)
    lines = []
    if os.path.exists(archive):
        with open(archive, encoding="utf-8") as stream:
            lines = [line.rstrip("\n") for line in stream if line.strip()]
    lines.append(json.dumps(data, separators=(",", ":")))
    write_text_atomic(archive, "\n".join(lines) + "\n")
    return len(lines)


def read_run_archive(result_path: str, benchmarks: dict[str, BenchmarkInfo],
                     machine: str | None = None) -> list[ResultFile]:
    """The archived runs of one result file, oldest first (empty when it has none)."""
    archive = run_archive_path(result_path)
    if not os.path.isfile(archive):
        return []
    runs = []
    with open(archive, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise ResultsError(archive, f"run {number} is not valid JSON: {error.msg}") from None
            try:
                runs.append(_parse_result_data(data, f"{archive} (run {number})", benchmarks, machine))
            except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError) as error:
                raise ResultsError(archive, f"run {number} is not an asv result ({type(error).__name__}: {error})") from None
    return runs


def attach_runs(points: list[ResultPoint], runs: list[ResultFile]) -> None:
    """Give each point of one result file its value in every archived run of that file."""
    if not runs:
        return
    values: dict[tuple, list] = {}
    for run in runs:
        for name, combinations, run_values, _, _ in run.rows:
            for params, value in zip(combinations, run_values):
                values.setdefault((name, tuple(params.items())), []).append(value)
    for point in points:
        found = values.get((point.benchmark, tuple(point.params.items())))
        if found:
            point.runs = found


def load_machines(results_dir: str, names, warnings: list[str]) -> dict[str, dict]:
    machines = {}
    for name in names:
        try:
            machines[name] = load_machine(results_dir, name)
        except ResultsError as error:
            warnings.append(f"{error} (skipped)")
            machines[name] = {"machine": name}
    return machines


@dataclass
class ResultsFolder:
    """An asv results folder opened for reading: its benchmarks and machines, and its result files
    parsed one at a time; files that cannot be used are skipped with a warning."""

    path: str
    benchmarks: dict[str, BenchmarkInfo]
    machines: dict[str, dict]
    files: list[tuple[str, str]]
    warnings: list[str]

    @classmethod
    def open(cls, results_dir: str, commits=None, machine: str | None = None) -> "ResultsFolder":
        if not os.path.isdir(results_dir):
            raise ResultsError(results_dir, "results folder not found (run asv first)")
        benchmarks = load_benchmarks(results_dir)
        files = [(m, path) for m, path in iter_result_files(results_dir, commits) if machine is None or m == machine]
        warnings: list[str] = []
        machines = load_machines(results_dir, sorted({m for m, _ in files}), warnings)
        return cls(results_dir, benchmarks, machines, files, warnings)

    def read(self, parse):
        """``parse(path, benchmarks, machine)`` of each usable file, in order."""
        for machine, path in self.files:
            try:
                yield parse(path, self.benchmarks, machine)
            except ResultsError as error:
                self.warnings.append(f"{error} (skipped)")


def load_results(results_dir: str, commits=None) -> ResultSet:
    """Everything under results_dir (or only the result files of ``commits``, full hashes or prefixes).
    A corrupt result file is skipped with a warning; a missing or corrupt benchmarks.json, or a missing
    folder, raises ResultsError."""
    folder = ResultsFolder.open(results_dir, commits)
    points: list[ResultPoint] = []
    runs: dict[tuple[str, str], dict] = {}
    for parsed in folder.read(read_result_file):
        # a file name carries only a prefix: keep exactly the commits asked for
        if commits is not None and not any(parsed.commit.startswith(c) for c in commits):
            continue
        file_points = result_points(parsed)
        try:
            attach_runs(file_points, read_run_archive(parsed.path, folder.benchmarks, parsed.machine))
        except ResultsError as error:
            folder.warnings.append(f"{error} (its runs are not used)")
        points.extend(file_points)
        runs[(parsed.machine, parsed.commit)] = parsed.run_params
    return ResultSet(folder.benchmarks, folder.machines, points, folder.warnings, runs)
