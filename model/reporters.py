"""KPIs: named reporter functions (picklable, testable), shared by the data collector, the
command line and the browser view. Units are in the names: `_wan` = CNY 10k.

Monthly reporters read the model as it is at the end of a month; `summary()` reports the
end of a run. Ratios with nothing to divide by are NaN in monthly rows and None in the
summary, never a made-up zero.
"""

from __future__ import annotations

import math
from functools import partial

from model import finance
from model.instruments import NPL
from model.ledger import FISCAL_LEVERS

NAN = float("nan")


# -- shared scans --------------------------------------------------------------------------
# Several reporters read the same loan books and SME statuses. While the data collector
# writes a month's row (`collect`), each scan is made once and shared; a reporter called on
# its own scans for itself. The results are the same either way: `math.fsum` is exactly
# rounded, so it does not depend on the order of the loans.

def collect(m) -> None:
    """Write the month's row of the monthly frame (the model calls this at the end of a month)."""
    m.row_cache = {}
    try:
        m.datacollector.collect(m)
    finally:
        m.row_cache = None


def _shared(m, key: str, compute):
    cache = getattr(m, "row_cache", None)
    if cache is None:
        return compute(m)
    if key not in cache:
        cache[key] = compute(m)
    return cache[key]


def _scan_loans(m) -> dict:
    """Outstanding principal by bank (all and NPL, in bank order) and by package."""
    by_package: dict[str, list[float]] = {}
    per_bank, npl_per_bank = [], []
    for b in m.banks:
        amounts, npl = [], []
        for loan in b.loans:
            amounts.append(loan.outstanding_wan)
            by_package.setdefault(loan.package, []).append(loan.outstanding_wan)
            if loan.status == NPL:
                npl.append(loan.outstanding_wan)
        per_bank.append(amounts)
        npl_per_bank.append(npl)
    return {
        "bank_wan": [math.fsum(a) for a in per_bank],
        "bank_npl_wan": [math.fsum(a) for a in npl_per_bank],
        "npl_wan": math.fsum([x for a in npl_per_bank for x in a]),
        "package_wan": {k: math.fsum(v) for k, v in by_package.items()},
    }


def _loans(m) -> dict:
    return _shared(m, "loans", _scan_loans)


def _count_statuses(m) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in m.smes:
        counts[s.status] = counts.get(s.status, 0) + 1
    return counts


def _statuses(m) -> dict[str, int]:
    return _shared(m, "statuses", _count_statuses)


# -- monthly reporters ---------------------------------------------------------------------
def credit_outstanding_wan(m) -> float:
    return math.fsum(_loans(m)["bank_wan"])


def new_lending_wan(m) -> float:
    return m.counters.month_new_lending_wan


def approval_rate(m) -> float:
    c = m.counters
    return c.month_approvals / c.month_applications if c.month_applications else NAN


def applications(m) -> int:
    return m.counters.month_applications


def active_smes(m) -> int:
    return len(m.smes) - defaulted_smes(m)


def distressed_smes(m) -> int:
    return _statuses(m).get("distressed", 0)


def defaulted_smes(m) -> int:
    return _statuses(m).get("defaulted", 0)


def npl_ratio(m) -> float:
    """Stock NPL ratio: non-performing principal / principal outstanding."""
    out = credit_outstanding_wan(m)
    return _loans(m)["npl_wan"] / out if out > 0 else NAN


def insurer_loss_ratio(m) -> float:
    lr = m.insurer.loss_ratio
    return NAN if lr is None else lr


def fund_balance_wan(m) -> float:
    return m.fund.balance_wan


def fund_payouts_wan(m) -> float:
    return m.fund.payouts_wan


def fiscal_cost_wan(m) -> float:
    return m.ledger.fiscal_cost_wan()


def fiscal_lever_wan(m, lever: str) -> float:
    return m.ledger.fiscal_cost_wan(lever)


def deliveries_wan(m) -> float:
    return m.counters.deliveries_wan


def rd_successes(m) -> int:
    return m.counters.rd_successes


def rd_failures(m) -> int:
    return m.counters.rd_failures


def rd_abandoned(m) -> int:
    return m.counters.rd_abandoned


def units(m, kpi: str, what: str) -> float:
    attr = "units_deployed" if what == "deployed" else "units_planned"
    return math.fsum(getattr(ld, attr).get(kpi, 0.0) for ld in m.leaders)


def orders_placed_wan(m) -> float:
    return m.counters.orders_placed_wan


def financing_gap_wan(m) -> float:
    return m.counters.financing_gap_wan


def insurer_premiums_wan(m) -> float:
    return m.insurer.premiums_wan


def insurer_claims_wan(m) -> float:
    return m.insurer.claims_wan


def bank_capital_wan(m, index: int) -> float:
    """`Bank.capital_wan`, from the shared scan of the loan book."""
    return m.banks[index].capital_with_book_wan(_loans(m)["bank_wan"][index])


def bank_npl_ratio(m, index: int) -> float:
    """`Bank.npl_ratio()`, from the shared scan of the loan book; NaN for an empty book (the
    bank's own underwriting reads it as 0, a reported series must not: no loans is not a
    clean book)."""
    loans = _loans(m)
    book = loans["bank_wan"][index]
    return m.banks[index].npl_share(loans["bank_npl_wan"][index], book) if book > 0 else NAN


def credit_by_package_wan(m, package: str) -> float:
    return _loans(m)["package_wan"].get(package, 0.0)


def model_reporters(m) -> dict:
    reps = {
        "credit_outstanding_wan": credit_outstanding_wan,
        "new_lending_wan": new_lending_wan,
        "applications": applications,
        "approval_rate": approval_rate,
        "active_smes": active_smes,
        "distressed_smes": distressed_smes,
        "defaulted_smes": defaulted_smes,
        "npl_ratio": npl_ratio,
        "insurer_loss_ratio": insurer_loss_ratio,
        "fund_balance_wan": fund_balance_wan,
        "fund_payouts_wan": fund_payouts_wan,
        "fiscal_cost_wan": fiscal_cost_wan,
    }
    for lever in FISCAL_LEVERS:
        reps[f"fiscal_{lever}_wan"] = partial(fiscal_lever_wan, lever=lever)
    reps.update({
        "orders_placed_wan": orders_placed_wan,
        "deliveries_wan": deliveries_wan,
        "financing_gap_wan": financing_gap_wan,
        "insurer_premiums_wan": insurer_premiums_wan,
        "insurer_claims_wan": insurer_claims_wan,
        "rd_successes": rd_successes,
        "rd_failures": rd_failures,
        "rd_abandoned": rd_abandoned,
        "trucks_deployed": partial(units, kpi="trucks", what="deployed"),
        "trucks_planned": partial(units, kpi="trucks", what="planned"),
        "stations_deployed": partial(units, kpi="stations", what="deployed"),
        "stations_planned": partial(units, kpi="stations", what="planned"),
    })
    for package in m.params.packages:
        reps[f"credit_{package}_wan"] = partial(credit_by_package_wan, package=package)
    for i, bank in enumerate(m.banks):
        reps[f"capital_{bank.key}_wan"] = partial(bank_capital_wan, index=i)
        reps[f"npl_ratio_{bank.key}"] = partial(bank_npl_ratio, index=i)
    return reps


# What each summary KPI means (units in the name); the README and `h2chain run` print these.
SUMMARY_DOCS = {
    "months": "months simulated",
    "sme_survival_rate": "share of SMEs not defaulted at the end",
    "surviving_smes": "SMEs not defaulted at the end (a count: with a network_file, n_smes is not the number of SMEs)",
    "credit_mobilised_wan": "all loans disbursed over the run",
    "credit_outstanding_wan": "loans outstanding at the end",
    "approval_rate": "approved / decided applications over the run",
    "approval_rate_light_asset": "the same for light-asset SMEs",
    "npl_ratio": "principal that became non-performing / credit mobilised (cumulative NPL ratio)",
    "npl_ratio_end": "stock NPL ratio at the end",
    "npl_principal_wan": "principal that became non-performing over the run",
    "bank_losses_wan": "principal banks wrote off, net of later recoveries they kept",
    "fiscal_cost_wan": "all money paid out of the provincial budget (fund endowment counted when paid in)",
    "fiscal_cost_net_wan": "fiscal cost less what is left in the fund",
    "fiscal_leverage": "policy-backed credit per yuan of fiscal cost (None if no fiscal money was spent)",
    "policy_backed_credit_wan": "credit with fund cover, a subsidy, a voucher-paid premium or under the bank reward",
    "rd_successes": "R&D projects that succeeded",
    "rd_failures": "R&D projects completed without success",
    "rd_abandoned": "R&D projects dropped for lack of money",
    "insurer_loss_ratio": "insurer claims (net of refunds) / premiums (None if no premiums)",
    "fund_payouts_wan": "fund payouts to banks, gross of recoveries later refunded to the fund",
    "fund_backed_credit_wan": "credit the fund backed",
    "deliveries_wan": "value of leaders' orders delivered (the basis of orders placed; tier-2 deliveries to tier-1 not counted)",
    "trucks_deployed": "hydrogen trucks whose SME content was delivered",
    "trucks_planned": "hydrogen trucks in the leaders' plans",
    "stations_deployed": "refuelling stations whose SME content was delivered",
    "stations_planned": "refuelling stations in the leaders' plans",
    "defaulted_smes": "SMEs defaulted",
}


# Families of summary keys named by a lever, package or leader.
SUMMARY_PATTERNS = (
    ("fiscal_", "_wan", "fiscal cost of the {} lever"),
    ("credit_mobilised_", "_wan", "loans disbursed under the {} package"),
    ("default_rate_", "_chain", "share of SMEs in {}'s chain (tier 1 and 2) that defaulted"),
)


def describe(key: str) -> str:
    """What a summary KPI means (empty if unknown)."""
    if key in SUMMARY_DOCS:
        return SUMMARY_DOCS[key]
    for prefix, suffix, text in SUMMARY_PATTERNS:
        if key.startswith(prefix) and key.endswith(suffix):
            return text.format(key[len(prefix):-len(suffix)])
    return ""


def summary(m) -> dict:
    c = m.counters
    n = len(m.smes)
    active = active_smes(m)
    fiscal = m.ledger.fiscal_cost_wan()
    written_off = math.fsum(b.written_off_wan - b.late_recovered_wan for b in m.banks)
    out = {
        "months": m.month,
        "sme_survival_rate": active / n if n else None,
        "surviving_smes": active,
        "credit_mobilised_wan": c.credit_mobilised_wan,
        "credit_outstanding_wan": credit_outstanding_wan(m),
        "approval_rate": finance.ratio_or_none(c.approvals, c.applications),
        "approval_rate_light_asset": finance.ratio_or_none(c.light_approvals, c.light_applications),
        "npl_ratio": finance.ratio_or_none(c.npl_total_wan + c.npl_new_wan, c.credit_mobilised_wan),
        "npl_ratio_end": None if math.isnan(npl_ratio(m)) else npl_ratio(m),
        "npl_principal_wan": c.npl_total_wan + c.npl_new_wan,
        "bank_losses_wan": written_off,
        "fiscal_cost_wan": fiscal,
        "fiscal_cost_net_wan": fiscal - m.fund.balance_wan,
        "fiscal_leverage": finance.ratio_or_none(c.policy_backed_credit_wan, fiscal),
        "policy_backed_credit_wan": c.policy_backed_credit_wan,
        "rd_successes": c.rd_successes,
        "rd_failures": c.rd_failures,
        "rd_abandoned": c.rd_abandoned,
        "insurer_loss_ratio": m.insurer.loss_ratio,
        "fund_payouts_wan": m.fund.payouts_wan,
        "fund_backed_credit_wan": m.fund.backed_total_wan,
        "deliveries_wan": c.deliveries_total_wan + c.deliveries_wan,
        "trucks_deployed": units(m, "trucks", "deployed"),
        "trucks_planned": units(m, "trucks", "planned"),
        "stations_deployed": units(m, "stations", "deployed"),
        "stations_planned": units(m, "stations", "planned"),
        "defaulted_smes": n - active,
    }
    for lever in FISCAL_LEVERS:
        out[f"fiscal_{lever}_wan"] = m.ledger.fiscal_cost_wan(lever)
    for package, lent in sorted(c.lending_by_package_wan.items()):
        out[f"credit_mobilised_{package}_wan"] = lent
    for ld in m.leaders:
        chain = [s for s in m.smes if s.leader_key == ld.key]
        out[f"default_rate_{ld.key}_chain"] = (
            sum(1 for s in chain if s.status == "defaulted") / len(chain) if chain else None)
    return out
