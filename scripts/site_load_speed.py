"""How fast the built site draws in a real browser: the benchmark page's chart and the overview's first
sparklines, cold (a fresh browser context each time), with plotly.js's full bundle (what the site shipped
before, from the plotly wheel) and the basic bundle it ships now (vendored from npm), side by side on one
site.

A synthetic history (``scripts/synthetic_history.py``: 2,000 commits x 300 series x 3 machines by default)
is built with ``machmeter site``, served on 127.0.0.1 gzip-compressed as GitHub Pages serves it, and opened
in Debian's Chromium (Playwright's client). Printed per bundle: median and worst time from navigation to the
chart drawn (benchmark page) and to the first sparkline drawn (overview), and the bytes transferred.

    python scripts/site_load_speed.py                       # 2,000 x 300 x 3, 5 loads each
    python scripts/site_load_speed.py --commits 500 --loads 3
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
import sys
import tempfile
import threading
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


def serve(folder: str):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(GzipHandler, directory=folder))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _wait(page, selector: str, started: float, timeout: float = 30.0) -> float:
    """Seconds from ``started`` until ``selector`` is in the page (polled from outside: the site's CSP
    forbids the evaluated functions Playwright's own waits inject)."""
    while time.perf_counter() - started < timeout:
        if page.query_selector(selector) is not None:
            return time.perf_counter() - started
        time.sleep(0.005)
    raise TimeoutError(f"{selector} never appeared")


def measure(browser, url: str, selector: str) -> tuple[float, int]:
    """(seconds to ``selector``, bytes transferred) of one cold load of ``url``."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    transferred = [0]

    def on_response(response):
        try:
            transferred[0] += int(response.headers.get("content-length") or len(response.body()))
        except Exception:  # an aborted or redirected response: nothing transferred to count
            pass

    page.on("response", on_response)
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    seconds = _wait(page, selector, started)
    page.wait_for_load_state("networkidle")
    context.close()
    return seconds, transferred[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--machines", type=int, default=3)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from machmeter.site.build import build_site
    from scripts.synthetic_history import write_asv_results

    work = tempfile.mkdtemp(prefix="machmeter-site-speed-")
    try:
        results = os.path.join(work, "results")
        started = time.perf_counter()
        write_asv_results(results, n_commits=args.commits, n_series=args.series, n_machines=args.machines)
        with open(os.path.join(work, "asv.conf.json"), "w") as stream:
            json.dump({"version": 1, "project": "speed", "repo": "https://example.invalid/speed",
                       "results_dir": "results", "html_dir": "html", "branches": ["main"]}, stream)
        print(f"history: {args.machines} machines x {args.series} series x {args.commits} commits "
              f"({time.perf_counter() - started:.0f} s to write)", flush=True)
        started = time.perf_counter()
        summary = build_site(os.path.join(work, "asv.conf.json"))
        print(f"machmeter site: {time.perf_counter() - started:.1f} s, {summary.pages} pages", flush=True)
        sites = {"basic (now)": os.path.join(work, "html")}
        full = _full_bundle()
        if full:
            sites["full (before)"] = os.path.join(work, "html-full")
            shutil.copytree(sites["basic (now)"], sites["full (before)"])
            shutil.copyfile(full, os.path.join(sites["full (before)"], "static", "plotly.min.js"))
        else:
            print("the plotly wheel is not installed: only the vendored bundle is measured", flush=True)
        page = sorted(os.listdir(os.path.join(sites["basic (now)"], "benchmarks")))[0]
        print(f"\n{'bundle':<14} {'bundle KB':>9} {'chart s (median/worst)':>23} {'chart KB':>9} "
              f"{'overview s (median/worst)':>26} {'overview KB':>11}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, folder in sites.items():
                server = serve(folder)
                base = f"http://127.0.0.1:{server.server_address[1]}/"
                chart = [measure(browser, base + "benchmarks/" + page, "#chart .main-svg .scatterlayer .trace")
                         for _ in range(args.loads)]
                overview = [measure(browser, base + "index.html", "#rows tbody tr td.spark svg")
                            for _ in range(args.loads)]
                server.shutdown()
                size = os.path.getsize(os.path.join(folder, "static", "plotly.min.js")) // 1024
                print(f"{name:<14} {size:>9} {statistics.median(s for s, _ in chart):>15.2f}/"
                      f"{max(s for s, _ in chart):<7.2f} {statistics.median(b for _, b in chart) // 1024:>9} "
                      f"{statistics.median(s for s, _ in overview):>18.2f}/{max(s for s, _ in overview):<7.2f} "
                      f"{statistics.median(b for _, b in overview) // 1024:>11}", flush=True)
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _full_bundle() -> str | None:
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "package_data", "plotly.min.js")
        if os.path.isfile(path):
            return path
    return None


if __name__ == "__main__":
    sys.exit(main())
