"""Test doubles for the experiments layer: fast, deterministic stand-ins for the model run.

Top-level functions so that process pools can pickle them by reference. Shipped code
always calls the real model (`experiments.runner.run`); only tests pass these in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.runner import RunResult, provenance


def fake_run(params, seed, months):
    rng = np.random.default_rng([int(seed), int(params.stable_hash()[:8], 16)])
    level = float(params.fund_coverage) * 10 + rng.normal()
    frame = pd.DataFrame({
        "month": np.arange(months + 1),
        "credit_outstanding_wan": np.cumsum(rng.random(months + 1)) * (1 + level),
        "active_smes": 100 - np.arange(months + 1) % 7,
        f"credit_{params.offered_packages[0]}_wan": rng.random(months + 1),
    })
    summary = {"sme_survival_rate": float(rng.random()), "credit_mobilised_wan": level * 100,
               "fiscal_leverage": None if params.fund_coverage < 0.1 else level}
    return RunResult(summary=summary, monthly=frame, provenance=provenance(params, seed, months))


def flaky_run(params, seed, months):
    """Raises for odd seeds."""
    if int(seed) % 2 == 1:
        raise RuntimeError(f"boom at seed {seed}")
    return fake_run(params, seed, months)


def crashing_run(params, seed, months):
    """Kills its worker process (as a segfault or the out-of-memory killer would) for seeds
    divisible by 5; a normal run otherwise."""
    if int(seed) % 5 == 0:
        import os

        os._exit(3)
    return fake_run(params, seed, months)
