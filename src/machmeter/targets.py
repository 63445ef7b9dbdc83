"""Absolute targets: goals a number must meet ("the student is at least 5x faster", "under 2 GB", "about
15 ms a step on an A100"), not only "no worse than before".

A target is a bound (``min``, ``max`` or both) on a series' value. It comes from

- the benchmark's declaration, ``@declare(..., target_min=..., target_max=...)`` (stored by asv in
  benchmarks.json with the benchmark, as every declared attribute): one bound for all its parameters
  and machines;
- the project's configuration, where numbers differ by parameters, machine or GPU model (first match
  wins, and wins over the declaration)::

      [[tool.machmeter.targets]]
      pattern = "*.LennardJonesStudents.track_speedup"   # fnmatch on the benchmark name
      params = { student = "float32" }                   # optional: these parameters only (quotes optional)
      gpu = "*A100*"                                     # optional: fnmatch on the machine's GPU model
      machine = "gpu-runner-*"                           # optional: fnmatch on the asv machine name
      min = 0.95                                         # and/or max

``check`` (both modes) judges each series' head value against its target: on the wrong side is a
failure of the head, whatever the history did.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

from machmeter.errors import MachmeterError

TARGET_FIELDS = {"pattern", "params", "gpu", "machine", "min", "max"}


@dataclass(frozen=True)
class Target:
    minimum: float | None
    maximum: float | None
    source: str  # "declared" or the configuration file that set it

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g} to {self.maximum:g}"
        return f"at least {self.minimum:g}" if self.minimum is not None else f"at most {self.maximum:g}"


@dataclass(frozen=True)
class TargetRule:
    pattern: str
    params: tuple[tuple[str, str], ...]
    gpu: str | None
    machine: str | None
    target: Target

    def matches(self, benchmark: str, params: dict[str, str], machine: str, machine_info: dict) -> bool:
        if not fnmatch.fnmatchcase(benchmark, self.pattern):
            return False
        if self.machine is not None and not fnmatch.fnmatchcase(machine, self.machine):
            return False
        if self.gpu is not None and not fnmatch.fnmatchcase(str(machine_info.get("gpu") or ""), self.gpu):
            return False
        # asv writes parameter values as Python literals ('float32'); either spelling matches
        return all(_unquoted(params.get(name)) == _unquoted(value) for name, value in self.params)


def _unquoted(value) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def _bound(value, what: str, fail) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        fail(f"{what} must be a finite number, not {value!r}")
    return float(value)


def declared_target(attributes: dict, benchmark: str) -> Target | None:
    """The target a benchmark declared (benchmarks.json attributes), or None; a malformed one raises."""
    def fail(problem: str):
        raise MachmeterError(f"benchmark {benchmark!r}: {problem}")

    low = _bound(attributes.get("target_min"), "target_min", fail)
    high = _bound(attributes.get("target_max"), "target_max", fail)
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        fail(f"target_min {low:g} is above target_max {high:g}")
    return Target(low, high, "declared")


def parse_target_rules(entries, source: str) -> tuple[TargetRule, ...]:
    """The ``[[targets]]`` tables of a configuration; errors name ``source`` and the entry."""
    if not isinstance(entries, list):
        raise MachmeterError(f"{source}: targets must be a list of tables ([[tool.machmeter.targets]])")
    rules = []
    for index, entry in enumerate(entries):
        where = f"{source}: targets[{index}]"

        def fail(problem: str, where=where):
            raise MachmeterError(f"{where}: {problem}")

        if not isinstance(entry, dict) or not isinstance(entry.get("pattern"), str):
            fail("needs a 'pattern' string")
        extra = set(entry) - TARGET_FIELDS
        if extra:
            fail(f"unknown field(s) {', '.join(sorted(extra))}")
        params = entry.get("params", {})
        if not isinstance(params, dict) or not all(isinstance(v, (str, int, float)) for v in params.values()):
            fail("params must map parameter names to values")
        for key in ("gpu", "machine"):
            if key in entry and not isinstance(entry[key], str):
                fail(f"{key} must be a pattern string")
        low, high = _bound(entry.get("min"), "min", fail), _bound(entry.get("max"), "max", fail)
        if low is None and high is None:
            fail("needs min, max or both")
        if low is not None and high is not None and low > high:
            fail(f"min {low:g} is above max {high:g}")
        rules.append(TargetRule(entry["pattern"], tuple((str(k), str(v)) for k, v in params.items()),
                                entry.get("gpu"), entry.get("machine"), Target(low, high, source)))
    return tuple(rules)


def target_for(benchmark: str, params: dict[str, str], machine: str, machine_info: dict,
               rules: tuple[TargetRule, ...], declared: Target | None) -> Target | None:
    """The target of one series: the first configured rule that matches, else the declared one."""
    rule = next((r for r in rules if r.matches(benchmark, params, machine, machine_info)), None)
    return rule.target if rule is not None else declared


@dataclass(frozen=True)
class TargetVerdict:
    """A head value against its target: ``margin`` is how far inside (positive) or outside (negative) the
    nearest bound it is, relative to that bound."""

    benchmark: str
    params: dict[str, str]
    machine: str
    commit: str
    value: float
    minimum: float | None
    maximum: float | None
    margin: float
    met: bool
    source: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def judge_target(value: float, target: Target) -> tuple[bool, float]:
    """(met, margin) of a finite ``value``: the margin relative to the nearest bound (0.2 = 20% inside)."""
    margins = []
    if target.minimum is not None:
        margins.append((value - target.minimum) / abs(target.minimum) if target.minimum else value)
    if target.maximum is not None:
        margins.append((target.maximum - value) / abs(target.maximum) if target.maximum else -value)
    margin = min(margins)
    met = (target.minimum is None or value >= target.minimum) and (target.maximum is None or value <= target.maximum)
    return met, margin
