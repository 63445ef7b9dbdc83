"""The real asv on a temporary repository whose commit subjects and parameter values carry HTML, then
``machmeter site`` and the pages in a real headless Chromium: every benchmark listed, a chart with
points, the commit shown on hover, untrusted text shown as text, no console errors, a screenshot of
every page type (test-output/site/e2e-*.png)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .asv_project import commit_module, create_project, record_machine_and_run_asv, git
from .test_site_browser import Page, browser, drawn_points, hover_point, main_traces, print_ready, served, wait_until  # noqa: F401

pytestmark = pytest.mark.e2e

XSS = "<script>alert(1)</script>"

BENCHMARKS = '''\
import tinyproj
from machmeter.suites import declare, synchronized_timer


class Model:
    timer = staticmethod(synchronized_timer)

    def time_step(self):
        tinyproj.step()

    @declare(kind="memory", unit="bytes")
    def track_parameters_bytes(self):
        return tinyproj.PARAMETER_BYTES


class Variants:
    params = (["<img src=x onerror=alert(2)>", "plain"],)
    param_names = ["variant"]

    @declare(kind="throughput", unit="steps/s")
    def track_rate(self, variant):
        return tinyproj.RATE
'''


def _module(step_seconds, rate):
    return textwrap.dedent(f"""\
        import time

        PARAMETER_BYTES = 4_000_000
        RATE = {rate}


        def step():
            time.sleep({step_seconds})
        """)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = tmp_path_factory.mktemp("site-e2e")
    home = tmp_path_factory.mktemp("home")
    create_project(repo, "bench_site", BENCHMARKS)
    config = json.loads((repo / "asv.conf.json").read_text())
    config["show_commit_url"] = "https://example.invalid/tinyproj/commit/"
    (repo / "asv.conf.json").write_text(json.dumps(config))
    commits = [commit_module(repo, _module(0.002, 250.0), "baseline"),
               commit_module(repo, _module(0.002, 255.0), XSS),
               commit_module(repo, _module(0.004, 180.0), "slower step")]
    env, _ = record_machine_and_run_asv(repo, home, "box")
    site = subprocess.run([sys.executable, "-m", "machmeter", "site"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300)
    assert site.returncode == 0, site.stdout + site.stderr
    assert "machmeter site: 10 pages, 4 series of 3 benchmarks on 1 machine(s), 3 commits" in site.stdout
    out = repo / ".asv" / "html"  # asv's html_dir
    with served(out) as url:
        yield {"repo": repo, "out": out, "url": url, "commits": commits}


def test_site_of_a_real_asv_run_in_chromium(browser, project):  # noqa: F811
    url, out, commits = project["url"], project["out"], project["commits"]
    pages = {}

    overview = pages["overview"] = Page(browser, url + "index.html")
    names = overview.page.eval_on_selector_all("#rows tbody tr td:nth-child(2) a", "a => a.map(x => x.textContent)")
    assert sorted(set(names)) == ["bench_site.Model.time_step", "bench_site.Model.track_parameters_bytes",
                                  "bench_site.Variants.track_rate"]
    assert len(names) == 4
    text = overview.page.text_content("#rows")
    assert "variant='<img src=x onerror=alert(2)>'" in text  # a parameter value is text
    assert overview.page.locator("#rows img").count() == 0
    overview.page.wait_for_selector("td.spark svg", timeout=10_000)
    overview.screenshot("e2e-overview")
    overview.close()

    series = json.loads((out / "data" / "series.json").read_text())
    step = series["benchmark"].index("bench_site.Model.time_step")
    view = pages["benchmark"] = Page(browser, f"{url}benchmarks/{series['page'][step]}.html#{series['id'][step]}")
    page = view.page
    assert drawn_points(page) >= 3
    chart = json.loads((out / "data" / "series" / f"{series['id'][step]}.json").read_text())
    assert chart["band"] in ("ci_99", "iqr") and len(chart["y"]) == 3  # asv stored intervals for a time_
    hover_point(page, main_traces(page)[0], 1)  # the commit whose subject is a script tag
    label = page.text_content("#chart .chart-tip")
    assert commits[1][:8] in label and XSS in label
    panel = page.text_content("#point")
    assert commits[1][:12] in panel and XSS in panel and "t ·" in panel  # subject and author, as text
    assert page.locator("#point script, #chart script").count() == 0
    view.screenshot("e2e-benchmark")
    page.evaluate("window.open = (url) => { window.openedUrl = url; return null; }")
    page.mouse.down()
    page.mouse.up()
    wait_until(page, "window.openedUrl !== undefined", timeout=5000)
    assert page.evaluate("window.openedUrl") == "https://example.invalid/tinyproj/commit/" + commits[1]
    view.close()

    variants = series["benchmark"].index("bench_site.Variants.track_rate")
    view = pages["parameters"] = Page(browser, f"{url}benchmarks/{series['page'][variants]}.html")
    options = view.page.locator("select[data-param] option").all_text_contents()
    assert options == ["'<img src=x onerror=alert(2)>'", "'plain'"]
    assert drawn_points(view.page) >= 3
    view.close()

    regressions = pages["regressions"] = Page(browser, url + "regressions.html")
    regressions.screenshot("e2e-regressions")
    regressions.close()
    machines = pages["machines"] = Page(browser, url + "machines.html")
    assert "box" in machines.page.text_content("main") and "torch" in machines.page.text_content("main")
    machines.screenshot("e2e-machines", full_page=True)
    machines.close()
    compare = pages["compare"] = Page(browser, f"{url}compare.html?base={commits[0]}&head={commits[2]}")
    rows = compare.page.eval_on_selector_all("#rows tbody tr", "rows => rows.map(r => [r.cells[1].textContent, "
                                                               "r.dataset.status])")
    verdicts = {name.split(" ")[0]: verdict for name, verdict in rows}
    assert verdicts["bench_site.Model.time_step"] == "regression"  # twice as slow
    assert verdicts["bench_site.Model.track_parameters_bytes"] == "unchanged"
    assert {v for n, v in rows if n.startswith("bench_site.Variants.track_rate")} == {"regression"}  # fewer steps/s
    compare.screenshot("e2e-compare")
    compare.close()
    print_ready("real asv run", pages)
    # the feed names the commits of the history it reports on and is valid XML
    import xml.etree.ElementTree as ElementTree

    ElementTree.parse(out / "feed.xml")
    assert git(project["repo"], "status", "--porcelain") == ""  # the site is written to asv's html_dir only
