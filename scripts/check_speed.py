"""Speed of ``machmeter check`` and ``machmeter site`` against ``asv publish`` on one large synthetic
history, side by side.

    python3 scripts/check_speed.py [--commits 2000 --series 300 --machines 3] [--skip-asv-publish]

Writes a labelled asv results folder (scripts/synthetic_history.py) for a scratch git repository whose
first-parent history has exactly those commits (asv publish needs the repository), then times, each in
a fresh process and with its peak memory: ``machmeter check --history``, ``machmeter check --base
--head`` (first vs last commit), ``machmeter site`` and ``asv publish``. Prints a table and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scripts.synthetic_history import write_asv_results  # noqa: E402


def make_repository(folder: str, n_commits: int) -> list[str]:
    """n empty commits on main, made in one git fast-import; returns their hashes, oldest first."""
    subprocess.run(["git", "init", "-q", "-b", "main", folder], check=True)
    stream = []
    for i in range(n_commits):
        message = f"commit {i}"
        stream += ["commit refs/heads/main", f"mark :{i + 1}",
                   f"committer bench <bench@localhost> {1_704_067_200 + 3600 * i} +0000",
                   f"data {len(message)}", message]
        if i:
            stream.append(f"from :{i}")
        stream.append("")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=folder, input="\n".join(stream).encode(), check=True)
    log = subprocess.run(["git", "rev-list", "--reverse", "main"], cwd=folder, capture_output=True, text=True,
                         check=True)
    return log.stdout.split()


def rename_commits(results_dir: str, hashes: list[str]) -> None:
    """Give the synthetic results the repository's commit hashes, in date order."""
    for machine in os.listdir(results_dir):
        folder = os.path.join(results_dir, machine)
        if not os.path.isdir(folder):
            continue
        files = [name for name in os.listdir(folder) if name != "machine.json"]
        dated = []
        for name in files:
            with open(os.path.join(folder, name)) as stream:
                data = json.load(stream)
            dated.append((data["date"], name, data))
        dated.sort()
        for (date, name, data), commit in zip(dated, hashes):
            data["commit_hash"] = commit
            os.unlink(os.path.join(folder, name))
            with open(os.path.join(folder, f"{commit[:8]}-{data['env_name']}.json"), "w") as stream:
                json.dump(data, stream)


def timed(command: list[str], cwd: str) -> tuple[float, float, int]:
    """(seconds, peak MiB, exit status) of one command in a fresh process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "status = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, status)")
    # the commands run in the history's folder: a relative PYTHONPATH (PYTHONPATH=src) made absolute, so
    # that they time this checkout's machmeter and not whichever one is installed
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(path) if path else path
                                            for path in env["PYTHONPATH"].split(os.pathsep))
    out = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=cwd, env=env, capture_output=True, text=True,
                         check=True)
    seconds, peak_kib, status = out.stdout.split()
    return float(seconds), int(peak_kib) / 1024, int(status)


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def page_ready_times(site: str, base: str, head: str, chromium: str = "/usr/bin/chromium") -> list[tuple]:
    """(page, cold ms, warm ms): time from navigation until the page says it is ready (its script wired,
    its chart or table drawn), in a fresh browser context (cold: nothing cached) and again after the
    overview and a benchmark page were opened in the same context (warm: the chart library and the
    commits cached and compiled, as when browsing)."""
    from playwright.sync_api import sync_playwright

    from machmeter.site.serve import start_server

    server = start_server(site)
    root = f"http://127.0.0.1:{server.server_address[1]}/"
    benchmark = sorted(name for name in os.listdir(os.path.join(site, "benchmarks")) if name.endswith(".html"))[0]
    pages = {"overview": "index.html", "benchmark": f"benchmarks/{benchmark}", "regressions": "regressions.html",
             "machines": "machines.html", "compare": f"compare.html?base={base}&head={head}"}

    def ready(page, url):
        page.goto(root + url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=30_000)
        return page.evaluate("performance.now()")

    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for name, url in pages.items():
                cold_context = browser.new_context(viewport={"width": 1300, "height": 900})
                cold = ready(cold_context.new_page(), url)
                cold_context.close()
                warm_context = browser.new_context(viewport={"width": 1300, "height": 900})
                warm_page = warm_context.new_page()
                ready(warm_page, "index.html")
                ready(warm_page, f"benchmarks/{benchmark}")  # the chart library compiled once
                warm = ready(warm_page, url)
                warm_context.close()
                times.append((name, cold, warm))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--machines", type=int, default=3)
    parser.add_argument("--skip-asv-publish", action="store_true")
    parser.add_argument("--keep", help="build the history in this folder and keep it")
    parser.add_argument("--skip-browser", action="store_true", help="do not time the site's pages in Chromium")
    args = parser.parse_args()

    root = args.keep or tempfile.mkdtemp(prefix="machmeter-speed-")
    started = time.perf_counter()
    hashes = make_repository(root, args.commits)
    results_dir = os.path.join(root, "results")
    write_asv_results(results_dir, n_commits=args.commits, n_series=args.series, n_machines=args.machines)
    rename_commits(results_dir, hashes)
    with open(os.path.join(root, "asv.conf.json"), "w") as stream:
        json.dump({"version": 1, "project": "synthetic", "repo": ".", "branches": ["main"],
                   "results_dir": "results", "html_dir": "html", "environment_type": "virtualenv"}, stream)
    print(f"history: {args.commits} commits x {args.series} series x {args.machines} machines in {root} "
          f"(made in {time.perf_counter() - started:.1f} s)")

    machmeter = [sys.executable, "-m", "machmeter", "check"]
    runs = {
        "machmeter check --history": machmeter + ["--history", "--format", "json", "--output", "verdicts.json"],
        "machmeter check --base --head": machmeter + ["--base", hashes[0], "--head", hashes[-1], "--format", "json",
                                                      "--output", "pr.json"],
        "machmeter site": [sys.executable, "-m", "machmeter", "site", "--output", "site"],
    }
    if not args.skip_asv_publish:
        runs["asv publish"] = [sys.executable, "-m", "asv", "publish", "--no-pull"]
    figures = {name: timed(command, root) for name, command in runs.items()}

    print(f"\n{'command':<32} {'seconds':>9} {'peak MiB':>9} {'exit':>5}")
    for name, (seconds, peak, status) in figures.items():
        print(f"{name:<32} {seconds:>9.2f} {peak:>9.0f} {status:>5}")
    if "asv publish" in figures:
        publish = figures["asv publish"][0]
        history = figures["machmeter check --history"][0]
        print(f"\nasv publish / machmeter check --history = {publish / history:.1f}x")
        site_seconds, site_peak, _ = figures["machmeter site"]
        publish_peak = figures["asv publish"][1]
        print(f"asv publish / machmeter site = {publish / site_seconds:.1f}x faster; "
              f"peak memory machmeter site / asv publish = {site_peak / publish_peak:.2f}")
    if not args.skip_browser and figures["machmeter site"][2] == 0:
        print(f"\n{'site page (headless Chromium)':<32} {'cold ms':>9} {'warm ms':>9}")
        for name, cold, warm in page_ready_times(os.path.join(root, "site"), hashes[0], hashes[-1]):
            print(f"{name:<32} {cold:>9.0f} {warm:>9.0f}")
    with open(os.path.join(root, "verdicts.json")) as stream:
        summary = json.load(stream)["summary"]
    print(f"history verdicts: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
