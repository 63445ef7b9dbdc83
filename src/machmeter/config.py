"""machmeter's project configuration: thresholds, per-benchmark overrides, ignored series, triage.

Read from ``machmeter.toml`` next to asv.conf.json, else from ``[tool.machmeter]`` in the
pyproject.toml there; no file is needed for the defaults.

```toml
[tool.machmeter]
triage = "benchmarks/triage.toml"        # committed acknowledgements (default: machmeter-triage.toml)
ignore = ["*.GpuRunState.*"]             # series never reported (fnmatch on the benchmark name)
site_url = "https://org.github.io/repo"  # the published site: pull-request comments link to its compare page
confidence = 0.95                        # a reported change is at least this sure (default 0.95)

[[tool.machmeter.targets]]               # absolute goals (machmeter.targets): first match wins
pattern = "*.LennardJonesStudents.track_speedup"
params = { student = "float32" }         # optional; also gpu = "*A100*", machine = "runner-*"
min = 0.9                                # and/or max

[tool.machmeter.thresholds]              # minimum relative change reported, per kind
time = 0.05
memory = 0.02

[[tool.machmeter.benchmarks]]            # first matching pattern wins; any field may be omitted
pattern = "*.track_force_mae"
kind = "accuracy"
higher_is_better = false
tolerance_abs = 0.005
```
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from machmeter.errors import MachmeterError
from machmeter.kinds import KIND_NAMES, KINDS
from machmeter.targets import TargetRule, parse_target_rules

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

DEFAULT_TRIAGE_FILE = "machmeter-triage.toml"
_OVERRIDE_FIELDS = {"kind", "higher_is_better", "threshold", "tolerance_abs", "tolerance_rel", "unit"}


@dataclass(frozen=True)
class BenchmarkOverride:
    pattern: str
    kind: str | None = None
    higher_is_better: bool | None = None
    threshold: float | None = None
    tolerance_abs: float | None = None
    tolerance_rel: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class MachmeterConfig:
    source: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    overrides: tuple[BenchmarkOverride, ...] = ()
    ignore: tuple[str, ...] = ()
    triage_path: str | None = None
    site_url: str | None = None
    confidence: float = 0.95  # a reported change's confidence at least this (after the comparison's adjustment)
    targets: tuple[TargetRule, ...] = ()  # [[targets]]: absolute goals per benchmark, params, machine, GPU

    def override_for(self, benchmark: str) -> BenchmarkOverride | None:
        return next((o for o in self.overrides if fnmatch.fnmatchcase(benchmark, o.pattern)), None)

    def ignored(self, benchmark: str) -> bool:
        return any(fnmatch.fnmatchcase(benchmark, pattern) for pattern in self.ignore)


def read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise MachmeterError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise MachmeterError(f"{path}: not UTF-8 text (binary?): {error.reason} at byte {error.start}") from None
    except RecursionError:
        raise MachmeterError(f"{path}: not valid TOML: nested too deep") from None
    except OSError as error:
        raise MachmeterError(f"{path}: cannot be read: {error.strerror}") from None


def _parse(table: dict, source: str, root: str) -> MachmeterConfig:
    def fail(problem: str):
        raise MachmeterError(f"{source}: {problem}")

    unknown = set(table) - {"thresholds", "benchmarks", "ignore", "triage", "site_url", "confidence", "targets"}
    if unknown:
        fail(f"unknown machmeter setting(s): {', '.join(sorted(unknown))}")
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict) or not all(isinstance(v, (int, float)) and v >= 0 for v in thresholds.values()):
        fail("thresholds must map kinds to non-negative numbers")
    for kind in thresholds:
        if kind not in KINDS:
            fail(f"thresholds: unknown kind {kind!r} (kinds: {', '.join(KIND_NAMES)})")
    overrides = []
    if not isinstance(table.get("benchmarks", []), list):
        fail("benchmarks must be a list of tables ([[benchmarks]])")
    for index, entry in enumerate(table.get("benchmarks", [])):
        if not isinstance(entry, dict) or not isinstance(entry.get("pattern"), str):
            fail(f"benchmarks[{index}] needs a 'pattern' string")
        extra = set(entry) - _OVERRIDE_FIELDS - {"pattern"}
        if extra:
            fail(f"benchmarks[{index}]: unknown field(s) {', '.join(sorted(extra))}")
        if "kind" in entry and not (isinstance(entry["kind"], str) and entry["kind"] in KINDS):
            fail(f"benchmarks[{index}]: unknown kind {entry['kind']!r} (kinds: {', '.join(KIND_NAMES)})")
        for key in ("threshold", "tolerance_abs", "tolerance_rel"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 <= value < float("inf")):
                fail(f"benchmarks[{index}]: {key} must be a non-negative number, not {value!r}")
        if not isinstance(entry.get("higher_is_better", False), bool):
            fail(f"benchmarks[{index}]: higher_is_better must be true or false, not {entry['higher_is_better']!r}")
        if not isinstance(entry.get("unit", ""), str):
            fail(f"benchmarks[{index}]: unit must be a string, not {entry['unit']!r}")
        overrides.append(BenchmarkOverride(**entry))
    ignore = table.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        fail("ignore must be a list of patterns")
    triage = table.get("triage", DEFAULT_TRIAGE_FILE)
    if not isinstance(triage, str):
        fail("triage must be a path")
    site_url = table.get("site_url")
    if site_url is not None:
        site_url = http_url(site_url, f"{source}: site_url")
    confidence = table.get("confidence", 0.95)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
        fail("confidence must be a number in [0.5, 1), e.g. 0.95")
    return MachmeterConfig(
        source=source,
        targets=parse_target_rules(table.get("targets", []), source),
        confidence=float(confidence),
        thresholds={k: float(v) for k, v in thresholds.items()},
        overrides=tuple(overrides),
        ignore=tuple(ignore),
        triage_path=os.path.normpath(os.path.join(root, triage)),
        site_url=site_url,
    )


def http_url(url, what: str) -> str:
    """``url`` without its trailing slash; a MachmeterError naming ``what`` unless it is an http(s) URL.
    The one check of a site URL: it is written into links of feeds, pages and comments, where a
    javascript: or data: URL would run."""
    if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise MachmeterError(f"{what}: {url!r} is not an http(s) URL")
    return url.rstrip("/")


def site_url_from(option: str | None, config: MachmeterConfig | None) -> str | None:
    """The published site's URL: the ``--site-url`` option, else the configuration's (``config`` may be None)."""
    url = (option or "").strip()
    if not url:
        return config.site_url if config is not None else None
    return http_url(url, "--site-url")


def load_config(root: str) -> MachmeterConfig:
    """The configuration for the asv project whose asv.conf.json is in ``root``."""
    own = os.path.join(root, "machmeter.toml")
    if os.path.isfile(own):
        return _parse(read_toml(own), own, root)
    pyproject = os.path.join(root, "pyproject.toml")
    if os.path.isfile(pyproject):
        tool = read_toml(pyproject).get("tool", {})
        table = tool.get("machmeter") if isinstance(tool, dict) else None
        if table is not None:
            if not isinstance(table, dict):
                raise MachmeterError(f"{pyproject}: tool.machmeter must be a table ([tool.machmeter])")
            return _parse(table, f"{pyproject} [tool.machmeter]", root)
    return MachmeterConfig(triage_path=os.path.join(root, DEFAULT_TRIAGE_FILE))
