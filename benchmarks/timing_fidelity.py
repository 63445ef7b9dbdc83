"""How truthful GPU timing is: machmeter's instruments against the bare truth, side by side in one run.

- ``TimerFidelity``: the per-call time machmeter's timer reports for a launch-bound tiny kernel,
  minus the rate of a bare loop of the same kernel (goal: within 2 µs), and the run-to-run spread of
  a ≥1 ms workload (goal: CV ≤ 1%).
- ``UnsynchronizedMatmul`` / ``SynchronizedMatmul``: the same matrix product as a plain asv ``time_``
  benchmark (host clock, no synchronisation: on a GPU it measures the launch) and with machmeter's
  synchronising timer.
"""

import time

from machmeter.suites import declare, synchronized_timer
from machmeter.suites.base import require_device

BARE_LOOP_CALLS = 5000


def _matmul_operands(device):
    import torch

    torch_device = require_device(device)
    if torch_device.type == "cuda":
        size, dtype = 8192, torch.bfloat16  # ~1.1 TFLOP: about 1.5 ms on an H100/H200
    else:
        size, dtype = 256, torch.float32
    generator = torch.Generator(device=torch_device).manual_seed(0)
    a = torch.randn(size, size, device=torch_device, dtype=dtype, generator=generator)
    b = torch.randn(size, size, device=torch_device, dtype=dtype, generator=generator)
    return a, b


class TimerFidelity:
    params = (["cpu", "cuda"],)
    param_names = ["device"]
    timeout = 300

    def setup(self, device):
        import torch

        self.device = device
        self.x = torch.zeros(1, device=require_device(device))

    def _bare_loop_seconds_per_call(self):
        from machmeter.instruments import synchronize

        x = self.x
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(BARE_LOOP_CALLS):
            x.add_(1)
        synchronize(self.device)
        return (time.perf_counter() - start) / BARE_LOOP_CALLS

    @declare(kind="time", unit="µs", regression_threshold=0.5)
    def track_launch_bound_overhead(self, device):
        """machmeter's mean per-call time of ``x.add_(1)`` minus the bare loop's rate (both means:
        launch-bound distributions are skewed, so a median against a mean would flatter the timer)."""
        from machmeter.instruments import time_callable

        x = self.x
        bare = []
        reported = []
        # Interleave the two so that clock changes affect both alike.
        for _ in range(5):
            bare.append(self._bare_loop_seconds_per_call())
            measurement = time_callable(lambda: x.add_(1), device=device, warmup_calls=100,
                                        min_repeats=BARE_LOOP_CALLS, max_repeats=BARE_LOOP_CALLS, target_time=0)
            reported.append(measurement.mean)
        bare.sort()
        reported.sort()
        return (reported[2] - bare[2]) * 1e6

    @declare(kind="time", unit="%")
    def track_cv_of_1ms_workload(self, device):
        """Coefficient of variation of 20 timed repeats of a ≥1 ms matrix product."""
        import torch

        from machmeter.instruments import time_callable

        a, b = _matmul_operands(device)
        repeats = 1 if torch.device(device).type == "cuda" else 8  # ≥1 ms per timed call on both
        # A second of warm-up lets the clocks leave their idle level before the 20 repeats.
        measurement = time_callable(lambda: [torch.mm(a, b) for _ in range(repeats)], device=device,
                                    warmup_calls=5, warmup_time=1.0, min_repeats=20, max_repeats=20,
                                    target_time=0)
        return measurement.cv * 100


class UnsynchronizedMatmul:
    """What a plain asv ``time_`` benchmark reports for GPU work: asv's host timer, no sync."""

    params = (["cpu", "cuda"],)
    param_names = ["device"]

    def setup(self, device):
        self.a, self.b = _matmul_operands(device)
        self.a @ self.b

    def time_matmul(self, device):
        self.a @ self.b


class SynchronizedMatmul(UnsynchronizedMatmul):
    """The same work timed with machmeter's synchronising timer."""

    timer = staticmethod(synchronized_timer)
