"""Sweep designs and sensitivity indices.

Samples and indices come from SALib (Latin hypercube, Sobol/Saltelli, Morris); only the
full-factorial grid is a numpy product of linspaces. A design is plain data: a list of
points, each a dict parameter -> value, in a fixed order.

Sensitivity analyses by design:
- sobol  -> Sobol first-order and total indices (SALib.analyze.sobol)
- morris -> Morris mu* and sigma (SALib.analyze.morris)
- lhs    -> RBD-FAST first-order indices (SALib.analyze.rbd_fast, works on any sample)
- grid   -> none (lines and heatmaps only)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.params import ModelParams, ParameterError, close_matches

DESIGNS = ("grid", "lhs", "sobol", "morris")
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class ParamRange:
    key: str
    lo: float
    hi: float
    n: int
    integer: bool = False

    @classmethod
    def of(cls, key: str, lo: float, hi: float, n: int) -> ParamRange:
        """The range of parameter `key`, integer if the parameter is (as stored in a sweep's
        definition, which keeps key, lo, hi and n only)."""
        return cls(key, lo, hi, n, integer=ModelParams.types()[key] is int)

    def grid(self) -> list[float]:
        values = np.linspace(self.lo, self.hi, self.n).tolist()
        if self.integer:
            values = sorted({int(round(v)) for v in values})
        return values


def scalar_name(key: str) -> str:
    """The flat name of a scalar parameter written as `group.name` (`fund.fund_coverage`), as
    `--set` accepts it; any other key unchanged."""
    group, dot, name = key.partition(".")
    if dot and name in ModelParams.groups().get(group, ()) and name in ModelParams.scalar_names():
        return name
    return key


def parse_param(text: str) -> ParamRange:
    """`key=lo:hi:n` (n optional for sampled designs, default 5) -> ParamRange, validated.
    `key` is a flat name or `group.name`, as in `--set`."""
    key, sep, rng = text.partition("=")
    key = scalar_name(key.strip())
    if not sep or not key:
        raise ParameterError(text, "expected key=lo:hi:n", "--param")
    specs = ModelParams.specs()
    if key not in specs:
        raise ParameterError(key, f"unknown parameter{close_matches(key, specs)}", "--param")
    typ = ModelParams.types()[key]
    if typ not in (int, float) or typ is bool:
        raise ParameterError(key, f"only numeric parameters can be swept ({key} is {typ.__name__})", "--param")
    parts = rng.split(":")
    if len(parts) not in (2, 3):
        raise ParameterError(key, f"expected lo:hi:n, got {rng!r}", "--param")
    try:
        lo, hi = float(parts[0]), float(parts[1])
        n = int(parts[2]) if len(parts) == 3 else 5
    except ValueError:
        raise ParameterError(key, f"expected numbers lo:hi:n, got {rng!r}", "--param") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParameterError(key, f"bounds must be finite, got {rng!r}", "--param")
    if lo > hi:
        raise ParameterError(key, f"lower bound {lo:g} is above upper bound {hi:g}", "--param")
    if n < 1:
        raise ParameterError(key, f"number of points must be at least 1, got {n}", "--param")
    if lo == hi and n > 1:
        raise ParameterError(key, f"lo equals hi ({lo:g}) but {n} points were asked for", "--param")
    spec = specs[key]
    for bound in (lo, hi):
        if (spec.lo is not None and bound < spec.lo) or (spec.hi is not None and bound > spec.hi):
            raise ParameterError(key, f"range {lo:g}:{hi:g} leaves the allowed {spec.lo:g} to {spec.hi:g}", "--param")
    return ParamRange.of(key, lo, hi, n)


def problem(ranges: list[ParamRange], widen_integers: bool = False) -> dict[str, Any]:
    """SALib's problem. `widen_integers`: an integer parameter is sampled on [lo - 0.5, hi + 0.5]
    and rounded, so every integer from lo to hi is equally likely (rounding a draw on [lo, hi]
    gives the two ends half weight: 1:3 came out 1/4, 1/2, 1/4)."""
    pad = [0.5 if widen_integers and r.integer else 0.0 for r in ranges]
    return {"num_vars": len(ranges), "names": [r.key for r in ranges],
            "bounds": [[r.lo - d, r.hi + d] for r, d in zip(ranges, pad)]}


def morris_step_correction(r: ParamRange) -> float:
    """SALib divides a Morris elementary effect by the nominal step, p/(2(p-1)) of the range
    (2/3 with 4 levels). An integer parameter moves by the rounded step, round(2w/3) of its
    width w (the same for every move with 4 levels), so its effects are rescaled by
    (2w/3) / round(2w/3): 1:2 once read 1.5 times too strong, 1:3 0.75 times."""
    if not r.integer:
        return 1.0
    nominal = MORRIS_LEVELS / (2 * (MORRIS_LEVELS - 1)) * (r.hi - r.lo)
    return nominal / math.floor(nominal + 0.5)


def build_design(ranges: list[ParamRange], design: str, n: int, seed: int) -> list[dict[str, float]]:
    """The design points (each parameter -> value), in the order analyses expect."""
    if design not in DESIGNS:
        raise ParameterError("--design", f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}", "--design")
    if not ranges:
        raise ParameterError("--param", "at least one --param key=lo:hi:n is needed", "--param")
    keys = [r.key for r in ranges]
    twice = [k for k in dict.fromkeys(keys) if keys.count(k) > 1]
    if twice:
        raise ParameterError(twice[0], "given twice; give each parameter one range", "--param")
    if design == "grid":
        return [dict(zip(keys, combo)) for combo in itertools.product(*(r.grid() for r in ranges))]
    if n < 1:
        raise ParameterError("--n", f"must be at least 1, got {n}", "--n")
    for r in ranges:
        if r.lo == r.hi:
            raise ParameterError(r.key, "a sampled design needs lo < hi", "--param")
    prob = problem(ranges, widen_integers=design in ("lhs", "sobol"))
    if design == "lhs":
        from SALib.sample import latin

        x = latin.sample(prob, n, seed=seed)
    elif design == "sobol":
        import warnings

        from SALib.sample import sobol

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib warns when n is not a power of 2
            x = sobol.sample(prob, n, calc_second_order=False, seed=seed)
    else:
        from SALib.sample import morris

        x = morris.sample(prob, n, num_levels=MORRIS_LEVELS, seed=seed)
    points = []
    for row in np.asarray(x):
        point = {}
        for r, v in zip(ranges, row):
            point[r.key] = min(max(math.floor(float(v) + 0.5), int(r.lo)), int(r.hi)) if r.integer else float(v)
        points.append(point)
    return points


def design_matrix(points: list[dict[str, float]], keys: list[str]) -> np.ndarray:
    return np.array([[p[k] for k in keys] for p in points], dtype=float)


def sensitivity(design: str, ranges: list[ParamRange], points: list[dict[str, float]], y: np.ndarray,
                seed: int) -> list[dict[str, Any]] | None:
    """Sensitivity indices of output `y` (one value per design point, in design order).

    Returns rows {param, index, value, conf} or None when the design has no analysis or
    `y` has missing values (a failed point).
    """
    y = np.asarray(y, dtype=float)
    if design == "grid" or len(y) != len(points) or not np.all(np.isfinite(y)):
        return None
    prob = problem(ranges)
    x = design_matrix(points, prob["names"])
    rows: list[dict[str, Any]] = []
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if design == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(prob, y, calc_second_order=False, seed=seed)
            for i, name in enumerate(prob["names"]):
                rows.append({"param": name, "index": "S1", "value": float(res["S1"][i]), "conf": float(res["S1_conf"][i])})
                rows.append({"param": name, "index": "ST", "value": float(res["ST"][i]), "conf": float(res["ST_conf"][i])})
        elif design == "morris":
            from SALib.analyze import morris

            res = morris.analyze(prob, x, y, num_levels=MORRIS_LEVELS, seed=seed)
            for i, name in enumerate(prob["names"]):
                k = morris_step_correction(ranges[i])
                rows.append({"param": name, "index": "mu_star", "value": k * float(res["mu_star"][i]),
                             "conf": k * float(res["mu_star_conf"][i])})
                rows.append({"param": name, "index": "sigma", "value": k * float(res["sigma"][i]), "conf": math.nan})
        elif design == "lhs":
            from SALib.analyze import rbd_fast

            if len(points) < 16:
                return None  # too few points for a spectral estimate
            # RBD-FAST needs many more points than harmonics; 10 is SALib's default
            harmonics = int(min(10, max(1, (len(points) - 1) // 8)))
            res = rbd_fast.analyze(prob, x, y, M=harmonics, seed=seed)
            for i, name in enumerate(prob["names"]):
                rows.append({"param": name, "index": "S1", "value": float(res["S1"][i]), "conf": float(res["S1_conf"][i])})
    return rows
