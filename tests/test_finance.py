"""Exact unit tests of the finance arithmetic (model/finance.py) against hand-computed values.

Every expected number below was worked out by hand (or is a textbook value), not by calling
the function under test with other arguments.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from model import finance
from model.finance import LossShares

REL = 1e-12  # exact arithmetic: only float rounding is allowed


def approx(x, rel=REL, abs=1e-12):
    return pytest.approx(x, rel=rel, abs=abs)


# --- annuity ----------------------------------------------------------------------------------


class TestAnnuity:
    def test_textbook_mortgage(self):
        # 100,000 over 30 years at 6%/yr: the textbook instalment is 599.55 a month.
        assert finance.annuity_payment(100_000.0, 0.06, 360) == pytest.approx(599.55, abs=0.005)

    def test_textbook_one_year_loan(self):
        # 1,000 over 12 months at 12%/yr (1%/month): 88.85 a month.
        assert finance.annuity_payment(1000.0, 0.12, 12) == pytest.approx(88.85, abs=0.005)

    def test_one_month_repays_principal_plus_one_month_interest(self):
        assert finance.annuity_payment(1000.0, 0.12, 1) == approx(1010.0)

    def test_two_months_closed_form(self):
        # r = 1%: A = 1000 * 1.01^2 * 0.01 / (1.01^2 - 1) = 10.201 / 0.0201
        assert finance.annuity_payment(1000.0, 0.12, 2) == approx(10.201 / 0.0201)

    def test_zero_rate_is_straight_line(self):
        assert finance.annuity_payment(1200.0, 0.0, 12) == approx(100.0)
        assert finance.annuity_payment(1200.0, 0.0, 1) == approx(1200.0)

    def test_zero_months_is_an_error(self):
        with pytest.raises(ValueError):
            finance.annuity_payment(1000.0, 0.05, 0)

    @pytest.mark.parametrize("principal,rate,months", [
        (1000.0, 0.12, 12), (2500.0, 0.0435, 24), (300.0, 0.0, 7), (10_000.0, 0.08, 60), (50.0, 0.2, 1)])
    def test_instalments_repay_the_principal_exactly(self, principal, rate, months):
        a = finance.annuity_payment(principal, rate, months)
        outstanding = principal
        interest_total = 0.0
        for _ in range(months):
            interest, repaid = finance.split_instalment(outstanding, rate, a)
            assert interest + repaid == pytest.approx(a, rel=1e-9)  # every instalment is paid in full
            outstanding -= repaid
            interest_total += interest
        assert outstanding == pytest.approx(0.0, abs=1e-9 * principal)
        # what was paid = principal + interest
        assert months * a == pytest.approx(principal + interest_total, rel=1e-12)


class TestSplitInstalment:
    def test_interest_then_principal(self):
        # 1000 at 12%/yr: 10 interest; an instalment of 100 repays 90.
        assert finance.split_instalment(1000.0, 0.12, 100.0) == (approx(10.0), approx(90.0))

    def test_instalment_below_interest_repays_nothing(self):
        assert finance.split_instalment(1000.0, 0.12, 4.0) == (approx(10.0), 0.0)

    def test_principal_never_exceeds_what_is_owed(self):
        # last instalment larger than the remaining balance
        assert finance.split_instalment(50.0, 0.12, 100.0) == (approx(0.5), approx(50.0))

    def test_zero_rate(self):
        assert finance.split_instalment(600.0, 0.0, 100.0) == (0.0, approx(100.0))


# --- pricing and subsidies ----------------------------------------------------------------------


def test_loan_rate_is_lpr_plus_el_plus_capital_cost_plus_opex():
    # 3% + 1% + 10.5% x 6% + 0.5% = 5.13%
    assert finance.loan_rate(0.03, 0.01, 0.105, 0.06, 0.005) == approx(0.0513)
    assert finance.loan_rate(0.03, 0.0, 0.0, 0.0, 0.0) == approx(0.03)


class TestSubsidyRate:
    def test_percentage_points(self):
        assert finance.subsidy_rate(0.05, 1.5, 0.0, 2.0) == approx(0.015)

    def test_share_of_the_rate(self):
        assert finance.subsidy_rate(0.04, 0.0, 0.5, 10.0) == approx(0.02)

    def test_points_plus_share(self):
        # 1 pp + 25% of 4% = 2%
        assert finance.subsidy_rate(0.04, 1.0, 0.25, 5.0) == approx(0.02)

    def test_capped_in_points(self):
        # 50% of 5% = 2.5%, capped at 2 pp
        assert finance.subsidy_rate(0.05, 0.0, 0.5, 2.0) == approx(0.02)
        assert finance.subsidy_rate(0.05, 3.0, 0.0, 1.5) == approx(0.015)

    def test_never_above_the_rate(self):
        # 1.5 pp on a 1% loan: the subsidy stops at the rate itself
        assert finance.subsidy_rate(0.01, 1.5, 0.0, 2.0) == approx(0.01)
        assert finance.subsidy_rate(0.03, 0.0, 1.0, 10.0) == approx(0.03)

    def test_no_subsidy(self):
        assert finance.subsidy_rate(0.05, 0.0, 0.0, 2.0) == 0.0
        assert finance.subsidy_rate(0.0, 1.5, 0.0, 2.0) == 0.0

    @given(rate=st.floats(0.0, 0.3), pp=st.floats(0.0, 10.0), share=st.floats(0.0, 1.0), cap=st.floats(0.0, 10.0))
    def test_bounds(self, rate, pp, share, cap):
        s = finance.subsidy_rate(rate, pp, share, cap)
        assert 0.0 <= s <= rate + 1e-15
        assert s <= cap / 100.0 + 1e-15


# --- risk --------------------------------------------------------------------------------------


class TestPD:
    def test_average_signal_gives_the_base_pd(self):
        assert finance.pd_from_signal(0.5, 0.05, 4.0) == approx(0.05)

    def test_log_linear_in_the_signal(self):
        # slope 4, signal 0.75: exp(-1)
        assert finance.pd_from_signal(0.75, 0.05, 4.0) == approx(0.05 * math.exp(-1.0))
        assert finance.pd_from_signal(0.25, 0.05, 4.0) == approx(0.05 * math.e)

    def test_clipped(self):
        assert finance.pd_from_signal(10.0, 0.05, 4.0) == 0.002
        assert finance.pd_from_signal(-10.0, 0.05, 4.0) == 0.9
        assert finance.pd_from_signal(10.0, 0.05, 4.0, lo=0.01) == 0.01
        assert finance.pd_from_signal(-10.0, 0.05, 4.0, hi=0.5) == 0.5

    def test_better_signal_lower_pd(self):
        assert finance.pd_from_signal(0.6, 0.05, 4.0) < finance.pd_from_signal(0.4, 0.05, 4.0)

    def test_pd_over_term(self):
        assert finance.pd_over_term(0.1, 12) == approx(0.1)
        assert finance.pd_over_term(0.19, 24) == approx(1 - 0.81 ** 2)  # 0.3439
        assert finance.pd_over_term(0.19, 6) == approx(1 - 0.9)  # sqrt(0.81) = 0.9
        assert finance.pd_over_term(0.0, 36) == 0.0

    def test_annualise_pd(self):
        assert finance.annualise_pd(0.3439, 24) == approx(0.19, rel=1e-9)
        assert finance.annualise_pd(0.1, 6) == approx(0.19, rel=1e-9)

    @pytest.mark.parametrize("pd,months", [(0.02, 1), (0.05, 3), (0.15, 7), (0.3, 24), (0.6, 60)])
    def test_round_trip(self, pd, months):
        assert finance.annualise_pd(finance.pd_over_term(pd, months), months) == pytest.approx(pd, rel=1e-9)

    def test_combine_pd(self):
        assert finance.combine_pd(0.1, 0.2) == approx(0.28)
        assert finance.combine_pd(0.5, 0.5, 0.5) == approx(0.875)
        assert finance.combine_pd(0.3) == approx(0.3)
        assert finance.combine_pd() == 0.0
        assert finance.combine_pd(1.0, 0.1) == approx(1.0)


class TestLoss:
    def test_lgd(self):
        assert finance.loss_given_default(100.0, 30.0) == approx(0.7)
        assert finance.loss_given_default(100.0, 0.0) == 1.0

    def test_lgd_bounds(self):
        assert finance.loss_given_default(0.0, 10.0) == 0.0  # nothing lent, nothing lost
        assert finance.loss_given_default(100.0, 150.0) == 0.0  # over-recovery is no gain
        assert finance.loss_given_default(100.0, -5.0) == 1.0

    def test_expected_loss_rate(self):
        # 5% x 90% x (1 - 70%) = 1.35%
        assert finance.expected_loss_rate(0.05, 0.9, 0.7) == approx(0.0135)
        assert finance.expected_loss_rate(0.05, 0.9, 0.0) == approx(0.045)
        assert finance.expected_loss_rate(0.05, 0.9, 1.0) == 0.0


# --- loss allocation -----------------------------------------------------------------------------

BASE = dict(insurer_share=0.7, fund_share=0.3, fund_per_loan_cap=0.5, policy_cover_cap=0.8,
            fund_available_wan=math.inf)


def shares(loss, principal, **kw):
    args = {**BASE, **kw}
    s = finance.allocate_loss(loss, principal, **args)
    assert s.insurer_wan + s.fund_wan + s.bank_wan == pytest.approx(loss, rel=1e-12, abs=1e-12)
    assert s.total_wan == pytest.approx(loss, rel=1e-12, abs=1e-12)
    return (s.insurer_wan, s.fund_wan, s.bank_wan)


class TestAllocateLossInsurerFirst:
    def test_jiangmen_rule(self):
        # insurer 70% of 100 = 70; fund 30% of the remaining 30 = 9; bank 21
        assert shares(100.0, 100.0) == (approx(70.0), approx(9.0), approx(21.0))

    def test_is_the_default_order(self):
        a = finance.allocate_loss(100.0, 100.0, **BASE)
        b = finance.allocate_loss(100.0, 100.0, order="insurer_first", **BASE)
        assert a == b

    def test_without_insurance_the_fund_pays_its_share_of_the_loss(self):
        assert shares(100.0, 100.0, insurer_share=0.0) == (0.0, approx(30.0), approx(70.0))

    def test_policy_cover_cap_limits_the_fund(self):
        # insurer 70, fund would pay 50% of 30 = 15, but all policy cover <= 80: fund 10
        assert shares(100.0, 100.0, fund_share=0.5) == (approx(70.0), approx(10.0), approx(20.0))

    def test_policy_cover_cap_limits_the_insurer(self):
        # insurer 90% of the loss, but policy cover <= 80%: insurer 80, nothing left for the fund
        assert shares(100.0, 100.0, insurer_share=0.9) == (approx(80.0), 0.0, approx(20.0))

    def test_per_loan_cap(self):
        # loss 100 on a loan of 20: the fund pays at most 50% x 20 = 10 (not 30% of 100 = 30)
        assert shares(100.0, 20.0, insurer_share=0.0) == (0.0, approx(10.0), approx(90.0))
        # with insurance: fund would pay 9 but the cap is 50% x 10 = 5
        assert shares(100.0, 10.0) == (approx(70.0), approx(5.0), approx(25.0))

    def test_fund_availability(self):
        assert shares(100.0, 100.0, fund_available_wan=4.0) == (approx(70.0), approx(4.0), approx(26.0))
        assert shares(100.0, 100.0, fund_available_wan=0.0) == (approx(70.0), 0.0, approx(30.0))

    def test_no_loss(self):
        assert finance.allocate_loss(0.0, 100.0, **BASE) == LossShares(0.0, 0.0, 0.0)
        assert finance.allocate_loss(-3.0, 100.0, **BASE) == LossShares(0.0, 0.0, 0.0)

    def test_unknown_order(self):
        with pytest.raises(ValueError):
            finance.allocate_loss(100.0, 100.0, order="bank_first", **BASE)


class TestAllocateLossProRata:
    def test_fund_does_not_pay_within_tolerance(self):
        # bank 30 / insurer 70 from the first yuan; the fund is only a stop-loss
        assert shares(100.0, 100.0, order="pro_rata") == (approx(70.0), 0.0, approx(30.0))
        assert shares(100.0, 100.0, order="pro_rata", bank_over_tolerance=False) == (approx(70.0), 0.0, approx(30.0))

    def test_fund_pays_its_share_of_the_bank_part_over_tolerance(self):
        assert shares(100.0, 100.0, order="pro_rata", bank_over_tolerance=True) == (
            approx(70.0), approx(9.0), approx(21.0))

    def test_caps_apply_over_tolerance(self):
        assert shares(100.0, 10.0, order="pro_rata", bank_over_tolerance=True) == (
            approx(70.0), approx(5.0), approx(25.0))
        assert shares(100.0, 100.0, order="pro_rata", bank_over_tolerance=True, fund_share=0.5) == (
            approx(70.0), approx(10.0), approx(20.0))
        assert shares(100.0, 100.0, order="pro_rata", bank_over_tolerance=True, fund_available_wan=2.0) == (
            approx(70.0), approx(2.0), approx(28.0))

    def test_uninsured_loss_within_tolerance_stays_with_the_bank(self):
        assert shares(100.0, 100.0, order="pro_rata", insurer_share=0.0) == (0.0, 0.0, approx(100.0))


@settings(max_examples=300, deadline=None)
@given(
    loss=st.floats(0.0, 1e6), principal=st.floats(0.0, 1e6),
    insurer_share=st.floats(0.0, 1.0), fund_share=st.floats(0.0, 1.0), cap=st.floats(0.0, 1.0),
    policy_cap=st.floats(0.0, 1.0), available=st.floats(0.0, 1e6) | st.just(math.inf),
    order=st.sampled_from(["insurer_first", "pro_rata"]), over=st.booleans())
def test_allocate_loss_parts_sum_to_the_loss_and_respect_every_cap(
        loss, principal, insurer_share, fund_share, cap, policy_cap, available, order, over):
    s = finance.allocate_loss(loss, principal, insurer_share=insurer_share, fund_share=fund_share,
                              fund_per_loan_cap=cap, policy_cover_cap=policy_cap, fund_available_wan=available,
                              order=order, bank_over_tolerance=over)
    tol = 1e-9 * (1.0 + loss)
    assert s.insurer_wan + s.fund_wan + s.bank_wan == pytest.approx(loss, abs=tol)
    assert s.insurer_wan >= 0 and s.fund_wan >= 0 and s.bank_wan >= -tol
    assert s.insurer_wan <= insurer_share * loss + tol
    assert s.insurer_wan + s.fund_wan <= policy_cap * loss + tol
    assert s.fund_wan <= cap * principal + tol
    assert s.fund_wan <= available + tol
    if order == "pro_rata" and not over:
        assert s.fund_wan == 0.0


class TestCoveredShare:
    def test_insured_and_fund_backed(self):
        # the unit-loss version of the Jiangmen example: 0.7 + 0.09
        assert finance.covered_share(insurer_share=0.7, fund_share=0.3, fund_per_loan_cap=0.5,
                                     policy_cover_cap=0.8) == approx(0.79)

    def test_fund_only_with_per_loan_cap(self):
        assert finance.covered_share(insurer_share=0.0, fund_share=0.35, fund_per_loan_cap=0.5,
                                     policy_cover_cap=0.8) == approx(0.35)
        assert finance.covered_share(insurer_share=0.0, fund_share=0.6, fund_per_loan_cap=0.5,
                                     policy_cover_cap=0.8) == approx(0.5)

    def test_pro_rata_within_tolerance_counts_no_fund(self):
        assert finance.covered_share(insurer_share=0.7, fund_share=0.3, fund_per_loan_cap=0.5,
                                     policy_cover_cap=0.8, order="pro_rata") == approx(0.7)
        assert finance.covered_share(insurer_share=0.7, fund_share=0.3, fund_per_loan_cap=0.5,
                                     policy_cover_cap=0.8, order="pro_rata", bank_over_tolerance=True) == approx(0.79)

    def test_nothing_covered(self):
        assert finance.covered_share(insurer_share=0.0, fund_share=0.0, fund_per_loan_cap=0.5,
                                     policy_cover_cap=0.8) == 0.0


class TestShareRecovery:
    def test_in_proportion_to_what_each_paid(self):
        # 70 / 9 / 21 paid; 50 recovered: 35 / 4.5 / 10.5
        s = finance.share_recovery(50.0, 70.0, 9.0, 21.0)
        assert (s.insurer_wan, s.fund_wan, s.bank_wan) == (approx(35.0), approx(4.5), approx(10.5))

    def test_never_more_than_was_paid(self):
        s = finance.share_recovery(200.0, 70.0, 9.0, 21.0)
        assert (s.insurer_wan, s.fund_wan, s.bank_wan) == (approx(70.0), approx(9.0), approx(21.0))

    def test_nothing_to_share(self):
        assert finance.share_recovery(0.0, 70.0, 9.0, 21.0) == LossShares(0.0, 0.0, 0.0)
        assert finance.share_recovery(10.0, 0.0, 0.0, 0.0) == LossShares(0.0, 0.0, 0.0)


# --- premiums, vouchers, rewards, fund ----------------------------------------------------------


def test_guarantee_premium_for_the_whole_term():
    # 2%/yr on 1000 for 24 months = 40
    assert finance.guarantee_premium(1000.0, 0.02, 24) == approx(40.0)
    assert finance.guarantee_premium(1000.0, 0.03, 6) == approx(15.0)


def test_rd_premium():
    # 5% of a sum insured of 200
    assert finance.rd_premium(200.0, 0.05) == approx(10.0)


def test_voucher_split():
    assert finance.voucher_split(10.0, 0.5) == (approx(5.0), approx(5.0))
    assert finance.voucher_split(10.0, 0.0) == (approx(10.0), 0.0)
    assert finance.voucher_split(10.0, 1.0) == (0.0, approx(10.0))
    assert finance.voucher_split(40.0, 0.25) == (approx(30.0), approx(10.0))


class TestBankReward:
    """Shanxi rule: CNY 0.2 M (= 20 wan) per CNY 100 M (= 10,000 wan) of yearly tech credit,
    pro rata (the model's banks are far smaller than a provincial bank)."""

    def test_100m(self):
        assert finance.bank_reward(10_000.0, 20.0) == 20.0

    def test_pro_rata_below_and_above_100m(self):
        assert finance.bank_reward(9_999.0, 20.0) == approx(19.998)  # CNY 99.99 M
        assert finance.bank_reward(25_000.0, 20.0) == 50.0
        assert finance.bank_reward(1_234.5, 20.0) == approx(2.469)

    def test_no_credit_or_no_reward(self):
        assert finance.bank_reward(0.0, 20.0) == 0.0
        assert finance.bank_reward(50_000.0, 0.0) == 0.0


def test_fund_capacity():
    # 1,000 x 10 = 10,000 of backing; 3,000 used
    assert finance.fund_capacity(1000.0, 3000.0, 10.0) == approx(7000.0)
    assert finance.fund_capacity(1000.0, 12_000.0, 10.0) == 0.0
    assert finance.fund_capacity(0.0, 0.0, 10.0) == 0.0


class TestStopLoss:
    def test_share_of_claims_above_the_limit(self):
        # claims 150 vs 1.2 x 100 of premiums: 30 above, government pays 80% = 24
        assert finance.stop_loss_payment(150.0, 100.0, 1.2, 0.8, 0.0) == approx(24.0)

    def test_less_what_was_paid_already(self):
        assert finance.stop_loss_payment(150.0, 100.0, 1.2, 0.8, 10.0) == approx(14.0)
        assert finance.stop_loss_payment(150.0, 100.0, 1.2, 0.8, 30.0) == 0.0

    def test_nothing_below_the_limit(self):
        assert finance.stop_loss_payment(100.0, 100.0, 1.2, 0.8, 0.0) == 0.0
        assert finance.stop_loss_payment(120.0, 100.0, 1.2, 0.8, 0.0) == 0.0


def test_ratio_or_none():
    assert finance.ratio_or_none(1.0, 2.0) == 0.5
    assert finance.ratio_or_none(0.0, 5.0) == 0.0  # a real zero stays a zero
    assert finance.ratio_or_none(1.0, 0.0) is None
    assert finance.ratio_or_none(0.0, 0.0) is None


# The monthly functions clip with conditional expressions instead of min()/max() calls (see
# the module docstring); these pin that they return exactly what the min/max forms return.
_any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
_money = st.floats(-1e9, 1e9, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(signal=st.floats(-10, 10), base=st.floats(0.0, 1.0), slope=st.floats(0.0, 20.0), lo=_money, hi=_money)
@example(signal=0.5, base=0.0, slope=1.0, lo=-0.0, hi=1.0)  # a tie of signed zeros: max keeps its first argument
def test_pd_from_signal_clips_as_min_max(signal, base, slope, lo, hi):
    pd = base * math.exp(-slope * (signal - 0.5))
    assert repr(finance.pd_from_signal(signal, base, slope, lo, hi)) == repr(min(max(pd, lo), hi))


@settings(max_examples=300, deadline=None)
@given(exposure=st.floats(1e-9, 1e9), recovery=_any_float)
@example(exposure=1.0, recovery=1.0)  # 1 - 1 = 0.0 ties with the lower bound
def test_loss_given_default_clips_as_min_max(exposure, recovery):
    assert repr(finance.loss_given_default(exposure, recovery)) == repr(min(1.0, max(0.0, 1.0 - recovery / exposure)))


@settings(max_examples=300, deadline=None)
@given(outstanding=_money, rate=st.floats(-1.0, 1.0), instalment=_any_float)
def test_split_instalment_clips_as_min_max(outstanding, rate, instalment):
    interest = outstanding * rate / 12.0
    expected = (interest, min(max(instalment - interest, 0.0), outstanding))
    assert repr(finance.split_instalment(outstanding, rate, instalment)) == repr(expected)


@settings(max_examples=300, deadline=None)
@given(rate=_any_float, pp=_money, share=st.floats(-2.0, 2.0), cap=_money)
def test_subsidy_rate_clips_as_min_max(rate, pp, share, cap):
    raw = pp / 100.0 + share * rate
    assert repr(finance.subsidy_rate(rate, pp, share, cap)) == repr(max(0.0, min(raw, cap / 100.0, rate)))


@settings(max_examples=300, deadline=None)
@given(balance=_money, backed=_money, leverage=st.floats(0.0, 50.0))
def test_fund_capacity_clips_as_max(balance, backed, leverage):
    assert repr(finance.fund_capacity(balance, backed, leverage)) == repr(max(0.0, balance * leverage - backed))
