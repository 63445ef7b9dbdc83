"""No markup from the results gets through the site: every page carries a Content-Security-Policy and no
inline script or handler, and the strings the charts show (axis titles, legend names, hover text) are
text in a real browser, never markup."""

from __future__ import annotations

import html.parser
import json

import pytest

from machmeter.site import build_site

from .test_site_browser import Page, browser, served  # noqa: F401
from .test_site_data import _write_result

LINK = '<a href="https://evil.invalid/">x</a>'
MACHINE = "<b>m1"  # asv names a machine after its folder: no slash, but <b> would be bold as markup


class _Scan(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.csp: list[str] = []
        self.handlers: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.handlers += [name for name in attrs if name.startswith("on")]
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(attrs.get("content") or "")
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            self.inline_scripts += 1


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("markup")
    results = root / "results"
    results.mkdir()
    benchmark = "suite.Evil.track_x"
    (results / "benchmarks.json").write_text(json.dumps({benchmark: {
        "name": benchmark, "type": "track", "unit": LINK, "param_names": ["p"],
        "params": [["'<b>a</b>'", "'../x'"]], "version": "v1"}, "version": 2}))
    for i, commit in enumerate(("a" * 40, "b" * 40, "c" * 40)):
        _write_result(results, MACHINE, LINK, commit, 1_700_000_000_000 + i * 100_000, benchmark, 1.0 + i)
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                    "results_dir": "results", "branches": ["main"]}))
    return build_site(str(root / "asv.conf.json"), str(root / "site"))


def test_every_page_has_a_csp_and_no_inline_script(hostile_site):
    from pathlib import Path

    pages = sorted(Path(hostile_site.output_dir).rglob("*.html"))
    assert pages
    for page in pages:
        scan = _Scan()
        scan.feed(page.read_text())
        assert len(scan.csp) == 1 and "script-src 'self'" in scan.csp[0] and "unsafe-inline" not in \
            scan.csp[0].split("script-src")[1].split(";")[0], page
        assert scan.handlers == [] and scan.inline_scripts == 0, page


def test_chart_strings_are_text_in_the_browser(browser, hostile_site):  # noqa: F811
    from pathlib import Path

    page_name = next(Path(hostile_site.output_dir, "benchmarks").glob("*.html")).name
    with served(hostile_site.output_dir) as url:
        view = Page(browser, f"{url}benchmarks/{page_name}")  # a CSP violation is a console error: close fails
        page = view.page
        page.wait_for_selector("#chart canvas", timeout=10_000)
        assert page.evaluate("document.querySelectorAll('#chart a, #chart b, #chart img').length") == 0
        title = page.evaluate("document.getElementById('chart').chart.axes[1].label")  # drawn as canvas text
        legend = page.eval_on_selector_all("#chart .legend-text", "nodes => nodes.map(n => n.textContent)")
        assert title.startswith(LINK)
        assert MACHINE in legend
        # Enter in the controls submits nothing (the handler moved from the template into benchmark.js)
        page.press("select[data-param]", "Enter")
        assert page.url.endswith(page_name) or "#" in page.url.split(page_name)[1]
        view.close()
