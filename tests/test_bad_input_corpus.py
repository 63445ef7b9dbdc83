"""The corpus of bad inputs (tests/bad_inputs/, see its README): each case is laid over one small, good asv
project and machmeter's verbs run on it through the real command line (check --history, check --base/--head,
site, comment --dry-run), as a new user's CI would.

Every verb must end in 0, 1 or 2 (never 3, the internal error, and never a traceback); where the case says
the input is bad, a warning (the file skipped, the rest checked) or a one-line error names the file and the
problem; the results folder is byte-identical afterwards and nothing is written outside the site's output
folder. The markup cases are built into a site that html.parser reads for any script, handler or
javascript: URL from the input; one of them is also opened in the real headless Chromium."""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import pathlib
import re
import shutil

import pytest

from machmeter import cli

from .test_site_browser import Page, browser, served, wait_until  # noqa: F401

CORPUS = pathlib.Path(__file__).resolve().parent / "bad_inputs"
CASES = sorted(path.name for path in CORPUS.iterdir() if (path / "case.json").is_file())

COMMITS = [letter * 40 for letter in "abcde"]  # by date; the project has no repository
BASE, HEAD = COMMITS[-2], COMMITS[-1]
MACHINE = "m"
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25",
           "stats_q_75", "stats_number", "stats_repeat", "samples"]
BENCHMARKS = {
    "suite.Time.time_step": {"name": "suite.Time.time_step", "type": "time", "unit": "seconds", "param_names": [],
                             "params": [], "version": "v1"},
    "suite.Model.track_speed": {"name": "suite.Model.track_speed", "type": "track", "unit": "steps/s",
                                "higher_is_better": True, "param_names": ["n", "device"],
                                "params": [["64", "512"], ["'cpu'", "'cuda'"]], "version": "v1"},
    "suite.Mem.peakmem_run": {"name": "suite.Mem.peakmem_run", "type": "peakmemory", "unit": "bytes",
                              "param_names": [], "params": [], "version": "v1"},
    "version": 2,
}
# the verbs a case runs (case.json "commands"; the default is all but "report")
VERBS = ("history", "compare", "site", "comment", "report")
DEFAULT_VERBS = ("history", "compare", "site", "comment")


def result_document(commit: str, at: int, env_name: str = "env", scale: float = 1.0) -> dict:
    """A good asv result file (format 2) of ``commit``: every column the reader reads, filled."""
    time = 1.0e-3 * scale
    return {
        "commit_hash": commit, "env_name": env_name, "date": 1_700_000_000_000 + at * 86_400_000,
        "params": {"machine": MACHINE, "gpu": "NVIDIA H100", "python": "3.11"}, "python": "3.11",
        "requirements": {}, "env_vars": {}, "result_columns": COLUMNS, "durations": {}, "version": 2,
        "results": {
            "suite.Time.time_step": [[time], [], "v1", 1_700_000_000_000 + at * 86_400_000 + 5, 2.0,
                                     [time * 0.98], [time * 1.02], [time * 0.99], [time * 1.01], [10], [5],
                                     [[time * 0.99, time, time * 1.01]]],
            "suite.Model.track_speed": [[100.0 + at, 200.0 + at, 300.0 + at, 400.0 + at],
                                        [["64", "512"], ["'cpu'", "'cuda'"]], "v1",
                                        1_700_000_000_000 + at * 86_400_000 + 9, 1.0],
            "suite.Mem.peakmem_run": [[1.0e9], [], "v1", 1_700_000_000_000 + at * 86_400_000 + 12, 1.0],
        },
    }


def write_base_project(root: pathlib.Path) -> None:
    """Five commits of three benchmarks on one machine, no repository (commits ordered by date)."""
    results = root / "results"
    (results / MACHINE).mkdir(parents=True)
    (results / "benchmarks.json").write_text(json.dumps(BENCHMARKS, indent=1))
    (results / MACHINE / "machine.json").write_text(json.dumps(
        {"machine": MACHINE, "gpu": "NVIDIA H100", "cpu": "x86", "os": "Linux", "version": 1}))
    for at, commit in enumerate(COMMITS):
        (results / MACHINE / f"{commit[:8]}-env.json").write_text(json.dumps(result_document(commit, at)))
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                    "results_dir": "results", "html_dir": "html",
                                                    "branches": ["main"]}))


def lay_out_case(name: str, root: pathlib.Path) -> dict:
    """The base project in ``root`` with the case laid over it; the case's description."""
    case_dir = CORPUS / name
    case = json.loads((case_dir / "case.json").read_text())
    write_base_project(root)
    overlay = case_dir / "project"
    if overlay.is_dir():
        for source in sorted(overlay.rglob("*")):
            target = root / source.relative_to(overlay)
            if source.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    for old, new in case.get("rename", {}).items():  # names a checkout may not hold (<, > on Windows)
        os.rename(root / old, root / new)
    for removed in case.get("remove", []):
        (root / removed).unlink()
    make = case.get("make")  # what git cannot hold
    if make is not None:
        bad = root / case["bad"]
        bad.parent.mkdir(parents=True, exist_ok=True)
        if make == "fifo":
            os.mkfifo(bad)
        elif make == "dev-zero":
            bad.symlink_to("/dev/zero")
        elif make == "dangling-symlink":
            bad.symlink_to(root / "nowhere.json")
        elif make == "deep":
            bad.write_text("[" * 200_000 + "]" * 200_000)
        else:
            raise AssertionError(f"{name}: unknown make {make!r}")
    return case


def _digest(folder: pathlib.Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's bytes by hash, a link by target, a FIFO by kind (never opened)."""
    listing = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            listing[key] = "-> " + os.readlink(path)
        elif path.is_fifo():
            listing[key] = "fifo"
        elif path.is_dir():
            listing[key] = "dir"
        else:
            listing[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return listing


def _argv(verb: str, root: pathlib.Path, case: dict) -> list[str]:
    config = ["--config", str(root / "asv.conf.json")]
    return {
        "history": ["check", "--history", *config],
        "compare": ["check", "--base", BASE, "--head", HEAD, *config, "--format", "markdown"],
        "site": ["site", *config, "--output", str(root / "out" / "site")],
        "comment": ["comment", "--dry-run", "--base", BASE, "--head", HEAD, *config],
        "report": ["comment", "--dry-run", "--report", str(root / case.get("bad", "")), *config],
    }[verb]


def run_verb(verb: str, root: pathlib.Path, case: dict, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(_argv(verb, root, case))
    out, err = capsys.readouterr()
    return status, out, err


class _Markup(html.parser.HTMLParser):
    """What of a page could run: script elements (beyond the site's own files and JSON data), event-handler
    attributes and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().replace("\x00", "").startswith(("javascript:", "data:text/html")):
                self.found.append(f"<{tag} {name}={value!r}>")
        attrs = dict(attrs)
        src = attrs.get("src") or ""
        if tag == "script" and not (src.endswith(".js") and not src.startswith(("http", "//"))
                                    or attrs.get("type") == "application/json"):
            self.found.append(f"<script {attrs}>")

    def handle_data(self, data):
        # inside a script element the parser reads raw text up to "</script": a "<script" there is the
        # input's, not escaped, and the element it opens would run once the data's own element ended
        if self.lasttag == "script" and "<script" in data.lower():
            self.found.append(f"an unescaped <script in script data: {data[:80]!r}")


def live_markdown(text: str) -> list[str]:
    """What of a Markdown comment could run or link away once GitHub renders it: its HTML as in a page,
    and links or autolinks to javascript: URLs."""
    scan = _Markup()
    scan.feed(text)
    return scan.found + re.findall(r"\]\(\s*javascript:[^)]*\)|<javascript:[^>]*>", text, flags=re.IGNORECASE)


def live_markup(site: pathlib.Path) -> list[str]:
    found = []
    for page in sorted(site.rglob("*.html")):
        scan = _Markup()
        scan.feed(page.read_text(encoding="utf-8"))
        found += [f"{page.relative_to(site)}: {item}" for item in scan.found]
    feed = site / "feed.xml"
    if feed.is_file():
        from xml.etree import ElementTree

        for element in ElementTree.parse(feed).iter():
            for name, value in element.attrib.items():
                if value.strip().lower().startswith("javascript:"):
                    found.append(f"feed.xml: {element.tag} {name}={value!r}")
    return found


BAD_RESULT = f"results/{MACHINE}/{HEAD[:8]}-bad.json"


def _case(name: str) -> dict:
    return json.loads((CORPUS / name / "case.json").read_text())


def shares_the_site(name: str) -> bool:
    """A case that only adds the bad result file: its site is built with the others' in one project."""
    case = _case(name)
    overlay = CORPUS / name / "project"
    files = sorted(str(p.relative_to(overlay)) for p in overlay.rglob("*") if p.is_file()) if overlay.is_dir() else []
    return (case.get("bad") == BAD_RESULT and files in ([], [BAD_RESULT]) and not case.get("remove")
            and case["expect"] != "error" and "site" in case.get("commands", DEFAULT_VERBS))


SHARED = [name for name in CASES if shares_the_site(name)]


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory):
    """One site of every case that shares it: the base project, and each case's bad file on a machine of
    its own (named after the case), so that no two cases meet in one series. (status, stderr, root)."""
    import contextlib
    import io

    top = tmp_path_factory.mktemp("shared")
    root = top / "project"
    root.mkdir()
    write_base_project(root)
    for name in SHARED:
        scratch = top / "scratch" / name
        scratch.mkdir(parents=True)
        lay_out_case(name, scratch)
        folder = root / "results" / name
        folder.mkdir()
        (folder / "machine.json").write_text(json.dumps({"machine": name, "gpu": "NVIDIA H100", "version": 1}))
        os.rename(scratch / BAD_RESULT, folder / f"{HEAD[:8]}-bad.json")
    shutil.rmtree(top / "scratch")
    results_before, around_before = _digest(root / "results"), _digest(top)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = cli.main(_argv("site", root, {}))
    assert _digest(root / "results") == results_before, "the shared site changed the results folder"
    around_after = {k: v for k, v in _digest(top).items() if not k.startswith(os.path.join("project", "out"))}
    assert around_after == around_before, "the shared site wrote outside its output folder"
    return status, err.getvalue(), root


@pytest.mark.parametrize("name", CASES)
def test_bad_input_never_crashes_loses_results_or_gets_through(name, tmp_path, capsys, monkeypatch, request):
    root = tmp_path / "project"
    root.mkdir()
    case = lay_out_case(name, root)
    expect = case["expect"]
    assert expect in ("skipped", "error", "accepted", "markup"), name
    bad = str(root / case["bad"]) if "bad" in case else None
    monkeypatch.chdir(root)
    monkeypatch.delenv("MACHMETER_TRACE_DIR", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    results_before = _digest(root / "results")
    around_before = {k: v for k, v in _digest(tmp_path).items() if not k.startswith(os.path.join("project", "out"))}
    verbs = case.get("commands", DEFAULT_VERBS)
    assert set(verbs) <= set(VERBS), name
    if name in SHARED:
        verbs = [verb for verb in verbs if verb != "site"]
        status, err, shared_root = request.getfixturevalue("shared_site")
        where = f"{name}: the shared site (status {status})\n{err}"
        assert status in (0, 1) and "Traceback" not in err and "internal error" not in err, where
        if expect == "skipped":
            named = str(shared_root / "results" / name / f"{HEAD[:8]}-bad.json")
            assert any(": warning: " in line and named in line and case.get("mention", "") in line
                       for line in err.splitlines()), where
        if expect == "markup":
            found = live_markup(shared_root / "out" / "site")
            assert found == [], f"{name}: live markup from the input:\n" + "\n".join(found)
    for verb in verbs:
        status, out, err = run_verb(verb, root, case, capsys)
        where = f"{name}: {verb} (status {status})\n{err}"
        assert status in (0, 1, 2), where
        assert "Traceback" not in err and "internal error" not in err, where
        lines = err.splitlines()
        if expect == "error":
            assert status == 2, where
            assert len([line for line in lines if ": error: " in line]) == 1, where
            error = next(line for line in lines if ": error: " in line)
            assert bad in error and case.get("mention", "") in error, where
        else:
            assert status in (0, 1), where
        if expect == "skipped":
            warned = [line for line in lines if ": warning: " in line and bad in line]
            assert warned and any(case.get("mention", "") in line for line in warned), where
        if verb == "site" and status == 0 and expect == "markup":
            found = live_markup(root / "out" / "site")
            assert found == [], f"{name}: live markup from the input:\n" + "\n".join(found)
        if verb in ("compare", "comment", "report") and expect == "markup":
            assert live_markdown(out) == [], where + out
    assert _digest(root / "results") == results_before, f"{name}: the results folder changed"
    around_after = {k: v for k, v in _digest(tmp_path).items() if not k.startswith(os.path.join("project", "out"))}
    assert around_after == around_before, f"{name}: something was written outside the output folder"


def test_the_corpus_covers_the_issue():
    cases = [json.loads((CORPUS / name / "case.json").read_text()) for name in CASES]
    assert len(cases) >= 60
    kinds = {case["expect"] for case in cases}
    assert kinds == {"skipped", "error", "accepted", "markup"}
    assert sum(1 for case in cases if case["expect"] == "markup") >= 8


def test_a_markup_case_is_text_in_the_real_browser(browser, tmp_path, capsys, monkeypatch):  # noqa: F811
    """The case of a script in a benchmark name and a link and handler in its unit, in Debian's headless
    Chromium: no dialog, no console error (a CSP violation is one), no element or attribute of the input."""
    root = tmp_path / "project"
    root.mkdir()
    case = lay_out_case("xss_benchmark_name_and_unit", root)
    monkeypatch.chdir(root)
    status, _, err = run_verb("site", root, case, capsys)
    assert status == 0, err
    site = root / "out" / "site"
    pages = ["index.html", *(str(p.relative_to(site)) for p in sorted(site.rglob("*.html"))
                             if p.name != "index.html" and "pwned" in p.read_text(encoding="utf-8"))]
    assert len(pages) >= 2
    with served(site) as url:
        for page_name in pages:
            view = Page(browser, url + page_name)  # waits until the page says it is ready
            wait_until(view.page, "document.readyState === 'complete'")
            injected = view.page.evaluate("""() => [
                ...[...document.querySelectorAll('script')].filter(s => !s.src && s.type !== 'application/json')
                    .map(s => 'inline script: ' + s.textContent.slice(0, 40)),
                ...[...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
                    .filter(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value))
                    .map(a => e.tagName + ' ' + a.name))]""")
            assert injected == [], f"{page_name}: {injected}"
            assert "pwned" in view.page.text_content("body") or page_name == "index.html"
            view.close()  # fails on a dialog (alert) or a console error
