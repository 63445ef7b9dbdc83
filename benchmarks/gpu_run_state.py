"""The GPU's clocks, temperature, power, throttling and sharing at the time of each run."""

from machmeter.suites import GpuRunStateSuite


class GpuRunState(GpuRunStateSuite):
    device_index = 0
