"""Writing the site: Jinja2 pages (autoescaped) and compact JSON for the charts, built in a temporary
folder beside the output and swapped in at the end, so that an interrupted build leaves the previous
site as it was.

Layout of the output (every file name is fixed or an id made by ``data.py``, never text from the results):

    index.html  regressions.html  machines.html  compare.html  students.html  scaling.html  parity.html  feed.xml
    benchmarks/<benchmark id>.html            one page per benchmark (one template)
    data/commits.json                         hashes, dates, subjects, authors of every commit
    data/series.json                          the series index (label, machine, unit, the check's policy)
    data/series/<series id>.json              one chart's history: values, band, change points, flags
    data/spark/<n>.json                       sparklines of 100 overview rows
    data/rev/<hash prefix>.json               every series' value at the commits of that prefix (compare)
    static/uPlot.iife.min.js  uPlot.min.css   the chart library, vendored with its LICENSE.uPlot.txt (no CDN)
    static/site.css  static/*.js              the site's own
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import errno
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field

try:
    import fcntl
except ImportError:  # not a POSIX system
    fcntl = None

from machmeter import __version__
from machmeter.errors import MachmeterError
from machmeter.parallel import ForkedCall
from machmeter.report.units import format_value
from machmeter.repository import is_commit_hash
from machmeter.site.data import STATUSES, SiteData, SiteSeries, compare_policy
from machmeter.site.parity import FIGURES, parity_views, write_scatter_data
from machmeter.site.scaling import MIN_SIZES, scaling_views
from machmeter.site.students import students_views

FIGURE_LABELS = [label for _, label in FIGURES]

MARKER = ".machmeter-site"
SPARK_CHUNK = 100
# the overview's rows laid out live (more than a tall screen holds), each with its sparkline's values; the
# rest wait in a <template> that tables.js moves in once the page is parsed: a few thousand live rows
# kept the first screen (and its sparklines) from rendering for most of a second (scripts/site_load_speed.py)
FIRST_SCREEN_ROWS = 60
FEED_ENTRIES = 50
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class SiteSummary:
    output_dir: str
    pages: int                 # HTML pages written
    files: int                 # every file written
    series: int
    benchmarks: int
    machines: int
    commits: int               # commits of the branch's history
    open_regressions: int      # open and not acknowledged
    seconds: float
    warnings: list[str] = field(default_factory=list)


def build_site(project="asv.conf.json", output_dir: str | None = None, *, site_url: str | None = None,
               machine: str | None = None) -> SiteSummary:
    """Build the site of an asv project (an ``AsvProject`` or the path of its asv.conf.json) into
    ``output_dir`` (default: asv's ``html_dir``), replacing the previous site there at the end.
    ``site_url`` (default: the config's ``site_url``) makes the feed's links absolute; ``machine``
    publishes one machine only."""
    from machmeter.config import load_config, site_url_from
    from machmeter.project import AsvProject, load_project
    from machmeter.repository import commit_info, commit_order
    from machmeter.history import read_history
    from machmeter.site.data import prepare_site
    from machmeter.triage import load_triage

    started = time.perf_counter()
    if not isinstance(project, AsvProject):
        project = load_project(project)
    config = load_config(project.root)
    site_url = site_url_from(site_url, config)  # before any work: a javascript: URL would land in feed.xml
    acknowledgements = load_triage(config.triage_path)
    output = os.path.abspath(output_dir or project.html_dir)
    check_output_folder(output, project)
    history = read_history(project.results_dir, commit_order(project.repo, project.branches), config,
                           machine, stats=True, branch_only=False)
    if machine and machine not in history.machines:
        raise MachmeterError(f"{project.results_dir}: no results for machine {machine!r}")
    if not history.series:
        raise MachmeterError(f"{project.results_dir}: no results to publish")
    from machmeter.site.profiles import collect_traces

    machines = sorted({series.key.machine for series in history.series})
    data = prepare_site(project.project, history, config, acknowledgements,
                        commit_info(project.repo, history.commits), project.show_commit_url,
                        traces=lambda commits: collect_traces(project.results_dir, machines, commits))
    del history
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    remove_stale_builds(output)
    try:
        building, lock = start_building(output)
    except OSError as error:
        raise _unwritable(output, error) from None
    try:
        pages, files = write_site(data, building, site_url=site_url, results_dir=project.results_dir, machine=machine)
        os.chmod(building, 0o755)
        swap_into_place(building, output)
    except BaseException as error:
        shutil.rmtree(building, ignore_errors=True)
        if isinstance(error, OSError):  # a full or read-only disk is bad luck, not a bug: one line
            raise _unwritable(output, error) from None
        raise
    finally:
        finish_building(building, lock)
    return SiteSummary(output, pages, files, len(data.series), len(data.benchmarks), len(data.machines),
                       data.commits.branch_length, data.summary["open_regressions"],
                       time.perf_counter() - started, data.warnings)


# ---------------------------------------------------------------------------------------------------
# the output folder


def _unwritable(output: str, error: OSError) -> MachmeterError:
    return MachmeterError(f"{output}: the site cannot be written: {error.strerror or error} "
                          f"(the previous site there is unchanged)")


def check_output_folder(output: str, project=None) -> None:
    """Refuse an output that would replace anything but a previous site (machmeter's or asv's)."""
    protected = [os.path.expanduser("~"), os.path.abspath(os.sep)]
    if project is not None:
        protected += [project.root, project.results_dir]
        if project.repo and "://" not in project.repo:
            protected.append(project.repo)
    for path in protected:
        path = os.path.abspath(path)
        if path == output or path.startswith(output.rstrip(os.sep) + os.sep):
            raise MachmeterError(f"{output}: refusing to write the site there, it would replace {path}")
    if not os.path.lexists(output):
        return
    if not os.path.isdir(output):
        raise MachmeterError(f"{output}: exists and is not a folder")
    entries = set(os.listdir(output))
    asv_site = {"index.html", "index.json"} <= entries and bool({"asv.js", "asv_ui.js"} & entries)
    if entries and MARKER not in entries and not asv_site:
        raise MachmeterError(f"{output}: not empty and not a site written by machmeter site or asv publish; "
                             f"pass another --output")


# A build writes into ".<output>.building-XXXX" beside the output while it holds an flock on
# ".<output>.building-XXXX.lock", taken before the folder exists: the kernel lets go of it when the
# process ends, kill -9 included, so a folder whose lock is free is a dead build's. One without a lock
# file (a kill between two calls, or a machmeter from before the locks) is left alone for STALE_AFTER.
STALE_AFTER = 3600.0  # seconds


def _building_prefix(output: str) -> str:
    return f".{os.path.basename(output)}.building-"


def start_building(output: str) -> tuple[str, int | None]:
    """A new empty folder beside ``output`` to build into, and the descriptor holding its lock."""
    parent, prefix = os.path.dirname(output), _building_prefix(output)
    if fcntl is None:  # no flock (not a POSIX system): no lock, stale folders age out instead
        return tempfile.mkdtemp(prefix=prefix, dir=parent), None
    handle, lock_path = tempfile.mkstemp(prefix=prefix, suffix=".lock", dir=parent)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        folder = lock_path[:-len(".lock")]
        os.mkdir(folder, 0o700)
    except BaseException:
        os.unlink(lock_path)
        os.close(handle)
        raise
    return folder, handle


def finish_building(folder: str, lock: int | None) -> None:
    """Let go of the build folder's lock (the folder is the site now, or removed)."""
    if lock is None:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder + ".lock")
    os.close(lock)


def _lock_free(lock_path: str) -> bool | None:
    """True when no process holds the lock at ``lock_path``, False when one does (or it cannot be told),
    None when there is no lock file."""
    try:
        handle = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # held (BlockingIOError), or a file system without flock: never someone else's build
        return False
    finally:
        os.close(handle)


def remove_stale_builds(output: str, now: float | None = None) -> list[str]:
    """Remove the build folders beside ``output`` that interrupted builds left (kill -9, power loss),
    never one a running build holds; returns the paths removed."""
    parent, prefix = os.path.dirname(output), _building_prefix(output)
    previous = f".{os.path.basename(output)}.previous-"
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(previous) and entry.is_dir(follow_symlinks=False):
            stale = True  # a replaced site on its way out (swap_into_place): only ever deleted
        elif entry.name.startswith(prefix) and not entry.name.endswith(".lock") and entry.is_dir(follow_symlinks=False):
            free = _lock_free(entry.path + ".lock") if fcntl is not None else None
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            except OSError:
                continue
            stale = free is True or (free is None and old)
        else:
            continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(entry.path + ".lock")
            removed.append(entry.path)
    return removed


def swap_into_place(built: str, output: str) -> None:
    """Put the folder ``built`` where ``output`` is, in one step where the system allows it."""
    if not os.path.lexists(output):
        try:
            os.rename(built, output)
            return
        except OSError as error:  # a concurrent build put its site there first: replace that one
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if _exchange(built, output):
        shutil.rmtree(built, ignore_errors=True)  # now the previous site
        return
    previous = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.previous-", dir=os.path.dirname(output))
    os.rmdir(previous)
    os.rename(output, previous)
    os.rename(built, output)
    shutil.rmtree(previous, ignore_errors=True)


def _exchange(first: str, second: str) -> bool:
    """renameat2(RENAME_EXCHANGE): both names swapped atomically (Linux); False where not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0


# ---------------------------------------------------------------------------------------------------
# rendering


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(_HERE, "templates")),
        autoescape=True,  # every page and the feed: text from results and commits is never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = format_value
    env.filters["percent"] = percent
    env.filters["date"] = date_text
    env.filters["isodate"] = iso_date
    env.filters["short"] = lambda commit: commit[:8]
    return env


def percent(change: float) -> str:
    if change is None or change != change:
        return ""
    if math.isinf(change):
        return "+∞" if change > 0 else "−∞"
    return f"{change * 100:+.1f}%".replace("-", "−")


def date_text(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")


def iso_date(ms: int | None) -> str:
    moment = datetime.datetime.fromtimestamp((ms or 0) / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# uPlot (MIT, from npm), vendored with its licence by scripts/vendor_uplot.sh: 51 KB of canvas charts (23 KB
# gzipped) where plotly.js's basic bundle was 1.2 MB and took ~1 s to evaluate (scripts/site_load_speed.py
# measures the two side by side in a browser)
CHART_LIBRARY = ("uPlot.iife.min.js", "uPlot.min.css", "LICENSE.uPlot.txt")  # its licence travels with it


def _chart_library() -> list[str]:
    paths = [os.path.join(_HERE, "vendor", name) for name in CHART_LIBRARY]
    for path in paths:
        if not os.path.isfile(path):
            raise MachmeterError(f"{path}: the site's chart library is missing (a broken install: reinstall machmeter)")
    return paths


def _open(path: str):
    # text from results or git may hold lone surrogates: written as "?" rather than failing the build
    return open(path, "w", encoding="utf-8", errors="replace")


def _dump(path: str, data) -> None:
    with _open(path) as stream:
        stream.write(json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False))


def write_site(data: SiteData, folder: str, *, site_url: str | None = None, results_dir: str | None = None,
               machine: str | None = None) -> tuple[int, int]:
    """Every page and data file of ``data`` into ``folder`` (empty); returns (pages, files). The parity
    page reads its per-atom errors from the result files in ``results_dir`` (of ``machine`` only, if
    given); without it, it has none."""
    for sub in ("static", "benchmarks", "data", "data/series", "data/spark", "data/rev", "data/split"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    files = 0
    for path in _chart_library():
        shutil.copyfile(path, os.path.join(folder, "static", os.path.basename(path)))
        files += 1
    for name in sorted(os.listdir(os.path.join(_HERE, "static"))):
        shutil.copyfile(os.path.join(_HERE, "static", name), os.path.join(folder, "static", name))
        files += 1

    data.exponents = [0] * len(data.series)  # data/series.json lists them, the series' files use them
    for entry in data.series:
        data.exponents[entry.index] = scale_exponent(_as_floats(entry.series.values))
    # the charts' and the compare page's data files, most of the site's bytes, are written by a forked
    # worker while this process writes the rest (it changes nothing that the pages read)
    series_files = ForkedCall(lambda: _write_series_data(data, folder))
    try:
        pages, page_files = _write_pages(data, folder, site_url=site_url, results_dir=results_dir, machine=machine)
    finally:
        files += series_files.result()
    return pages, files + page_files


def _write_pages(data: SiteData, folder: str, *, site_url: str | None, results_dir: str | None,
                 machine: str | None) -> tuple[int, int]:
    """Every page and file of the site but the series' charts and values (``_write_series_data``);
    returns (pages, files)."""
    commits = data.commits
    files = _write_commits(data, folder)
    files += _write_profiles(data, folder)
    spark_of, spark_inline = _write_sparklines(data, folder)
    files += len({chunk for chunk, _ in spark_of.values()})

    scaling = scaling_views(data.benchmarks, commits)
    parity = parity_views(data.series, commits, results_dir, machine, data.warnings) if results_dir else []
    files += write_scatter_data(parity, folder)  # data/parity/: each commit's scatter, fetched when shown
    env = _environment()
    machines_by_name = {m.name: m for m in data.machines}
    common = {
        "project": data.project, "summary": data.summary, "version": __version__,
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit_url": data.commit_url, "commits": commits, "statuses": STATUSES,
        "machines_by_name": machines_by_name, "warnings": data.warnings,
        "last_date": date_text(max(commits.dates[:commits.branch_length], default=0)),
        "has_scaling": bool(scaling), "has_parity": bool(parity),  # linked from the navigation only then
    }
    pages = 0

    def render(template: str, path: str, **context) -> None:
        nonlocal pages, files
        text = env.get_template(template).render(**common, **context)
        with _open(os.path.join(folder, path)) as stream:
            stream.write(text)
        pages += path.endswith(".html")
        files += 1

    rows = data.overview_rows()
    render("index.html", "index.html", root="", page="overview", rows=rows, spark_of=spark_of,
           spark_inline=spark_inline, first_screen=FIRST_SCREEN_ROWS,
           benchmark_count=len(data.benchmarks), set_aside=sum(1 for s in rows if s.set_aside))
    render("regressions.html", "regressions.html", root="", page="regressions",
           open_regressions=data.open_regressions(), improvements=data.recent_improvements())
    render("machines.html", "machines.html", root="", page="machines", machines=data.machines)
    render("compare.html", "compare.html", root="", page="compare")
    views = students_views(data.series)
    render("students.html", "students.html", root="", page="students", views=views,
           page_data={"views": [view.chart_data() for view in views]})
    render("scaling.html", "scaling.html", root="", page="scaling", views=scaling, min_sizes=MIN_SIZES,
           page_data={"views": [view.chart_data() for view in scaling]})
    render("parity.html", "parity.html", root="", page="parity", views=parity, figure_labels=FIGURE_LABELS,
           page_data={"views": [view.chart_data() for view in parity], "figure_labels": FIGURE_LABELS})
    for benchmark in data.benchmarks:
        render("benchmark.html", os.path.join("benchmarks", f"{benchmark.id}.html"), root="../", page="benchmark",
               benchmark=benchmark, profile=data.profiles.get(benchmark.id),
               page_data=_benchmark_page_data(benchmark, data, machines_by_name))
    base = (site_url.rstrip("/") + "/") if site_url else ""
    entries = [_feed_entry(s, mark, data, base) for s, mark in data.regressions_by_date()[:FEED_ENTRIES]]
    render("feed.xml", "feed.xml", root="", page="feed", entries=entries, base=base,
           feed_title=_xml_text(data.project),
           feed_id=uuid.uuid5(uuid.NAMESPACE_URL, f"machmeter-site:{data.project}").urn,
           updated=entries[0]["updated"] if entries else iso_date(max(commits.dates, default=0)))
    for name, text in ((MARKER, f"machmeter {__version__}\n"), (".nojekyll", "")):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as stream:
            stream.write(text)
        files += 1
    return pages, files


def _write_commits(data: SiteData, folder: str) -> int:
    commits = data.commits
    _dump(os.path.join(folder, "data", "commits.json"), {
        "hash": commits.hashes, "date": commits.dates, "subject": commits.subjects, "author": commits.authors,
        "branch_length": commits.branch_length, "commit_url": data.commit_url,
        "rev_prefix": revision_prefix_length(len(commits.hashes)),
    })
    policies = [compare_policy(s.policy) for s in data.series]
    _dump(os.path.join(folder, "data", "series.json"), {
        "id": [s.id for s in data.series],
        # series that differ only by asv's benchmark version (its code changed) are one group
        "group": _groups(data.series),
        "benchmark": [s.key.benchmark for s in data.series],
        "page": [s.benchmark_id for s in data.series],
        "params": [s.params_label for s in data.series],
        "machine": [s.key.machine for s in data.series],
        "env": [s.key.env_name for s in data.series],
        "unit": [s.meaning.unit for s in data.series],
        "kind": [s.meaning.kind for s in data.series],
        "e": data.exponents,  # a series' values are written as integers n: value = n * 10**e
        # the check's policy of each series, one column per field: the compare page judges by it alone
        **{name: [policy[name] for policy in policies] for name in (policies[0] if policies else ())},
    })
    return 2


def _groups(series: list[SiteSeries]) -> list[int]:
    numbers: dict[tuple, int] = {}
    return [numbers.setdefault((s.key.benchmark, s.key.params, s.key.machine, s.key.env_name), len(numbers))
            for s in series]


def _as_floats(values):
    """``values`` (None, NaN and infinities included) as a float array, NaN where there is no finite value."""
    import numpy as np

    x = np.array(values, dtype=float)  # None -> NaN
    x[~np.isfinite(x)] = np.nan
    return x


def scale_exponent(x) -> int:
    """The power of ten the values of one series are written in: integers of about 8 significant digits
    at the series' median magnitude (integers are smaller and much faster to write than floats)."""
    import numpy as np

    magnitudes = np.abs(x[np.isfinite(x)])
    magnitudes = magnitudes[magnitudes > 0]
    if not magnitudes.size:
        return 0
    exponent = int(np.floor(np.log10(np.median(magnitudes)))) - 7
    while magnitudes.max() / 10.0 ** exponent >= 2 ** 53:  # exact integers in JavaScript
        exponent += 1
    return max(-300, min(300, exponent))


def _scaled(x, exponent: int) -> list:
    """JSON numbers of the float array ``x``: integers n with value = n * 10**exponent, None for NaN."""
    import numpy as np

    with np.errstate(all="ignore"):
        # dividing by an exact power of ten, as the page does, reads back the nearest double
        scaled = np.round(x * 10.0 ** -exponent if exponent <= 0 else x / 10.0 ** exponent)
    missing = np.isnan(scaled)
    scaled[missing] = 0
    numbers = scaled.astype(np.int64).tolist()
    for index in np.flatnonzero(missing).tolist():
        numbers[index] = None
    return numbers


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def _chart(entry: SiteSeries, values, exponent: int, flagged: set[int]) -> dict:
    """One chart's data: ``values`` are the history's values as floats (NaN: no value), written as
    integers of 10**``exponent`` (``e``)."""
    history = entry.history
    count = len(history.commits)
    xs = entry.positions[:count]
    chart: dict = {"id": entry.id, "e": exponent}
    if xs[-1] - xs[0] == count - 1:
        chart["x0"] = xs[0]  # every commit in a row: x is x0, x0 + 1, ...
    else:
        chart["x"] = xs.tolist()
    chart["y"] = _scaled(values, exponent)
    if None in history.values:
        chart["failed"] = [x for x, v in zip(xs.tolist(), history.values) if v is None]
    stats = history.stats
    if stats is not None:
        for name, low, high in (("ci_99", stats.ci_99_low, stats.ci_99_high), ("iqr", stats.q_25, stats.q_75)):
            lows, highs = _as_floats(low), _as_floats(high)
            if (lows == lows).any() and (highs == highs).any():
                chart["band"] = name
                chart["eb"] = exponent + 3  # bounds to about 5 significant digits
                chart["lo"] = _scaled(lows, exponent + 3)
                chart["hi"] = _scaled(highs, exponent + 3)
                break
    if entry.marks:
        chart["changes"] = [{
            "at": m.at, "since": m.since, "before": _finite(m.change.before), "after": _finite(m.change.after),
            "change": _finite(m.change.change),
            "direction": m.change.direction, "ack": m.change.acknowledged, "open": m.open,
        } for m in entry.marks]
    if entry.target is not None:
        chart["target"] = {"min": entry.target.minimum, "max": entry.target.maximum, "source": entry.target.source}
    if entry.shifts:
        chart["shifts"] = [{"at": m.at, "since": m.since, "change": _finite(m.change), "evidence": m.evidence}
                           for m in entry.shifts]
    if flagged:
        flags = [x for x in xs.tolist() if x in flagged]
        if flags:
            chart["flags"] = flags
    return chart


def _write_series_data(data: SiteData, folder: str) -> int:
    """Each series' chart (data/series/<id>.json) and, per commit, every series' value there
    (data/rev/<prefix>.json, aligned with data/series.json: the compare page), in the series' exponents
    (``data.exponents``); returns how many files."""
    import numpy as np

    commits = data.commits
    table = np.full((len(commits.hashes), len(data.series)), np.nan)
    written = 0
    for entry in data.series:
        values = _as_floats(entry.series.values)
        table[np.asarray(entry.positions, dtype=np.intp), entry.index] = values
        if entry.history is None:
            continue
        _dump(os.path.join(folder, "data", "series", f"{entry.id}.json"),
              _chart(entry, values[:len(entry.history.commits)], data.exponents[entry.index],
                     data.flagged_at.get(entry.key.machine, set())))
        written += 1
    # commits in files by the first hex digits of their hash (about 16 a file): the compare page finds
    # a commit's file from its hash alone, and a long history is not thousands of small files
    buckets: dict[str, list[int]] = {}
    length = revision_prefix_length(len(commits.hashes))
    for at, commit in enumerate(commits.hashes):
        if is_commit_hash(commit):  # a name that is not a commit hash never becomes a file name
            buckets.setdefault(commit[:length], []).append(at)
    scale = np.array([10.0 ** -e if e <= 0 else 10.0 ** e for e in data.exponents])
    up = np.array([e <= 0 for e in data.exponents])
    for prefix, members in buckets.items():
        rows = {}
        for at in members:
            with np.errstate(all="ignore"):
                scaled = np.where(up, table[at] * scale, table[at] / scale)
            rows[commits.hashes[at]] = {
                "index": at, "date": commits.dates[at], "subject": commits.subjects[at],
                "author": commits.authors[at], "on_branch": at < commits.branch_length,
                "v": _scaled(scaled, 0)}
        _dump(os.path.join(folder, "data", "rev", f"{prefix}.json"), rows)
        written += 1
    return written


def _write_profiles(data: SiteData, folder: str) -> int:
    """Each time split (data/split/<id>.json) and the traces the benchmark pages link, copied in as
    traces/<machine id>/<first 8 of commit>/<name>: names made or checked in machmeter.site.profiles."""
    from machmeter.site.data import short_id

    written = 0
    for split in data.splits.values():
        _dump(os.path.join(folder, "data", "split", f"{split.id}.json"),
              {"x": split.positions, "gpu": split.gpu_us, "host": split.host_us})
        written += 1
    copied: dict[str, str | None] = {}
    for profile in data.profiles.values():
        kept = []
        for link in profile.traces:
            for source in (link.source, link.kernels_source):
                if source not in copied:
                    relative = "/".join(("traces", short_id(link.machine), link.commit[:8], os.path.basename(source)))
                    os.makedirs(os.path.join(folder, os.path.dirname(relative)), exist_ok=True)
                    try:
                        shutil.copyfile(source, os.path.join(folder, relative), follow_symlinks=False)
                        copied[source] = relative
                        written += 1
                    except OSError as error:  # unreadable, or gone since it was listed: one trace fewer
                        copied[source] = None
                        data.warnings.append(f"{source}: cannot be copied into the site ({error.strerror or error}): left out")
            link.href, link.kernels_href = copied[link.source], copied[link.kernels_source]
            if link.href and link.kernels_href:
                kept.append(link)
        profile.traces = kept
    return written


def revision_prefix_length(commits: int) -> int:
    """How many hex digits of a commit hash name its file in data/rev/ (1 to 3)."""
    return next((length for length in (1, 2) if commits <= 16 * 16 ** length), 3)


def _write_sparklines(data: SiteData, folder: str) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """Sparklines of the overview's rows, SPARK_CHUNK rows a file; returns id -> (file, position), and
    id -> the values as JSON text for the first screen's rows, which carry them in the page."""
    from machmeter.site.data import spark_values

    rows = data.overview_rows()  # in the page's order
    spark_of = {}
    inline = {}
    for chunk in range(0, len(rows), SPARK_CHUNK):
        part = rows[chunk:chunk + SPARK_CHUNK]
        values = [spark_values(s.history.values) for s in part]
        _dump(os.path.join(folder, "data", "spark", f"{chunk // SPARK_CHUNK}.json"), values)
        for offset, entry in enumerate(part):
            spark_of[entry.id] = (chunk // SPARK_CHUNK, offset)
            if chunk + offset < FIRST_SCREEN_ROWS:
                inline[entry.id] = json.dumps(values[offset], separators=(",", ":"), allow_nan=False)
    return spark_of, inline


def _benchmark_page_data(benchmark, data: SiteData, machines_by_name: dict) -> dict:
    """What the benchmark page's script needs, embedded in the page (|tojson escapes it for HTML)."""
    profile = data.profiles.get(benchmark.id)
    split_of = profile.split_of if profile else {}
    return {
        "name": benchmark.name, "unit": benchmark.unit, "higher_is_better": benchmark.higher_is_better,
        "kind": benchmark.kind, "param_names": benchmark.param_names, "commit_url": data.commit_url,
        "series": [{
            "id": s.id, "params": [dict(s.key.params).get(name) for name in benchmark.param_names],
            "machine": s.key.machine, "env": s.key.env_name, "version": s.key.version, "status": s.status,
            "charted": s.history is not None, "current": s.current, "split": split_of.get(s.id),
        } for s in benchmark.series],
        "machines": [{"name": name, "gpu": machines_by_name[name].gpu if name in machines_by_name else ""}
                     for name in benchmark.machines],
    }


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text an XML 1.0 document can hold (autoescaping does the rest)."""
    return _NOT_XML.sub("\ufffd", text)


def _feed_entry(entry: SiteSeries, mark, data: SiteData, base: str) -> dict:
    commits = data.commits
    change = mark.change
    fields = {
        "title": f"{entry.label} on {entry.key.machine}: {percent(change.change)} "
                 f"({format_value(change.before, change.unit)} → {format_value(change.after, change.unit)})",
        "link": f"{base}benchmarks/{entry.benchmark_id}.html#{entry.id}",
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"machmeter:{entry.id}:{change.commit}").urn,
        "updated": iso_date(commits.dates[mark.at]),
        "commit": change.commit,
        "since": change.commit_range[0],
        "subject": commits.subjects[mark.at] or "",
        "author": commits.authors[mark.at] or "",
        "state": "acknowledged: " + change.acknowledged if change.acknowledged is not None
        else ("open" if mark.open else "resolved"),
        "machine": entry.key.machine,
    }
    return {key: _xml_text(value) if isinstance(value, str) else value for key, value in fields.items()}
