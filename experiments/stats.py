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


def ratio_of_paired_differences(num_x: Sequence[float | None], num_y: Sequence[float | None],
                                den_x: Sequence[float | None], den_y: Sequence[float | None],
                                level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> Interval:
    """mean(num_x - num_y) / mean(den_x - den_y) over replications, with a bootstrap CI.

    E.g. extra fiscal cost per extra surviving SME against the baseline. Pairs with a
    missing value are dropped. The ratio is only meaningful while the denominator gain is
    positive: a mean denominator difference <= 0 gives NaN. The CI is the percentile
    interval of `n_boot` resamples of whole replications (seeded: reproducible), over the
    resamples with a gain, and given only when the gain stays positive in all but at most
    (1 - level)/2 of them; otherwise
    `lo` and `hi` are NaN (n/a): the gain is not clearly above zero, and a ratio whose
    denominator crosses zero has no percentile interval (counting those resamples as an
    unbounded cost once gave a cost-saving policy the interval [-400, inf]).
    """
    if not (len(num_x) == len(num_y) == len(den_x) == len(den_y)):
        raise ValueError("paired samples differ in length")
    rows = []
    for a, b, c, d in zip(num_x, num_y, den_x, den_y):
        if None in (a, b, c, d):
            continue
        vals = [float(a), float(b), float(c), float(d)]
        if all(math.isfinite(v) for v in vals):
            rows.append((vals[0] - vals[1], vals[2] - vals[3]))
    n = len(rows)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan)
    dn = np.array([r[0] for r in rows])
    dd = np.array([r[1] for r in rows])
    if dd.mean() <= 0:
        return Interval(math.nan, math.nan, math.nan, n, math.nan)
    est = float(dn.mean() / dd.mean())
    if n == 1:
        return Interval(est, math.nan, math.nan, 1, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    num_m = dn[idx].mean(axis=1)
    den_m = dd[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    gains = den_m > 0
    boot = num_m[gains] / den_m[gains]
    sd = float(boot.std(ddof=1)) if len(boot) > 1 else math.nan
    if np.mean(~gains) > alpha:
        return Interval(est, math.nan, math.nan, n, sd)
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])  # over the resamples with a gain (all but <= alpha)
    return Interval(est, float(lo), float(hi), n, sd)
