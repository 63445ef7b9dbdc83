"""Derive the run-to-run noise multipliers of machmeter.detect.noise by simulation, and show how well the
table in the module keeps its promise.

For k consecutive differences (k + 1 earlier runs) of unchanged code with normal noise, the multiplier
is the (1 - NOISE_ALPHA) quantile of |a - b| / sigma_hat, where a and b are two more runs and sigma_hat
the module's estimate from the earlier runs. Prints the derived table (paste it into the module when
the estimator changes) and, with the module's table, the share of unchanged series whose change passes
the floor, for normal and for heavier-tailed (Student t, 3 degrees of freedom) noise.

    python3 scripts/noise_floor_calibration.py [--trials 400000]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from machmeter.detect.noise import MIN_NOISE_RUNS, NOISE_ALPHA, NOISE_MULTIPLIERS, NOISE_WINDOW

SEED = 7


def ratios(rng: np.random.Generator, differences: int, trials: int, noise: str = "normal") -> np.ndarray:
    """|a - b| / sigma_hat of `trials` simulated A/A comparisons with `differences` + 1 earlier runs."""
    draw = (lambda size: rng.standard_normal(size)) if noise == "normal" else (lambda size: rng.standard_t(3, size))
    history, pair = draw((trials, differences + 1)), draw((trials, 2))
    sigma = np.median(np.abs(np.diff(history, axis=1)), axis=1) / (0.6745 * math.sqrt(2.0))
    return np.abs(pair[:, 0] - pair[:, 1]) / sigma


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400_000)
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    derived = {}
    print(f"{'runs':>4} {'derived':>8} {'table':>6} {'A/A pass, normal':>17} {'A/A pass, t3':>13}")
    for differences in range(MIN_NOISE_RUNS - 1, NOISE_WINDOW):
        normal = ratios(rng, differences, args.trials)
        derived[differences] = round(float(np.quantile(normal, 1 - NOISE_ALPHA)), 1)
        table = NOISE_MULTIPLIERS[differences]
        heavy = ratios(rng, differences, args.trials, "t3")
        print(f"{differences + 1:>4} {derived[differences]:>8} {table:>6} {np.mean(normal >= table):>17.4f} "
              f"{np.mean(heavy >= table):>13.4f}")
    print("NOISE_MULTIPLIERS =", derived)


if __name__ == "__main__":
    main()
