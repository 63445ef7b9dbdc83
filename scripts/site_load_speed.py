"""How fast the built site draws in a real browser, before and after a change, side by side in one run:
the benchmark page's chart and the overview's first sparklines, cold (a fresh browser context each time).
"before" is the site as the main checkout's committed code builds it (its chart library plotly.js or
uPlot, told apart by the files it ships), "now" the site of this checkout's code; both are built from
one synthetic history.

A synthetic history (``scripts/synthetic_history.py``: 2,000 commits x 300 series x 3 machines by default)
is built with ``machmeter site``, served on 127.0.0.1 gzip-compressed as GitHub Pages serves it, and opened
in Debian's Chromium (Playwright's client). Printed per site: median and worst time from navigation to the
chart drawn (benchmark page) and to the first sparkline drawn (overview), the bytes transferred, and what
they were (chart library, data JSON, the rest).

    python scripts/site_load_speed.py                       # 2,000 x 300 x 3, 5 loads each
    python scripts/site_load_speed.py --commits 500 --loads 3
    python scripts/site_load_speed.py --before /path/to/src # "before" from another source tree
    python scripts/site_load_speed.py --before none         # only this checkout's site
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzip-compressed when the browser accepts it (as GitHub Pages serves a site)."""

    def log_message(self, format, *args):  # noqa: A002
        pass

    def send_head(self):
        path = self.translate_path(self.path.split("?", 1)[0])
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
        if "gzip" not in self.headers.get("Accept-Encoding", "") or not os.path.isfile(path):
            return super().send_head()
        with open(path, "rb") as stream:
            body = gzip.compress(stream.read(), 6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io

        return io.BytesIO(body)


def serve(folder: str) -> tuple[subprocess.Popen, str]:
    """A server of ``folder`` in a process of its own (in this one, the browser client's polling held
    the GIL and delayed every response by up to a quarter of a second); returns it and its base URL."""
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", folder], stdout=subprocess.PIPE,
                              text=True)
    port = int(server.stdout.readline())
    return server, f"http://127.0.0.1:{port}/"


def _serve_here(folder: str) -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(GzipHandler, directory=folder))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


def _wait(page, selector: str, started: float, timeout: float = 30.0) -> float:
    """Seconds from ``started`` until ``selector`` is in the page (polled from outside: the site's CSP
    forbids the evaluated functions Playwright's own waits inject)."""
    while time.perf_counter() - started < timeout:
        if page.query_selector(selector) is not None:
            return time.perf_counter() - started
        time.sleep(0.005)
    raise TimeoutError(f"{selector} never appeared")


def _category(url: str) -> str:
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if name.startswith(("plotly", "uPlot")):
        return "library"
    if "/data/" in url:
        return "data"
    return "page"


def measure(browser, url: str, selector: str) -> tuple[float, dict[str, int]]:
    """(seconds to ``selector``, bytes transferred by category) of one cold load of ``url``."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    transferred = {"library": 0, "data": 0, "page": 0}

    def on_response(response):
        try:
            size = int(response.headers.get("content-length") or len(response.body()))
        except Exception:  # an aborted or redirected response: nothing transferred to count
            return
        transferred[_category(response.url)] += size

    page.on("response", on_response)
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    seconds = _wait(page, selector, started)
    page.wait_for_load_state("networkidle")
    context.close()
    return seconds, transferred


# what "drawn" is in a site: its ready mark (set once the chart is drawn) and the chart's own element, by
# the chart library it ships (plotly.js until uPlot replaced it)
DRAWN = {"plotly": ("body[data-ready='1'] #chart .main-svg .scatterlayer .trace", "#rows tbody tr td.spark svg"),
         "uPlot": ("body[data-ready='1'] #chart canvas", "#rows tbody tr td.spark svg")}


def drawn_marks(site: str) -> tuple[str, str]:
    """The selectors of DRAWN for the site built in the folder ``site``."""
    plotly = any(name.startswith("plotly") for name in os.listdir(os.path.join(site, "static")))
    return DRAWN["plotly" if plotly else "uPlot"]


def build(source: str | None, config: str, output: str) -> None:
    """``machmeter site`` of ``config`` into ``output`` with the machmeter of ``source`` (a ``src`` folder;
    None: this checkout's), in its own interpreter so that the two versions never share a module."""
    src = source or os.path.join(ROOT, "src")
    env = {**os.environ, "PYTHONPATH": src}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "machmeter", "site", "--config", config, "--output", output],
                   check=True, env=env, cwd=os.path.dirname(config), stdout=subprocess.DEVNULL)
    print(f"machmeter site ({source or 'this checkout'}): {time.perf_counter() - started:.1f} s", flush=True)


def main_source_tree(work: str) -> str:
    """The main checkout's committed ``src`` (git archive of its HEAD), unpacked under ``work``."""
    main = os.path.join(os.path.dirname(os.path.dirname(ROOT)), "main")
    if not os.path.isdir(os.path.join(main, ".git")):
        main = ROOT
    folder = os.path.join(work, "before-src")
    os.makedirs(folder)
    archive = subprocess.run(["git", "-C", main, "archive", "HEAD", "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return os.path.join(folder, "src")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--machines", type=int, default=3)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--serve", metavar="FOLDER", help=argparse.SUPPRESS)  # the server process of serve()
    parser.add_argument("--before", default=None,
                        help="the machmeter source (src folder) of the 'before' site; default: the main checkout's "
                             "HEAD; 'none': measure only this checkout's")
    args = parser.parse_args(argv)
    if args.serve:
        return _serve_here(args.serve)

    from playwright.sync_api import sync_playwright

    from scripts.synthetic_history import write_asv_results

    work = tempfile.mkdtemp(prefix="machmeter-site-speed-")
    try:
        results = os.path.join(work, "results")
        started = time.perf_counter()
        write_asv_results(results, n_commits=args.commits, n_series=args.series, n_machines=args.machines)
        config = os.path.join(work, "asv.conf.json")
        with open(config, "w") as stream:
            json.dump({"version": 1, "project": "speed", "repo": "https://example.invalid/speed",
                       "results_dir": "results", "html_dir": "html", "branches": ["main"]}, stream)
        print(f"history: {args.machines} machines x {args.series} series x {args.commits} commits "
              f"({time.perf_counter() - started:.0f} s to write)", flush=True)
        sites = {}
        if args.before != "none":
            sites["before"] = os.path.join(work, "html-before")
            build(args.before or main_source_tree(work), config, sites["before"])
        sites["now"] = os.path.join(work, "html-now")
        build(None, config, sites["now"])
        page = sorted(os.listdir(os.path.join(sites["now"], "benchmarks")))[0]
        print(f"\n{'site':<7} {'chart s (median/worst)':>23} {'chart KB':>9} {'of it library/data/page':>24} "
              f"{'overview s (median/worst)':>26} {'overview KB':>12} {'of it library/data/page':>24}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            measured = {name: {"chart": [], "overview": []} for name in sites}
            servers = {name: serve(folder) for name, folder in sites.items()}
            try:
                for _ in range(args.loads):  # the sites' loads interleaved: a busy moment of the machine hits both
                    for name, (_, base) in servers.items():
                        chart_drawn, sparkline_drawn = drawn_marks(sites[name])
                        measured[name]["chart"].append(measure(browser, base + "benchmarks/" + page, chart_drawn))
                        measured[name]["overview"].append(measure(browser, base + "index.html", sparkline_drawn))
            finally:  # a load that never draws leaves no server behind
                for server, _ in servers.values():
                    server.terminate()
                    server.wait()
                browser.close()
        for name, loads in measured.items():
            print(f"{name:<7} {_row(loads['chart'])} {_row(loads['overview'])}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _row(loads: list[tuple[float, dict[str, int]]]) -> str:
    seconds = [s for s, _ in loads]
    total = statistics.median(sum(parts.values()) for _, parts in loads) / 1024
    parts = "/".join(f"{statistics.median(p[key] for _, p in loads) / 1024:.0f}" for key in ("library", "data", "page"))
    return f"{statistics.median(seconds):>15.2f}/{max(seconds):<7.2f} {total:>9.0f} {parts:>24}"


if __name__ == "__main__":
    sys.exit(main())
