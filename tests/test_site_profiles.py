"""The site's view of the suites' profiled window, end to end: real asv runs of a temporary project whose
suite stores GPU kernel time and busy fraction per call and leaves its profiled window's Chrome trace
beside the results (MACHMETER_TRACE_DIR, as run-pr's confirmation runs do), ``machmeter site``, then the
benchmark page in Chromium: where a call's time goes (stacked), the counter links, the traces table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from .asv_project import commit_module, create_project
from .test_site_browser import PHONE, Page, browser, served  # noqa: F401

pytestmark = pytest.mark.e2e

# kernel time and busy fraction stand in for CUPTI's (this machine has no GPU): the site only reads them
BENCHMARKS = '''\
import os

import tinyproj
from machmeter.suites import declare


class Sim:
    params = (["<img src=x onerror=alert(3)>"],)
    param_names = ["variant"]

    def setup(self, variant):
        if os.environ.get("MACHMETER_TRACE_DIR"):
            import torch
            from machmeter.instruments.counters import profile_counters, window_name

            x = torch.ones(8)
            profile_counters(lambda: x * 2, calls=2, trace_name=window_name("bench_prof.Sim", [("variant", variant)]))

    def time_step(self, variant):
        tinyproj.step()

    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, variant):
        return tinyproj.KERNEL_US

    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, variant):
        return tinyproj.BUSY

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, variant):
        return tinyproj.KERNELS
'''


def _module(kernel_us, busy, kernels):
    return textwrap.dedent(f"""\
        KERNEL_US = {kernel_us}
        BUSY = {busy}
        KERNELS = {kernels}


        def step():
            sum(range(1000))
        """)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = tmp_path_factory.mktemp("site-profiles")
    home = tmp_path_factory.mktemp("home")
    create_project(repo, "bench_prof", BENCHMARKS)
    commits = [commit_module(repo, _module(200.0, 0.25, 134), "baseline"),
               commit_module(repo, _module(300.0, 0.5, 135), "one more kernel")]
    env = {**os.environ, "HOME": str(home)}
    recorded = subprocess.run([sys.executable, "-m", "machmeter", "machine", "--machine", "box"], cwd=repo, env=env,
                              capture_output=True, text=True)
    assert recorded.returncode == 0, recorded.stderr
    traces = repo / ".asv" / "traces" / "box"
    run = subprocess.run([sys.executable, "-m", "asv", "run", "--machine", "box", "--quick", "ALL"], cwd=repo,
                         env={**env, "MACHMETER_TRACE_DIR": str(traces)}, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    built = subprocess.run([sys.executable, "-m", "machmeter", "site"], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    out = repo / ".asv" / "html"
    with served(out) as url:
        yield {"repo": repo, "out": out, "url": url, "commits": commits}


def test_where_a_calls_time_goes_counters_and_traces_on_the_benchmark_page(browser, site):  # noqa: F811
    out, url, commits = site["out"], site["url"], site["commits"]
    series = json.loads((out / "data" / "series.json").read_text())
    step = series["benchmark"].index("bench_prof.Sim.time_step")
    view = Page(browser, f"{url}benchmarks/{series['page'][step]}.html")
    page = view.page
    page.wait_for_selector("#time-split canvas", timeout=10_000)
    drawn = page.evaluate("document.getElementById('time-split').figure.map(t => [t.name, t.stackedOn, t.y])")
    # GPU kernel time, and the rest of the wall: kernel time / busy fraction - kernel time
    assert [(name.split(" · ")[0], (on or "").split(" · ")[0], y) for name, on, y in drawn] == [
        ("GPU kernel time", "", [200.0, 300.0]), ("host and gaps", "GPU kernel time", [600.0, 300.0])]
    # stacked as drawn: uPlot's series are the wall (the rest on top of the GPU time) and the GPU time
    stacked = page.evaluate("(u => u.series.slice(1).map((s, i) => [s.label.split(' · ')[0], u.data[i + 1]]))"
                            "(document.getElementById('time-split').chart)")
    assert stacked == [["host and gaps", [800.0, 600.0]], ["GPU kernel time", [200.0, 300.0]]]
    legend = page.eval_on_selector_all("#time-split .legend-text", "nodes => nodes.map(n => n.textContent.split(' · ')[0])")
    assert legend == ["GPU kernel time", "host and gaps"]
    links = page.eval_on_selector_all("p.counters a", "a => a.map(x => [x.textContent, x.getAttribute('href')])")
    labels = [text for text, _ in links]
    assert labels == ["kernels per call", "GPU kernel time per call", "GPU busy fraction"]
    kernel_page = series["page"][series["benchmark"].index("bench_prof.Sim.track_gpu_kernel_time_per_call")]
    assert dict(links)["GPU kernel time per call"] == f"{kernel_page}.html"

    rows = page.eval_on_selector_all("#trace-table tbody tr", "rows => rows.map(r => [r.cells[0].textContent.trim(), "
                                                              "r.cells[3].textContent, r.querySelector('a[download]').getAttribute('href')])")
    # newest commit first; the parameter is text, never markup
    assert [row[0] for row in rows] == [commits[1][:8], commits[0][:8]]
    assert rows[0][1] == "variant=<img src=x onerror=alert(3)>"
    assert page.locator("#trace-table img").count() == 0
    with urllib.request.urlopen(url + "benchmarks/" + rows[0][2]) as response:
        assert "traceEvents" in json.loads(response.read())
    view.screenshot("profiles-benchmark", full_page=True)
    view.close()

    # on a phone: the new sections scroll inside their boxes, never the page
    phone = Page(browser, f"{url}benchmarks/{series['page'][step]}.html", width=PHONE)
    phone.page.wait_for_selector("#time-split canvas", timeout=10_000)
    assert phone.page.evaluate("document.scrollingElement.scrollWidth") <= PHONE
    phone.screenshot("phone-profiles-benchmark", full_page=True)
    phone.close()

    # the suite's other pages carry the same view
    kernels = Page(browser, f"{url}benchmarks/{kernel_page}.html")
    kernels.page.wait_for_selector("#time-split canvas", timeout=10_000)
    assert kernels.page.locator("p.counters strong").text_content() == "GPU kernel time per call"
    kernels.close()


def test_collect_traces_takes_what_the_site_can_carry_and_says_what_it_left_out(tmp_path, monkeypatch):
    from machmeter.site import profiles
    from machmeter.site.data import Commits

    on_site, elsewhere = "ab12cd34" + "0" * 32, "ffffffff" + "0" * 32
    folder = tmp_path / "traces" / "box"  # beside the results folder, tmp_path / "results"
    for commit in (on_site, elsewhere):
        (folder / commit[:8]).mkdir(parents=True)
    good = folder / on_site[:8]
    (good / "bench.Sim_n=1.kernels.json").write_text(json.dumps({"name": "benchmarks.bench.Sim(n=1,d=cuda)"}))
    (good / "bench.Sim_n=1.trace.json").write_text("{}")
    (good / "bench.Sim_n=2.kernels.json").write_text("not json")
    (good / "bench.Sim_n=2.trace.json").write_text("{}")
    (good / "bench.Sim_n=3.kernels.json").write_text(json.dumps({"name": "bench.Sim(n=3)"}))
    (good / "bench.Sim_n=3.trace.json").write_text("x" * 100)
    (folder / elsewhere[:8] / "bench.Sim_n=1.kernels.json").write_text(json.dumps({"name": "bench.Sim(n=1)"}))
    # a link to a file elsewhere is never published, a FIFO never read, a file where a folder should be skipped
    (good / "bench.Sim_n=4.kernels.json").write_text(json.dumps({"name": "bench.Sim(n=4)"}))
    (good / "bench.Sim_n=4.trace.json").symlink_to("/etc/hostname")
    os.mkfifo(good / "bench.Sim_n=5.kernels.json")
    (good / "bench.Sim_n=5.trace.json").write_text("{}")
    (folder / "abcdef12").write_text("not a folder")
    monkeypatch.setattr(profiles, "TRACE_SIZE_LIMIT", 50)
    other = "abcdef12" + "1" * 32
    commits = Commits(hashes=[on_site, other], dates=[0, 0], subjects=["", ""], authors=["", ""], branch_length=2,
                      from_repository=False)
    links, warnings = profiles.collect_traces(str(tmp_path / "results"), ["box", "no-traces"], commits)
    assert [(link.suite, link.params, link.commit) for link in links] == [("benchmarks.bench.Sim", "n=1, d=cuda", on_site)]
    assert len(warnings) == 4, warnings
    assert "bench.Sim_n=2.kernels.json: not valid JSON" in warnings[0]
    assert "bench.Sim_n=3.trace.json" in warnings[1] and "more than the site carries" in warnings[1]
    assert all("not a regular file (a link?)" in w for w in warnings[2:])
