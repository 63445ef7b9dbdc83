"""machmeter's historical-performance site: ``build_site(project, output_dir)`` (``machmeter site``).

Page data is prepared in ``data.py`` from the loaded history and the check's verdicts, written by
``build.py`` through the Jinja2 templates of ``templates/`` and as compact JSON for the charts (uPlot, vendored).
"""

from machmeter.site.build import SiteSummary, build_site

__all__ = ["SiteSummary", "build_site"]
