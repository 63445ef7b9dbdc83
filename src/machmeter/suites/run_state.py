"""asv suite recording the GPU's state during a run (clocks, temperature, power, throttling, sharing).

A slow result measured while the GPU was throttled or shared with another process is not a regression
of the code; these series, stored per commit and machine like any other, let checks and the site say so.
"""

from __future__ import annotations

import abc

from machmeter.suites.declare import declare


class GpuRunStateSuite(abc.ABC):
    """Subclass it in a benchmark module, naming the GPU, to record its state with every run.

    Abstract (``device_index`` unset) so that asv does not also discover the imported base class.
    """

    @property
    @abc.abstractmethod
    def device_index(self) -> int:
        """CUDA index of the GPU whose state to record."""

    def setup(self):
        from machmeter.instruments import collect_run_state

        self.state = collect_run_state(self.device_index)
        if self.state is None:
            raise NotImplementedError("NVML is not available: no GPU run state to record")

    @declare(kind="state", unit="MHz", higher_is_better=True)
    def track_gpu_sm_clock(self):
        return self.state.sm_clock_mhz

    @declare(kind="state", unit="MHz", higher_is_better=True)
    def track_gpu_memory_clock(self):
        return self.state.mem_clock_mhz

    @declare(kind="state", unit="°C")
    def track_gpu_temperature(self):
        return self.state.temperature_c

    @declare(kind="state", unit="W")
    def track_gpu_power(self):
        return self.state.power_w

    @declare(kind="state", unit="throttled (0/1)")
    def track_gpu_throttled(self):
        return int(self.state.throttled)

    @declare(kind="state", unit="processes")
    def track_gpu_other_processes(self):
        return len(self.state.other_processes)
