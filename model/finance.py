"""Finance arithmetic: plain functions, no Mesa, no state. Agents call them.

Units: money in CNY 10k (wan); rates are fractions per year; terms in months.
Every function is exact arithmetic on its inputs, so each has an exact unit test.

The functions agents call every month (the PD curve, LGD, instalments, the subsidy rate, the
fund's capacity) clip with conditional expressions, not min() and max(): on CPython 3.12 a two-argument min() costs about 330 ns against 27 ns (the builtins
take the generic iterator-and-keywords path). `b if b < a else a` is exactly min(a, b) and
`b if b > a else a` exactly max(a, b), ties and NaN included, so results do not change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WAN_PER_100M = 10_000.0  # CNY 100 M = 10,000 wan


# --- loans -------------------------------------------------------------------------------


def annuity_payment(principal_wan: float, annual_rate: float, months: int) -> float:
    """Equal monthly instalment that repays `principal_wan` over `months` at `annual_rate`."""
    if months < 1:
        raise ValueError("months must be >= 1")
    r = annual_rate / 12.0
    if r == 0.0:
        return principal_wan / months
    return principal_wan * r / (1.0 - (1.0 + r) ** -months)


def split_instalment(outstanding_wan: float, annual_rate: float, instalment_wan: float) -> tuple[float, float]:
    """(interest, principal) parts of one monthly instalment; principal never exceeds what is owed."""
    interest = outstanding_wan * annual_rate / 12.0
    # min(max(instalment - interest, 0), outstanding) without the calls (every loan, twice a
    # month): max(x, 0.0) keeps x unless 0.0 > x; min(x, y) keeps x unless y < x
    principal = instalment_wan - interest
    if 0.0 > principal:
        principal = 0.0
    if outstanding_wan < principal:
        principal = outstanding_wan
    return interest, principal


def loan_rate(lpr: float, expected_loss_rate: float, capital_ratio: float, capital_cost: float, opex_spread: float) -> float:
    """Risk-based price: LPR + expected loss + cost of the capital the loan uses + operating spread."""
    return lpr + expected_loss_rate + capital_ratio * capital_cost + opex_spread


def subsidy_rate(contract_rate: float, subsidy_pp: float, subsidy_share: float, cap_pp: float) -> float:
    """Annual interest subsidy as a rate: `subsidy_pp` points plus `subsidy_share` of the rate,
    capped at `cap_pp` points and at the rate itself (a subsidy never pays the borrower)."""
    raw = subsidy_pp / 100.0 + subsidy_share * contract_rate
    # max(0.0, min(raw, cap, rate)) without the calls (see the module docstring)
    cap = cap_pp / 100.0
    rate = raw
    if cap < rate:
        rate = cap
    if contract_rate < rate:
        rate = contract_rate
    return rate if rate > 0.0 else 0.0


# --- risk --------------------------------------------------------------------------------


def pd_from_signal(signal: float, pd_base_annual: float, slope: float, lo: float = 0.002, hi: float = 0.9) -> float:
    """Annual default probability a bank infers from its quality signal (0..1, 0.5 = average):
    log-linear in the signal, clipped to [lo, hi]."""
    pd = pd_base_annual * math.exp(-slope * (signal - 0.5))
    # min(max(pd, lo), hi) without the calls (see the module docstring)
    pd = lo if lo > pd else pd
    return hi if hi < pd else pd


def pd_over_term(pd_annual: float, months: int) -> float:
    """Probability of default within `months` for a constant annual hazard."""
    return 1.0 - (1.0 - pd_annual) ** (months / 12.0)


def annualise_pd(pd_term: float, months: int) -> float:
    """Inverse of `pd_over_term`."""
    return 1.0 - (1.0 - pd_term) ** (12.0 / months)


def combine_pd(*pds: float) -> float:
    """Probability that at least one of several independent events happens."""
    survive = 1.0
    for p in pds:
        survive *= 1.0 - p
    return 1.0 - survive


def loss_given_default(exposure_wan: float, recovery_wan: float) -> float:
    """Share of the exposure lost after recovery (0..1)."""
    if exposure_wan <= 0.0:
        return 0.0
    lost = 1.0 - recovery_wan / exposure_wan
    # min(1.0, max(0.0, lost)) without the calls (see the module docstring)
    lost = lost if lost > 0.0 else 0.0
    return lost if lost < 1.0 else 1.0


def expected_loss_rate(pd_annual: float, lgd: float, covered_share: float) -> float:
    """Annual expected loss per yuan lent that the bank keeps after insurer and fund cover."""
    return pd_annual * lgd * (1.0 - covered_share)


# --- loss allocation -----------------------------------------------------------------------


@dataclass(frozen=True)
class LossShares:
    """How one loss (after recovery) is shared. The three parts add up to the loss."""

    insurer_wan: float
    fund_wan: float
    bank_wan: float

    @property
    def total_wan(self) -> float:
        return self.insurer_wan + self.fund_wan + self.bank_wan


def allocate_loss(
    loss_wan: float,
    principal_wan: float,
    *,
    insurer_share: float,
    fund_share: float,
    fund_per_loan_cap: float,
    policy_cover_cap: float,
    fund_available_wan: float,
    order: str = "insurer_first",
    bank_over_tolerance: bool = False,
) -> LossShares:
    """Share a principal loss (after recovery) among insurer, fund and bank.

    insurer_first (Jiangmen rule): the insurer pays `insurer_share` of the loss; the fund
    pays `fund_share` of what remains. pro_rata: insurer and bank split the loss
    `insurer_share` / rest from the first yuan, and the fund is only a stop-loss: it pays
    `fund_share` of the bank's part when the bank's NPL is above its tolerance.
    In both, the fund pays at most `fund_per_loan_cap` x principal and what it has, and all
    policy cover (insurer + fund) is at most `policy_cover_cap` of the loss.
    """
    if loss_wan <= 0.0:
        return LossShares(0.0, 0.0, 0.0)
    if order not in ("insurer_first", "pro_rata"):
        raise ValueError(f"unknown loss order {order!r}")
    cap_total = policy_cover_cap * loss_wan
    insurer = min(insurer_share * loss_wan, cap_total)
    remaining = loss_wan - insurer
    if order == "insurer_first" or bank_over_tolerance:
        fund = fund_share * remaining
    else:
        fund = 0.0
    fund = max(0.0, min(fund, fund_per_loan_cap * principal_wan, fund_available_wan, cap_total - insurer))
    return LossShares(insurer, fund, loss_wan - insurer - fund)


def covered_share(
    *,
    insurer_share: float,
    fund_share: float,
    fund_per_loan_cap: float,
    policy_cover_cap: float,
    order: str = "insurer_first",
    bank_over_tolerance: bool = False,
) -> float:
    """Share of a unit loss on a unit loan the bank expects others to bear (for underwriting)."""
    shares = allocate_loss(
        1.0, 1.0, insurer_share=insurer_share, fund_share=fund_share, fund_per_loan_cap=fund_per_loan_cap,
        policy_cover_cap=policy_cover_cap, fund_available_wan=math.inf, order=order,
        bank_over_tolerance=bank_over_tolerance)
    return shares.insurer_wan + shares.fund_wan


def share_recovery(recovery_wan: float, paid_insurer_wan: float, paid_fund_wan: float, paid_bank_wan: float) -> LossShares:
    """A recovery after a loss was shared goes back to each party in proportion to what it paid
    (and never more than it paid)."""
    total = paid_insurer_wan + paid_fund_wan + paid_bank_wan
    if total <= 0.0 or recovery_wan <= 0.0:
        return LossShares(0.0, 0.0, 0.0)
    r = min(recovery_wan, total)
    return LossShares(r * paid_insurer_wan / total, r * paid_fund_wan / total, r * paid_bank_wan / total)


# --- premiums, vouchers, rewards, fund ---------------------------------------------------------


def guarantee_premium(principal_wan: float, annual_rate: float, months: int) -> float:
    """Loan-guarantee insurance premium for the whole term, paid up front."""
    return principal_wan * annual_rate * months / 12.0


def rd_premium(sum_insured_wan: float, rate: float) -> float:
    """R&D-loss insurance premium (a share of the sum insured)."""
    return sum_insured_wan * rate


def voucher_split(premium_wan: float, voucher_share: float) -> tuple[float, float]:
    """(paid by the firm, paid by the voucher)."""
    voucher = premium_wan * voucher_share
    return premium_wan - voucher, voucher


def bank_reward(new_tech_credit_wan: float, reward_wan_per_100m: float) -> float:
    """Shanxi rule, CNY 0.2 M per CNY 100 M of a bank's new tech credit in the year, paid pro
    rata. Not per full 100 M: the model's banks are sized to the simulated chain, not to a
    provincial bank, so a 100 M step would make the reward hinge on a threshold the scale
    of the run sets; and the banks price the reward in as a rate on every loan."""
    return reward_wan_per_100m * new_tech_credit_wan / WAN_PER_100M


def fund_capacity(balance_wan: float, backed_outstanding_wan: float, max_leverage: float) -> float:
    """New credit the fund can still back: balance x leverage limit less what it backs already."""
    room = balance_wan * max_leverage - backed_outstanding_wan
    return room if room > 0.0 else 0.0  # max(0.0, room)


def stop_loss_payment(claims_wan: float, premiums_wan: float, suspend_loss_ratio: float,
                      government_share: float, already_paid_wan: float) -> float:
    """Government stop-loss: `government_share` of claims above `suspend_loss_ratio` x premiums,
    less what it has paid already."""
    excess = max(0.0, claims_wan - suspend_loss_ratio * premiums_wan)
    return max(0.0, government_share * excess - already_paid_wan)


def ratio_or_none(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero (nothing to divide by)."""
    return numerator / denominator if denominator > 0.0 else None
