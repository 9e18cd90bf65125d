"""Direction tests (DOMAIN.md §7) on the shipped scenarios.

Each comparison runs both arms on the same seeds (paired replications) and asserts on the
mean of the paired differences with a margin, never on a single run. Runs are small
(N_SMES SMEs, MONTHS months, len(SEEDS) replications) and shared between tests through a
cache, so the whole file stays within about 20 s.

A direction that does not hold with the core as it is stays here as
`xfail(strict=True, reason=<observed numbers>)`: the economics belong to the model's owner.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from scenarios import load_scenario

model = pytest.importorskip("model")
if not hasattr(model, "HydrogenChainModel"):
    pytest.skip("the simulation core is not merged yet", allow_module_level=True)

pytestmark = pytest.mark.slow

N_SMES = 60
MONTHS = 36
SEEDS = tuple(int(s.generate_state(1)[0]) for s in np.random.SeedSequence(20261122).spawn(8))
# (scenario, stress) arms the tests compare; all are run once, in parallel, on first use.
ARMS = (
    ("baseline", None), ("insurance_loan", None), ("order_credit", None), ("order_insurance_credit", None),
    ("tech_credit", None), ("risk_fund", None), ("npl_tolerance", None), ("baseline", "leader_late_payment"),
)
# The leaders' plans and the fund of risk_fund are sized for the baseline's n_smes; both are
# scaled with the number of SMEs so that the small test economy keeps them per SME.
FUND_KEYS = ("fund_endowment_wan", "fund_topup_wan_per_year")


def scaled(name: str, n_smes: int) -> dict:
    """Overrides that shrink the economy to `n_smes` while keeping orders and fund money per
    SME as in the shipped scenario (which is calibrated at the baseline's n_smes)."""
    p = load_scenario(name)
    scale = n_smes / load_scenario("baseline").n_smes
    return {"n_smes": n_smes, "plan_scale": p.plan_scale * scale, **{k: getattr(p, k) * scale for k in FUND_KEYS}}


def run_one(name: str, stress: str | None, seed: int, n_smes: int, months: int) -> dict:
    params = load_scenario(name, scaled(name, n_smes), stress=stress)
    m = model.HydrogenChainModel(scenario=params, rng=seed)
    m.run(months)
    return m.summary()


_RESULTS: dict = {}


def summary(name: str, seed: int, stress: str | None = None) -> dict:
    """The end-of-run summary of one arm and seed; every arm x seed is computed on the first
    call, spread over the machine's cores (results do not depend on how they are spread)."""
    if not _RESULTS:
        jobs = [(n, st, sd) for n, st in ARMS for sd in SEEDS]
        workers = min(len(jobs), os.cpu_count() or 1)
        args = [[j[i] for j in jobs] for i in range(3)] + [[N_SMES] * len(jobs), [MONTHS] * len(jobs)]
        out = None
        if workers > 1:
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                    out = list(pool.map(run_one, *args))
            except BrokenProcessPool:  # e.g. imported from a script without a __main__ guard
                out = None
        if out is None:
            out = list(map(run_one, *args))
        _RESULTS.update({job: res for job, res in zip(jobs, out)})
    key = (name, stress, seed)
    if key not in _RESULTS:
        _RESULTS[key] = run_one(name, stress, seed, N_SMES, MONTHS)
    return _RESULTS[key]


def arm(name: str, key: str, stress: str | None = None) -> np.ndarray:
    return np.array([np.nan if (v := summary(name, s, stress).get(key)) is None else v for s in SEEDS], dtype=float)


def paired(a: str, b: str, key: str) -> tuple[float, float]:
    """Mean and standard error of the paired difference b - a over SEEDS."""
    d = arm(b, key) - arm(a, key)
    d = d[~np.isnan(d)]
    assert len(d) >= len(SEEDS) - 1, f"{key} undefined in too many runs of {a} / {b}"
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def report(label: str, mean: float, se: float) -> str:
    return f"{label}: paired mean difference {mean:+.4f} (s.e. {se:.4f}, {len(SEEDS)} seeds)"


# --------------------------------------------------------------------------------------
# 1. Packages raise light-asset SMEs' approval; the full package raises it most
# --------------------------------------------------------------------------------------

APPROVAL_MARGIN = 0.02  # two percentage points of approval


@pytest.mark.parametrize("package", ["insurance_loan", "order_credit"])
def test_packages_raise_light_asset_approval(package):
    mean, se = paired("baseline", package, "approval_rate_light_asset")
    assert mean > APPROVAL_MARGIN and mean > 2 * se, report(f"{package} - baseline", mean, se)


OIC_VS_INSURANCE_LOAN = (
    "Observed with the core of f6a3d3f (n_smes=60 with plans and fund scaled, 36 months, 8 paired seeds): "
    "light-asset approval order_insurance_credit 0.843 vs insurance_loan 0.792, paired mean difference "
    "+0.051 (s.e. 0.042): the right sign but not distinguishable from noise (the test asks > 0.01 and > 2 s.e.). "
    "Per seed insurance_loan ranges 0.63-0.90 and order_insurance_credit 0.74-0.92. With the core of fabd816 "
    "it was -0.072 (s.e. 0.072)."
)


@pytest.mark.parametrize("other", [
    pytest.param("insurance_loan", marks=pytest.mark.xfail(strict=True, reason=OIC_VS_INSURANCE_LOAN)),
    "order_credit",
])
def test_order_insurance_credit_raises_light_asset_approval_most(other):
    mean, se = paired(other, "order_insurance_credit", "approval_rate_light_asset")
    assert mean > 0.01 and mean > 2 * se, report(f"order_insurance_credit - {other}", mean, se)


# --------------------------------------------------------------------------------------
# 2. The risk fund raises credit at a fiscal cost far below the credit it backs
# --------------------------------------------------------------------------------------


def test_risk_fund_raises_credit_cheaply():
    mean, se = paired("tech_credit", "risk_fund", "credit_mobilised_wan")
    base = arm("tech_credit", "credit_mobilised_wan").mean()
    assert mean > 0.03 * base and mean > 2 * se, report("risk_fund - tech_credit credit_mobilised_wan", mean, se)
    # fiscal cost net of what is left in the fund, against the credit the fund backed
    cost = arm("risk_fund", "fiscal_cost_net_wan")
    backed = arm("risk_fund", "fund_backed_credit_wan")
    assert backed.mean() > 0, "the fund backed no credit"
    assert cost.mean() < 0.2 * backed.mean(), (
        f"net fiscal cost {cost.mean():.1f} wan vs credit backed {backed.mean():.1f} wan")
    assert cost.mean() < 0.2 * mean, f"net fiscal cost {cost.mean():.1f} wan vs extra credit {mean:.1f} wan"


# --------------------------------------------------------------------------------------
# 3. A higher NPL tolerance raises both credit and bad loans
# --------------------------------------------------------------------------------------


def test_npl_tolerance_raises_credit():
    mean, se = paired("tech_credit", "npl_tolerance", "credit_mobilised_wan")
    base = arm("tech_credit", "credit_mobilised_wan").mean()
    assert mean > 0.03 * base and mean > 2 * se, report("npl_tolerance - tech_credit credit_mobilised_wan", mean, se)


@pytest.mark.xfail(strict=True, reason=(
    "Observed with the core of f6a3d3f (n_smes=60 with plans scaled, 36 months, 8 paired seeds): cumulative "
    "NPL ratio npl_tolerance 0.0142 vs tech_credit 0.0130, paired mean difference +0.0012 (s.e. 0.0079): no "
    "detectable rise (the test asks > 0.002 and > 2 s.e.); bank losses +16 wan (s.e. 70); defaulted SMEs "
    "-1.5 (s.e. 0.9) while credit rises +1,415 wan (s.e. 474): the extra credit keeps cash-short SMEs alive, "
    "which offsets the riskier loans. With the core of fabd816 it was -0.0195 (s.e. 0.017)."))
def test_npl_tolerance_raises_npl():
    mean, se = paired("tech_credit", "npl_tolerance", "npl_ratio")
    assert mean > 0.002 and mean > 2 * se, report("npl_tolerance - tech_credit npl_ratio", mean, se)


# --------------------------------------------------------------------------------------
# 4. A late-paying leader raises defaults in its own chain more than in others
# --------------------------------------------------------------------------------------


def test_late_payment_hits_the_late_payers_chain():
    late = load_scenario("leader_late_payment").late_payer
    others = [ld.name.split()[0].lower() for ld in load_scenario("baseline").leaders if ld.name.split()[0].lower() != late]

    def chain_rate(stress, leader):
        return np.array([summary("baseline", s, stress)[f"default_rate_{leader}_chain"] for s in SEEDS], dtype=float)

    own = chain_rate("leader_late_payment", late) - chain_rate(None, late)
    rest = np.mean([chain_rate("leader_late_payment", o) - chain_rate(None, o) for o in others], axis=0)
    d = own - rest
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    assert own.mean() > 0.03, f"defaults in {late}'s chain rose by only {own.mean():+.4f}"
    assert mean > 0.03 and mean > 2 * se, report(f"rise in {late}'s chain - rise in others'", mean, se)
