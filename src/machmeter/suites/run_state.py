"""asv suite recording the GPU's state during a run (clocks, temperature, power, throttling, sharing).

A slow result measured while the GPU was throttled or shared with another process is not a regression
of the code; these series, stored per commit and machine like any other, let checks and the site say so.
"""

from __future__ import annotations

import abc

from machmeter.suites.base import unavailable
from machmeter.suites.declare import declare


class GpuRunStateSuite(abc.ABC):
    """Subclass it in a benchmark module, naming the GPU, to record its state with every run.

    Abstract (``device_index`` unset) so that asv does not also discover the imported base class.
    """

    @property
    @abc.abstractmethod
    def device_index(self) -> int:
        """CUDA index of the GPU whose state to record."""

    # An idle GPU parks its clocks (an H200 idles at 345 MHz): the state worth recording is the one
    # under load, where power and thermal throttling show.
    load_seconds = 1.0

    def setup(self):
        from machmeter.instruments import collect_run_state

        if collect_run_state(self.device_index) is None:
            raise NotImplementedError("NVML is not available: no GPU run state to record")
        self.state = self._state_under_load()

    def _state_under_load(self):
        import threading
        import time

        import torch

        from machmeter.instruments import collect_run_state

        if not torch.cuda.is_available():
            return collect_run_state(self.device_index)
        device = torch.device("cuda", self.device_index)
        a = torch.randn(4096, 4096, device=device, dtype=torch.bfloat16)
        done = threading.Event()
        states = []

        def sample_midway():
            time.sleep(self.load_seconds / 2)
            states.append(collect_run_state(self.device_index))
            done.set()

        sampler = threading.Thread(target=sample_midway, daemon=True)
        sampler.start()
        while not done.is_set():
            for _ in range(20):
                a @ a
            torch.cuda.synchronize(device)
        sampler.join()
        return states[0]

    def _field(self, name: str) -> float:
        value = getattr(self.state, name)
        return unavailable(name, "NVML does not report it on this GPU") if value is None else value

    @declare(kind="state", unit="MHz", higher_is_better=True)
    def track_gpu_sm_clock(self):
        return self._field("sm_clock_mhz")

    @declare(kind="state", unit="MHz", higher_is_better=True)
    def track_gpu_memory_clock(self):
        return self._field("mem_clock_mhz")

    @declare(kind="state", unit="°C")
    def track_gpu_temperature(self):
        return self._field("temperature_c")

    @declare(kind="state", unit="W")
    def track_gpu_power(self):
        return self._field("power_w")

    @declare(kind="state", unit="throttled (0/1)")
    def track_gpu_throttled(self):
        return int(self.state.throttled)

    @declare(kind="state", unit="processes")
    def track_gpu_other_processes(self):
        return len(self.state.other_processes)
