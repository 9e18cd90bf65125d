"""Confidence intervals for batch results: plain functions, no model, no I/O.

`mean_ci` is the usual t interval of a mean over replications. `paired_ci` is the
interval of the mean of per-replication differences: replication k of two scenarios
shares a seed (common random numbers), so d_k = x_k - y_k removes the noise the two runs
share and the interval is a one-sample t interval on d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
from scipy.special import stdtrit  # the t quantile; lighter to import than scipy.stats


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int
    sd: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


def _clean(values: Sequence[float | None]) -> np.ndarray:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return arr[np.isfinite(arr)]


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> Interval:
    """Mean and two-sided t interval; None and NaN values are dropped.

    n = 0 gives all NaN; n = 1 gives the value with an interval of NaN (no spread known).
    """
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, math.nan)
    sd = float(x.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + level / 2.0)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, sd)


def paired_ci(x: Sequence[float | None], y: Sequence[float | None], level: float = 0.95) -> Interval:
    """Interval of mean(x - y) over pairs (x_k, y_k); a pair with a missing side is dropped."""
    if len(x) != len(y):
        raise ValueError(f"paired samples differ in length: {len(x)} vs {len(y)}")
    diffs = []
    for a, b in zip(x, y):
        if a is None or b is None:
            continue
        a, b = float(a), float(b)
        if math.isfinite(a) and math.isfinite(b):
            diffs.append(a - b)
    return mean_ci(diffs, level)
