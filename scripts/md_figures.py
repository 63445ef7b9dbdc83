"""The MD suite's stability figures (NVE drift, NVT temperature, NPT pressure and volume, relaxation)
for this repository's Lennard-Jones argon benchmark, measured once per size on this machine's device
(the GPU where there is one), without asv: what the nightly's tracks report, printed as a table.

    python3 scripts/md_figures.py                  # 64 and 512 atoms, float32
    python3 scripts/md_figures.py --sizes 64,512,4096 --dtypes float32,float64
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

FIELDS = ("step_ms_p50", "steps_per_second", "nve_steps", "nve_drift_eV_per_atom_per_ps", "nvt_steps",
          "nvt_temperature_deviation", "npt_steps", "npt_pressure_deviation_GPa", "npt_volume_drift",
          "npt_volume_fluctuation", "relax_steps", "relax_converged", "relax_seconds")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,512")
    parser.add_argument("--dtypes", default="float32")
    args = parser.parse_args(argv)
    from md_lennard_jones import LennardJonesArgon

    class Sized(LennardJonesArgon):
        params = ([int(n) for n in args.sizes.split(",")], ["auto"], args.dtypes.split(","))

    started = time.perf_counter()
    measured = Sized().setup_cache()
    print(f"LJ argon MD figures ({time.perf_counter() - started:.0f} s to measure)")
    for key, entry in measured.items():
        metrics = entry.get("metrics") or {}
        if not metrics:
            print(f"{key}: {entry.get('skip', 'no metrics')}")
            continue
        cells = [f"{name}={metrics[name]:.4g}" if isinstance(metrics.get(name), (int, float)) else
                 f"{name}=({metrics.get(name + '__unavailable', 'absent')})" for name in FIELDS]
        print(f"{key} device={metrics.get('device')}: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
