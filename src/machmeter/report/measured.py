"""A plain-text table of what was measured: one row per series, one column per commit."""

from __future__ import annotations

from collections import defaultdict

from machmeter.report.units import format_value
from machmeter.results import ResultPoint, ResultSet, benchmark_info
from machmeter.series import series_label


def measured_table(results: ResultSet, commits: list[str], machine: str | None = None) -> str:
    """Values of every series at the given commits (oldest first); skipped series are counted only."""
    by_series: dict[tuple, dict[str, ResultPoint]] = defaultdict(dict)
    for point in results.points:
        if point.commit in commits and (machine is None or point.machine == machine):
            key = (point.machine, point.benchmark, tuple(point.params.items()))
            by_series[key][point.commit] = point

    rows = []
    skipped = 0
    for (series_machine, benchmark, params), points in sorted(by_series.items()):
        if all(p.skipped for p in points.values()):
            skipped += 1
            continue
        info = benchmark_info(results.benchmarks, benchmark)
        unit = info.unit if info else ""
        direction = "" if info is None or info.higher_is_better is None else ("↑" if info.higher_is_better else "↓")
        cells = [format_value(points[c].value, unit) if c in points else "-" for c in commits]
        rows.append((series_label(benchmark, dict(params)), direction, series_machine, cells))

    header = ["series", "better", "machine", *[c[:8] for c in commits]]
    table = [header, *[[label, direction, m, *cells] for label, direction, m, cells in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"{len(rows)} series measured, {skipped} skipped on this machine (e.g. CUDA absent)")
    return "\n".join(lines)
