"""Whole-model tests: the accounting identity for random parameters (Hypothesis),
determinism, the public API of issue 2, and the linearity of the month."""

from __future__ import annotations

import copy
import inspect
import math
import multiprocessing
import pickle
import warnings

import mesa
import numpy as np
import pandas as pd
import pytest
from conftest import assert_money_conserved
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mesa.experimental.scenarios import Scenario

from model import HydrogenChainModel, ModelParams, ParameterError  # before agents: see test_agents_import_first

from agents import SME, Bank, ChainLeader, Government, Insurer, RiskCompensationFund  # noqa: I001
from model.ledger import FISCAL_LEVERS
from model.params import DEFAULT_PACKAGES, leader_key
from model import reporters

MONTHLY_KPIS = [
    "credit_outstanding_wan", "new_lending_wan", "approval_rate", "active_smes", "distressed_smes",
    "defaulted_smes", "npl_ratio", "insurer_loss_ratio", "fund_balance_wan", "fund_payouts_wan",
    "fiscal_cost_wan", "deliveries_wan", "rd_successes", "rd_failures", "trucks_deployed", "trucks_planned",
    "stations_deployed", "stations_planned",
] + [f"fiscal_{lever}_wan" for lever in
     ("interest_subsidy", "bank_reward", "premium_voucher", "fund", "stop_loss", "agency")]

SUMMARY_KEYS = [
    "sme_survival_rate", "credit_mobilised_wan", "approval_rate", "npl_ratio", "fiscal_cost_wan",
    "fiscal_leverage", "rd_successes", "insurer_loss_ratio", "fund_payouts_wan", "deliveries_wan",
    "trucks_deployed", "stations_deployed",
]

ALL_PACKAGES = tuple(DEFAULT_PACKAGES)
LEADER_KEYS = tuple(leader_key(ld) for ld in ModelParams().leaders)


# --- 3. the accounting identity holds after every phase, for random parameters -------------------

def _spec_floats(name, lo=None, hi=None):
    spec = ModelParams.specs()[name]
    return st.floats(spec.lo if lo is None else lo, spec.hi if hi is None else hi, allow_nan=False)


random_levers = st.fixed_dictionaries({
    "n_smes": st.integers(20, 80),
    "fund_endowment_wan": st.one_of(st.just(0.0), _spec_floats("fund_endowment_wan", hi=50_000.0),
                                    st.just(ModelParams.specs()["fund_endowment_wan"].hi)),
    "fund_topup_wan_per_year": st.one_of(st.just(0.0), _spec_floats("fund_topup_wan_per_year", hi=20_000.0)),
    "fund_coverage": _spec_floats("fund_coverage"),
    "fund_payout_lag_months": st.integers(0, 12),
    "interest_subsidy_pp": _spec_floats("interest_subsidy_pp"),
    "interest_subsidy_share": st.one_of(st.just(0.0), _spec_floats("interest_subsidy_share")),
    "bank_reward_wan_per_100m": st.one_of(st.just(0.0), st.just(20.0), _spec_floats("bank_reward_wan_per_100m")),
    "premium_voucher_share": _spec_floats("premium_voucher_share"),
    "npl_tolerance": _spec_floats("npl_tolerance"),
    "order_advance_rate": _spec_floats("order_advance_rate"),
    "offered_packages": st.lists(st.sampled_from(ALL_PACKAGES), unique=True, max_size=len(ALL_PACKAGES)).map(tuple),
    "loss_order": st.sampled_from(ModelParams.specs()["loss_order"].choices),
    "late_payer": st.sampled_from(("",) + LEADER_KEYS),
    "late_payment_months": st.integers(0, 12),
    "late_payment_start_month": st.integers(1, 12),
    "demand_shock_share": _spec_floats("demand_shock_share"),
    "demand_shock_start_month": st.integers(1, 12),
    # the whole range the Spec allows, -10..10 pp: a cut below a zero LPR stops at zero (see
    # test_rules.py::test_rate_cut_below_zero_lpr_is_refused_or_harmless)
    "rate_rise_pp": _spec_floats("rate_rise_pp"),
    "rate_rise_start_month": st.integers(1, 12),
    "insurer_suspend_loss_ratio": st.one_of(st.just(1.2), _spec_floats("insurer_suspend_loss_ratio")),
    "agency_enabled": st.booleans(),
    "agency_subsidy_share": _spec_floats("agency_subsidy_share"),
})


# No shrinking: one example is a whole simulation, and shrinking a failure took > 5 minutes.
# Hypothesis still prints the failing example.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(params=random_levers, seed=st.integers(0, 2**32 - 1), months=st.integers(6, 24))
def test_ledger_identity_holds_after_every_phase_for_random_parameters(params, seed, months):
    m = HydrogenChainModel(rng=seed, audit=True, **params)  # audit: check_books after EVERY phase
    m.run(months)
    assert m.month == months
    m.ledger.check()
    m.check_books()
    assert_money_conserved(m)
    # every fiscal yuan is recorded by lever
    assert math.fsum(m.ledger.fiscal_cost_wan(lv) for lv in FISCAL_LEVERS) == pytest.approx(
        m.ledger.fiscal_cost_wan(), abs=1e-6)
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == months + 1


def test_audit_catches_a_corrupted_balance_mid_run():
    """The audited run really checks: corrupt a balance and the next phase fails."""
    m = HydrogenChainModel(rng=3, n_smes=20, audit=True)
    m.run(2)
    m.ledger.balances[m.smes[0].account] += 5.0
    with pytest.raises(AssertionError, match="after place_orders"):
        m.step()


def test_check_books_catches_a_loan_book_that_disagrees_with_the_ledger():
    m = HydrogenChainModel(rng=3, n_smes=40, offered_packages=("order_credit", "tech_credit"), audit=True)
    m.run(3)
    loans = [loan for b in m.banks for loan in b.loans]
    assert loans, "the set-up needs some loans"
    loans[0].outstanding_wan += 1.0
    with pytest.raises(AssertionError, match="loan books"):
        m.check_books()


# --- 4. determinism --------------------------------------------------------------------------

RICH = dict(n_smes=80, offered_packages=ALL_PACKAGES, fund_endowment_wan=5000.0, interest_subsidy_pp=1.0,
            premium_voucher_share=0.5, agency_enabled=True)


def _run(seed, months=18, **kw):
    m = HydrogenChainModel(rng=seed, **{**RICH, **kw})
    m.run(months)
    return m


def test_same_seed_same_frames_and_summary():
    a, b = _run(7), _run(7)
    pd.testing.assert_frame_equal(a.datacollector.get_model_vars_dataframe(),
                                  b.datacollector.get_model_vars_dataframe())
    assert a.summary() == b.summary()
    assert [s.status for s in a.smes] == [s.status for s in b.smes]
    assert a.ledger.balances == b.ledger.balances


def test_different_seeds_different_frames():
    a, b = _run(7), _run(8)
    fa, fb = a.datacollector.get_model_vars_dataframe(), b.datacollector.get_model_vars_dataframe()
    assert fa.shape == fb.shape
    assert not fa.equals(fb)
    assert a.summary() != b.summary()


def test_seed_sequence_and_generator_seeds_are_accepted_and_reproducible():
    a = _run(np.random.SeedSequence(42), months=4)
    b = _run(np.random.SeedSequence(42), months=4)
    pd.testing.assert_frame_equal(a.datacollector.get_model_vars_dataframe(),
                                  b.datacollector.get_model_vars_dataframe())


# --- 6. the public API ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run60():
    m = HydrogenChainModel(rng=1)
    m.run(60)
    return m


def test_default_run_has_the_cast(run60):
    m = run60
    assert len(m.leaders) >= 2
    assert all(isinstance(ld, ChainLeader) for ld in m.leaders)
    zh = {ld.name_zh for ld in m.leaders}
    assert {"美锦能源", "晋南钢铁"} <= zh
    assert {ld.key for ld in m.leaders} >= {"meijin", "jinnan"}
    assert len(m.banks) >= 2 and all(isinstance(b, Bank) for b in m.banks)
    assert len({b.key for b in m.banks}) == len(m.banks)
    assert isinstance(m.insurer, Insurer)
    assert isinstance(m.fund, RiskCompensationFund)
    assert isinstance(m.government, Government)
    assert len(m.smes) == m.params.n_smes == 300
    assert all(isinstance(s, SME) for s in m.smes)
    assert m.month == 60


def test_frame_has_one_row_per_month_with_month_0(run60):
    df = run60.datacollector.get_model_vars_dataframe()
    assert len(df) == 61
    assert list(df.index) == list(range(61))
    missing = [c for c in MONTHLY_KPIS if c not in df.columns]
    assert not missing
    for pkg in run60.params.packages:
        assert f"credit_{pkg}_wan" in df.columns
    first = df.iloc[0]
    assert first["active_smes"] == 300 and first["defaulted_smes"] == 0
    assert first["credit_outstanding_wan"] == 0 and first["fiscal_cost_wan"] == 0
    assert math.isnan(first["approval_rate"])  # nothing decided yet: NaN, not a made-up zero
    for bank in run60.banks:  # no loans yet: no NPL ratio either (was 0.0 per bank)
        assert math.isnan(first[f"npl_ratio_{bank.key}"]) and math.isnan(first["npl_ratio"])


def test_frame_and_summary_agree(run60):
    m = run60
    df = m.datacollector.get_model_vars_dataframe()
    s = m.summary()
    last = df.iloc[-1]
    n = m.params.n_smes
    assert s["sme_survival_rate"] == pytest.approx(last["active_smes"] / n)
    assert s["credit_mobilised_wan"] == pytest.approx(df["new_lending_wan"].sum(), rel=1e-9)
    assert s["deliveries_wan"] == pytest.approx(df["deliveries_wan"].sum(), rel=1e-9)
    assert s["fiscal_cost_wan"] == pytest.approx(last["fiscal_cost_wan"])
    assert s["rd_successes"] == last["rd_successes"]
    assert s["fund_payouts_wan"] == pytest.approx(last["fund_payouts_wan"])
    assert s["trucks_deployed"] == pytest.approx(last["trucks_deployed"])
    assert s["stations_deployed"] == pytest.approx(last["stations_deployed"])
    assert s["credit_outstanding_wan"] == pytest.approx(last["credit_outstanding_wan"])
    # cumulative columns never fall; status counts add up
    for col in ("defaulted_smes", "fiscal_cost_wan", "rd_successes", "rd_failures", "trucks_deployed",
                "stations_deployed", "fund_payouts_wan"):
        assert df[col].is_monotonic_increasing, col
    assert (df["active_smes"] + df["defaulted_smes"] == n).all()
    assert (df["distressed_smes"] <= df["active_smes"]).all()


def test_collected_row_equals_each_reporter_called_on_its_own():
    """The data collector shares one scan of the loan books and SME statuses between reporters
    (`reporters.collect`); a reporter called alone scans for itself. Both give the same
    numbers, and the bank figures are the banks' own."""
    m = HydrogenChainModel(rng=3, n_smes=120, offered_packages=ALL_PACKAGES)
    m.run(30)
    row = m.datacollector.get_model_vars_dataframe().iloc[-1]
    assert row["credit_outstanding_wan"] > 0 and row["defaulted_smes"] > 0  # the scans have something to count
    for name, reporter in reporters.model_reporters(m).items():
        alone = reporter(m)
        assert alone == row[name] or (math.isnan(alone) and math.isnan(row[name])), name
    for i, bank in enumerate(m.banks):
        assert row[f"capital_{bank.key}_wan"] == bank.capital_wan
        assert row[f"npl_ratio_{bank.key}"] == bank.npl_ratio()
    assert m.row_cache is None  # nothing is shared outside a collection


def test_bank_books_and_borrower_books_agree(run60):
    m = run60
    by_banks = math.fsum(b.outstanding_wan for b in m.banks)
    by_smes = math.fsum(s.credit_outstanding_wan for s in m.smes)
    assert by_smes == pytest.approx(by_banks, abs=1e-6)
    m.ledger.check()
    m.check_books()


def test_summary_has_every_name_of_the_issue(run60):
    s = run60.summary()
    missing = [k for k in SUMMARY_KEYS if k not in s]
    assert not missing
    for k in SUMMARY_KEYS:
        v = s[k]
        assert v is None or (isinstance(v, (int, float)) and math.isfinite(v)), (k, v)
    assert 0.0 <= s["sme_survival_rate"] <= 1.0
    assert s["approval_rate"] is not None and 0.0 <= s["approval_rate"] <= 1.0


def test_defaults_happen_in_60_months(run60):
    s = run60.summary()
    df = run60.datacollector.get_model_vars_dataframe()
    assert df["defaulted_smes"].iloc[-1] > 0
    assert s["sme_survival_rate"] < 1.0
    assert s["npl_ratio"] is not None and s["npl_ratio"] > 0
    assert s["credit_mobilised_wan"] > 0 and s["deliveries_wan"] > 0
    assert s["trucks_deployed"] > 0 and s["stations_deployed"] > 0


def test_fiscal_leverage_is_none_without_fiscal_money(run60):
    s = run60.summary()
    assert s["fiscal_cost_wan"] == 0.0  # the baseline spends nothing
    assert s["fiscal_leverage"] is None
    assert s["insurer_loss_ratio"] is None or s["insurer_loss_ratio"] >= 0


def test_fiscal_leverage_is_policy_backed_credit_per_fiscal_yuan():
    m = HydrogenChainModel(rng=2, n_smes=60, offered_packages=("tech_credit",), interest_subsidy_pp=1.5)
    m.run(6)
    s = m.summary()
    assert s["fiscal_cost_wan"] > 0
    assert s["fiscal_cost_wan"] == pytest.approx(m.ledger.fiscal_cost_wan("interest_subsidy"))
    # every subsidised loan is policy-backed; nothing else is in this set-up
    assert s["fiscal_leverage"] == pytest.approx(s["credit_mobilised_wan"] / s["fiscal_cost_wan"])


class TestKeywords:
    def test_constructor_has_no_positional_parameters(self):
        sig = inspect.signature(HydrogenChainModel)
        kinds = {p.kind for p in sig.parameters.values()}
        assert inspect.Parameter.VAR_POSITIONAL not in kinds
        assert inspect.Parameter.POSITIONAL_ONLY not in kinds
        assert inspect.Parameter.POSITIONAL_OR_KEYWORD not in kinds
        with pytest.raises(TypeError):
            HydrogenChainModel(1)  # a seed passed positionally is refused

    @pytest.mark.parametrize("name,value", [
        ("n_smes", 25), ("fund_coverage", 0.4), ("order_advance_rate", 0.7), ("npl_tolerance", 0.045),
        ("interest_subsidy_pp", 1.5), ("premium_voucher_share", 0.5), ("lpr_1y", 0.035)])
    def test_flat_keywords_reach_the_parameters(self, name, value):
        m = HydrogenChainModel(rng=1, **{"n_smes": 25, name: value})
        assert getattr(m.params, name) == value
        assert getattr(m.scenario, name) == value

    def test_unknown_keyword_names_it_and_suggests(self):
        with pytest.raises(ParameterError) as err:
            HydrogenChainModel(rng=1, fund_coverag=0.3)
        assert err.value.key == "fund_coverag"
        assert "fund_coverag" in str(err.value)
        assert "fund_coverage" in str(err.value)  # the suggestion

    @pytest.mark.parametrize("name,value,allowed", [
        ("n_smes", 1, "2 to 200000"), ("fund_coverage", 1.5, "0 to 1"), ("npl_tolerance", -0.01, "0 to 0.5"),
        ("lpr_1y", 0.5, "0 to 0.2")])
    def test_out_of_range_names_the_parameter_and_the_range(self, name, value, allowed):
        with pytest.raises(ParameterError) as err:
            HydrogenChainModel(rng=1, **{name: value})
        assert err.value.key == name
        msg = str(err.value)
        assert name in msg and "out of range" in msg and allowed in msg

    @pytest.mark.parametrize("name,value", [
        ("n_smes", 2.5), ("n_smes", "300"), ("fund_coverage", "0.3"), ("agency_enabled", 2),
        ("loss_order", "bank_first"), ("fund_coverage", math.nan)])
    def test_wrong_types_and_choices(self, name, value):
        with pytest.raises(ParameterError) as err:
            HydrogenChainModel(rng=1, **{name: value})
        assert err.value.key == name

    def test_parameter_error_is_a_value_error(self):
        assert issubclass(ParameterError, ValueError)

    def test_negative_months_refused(self):
        with pytest.raises(ParameterError):
            HydrogenChainModel(rng=1, n_smes=20).run(-1)

    def test_rng_not_seed_no_deprecation_warning(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            warnings.simplefilter("error", DeprecationWarning)
            HydrogenChainModel(rng=1, n_smes=20).run(1)


class TestScenario:
    def test_scenario_is_a_mesa_scenario_and_the_params(self):
        m = HydrogenChainModel(rng=1, n_smes=20, fund_coverage=0.4)
        assert isinstance(m.scenario, Scenario)
        assert isinstance(m.scenario, ModelParams)
        assert m.scenario.fund_coverage == 0.4
        assert m.scenario.rng == 1

    def test_params_are_the_scenarios_values_and_refuse_writes(self):
        m = HydrogenChainModel(rng=1, n_smes=20, fund_coverage=0.4)
        assert m.params == m.scenario
        assert {name: getattr(m.params, name) for name in ModelParams.specs()} == m.scenario.values()
        assert m.params.replace(n_smes=30).n_smes == 30  # methods come from the ModelParams
        with pytest.raises(ParameterError, match="fund_coverage"):
            m.params.fund_coverage = 0.9
        assert m.params.fund_coverage == 0.4

    def test_params_and_model_survive_copy_and_pickle(self):
        m = HydrogenChainModel(rng=1, n_smes=20, fund_coverage=0.4)
        for copied in (copy.copy(m.params), copy.deepcopy(m.params), pickle.loads(pickle.dumps(m.params))):
            assert copied == m.params and copied.fund_coverage == 0.4
        m.run(2)
        again = pickle.loads(pickle.dumps(m))
        assert again.params.fund_coverage == 0.4 and again.summary() == m.summary()

    def test_frozen_while_running(self):
        m = HydrogenChainModel(rng=1, n_smes=20)
        m.step()
        with pytest.raises(ValueError):
            m.scenario.fund_coverage = 0.9
        assert m.scenario.fund_coverage == ModelParams().fund_coverage

    def test_model_params_object_can_be_passed(self):
        p = ModelParams(n_smes=20, fund_coverage=0.45)
        m = HydrogenChainModel(scenario=p, rng=3)
        assert m.params.fund_coverage == 0.45 and m.params.n_smes == 20
        m.run(2)

    def test_keyword_overrides_a_model_params_object(self):
        p = ModelParams(n_smes=20, fund_coverage=0.45)
        m = HydrogenChainModel(scenario=p, rng=3, fund_coverage=0.2)
        assert m.params.fund_coverage == 0.2 and m.params.n_smes == 20
        assert p.fund_coverage == 0.45  # the caller's object is not changed

    def test_one_model_params_object_seeds_several_models(self):
        p = ModelParams(n_smes=20)
        m1 = HydrogenChainModel(scenario=p, rng=1)
        m2 = HydrogenChainModel(scenario=p, rng=2)
        assert m1.scenario.rng == 1 and m2.scenario.rng == 2
        assert m1.scenario.model is m1 and m2.scenario.model is m2


def test_mesa_batch_run_works_on_the_model_class():
    """The brief's call also passes iterations=1 together with rng=[1]: Mesa 3.5.1 itself
    refuses that combination ("you cannot use both iterations and rng at the same time"),
    so replicates go through rng= only. batch_run forces the 'spawn' start method on the
    whole process; restore the previous one."""
    before = multiprocessing.get_start_method(allow_none=True)
    try:
        with pytest.raises(ValueError, match="iterations and rng"):
            mesa.batch_run(HydrogenChainModel, parameters={"n_smes": [20]}, iterations=1, max_steps=3,
                           number_processes=1, rng=[1], display_progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            rows = mesa.batch_run(HydrogenChainModel, parameters={"n_smes": [20, 25]}, max_steps=3,
                                  number_processes=1, rng=[1], display_progress=False)
    finally:
        multiprocessing.set_start_method(before, force=True)
    assert len(rows) == 2
    assert {r["n_smes"] for r in rows} == {20, 25}
    for r in rows:
        assert r["Step"] == 3
        assert r["rng"] == 1
        assert "credit_outstanding_wan" in r and "active_smes" in r
    # the batch row is the same run as a direct one with the same seed
    direct = HydrogenChainModel(rng=1, n_smes=20)
    direct.run(3)
    row = next(r for r in rows if r["n_smes"] == 20)
    assert row["active_smes"] == direct.datacollector.get_model_vars_dataframe()["active_smes"].iloc[-1]
    assert row["deliveries_wan"] == pytest.approx(
        direct.datacollector.get_model_vars_dataframe()["deliveries_wan"].iloc[-1])


def test_agents_import_first():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import agents; from agents import SME, Bank"],
                          capture_output=True, text=True, cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert proc.returncode == 0, proc.stderr.strip().splitlines()[-1]


# --- 8. the month is linear in the number of SMEs ------------------------------------------------

def test_ledger_transfers_per_sme_month_do_not_grow_with_n():
    """DOMAIN: no step compares every SME with every other. A count, not a timing."""
    per_sme = {}
    for n in (100, 800):
        m = HydrogenChainModel(rng=5, n_smes=n, offered_packages=ALL_PACKAGES, audit=True)  # audit: counts transfers
        m.run(12)
        per_sme[n] = m.ledger.n_transfers / (n * 12)
    assert per_sme[100] > 1.0  # the model is doing something
    ratio = per_sme[800] / per_sme[100]
    assert 1 / 1.5 <= ratio <= 1.5, per_sme


def test_summary_before_any_month():
    m = HydrogenChainModel(rng=1, n_smes=20)
    s = m.summary()
    assert all(k in s for k in SUMMARY_KEYS)
    assert s["sme_survival_rate"] == 1.0
    assert s["approval_rate"] is None and s["npl_ratio"] is None  # nothing to divide by: None, not 0
    assert s["fiscal_leverage"] is None and s["insurer_loss_ratio"] is None
    assert s["credit_mobilised_wan"] == 0.0 and s["deliveries_wan"] == 0.0
    assert len(m.datacollector.get_model_vars_dataframe()) == 1


# --- who may pay whom --------------------------------------------------------------------------
# The identity checks prove that every transfer is zero-sum; they cannot see a transfer charged
# to the wrong party (external accounts may go negative, so a bank lending from the funding
# market instead of its own account, or a supplier paid by "outside buyers" instead of its
# customer, conserves money). Each kind of transfer has its payers and payees.
PAYERS_PAYEES = {
    "external_sale": {("outside buyers", "sme")},
    "unit_sale": {("outside buyers", "leader")},
    "production_cost": {("sme", "outside suppliers and labour")},
    "fixed_cost": {("sme", "outside suppliers and labour")},
    "operating_shock": {("sme", "outside suppliers and labour")},
    "rd_spend": {("sme", "outside suppliers and labour")},
    "leader_purchase": {("leader", "outside suppliers and labour")},
    "order_payment": {("leader", "sme"), ("sme", "sme")},
    "loan_disbursement": {("bank", "sme")},
    "loan_interest": {("sme", "bank"), ("leader", "bank")},  # a leader pays a financed invoice
    "loan_principal": {("sme", "bank"), ("leader", "bank")},
    "funding_cost": {("bank", "banks' funding market")},
    "guarantee_premium": {("sme", "insurer")},
    "rd_premium": {("sme", "insurer")},
    "guarantee_claim": {("insurer", "bank")},
    "rd_claim": {("insurer", "sme")},
    "recovery": {("sme", "bank"), ("leader", "bank")},
    "late_recovery": {("sme", "bank"), ("leader", "bank")},
    "collateral_sale": {("outside buyers", "bank")},
    "recovery_refund": {("bank", "insurer"), ("bank", "fund")},
    "fund_payout": {("fund", "bank")},
    "agency_fee": {("sme", "agency")},
    "interest_subsidy": {("provincial budget", "bank")},
    "bank_reward": {("provincial budget", "bank")},
    "premium_voucher": {("provincial budget", "insurer")},
    "fund_endowment": {("provincial budget", "fund")},
    "fund_topup": {("provincial budget", "fund")},
    "stop_loss": {("provincial budget", "insurer")},
    "agency_subsidy": {("provincial budget", "agency")},
}


def _role(account_name: str) -> str:
    head, colon, _ = account_name.partition(":")
    return head if colon else account_name


@pytest.mark.parametrize("scenario,stress,extra", [
    ("north_china_hydrogen_capital", "rd_failure_wave", {}),
    ("north_china_hydrogen_capital", "leader_late_payment", {"insurer_suspend_loss_ratio": 0.5, "rd_claimable_share": 1.0}),
    ("insurance_loan", "leader_late_payment", {"loss_order": "pro_rata", "fund_endowment_wan": 300.0}),
])
def test_every_transfer_goes_from_a_party_that_may_pay_it_to_one_that_may_receive_it(scenario, stress, extra):
    from scenarios import load_scenario

    params = load_scenario(scenario, {"n_smes": 80, "plan_scale": 80 / 300, **extra}, stress=stress)
    m = HydrogenChainModel(scenario=params, rng=3, audit=True).run(36)
    names = m.ledger.names
    seen = {}
    for payer, payee, _amount, kind in m.ledger.journal:
        pair = (_role(names[payer]), _role(names[payee]))
        assert pair in PAYERS_PAYEES[kind], f"{kind}: {names[payer]} -> {names[payee]}"
        seen.setdefault(kind, set()).add(pair)
    assert {"loan_disbursement", "loan_interest", "funding_cost", "order_payment", "fund_payout"} <= set(seen)
    # the banks' own accounts paid out every yuan lent (not the funding market)
    bank_accounts = {b.account for b in m.banks}
    lent = math.fsum(a for p, _q, a, k in m.ledger.journal if k == "loan_disbursement" and p in bank_accounts)
    assert lent == pytest.approx(m.counters.credit_mobilised_wan, rel=1e-12) and lent > 0
