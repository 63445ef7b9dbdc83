"""Noise-free counters: exact aten-op counts on a CPU, their place after timing, the suites' series."""

import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from machmeter.instruments.counters import gpu_activity, profile_counters  # noqa: E402
from machmeter.suites.declare import declaration_of  # noqa: E402
from tests.test_suites import TinyEncoder  # noqa: E402

_KNOWN = """
import torch
from machmeter.instruments.counters import profile_counters
torch.manual_seed(0)
layer, x = torch.nn.Linear(8, 8), torch.randn(4, 8)
print(profile_counters(lambda: torch.relu(layer(x)).sum(), calls=4).aten_ops)
"""


def _known_function():
    layer, x = torch.nn.Linear(8, 8), torch.randn(4, 8)
    return layer, x


def test_aten_ops_of_a_known_function_are_exact_and_stable():
    layer, x = _known_function()
    # linear, relu, sum: the addmm inside linear is not a top-level dispatch
    counts = [profile_counters(lambda: torch.relu(layer(x)).sum(), calls=calls).aten_ops for calls in (1, 3, 7)]
    assert counts == [3.0, 3.0, 3.0]


def test_one_more_operator_changes_the_count():
    layer, x = _known_function()
    before = profile_counters(lambda: torch.relu(layer(x)).sum(), calls=3).aten_ops
    after = profile_counters(lambda: (torch.relu(layer(x)) * 2).sum(), calls=3).aten_ops
    assert after == before + 1


def test_aten_ops_are_the_same_in_separate_processes():
    outputs = {subprocess.run([sys.executable, "-c", _KNOWN], capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(2)}
    assert outputs == {"3.0"}


def test_cpu_run_says_gpu_counters_are_unavailable_in_one_line(capsys):
    counters = profile_counters(lambda: torch.ones(3).sum(), calls=2)
    assert counters.kernels is None and "no CUDA" in counters.unavailable["kernels"]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("machmeter counters")]
    assert len(lines) == 1


def test_gpu_activity_counts_kernels_copies_and_syncs_of_a_trace():
    trace = {"traceEvents": [
        {"cat": "kernel", "name": "gemm", "dur": 10.0}, {"cat": "kernel", "name": "gemm", "dur": 10.0},
        {"cat": "kernel", "name": "relu", "dur": 2.0},
        {"cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)", "args": {"bytes": 400}},
        {"cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pageable)", "args": {"bytes": 4}},
        {"cat": "cuda_runtime", "name": "cudaStreamSynchronize"}, {"cat": "cuda_runtime", "name": "cudaLaunchKernel"},
    ]}
    activity = gpu_activity(trace, calls=2)
    assert activity["kernels"] == 1.5 and activity["kernel_us"] == 11.0 and activity["syncs"] == 0.5
    assert (activity["h2d_copies"], activity["h2d_bytes"], activity["d2h_bytes"]) == (0.5, 200, 2)
    assert [k.name for k in activity["top_kernels"]] == ["gemm", "relu"]


def test_an_occasional_call_that_does_more_does_not_move_the_counts():
    # an MD step that rebuilds its neighbour list now and then: whether the window catches one or two
    # rebuilds must not change the count (the mean said 135.3 kernels in one process, 135.6 in the next)
    def stepper(rebuild_every):
        calls = {"n": 0}

        def step():
            calls["n"] += 1
            x = torch.ones(3).sum()
            if calls["n"] % rebuild_every == 0:
                x = x + torch.ones(2).sum() * 2
            return x

        return step

    assert profile_counters(stepper(4), calls=10).aten_ops == 2.0
    assert profile_counters(stepper(3), calls=10).aten_ops == 2.0
    # an extra operator in every call is counted
    assert profile_counters(lambda: torch.ones(3).sum().neg(), calls=10).aten_ops == 3.0


def _marked_trace(kernels_per_call):
    events, correlation = [], 0
    for call, n in enumerate(kernels_per_call):
        start = 1000.0 * call
        events.append({"cat": "user_annotation", "name": "machmeter.counted_call", "ts": start, "dur": 900.0})
        for k in range(n):
            correlation += 1
            events.append({"cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": start + 10 + k,
                           "args": {"correlation": correlation}})
            # the kernel runs after its call's range has ended (asynchronous): launch time decides
            events.append({"cat": "kernel", "name": "k", "ts": start + 950 + k, "dur": 1.0,
                           "args": {"correlation": correlation}})
    return {"traceEvents": events}


def test_kernels_are_the_median_calls_and_kernel_time_the_mean():
    activity = gpu_activity(_marked_trace([5, 5, 8, 5]), calls=4)
    assert activity["kernels"] == 5.0 and activity["kernel_us"] == 23 / 4
    assert gpu_activity(_marked_trace([6, 6, 6, 9]), calls=4)["kernels"] == 6.0
    # a trace whose calls are not marked (or not all of them) keeps the mean
    unmarked = {"traceEvents": [e for e in _marked_trace([5, 5, 8, 5])["traceEvents"] if e["cat"] != "user_annotation"]}
    assert gpu_activity(unmarked, calls=4)["kernels"] == 23 / 4
    # launches that do not link to their kernels (another runtime's names): the mean, not zero
    unlinked = {"traceEvents": [dict(e, name="cudaSomethingElse") if e["cat"] == "cuda_runtime" else e
                                for e in _marked_trace([5, 5, 8, 5])["traceEvents"]]}
    assert gpu_activity(unlinked, calls=4)["kernels"] == 23 / 4
    # kernels launched through the driver API (Triton, some cuBLAS) belong to their calls too
    driver = {"traceEvents": [dict(e, cat="cuda_driver", name="cuLaunchKernelEx") if e["cat"] == "cuda_runtime" else e
                              for e in _marked_trace([5, 5, 8, 5])["traceEvents"]]}
    assert gpu_activity(driver, calls=4)["kernels"] == 5.0
    # one kernel that no call launched: the mean, never a median that leaves it out
    stray = _marked_trace([5, 5, 8, 5])
    stray["traceEvents"].append({"cat": "kernel", "name": "k", "ts": 9e6, "dur": 1.0, "args": {"correlation": 999}})
    assert gpu_activity(stray, calls=4)["kernels"] == 24 / 4


def test_profiled_window_comes_after_every_timed_sample(monkeypatch):
    """The suite's timer samples are all taken with the profiler off, before the window starts."""
    from machmeter.instruments import timer

    events = []
    original_time, original_profile = timer.time_callable, profile_counters

    def timed(fn, **kwargs):
        def watched():
            events.append(("timed", torch.autograd.profiler._is_profiler_enabled))
            return fn()
        return original_time(watched, **kwargs)

    def profiled(fn, **kwargs):
        events.append(("window", None))
        return original_profile(fn, **kwargs)

    import machmeter.instruments as instruments
    import machmeter.instruments.counters as counters
    monkeypatch.setattr(instruments, "time_callable", timed)
    monkeypatch.setattr(counters, "profile_counters", profiled)
    suite = TinyEncoder()
    suite.measure("tiny", "2x16", "float32")
    window = events.index(("window", None))
    timed_events = [e for e in events if e[0] == "timed"]
    assert timed_events and all(not enabled for _, enabled in timed_events)
    assert all(e[0] == "timed" for e in events[:window]) and len(events[:window]) == len(timed_events)


def test_suites_expose_counter_series_with_declared_kinds():
    suite = TinyEncoder()
    measured = suite.setup_cache()
    suite.setup(measured, "tiny", "2x16", "float32")
    # embedding lookup, linear, the mask's indexing and the product: exact on a CPU
    assert suite.track_aten_ops_per_call(measured, "tiny", "2x16", "float32") > 0
    assert math.isnan(suite.track_kernels_per_call(measured, "tiny", "2x16", "float32"))
    assert declaration_of(TinyEncoder.track_aten_ops_per_call)["metric_kind"] == "count"
    assert declaration_of(TinyEncoder.track_gpu_kernel_time_per_call)["regression_threshold"] == 0.01
    # where a call's time goes: shown (the site), never judged; no GPU here, so no value
    assert math.isnan(suite.track_gpu_busy_fraction(measured, "tiny", "2x16", "float32"))
    assert declaration_of(TinyEncoder.track_gpu_busy_fraction)["metric_kind"] == "state"


@pytest.mark.gpu
def test_gpu_counters_of_a_matmul_and_one_extra_kernel():
    a = torch.randn(256, 256, device="cuda")
    base = profile_counters(lambda: a @ a, device="cuda", calls=5)
    assert base.kernels >= 1 and base.kernel_us > 0 and 0 < base.busy_fraction <= 1
    slowed = profile_counters(lambda: (a @ a, a.add_(0)), device="cuda", calls=5)
    assert slowed.kernels == base.kernels + 1


def test_explanation_says_the_gpu_does_more_work_and_names_the_new_kernel():
    from machmeter.detect.explain import explain

    base = {"track_gpu_kernel_time_per_call": 100.0, "track_kernels_per_call": 134.0}
    head = {"track_gpu_kernel_time_per_call": 217.0, "track_kernels_per_call": 135.0}
    text = explain(0.06, base, head, [{"name": "gemm", "count": 1, "total_us": 90}],
                   [{"name": "gemm", "count": 1, "total_us": 90}, {"name": "sleep", "count": 1, "total_us": 117}])
    assert text == "wall +6%, GPU kernel time +117%, kernels 134 -> 135: the GPU does more work (new kernel: sleep)"


def test_explanation_of_unchanged_counters_points_at_the_host():
    from machmeter.detect.explain import explain

    counters = {"track_gpu_kernel_time_per_call": 100.0, "track_kernels_per_call": 134.0}
    assert explain(0.06, counters, dict(counters)) == "wall +6%, counters unchanged: host side or noise"
    assert explain(0.06, {}, {}) == "wall +6%: no counters to explain it"


def test_trace_dir_keeps_a_chrome_trace_and_a_top_kernels_table_of_the_window(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("MACHMETER_TRACE_DIR", str(tmp_path))
    monkeypatch.setenv("ASV_COMMIT", "0123456789abcdef")
    layer, x = _known_function()
    counters = profile_counters(lambda: torch.relu(layer(x)).sum(), calls=2, trace_name="bench.MD(device='cpu')")
    folder = tmp_path / "01234567"
    assert sorted(p.name for p in folder.iterdir()) == ["bench.MD_device=_cpu.kernels.json",
                                                          "bench.MD_device=_cpu.trace.json"]
    trace = json.loads((folder / "bench.MD_device=_cpu.trace.json").read_text())
    assert any(e.get("name") == "aten::relu" for e in trace["traceEvents"])
    table = json.loads((folder / "bench.MD_device=_cpu.kernels.json").read_text())
    assert table["aten_ops"] == counters.aten_ops == 3.0 and table["top_kernels"] == []  # no kernels on a CPU
    assert table["trace"] == "bench.MD_device=_cpu.trace.json" and table["kernels"] is None


def test_without_the_switch_nothing_is_written_and_suites_name_their_windows(tmp_path, monkeypatch):
    monkeypatch.delenv("MACHMETER_TRACE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    profile_counters(lambda: torch.ones(3).sum(), calls=1, trace_name="bench.x")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("MACHMETER_TRACE_DIR", str(tmp_path / "traces"))
    monkeypatch.delenv("ASV_COMMIT", raising=False)
    TinyEncoder().measure_all()
    names = sorted(p.name for p in (tmp_path / "traces" / "no-commit").iterdir())
    assert names and all(n.startswith("tests.test_suites.TinyEncoder_model=tiny,shape=") for n in names)
    assert len(names) == 2 * len([n for n in names if n.endswith(".trace.json")])
