"""Rule tests: small models built with keywords. The tests reach into agents only to set up a
situation (a firm with no collateral, a loan on a bank's book, a bad loss history) and then let
the model's own verbs act (a month, a phase, a bank's decision)."""

from __future__ import annotations

import math

import pytest
from conftest import status_by_tier

from model import HydrogenChainModel, ParameterError  # before agents (circular import, see test_model)

from agents.bank import Decision  # noqa: I001
from agents.sme import SME
from model import finance
from model.instruments import NPL, RESOLVED


# --- (a) collateral-only banks ration light-asset SMEs; a confirmed order gets financed -------------

def _light_asset_economy(packages, seed=5, **kw):
    m = HydrogenChainModel(rng=seed, n_smes=40, offered_packages=packages, **kw)
    for sme in m.smes:  # set-up: every SME is light-asset with next to no fixed collateral
        sme.collateral_wan = 1.0
        sme.light_asset = True
    return m


def test_collateral_bank_rejects_a_light_asset_sme():
    m = _light_asset_economy(("collateral",), signal_noise=0.0)  # the bank sees quality as it is
    sme = next(s for s in m.smes if s.tier == 1)
    sme.quality = 0.8  # a good firm: only its collateral is missing
    bank = sme.relationship_bank
    pkg = m.params.packages["collateral"]
    decision = bank.decide(sme, "collateral", pkg, 200.0)
    assert not decision.approve
    assert decision.reason == "insufficient collateral"
    # control: the same firm with real collateral gets the same loan
    sme.collateral_wan = 2000.0
    decision = bank.decide(sme, "collateral", pkg, 200.0)
    assert decision.approve, decision.reason
    assert decision.collateral_pledged_wan == pytest.approx(200.0 / m.params.collateral_haircut)


def test_collateral_only_economy_of_light_asset_smes_gets_no_credit():
    m = _light_asset_economy(("collateral",))
    m.run(3)
    assert m.counters.applications > 0  # they do ask
    assert m.counters.approvals == 0
    assert m.summary()["credit_mobilised_wan"] == 0.0


def _financed(loan):
    """What an order loan was lent against, seen in the month it is written: confirmed orders
    still in the borrower's book, and invoices of orders delivered this month (they carry the
    loan). Returns (orders, invoices, value, month the last leader payment is expected)."""
    sme = loan.borrower
    orders = [o for o in sme.book if o.loan is loan]
    invoices = [inv for inv in sme.receivables if inv.loan is loan]
    value = math.fsum(o.value_wan for o in orders) + math.fsum(inv.amount_wan for inv in invoices)
    paid_by = max([o.due_month + o.buyer.spec.payment_term_months for o in orders]
                  + [inv.due_month for inv in invoices])
    return orders, invoices, value, paid_by


def test_confirmed_leader_orders_get_financed_under_order_credit():
    m = _light_asset_economy(("order_credit",))
    rate = m.params.order_advance_rate
    loans = []
    for _ in range(3):
        m.step()
        new = [loan for b in m.banks for loan in b.loans if loan.start_month == m.month]
        for loan in new:  # checked in the month it is written, before the leader pays
            assert loan.instrument == "order_financing" and loan.package == "order_credit"
            assert loan.borrower.light_asset and loan.borrower.collateral_wan == 1.0
            assert loan.collateral_pledged_wan == 0.0
            assert loan.borrower.tier == 1  # only leaders confirm orders
            orders, invoices, value, paid_by = _financed(loan)
            assert orders or invoices, "an order loan is lent against orders"
            for o in orders:
                assert o.confirmed and o.buyer in m.leaders and o.seller is loan.borrower
            for inv in invoices:
                assert inv.payer in m.leaders and inv.payee is loan.borrower
            assert loan.principal_wan == pytest.approx(rate * value)  # the advance rate
            # self-liquidating: due a grace period after the last expected leader payment
            assert loan.maturity_month == paid_by + m.params.order_loan_grace_months
        loans += new
    assert len(loans) >= 5, "order financing should reach light-asset suppliers"


def test_bank_decides_to_finance_a_confirmed_order_of_a_firm_it_would_not_lend_to():
    m = _light_asset_economy(("order_credit",), signal_noise=0.0)  # the bank sees quality as it is
    m.step()
    rate = m.params.order_advance_rate
    sme, order = next((s, o) for s in m.smes for o in s.book if o.confirmed and o.buyer in m.leaders
                      and rate * o.value_wan >= 2 * m.params.min_loan_wan)
    sme.quality = 0.8  # a good firm: only collateral is missing
    bank = sme.relationship_bank
    amount = rate * order.value_wan
    assert not bank.decide(sme, "collateral", m.params.packages["collateral"], amount).approve
    d = bank.decide(sme, "order_financing", m.params.packages["order_credit"], amount, (order,))
    assert d.approve, d.reason
    assert d.amount_wan == pytest.approx(amount)
    assert d.rate >= m.lpr()


# --- (b) a leader that stops paying: tier-1 suppliers first, then tier-2 ----------------------------

def _trace_chain(leader, months, **kw):
    """Per month, the share of the leader's tier-1 and tier-2 SMEs that are (distressed or
    defaulted, defaulted)."""
    m = HydrogenChainModel(rng=1, n_smes=150, **kw)
    tiers = status_by_tier(m, leader)
    rows = []
    for _ in range(months):
        m.step()
        row = {}
        for t, smes in tiers.items():
            bad = sum(s.status in ("distressed", "defaulted") for s in smes) / len(smes)
            dead = sum(s.status == "defaulted" for s in smes) / len(smes)
            row[t] = (bad, dead)
        rows.append(row)
    return m, rows


def _first_month(rows, tier, test):
    return next((i + 1 for i, row in enumerate(rows) if test(row[tier])), math.inf)


def test_late_paying_leader_pushes_tier1_then_tier2_into_distress():
    months = 18
    base_m, base = _trace_chain("jinnan", months)
    late_m, late = _trace_chain("jinnan", months, late_payer="jinnan", late_payment_months=36,
                                late_payment_start_month=1)
    assert sum(ld.late_invoices for ld in late_m.leaders if ld.key == "jinnan") > 0
    assert all(ld.late_invoices == 0 for ld in base_m.leaders)

    # far more of the leader's tier-1 suppliers default than without the stress
    assert late[-1][1][1] >= base[-1][1][1] + 0.5
    assert late[-1][2][1] > base[-1][2][1]
    # tier-1 suppliers default first, then their tier-2 suppliers
    first_default_t1 = _first_month(late, 1, lambda r: r[1] > 0)
    first_default_t2 = _first_month(late, 2, lambda r: r[1] > 0)
    assert first_default_t1 < first_default_t2 <= months
    # distress (over the unstressed run) rises in tier 1 before tier 2
    excess = [{t: late[i][t][0] - base[i][t][0] for t in (1, 2)} for i in range(months)]
    rise_t1 = next(i + 1 for i, e in enumerate(excess) if e[1] >= 0.15)
    rise_t2 = next(i + 1 for i, e in enumerate(excess) if e[2] >= 0.15)
    assert rise_t1 < rise_t2
    # before the first invoice falls due nothing differs
    assert late[:3] == base[:3]
    # the other leader's suppliers are hit far less
    meijin_t1 = [s for s in late_m.smes if s.leader_key == "meijin" and s.tier == 1]
    meijin_dead = sum(s.status == "defaulted" for s in meijin_t1) / len(meijin_t1)
    assert meijin_dead < late[-1][1][1] - 0.5


# --- (c) loss order on an insured, fund-backed loan ---------------------------------------------

LAG = 4


def _insured_fund_backed_npl(keep_outside_receivables: bool, loss_order="insurer_first", insured_share=None,
                            fund_share=None, **params):
    """Month 1 of an economy with a fund; then an SME with no loans gets an insured, fund-backed
    tech-credit loan of 1,000 wan (cover shares: the parameters', or as given), spends the
    cash, and defaults (NPL)."""
    m = HydrogenChainModel(rng=11, n_smes=30, offered_packages=("insurance_loan",), fund_endowment_wan=10_000.0,
                           fund_payout_lag_months=LAG, loss_order=loss_order, audit=True, **params)
    m.step()
    assert m.fund.balance_wan == pytest.approx(10_000.0)
    sme = next(s for s in m.smes if s.active and not s.loans and not s.receivables)
    if not keep_outside_receivables:
        sme.external_receivables.clear()  # set-up: its outside buyers will not pay
    bank = sme.relationship_bank
    p = m.params
    decision = Decision(True, "approved", 1000.0, 0.05, 0.0, 0.06,
                        insured_share=p.guarantee_insurer_share if insured_share is None else insured_share,
                        fund_share=p.fund_coverage if fund_share is None else fund_share)
    loan = bank.lend(sme, "tech_credit", "insurance_loan", decision)
    sme.accept_loan(loan)
    m.ledger.transfer(sme.account, m.suppliers, m.ledger.balance(sme.account), "production_cost")  # spent
    m.check_books("set-up")
    claims0 = m.ledger.flow_by_kind["guarantee_claim"]
    m.flag_default(sme, "set-up")
    m.resolve_defaults()  # the model's NPL phase
    m.check_books("resolve_defaults")
    return m, sme, loan, claims0


def test_loss_is_shared_in_order_when_the_recovery_period_ends():
    m, sme, loan, claims0 = _insured_fund_backed_npl(keep_outside_receivables=False)
    p = m.params
    assert sme.status == "defaulted" and loan.status == NPL and loan.npl_month == 1
    # nothing is shared during the recovery period: recoveries first
    for month in range(2, 1 + LAG):
        m.step()
        assert loan.status == NPL, f"resolved early, in month {month}"
        assert loan.paid_insurer_wan == 0.0 and loan.paid_fund_wan == 0.0
        assert m.ledger.flow_by_kind["guarantee_claim"] == claims0 and m.fund.payouts_wan == 0.0
    m.step()  # month 1 + LAG: no recovery came, so the loss is the whole 1,000
    assert m.month == 1 + LAG
    assert loan.status == RESOLVED
    # insurer first: 70% of the loss; the fund: 30% of the remaining 300 = 90; the bank: the rest
    assert loan.paid_insurer_wan == pytest.approx(700.0)
    assert m.ledger.flow_by_kind["guarantee_claim"] - claims0 == pytest.approx(700.0)
    assert loan.paid_fund_wan == pytest.approx(90.0)
    assert loan.paid_bank_wan == pytest.approx(210.0)
    same_month = [x for x in m.resolved_loans if x.npl_month == loan.npl_month]
    assert m.fund.payouts_wan == pytest.approx(math.fsum(x.paid_fund_wan for x in same_month))
    assert m.ledger.flow_by_kind["fund_payout"] == pytest.approx(m.fund.payouts_wan)
    assert m.fund.balance_wan == pytest.approx(p.fund_endowment_wan - m.fund.payouts_wan)
    m.check_books()


@pytest.mark.parametrize("loss_order,insured,fund,tolerance,expected", [
    ("insurer_first", None, None, 0.03, (700.0, 90.0, 210.0)),  # Jiangmen: 70 %, then 30 % of the rest
    ("pro_rata", None, None, 0.5, (700.0, 0.0, 300.0)),  # the fund only a stop-loss: the bank within tolerance
    ("pro_rata", None, None, 0.03, (700.0, 90.0, 210.0)),  # ... and over it (this bank's NPL ratio is about 0.18)
    ("insurer_first", 0.0, 0.9, 0.03, (0.0, 500.0, 500.0)),  # the fund pays at most fund_per_loan_cap x principal
    ("insurer_first", None, 0.5, 0.03, (700.0, 100.0, 200.0)),  # all policy cover at most policy_cover_cap x loss
])
def test_the_model_shares_a_loss_by_the_loss_order_and_caps_it_is_given(loss_order, insured, fund, tolerance, expected):
    """The finance function's rules are unit-tested; this checks the model hands it the scenario's
    loss order, the bank's tolerance and the caps (an audit's mutations ignoring them left the
    rule tests green)."""
    m, sme, loan, _ = _insured_fund_backed_npl(False, loss_order, insured, fund, npl_tolerance=tolerance)
    assert (m.params.fund_per_loan_cap, m.params.policy_cover_cap) == (0.5, 0.8)  # the figures above assume them
    for _ in range(LAG):
        m.step()
    assert loan.status == RESOLVED
    assert (loan.paid_insurer_wan, loan.paid_fund_wan, loan.paid_bank_wan) == pytest.approx(expected)
    m.check_books()


def test_the_loss_is_shared_out_exactly_with_a_recovery_during_the_lag():
    m, sme, loan, _ = _insured_fund_backed_npl(keep_outside_receivables=True)
    for _ in range(LAG):
        m.step()
    assert loan.status == RESOLVED
    recovered = loan.principal_wan - loan.paid_insurer_wan - loan.paid_fund_wan - loan.paid_bank_wan
    assert recovered > 1.0, "the set-up needs a recovery during the lag"
    # insurer + fund + bank + what the defaulter's estate paid the bank = the principal
    from_estate = math.fsum(a for p, q, a, k in m.ledger.journal
                            if (p, q, k) == (sme.account, sme.relationship_bank.account, "recovery"))
    assert recovered == pytest.approx(from_estate)
    assert 0.0 < loan.paid_insurer_wan <= 700.0 + 1e-9
    assert 0.0 < loan.paid_fund_wan <= 90.0 + 1e-9
    m.check_books()


def test_fund_pays_its_share_of_the_loss_net_of_a_recovery_during_the_lag():
    m, sme, loan, _ = _insured_fund_backed_npl(keep_outside_receivables=True)
    for _ in range(LAG):
        m.step()
    recovered = loan.principal_wan - loan.paid_insurer_wan - loan.paid_fund_wan - loan.paid_bank_wan
    assert recovered > 1.0
    remaining_after_insurer = loan.principal_wan - recovered - loan.paid_insurer_wan
    assert loan.paid_fund_wan <= m.params.fund_coverage * remaining_after_insurer + 1e-9


def test_insurer_bears_its_share_of_the_loss_net_of_recoveries():
    m, sme, loan, _ = _insured_fund_backed_npl(keep_outside_receivables=True)
    for _ in range(LAG):
        m.step()
    recovered = loan.principal_wan - loan.paid_insurer_wan - loan.paid_fund_wan - loan.paid_bank_wan
    assert recovered > 1.0
    assert loan.paid_insurer_wan == pytest.approx(
        m.params.guarantee_insurer_share * (loan.principal_wan - recovered), rel=1e-6)


def _npl_with_cash_in_the_estate(insured_share):
    """A fund-backed tech-credit loan of 1,000 wan whose borrower defaults while it still holds
    the loan's cash (and its own): the estate can repay the loan in full."""
    m = HydrogenChainModel(rng=11, n_smes=30, offered_packages=("tech_credit",), fund_endowment_wan=10_000.0,
                           fund_payout_lag_months=2, audit=True)
    m.step()
    sme = next(s for s in m.smes if s.active and not s.loans and not s.receivables)
    bank = sme.relationship_bank
    decision = Decision(True, "approved", 1000.0, 0.05, 0.0, 0.06, insured_share=insured_share,
                        fund_share=m.params.fund_coverage)
    loan = bank.lend(sme, "tech_credit", "tech_credit", decision)
    sme.accept_loan(loan)
    assert sme.cash_wan > loan.principal_wan
    m.flag_default(sme, "set-up")
    m.resolve_defaults()
    m.check_books()
    return m, sme, loan


def test_an_estate_that_can_repay_leaves_no_loss():
    m, sme, loan = _npl_with_cash_in_the_estate(insured_share=0.0)
    for _ in range(3):
        m.step()
    assert loan.status == RESOLVED
    assert loan.paid_fund_wan == 0.0 and loan.paid_bank_wan == pytest.approx(0.0, abs=1e-9)
    assert m.fund.payouts_wan == 0.0
    m.check_books()


def test_a_recovered_loan_costs_the_fund_nothing():
    m, sme, loan = _npl_with_cash_in_the_estate(insured_share=0.0)
    for _ in range(3):
        m.step()
    assert loan.status == RESOLVED
    assert loan.paid_fund_wan == 0.0
    assert m.fund.balance_wan == pytest.approx(m.params.fund_endowment_wan)


def test_an_estate_that_can_repay_makes_the_insurer_whole():
    m, sme, loan = _npl_with_cash_in_the_estate(insured_share=0.7)
    refunds0 = m.ledger.flow_by_kind["recovery_refund"]
    for _ in range(3):
        m.step()
    assert loan.status == RESOLVED
    # the estate repaid the loan within the recovery period: the insurer never pays
    assert loan.paid_insurer_wan == pytest.approx(0.0, abs=1e-6)
    assert loan.paid_bank_wan == pytest.approx(0.0, abs=1e-6)
    assert m.insurer.claims_wan == pytest.approx(0.0, abs=1e-6)
    assert m.ledger.flow_by_kind["recovery_refund"] - refunds0 == pytest.approx(
        m.ledger.flow_by_kind["guarantee_claim"])
    m.check_books()


# --- (d) the insurer stops writing past its loss-ratio limit; the government's stop-loss -------------

def _insurer_run(limit, months=14):
    # short, mostly failing, always claimable R&D projects: claims come fast
    m = HydrogenChainModel(rng=4, n_smes=80, offered_packages=("insurance_loan",), insurer_suspend_loss_ratio=limit,
                           rd_duration_months=2, rd_start_prob=0.3, rd_success_mean=0.1, rd_claimable_share=1.0)
    rows = []
    for _ in range(months):
        m.step()
        new = [loan for b in m.banks for loan in b.loans if loan.start_month == m.month]
        rows.append(dict(month=m.month, premiums=m.insurer.premiums_wan, claims=m.insurer.claims_wan,
                         lr=m.insurer.loss_ratio, writing=m.insurer.writing, new=len(new),
                         insured_new=sum(loan.insured_share > 0 for loan in new),
                         sold=m.ledger.flow_by_kind["guarantee_premium"] + m.ledger.flow_by_kind["rd_premium"],
                         stop_loss=m.ledger.fiscal_cost_wan("stop_loss")))
    return m, rows


def test_insurer_stops_new_business_past_its_loss_ratio_limit():
    limit = 0.5
    m, rows = _insurer_run(limit)
    k = next(i for i, r in enumerate(rows) if r["lr"] is not None and r["lr"] > limit)
    assert k >= 1 and rows[0]["premiums"] > 0 and rows[0]["insured_new"] > 0  # it wrote business first
    assert not rows[k]["writing"]
    later = rows[k + 1:]
    assert later and sum(r["new"] for r in later) > 0  # banks still lend ...
    for r in later:
        assert r["premiums"] == rows[k]["premiums"]  # ... but no premium is sold
        assert r["sold"] == rows[k]["sold"]
        assert r["insured_new"] == 0  # and no new loan is insured
    assert rows[-1]["claims"] > rows[k]["claims"]  # existing cover is still honoured
    # control: with the Yunnan limit it keeps writing
    _, control = _insurer_run(10.0)
    assert control[-1]["premiums"] > control[k]["premiums"]
    assert sum(r["insured_new"] for r in control[k + 1:]) > 0


def test_government_stop_loss_is_paid_yearly_above_the_limit():
    limit = 0.5
    m, rows = _insurer_run(limit, months=12)
    assert all(r["stop_loss"] == 0.0 for r in rows[:11])  # settled yearly, in month 12
    r = rows[11]
    share = m.params.stop_loss_government_share
    expected = share * (r["claims"] - limit * r["premiums"])  # 80% of claims above the limit
    assert expected > 0
    assert r["stop_loss"] == pytest.approx(expected)
    assert m.insurer.stop_loss_received_wan == pytest.approx(expected)


# --- (e) interest subsidy ---------------------------------------------------------------------------

def _hand_made_tech_loan(sme, amount_wan):
    """Set-up: a good firm (quality 0.9) gets a tech-credit loan from its relationship bank
    through the bank's own verbs (build the model with signal_noise 0, so the bank sees the
    quality as it is and approves)."""
    sme.quality = 0.9
    bank = sme.relationship_bank
    d = bank.decide(sme, "tech_credit", sme.model.params.packages["tech_credit"], amount_wan)
    assert d.approve, d.reason
    loan = bank.lend(sme, "tech_credit", "tech_credit", d)
    sme.accept_loan(loan)
    return loan


@pytest.mark.parametrize("lever,rule", [
    (dict(interest_subsidy_pp=1.5), lambda rate: 0.015),
    (dict(interest_subsidy_share=0.3), lambda rate: 0.3 * rate),  # 30% of ~5.5% is below the 2 pp cap
    (dict(interest_subsidy_share=0.5), lambda rate: 0.02),  # 50% of ~5.5% is above it
    (dict(interest_subsidy_share=0.5, interest_subsidy_cap_pp=1.0), lambda rate: 0.01)],
    ids=["1.5pp", "30pct", "50pct-capped", "cap-1pp"])
def test_interest_subsidy_is_paid_by_the_budget_and_the_borrower_pays_the_rest(lever, rule):
    # signal_noise 0: the bank sees the firm's quality as it is, so the set-up loan is approved
    m = HydrogenChainModel(rng=2, n_smes=20, offered_packages=(), signal_noise=0.0, audit=True, **lever)
    sme = m.smes[0]
    loan = _hand_made_tech_loan(sme, 500.0)
    bank = loan.bank
    rate = loan.contract_rate
    assert 0.045 < rate < 0.065  # the hand rules below assume a rate of about 5.5%
    sub = rule(rate)
    assert loan.subsidy_rate == pytest.approx(sub)
    instalment = finance.annuity_payment(500.0, rate, m.params.term_loan_months)
    assert loan.instalment_wan == pytest.approx(instalment)
    budget = m.government.account
    outstanding = 500.0
    for _ in range(3):
        start = len(m.ledger.journal)
        m.step()
        month = m.ledger.journal[start:]
        subsidies = [(p, q, a) for p, q, a, k in month if k == "interest_subsidy"]
        assert subsidies == [(budget, bank.account, pytest.approx(outstanding * sub / 12))]
        interest = [a for p, q, a, k in month if (p, q, k) == (sme.account, bank.account, "loan_interest")]
        principal = [a for p, q, a, k in month if (p, q, k) == (sme.account, bank.account, "loan_principal")]
        assert interest == [pytest.approx(outstanding * (rate - sub) / 12)]  # rate minus subsidy
        # the schedule is the annuity at the full contract rate
        assert principal == [pytest.approx(instalment - outstanding * rate / 12)]
        outstanding -= principal[0]
        assert loan.outstanding_wan == pytest.approx(outstanding)
    assert m.ledger.fiscal_cost_wan("interest_subsidy") == pytest.approx(m.ledger.fiscal_cost_wan())


def test_the_rate_cap_applies_to_what_the_borrower_pays_after_the_subsidy():
    """DOMAIN: the bank prices at LPR + spread - subsidy. A loan whose contract rate is above
    `max_loan_rate` but whose subsidised rate is below it is made; without the subsidy it is
    refused. (The cap once read the gross rate, so a subsidy could never make a loan.)"""
    def decision(**lever):
        m = HydrogenChainModel(rng=2, n_smes=20, offered_packages=(), signal_noise=0.0, **lever)
        sme = m.smes[0]
        sme.quality = 0.9
        return sme.relationship_bank.decide(sme, "tech_credit", m.params.packages["tech_credit"], 500.0)
    gross = decision().rate
    assert decision().approve and gross > 0.03
    cap = gross - 0.005
    refused = decision(max_loan_rate=cap)
    assert not refused.approve and refused.reason == "rate above cap"
    made = decision(max_loan_rate=cap, interest_subsidy_pp=1.5)
    assert made.approve and made.rate == gross and made.subsidy_rate == 0.015
    assert not decision(max_loan_rate=gross - 0.02, interest_subsidy_pp=1.5).approve


def test_no_subsidy_without_the_lever():
    m = HydrogenChainModel(rng=2, n_smes=60, offered_packages=("tech_credit",))
    m.run(4)
    assert m.counters.credit_mobilised_wan > 0
    assert m.ledger.fiscal_cost_wan() == 0.0
    assert all(loan.subsidy_rate == 0.0 for b in m.banks for loan in b.loans)


def test_each_loan_is_subsidised_for_interest_subsidy_months():
    m = HydrogenChainModel(rng=2, n_smes=60, offered_packages=("tech_credit",), interest_subsidy_pp=1.5,
                           interest_subsidy_months=1)
    m.run(5)
    loans = [loan for b in m.banks for loan in b.loans] + m.resolved_loans
    assert loans and all(loan.instrument == "tech_credit" for loan in loans)
    assert m.counters.credit_mobilised_wan == pytest.approx(math.fsum(loan.principal_wan for loan in loans))
    # one month of subsidy per loan, on the full principal, in the month after it was written
    # (loans written this month have not had theirs yet)
    expected = math.fsum(loan.principal_wan * loan.subsidy_rate / 12 for loan in loans if loan.start_month < m.month)
    assert any(loan.start_month == m.month for loan in loans), "the set-up needs a loan written this month"
    assert m.ledger.fiscal_cost_wan("interest_subsidy") == pytest.approx(expected, rel=1e-9)


# --- term loans amortise over their term ------------------------------------------------------

def _instalments_until_repaid(term):
    """Natural tech-credit loans written in month 1: how many monthly instalments each took."""
    m = HydrogenChainModel(rng=2, n_smes=60, offered_packages=("tech_credit",), term_loan_months=term)
    m.step()
    loans = [loan for b in m.banks for loan in b.loans]
    assert len(loans) >= 5
    last = {loan.loan_id: loan.outstanding_wan for loan in loans}
    count = {loan.loan_id: int(loan.outstanding_wan < loan.principal_wan - 1e-9) for loan in loans}
    for _ in range(term + 2):
        m.step()
        for loan in loans:
            if loan.outstanding_wan < last[loan.loan_id] - 1e-9:
                count[loan.loan_id] += 1
            last[loan.loan_id] = loan.outstanding_wan
    repaid = [loan for loan in loans if loan.status == "repaid"]
    assert len(repaid) >= 5
    return m, repaid, count


def test_a_short_term_loan_is_repaid_in_term_instalments_by_maturity():
    m, repaid, count = _instalments_until_repaid(6)
    assert {count[loan.loan_id] for loan in repaid} == {6}
    m.check_books()


def test_a_loan_longer_than_a_year_is_repaid_in_term_instalments():
    m, repaid, count = _instalments_until_repaid(13)
    assert {count[loan.loan_id] for loan in repaid} == {13}


def test_a_term_loan_floats_with_the_lpr_at_each_anniversary():
    """DOMAIN 7.5: the rate is LPR + the original spread, reset at each anniversary (not
    when the LPR moves); the instalment is recomputed over the remaining term, and the
    anniversary month's payment is already at the new rate."""
    m = HydrogenChainModel(rng=2, n_smes=60, offered_packages=("tech_credit",), term_loan_months=36,
                           rate_rise_pp=2.0, rate_rise_start_month=6)
    m.step()
    loans = [loan for b in m.banks for loan in b.loans if loan.start_month == 1]
    assert len(loans) >= 5
    first = {loan.loan_id: (loan.contract_rate, loan.instalment_wan, loan.spread) for loan in loans}
    m.run(11)  # month 12: the LPR rose in month 6, but no loan has had its anniversary
    live = [loan for loan in loans if loan.status == "performing" and loan.arrears_wan == 0.0]
    assert len(live) >= 3
    for loan in live:
        assert (loan.contract_rate, loan.instalment_wan) == first[loan.loan_id][:2]
    before = {loan.loan_id: loan.outstanding_wan for loan in live}
    m.step()  # month 13: the first anniversary
    for loan in live:
        if loan.status != "performing":
            continue
        rate = m.lpr() + first[loan.loan_id][2]
        assert rate == pytest.approx(first[loan.loan_id][0] + 0.02, abs=1e-12)
        assert loan.contract_rate == rate
        assert loan.instalment_wan == finance.annuity_payment(before[loan.loan_id], rate, loan.maturity_month - 13 + 1)
        if loan.arrears_wan == 0.0:  # paid in full at the new rate
            repaid = before[loan.loan_id] - loan.outstanding_wan
            assert repaid == pytest.approx(loan.instalment_wan - before[loan.loan_id] * rate / 12.0, rel=1e-9)


# --- (f) bank reward: month 12, pro rata per CNY 100 M -------------------------------------------

def test_bank_reward_paid_in_month_12_pro_rata_per_100m_of_the_year():
    m = HydrogenChainModel(rng=3, n_smes=30, offered_packages=(), bank_reward_wan_per_100m=20.0, audit=True)
    assert len(m.banks) >= 3
    lent = {0: 25_000.0, 1: 9_999.0, 2: 10_000.0}  # CNY 250 M, 99.99 M, 100 M
    smes = iter(m.smes)
    for bi, total in lent.items():
        bank = m.banks[bi]
        for part in (0.4, 0.6):  # two loans per bank, to different firms
            sme = next(smes)
            d = Decision(True, "approved", total * part, 0.02, 0.0, 0.05)
            sme.accept_loan(bank.lend(sme, "tech_credit", "tech_credit", d))
    m.run(11)
    assert m.ledger.fiscal_cost_wan("bank_reward") == 0.0  # nothing before month 12
    start = len(m.ledger.journal)
    m.step()
    rewards = {q: a for p, q, a, k in m.ledger.journal[start:] if k == "bank_reward"}
    assert all(p == m.government.account for p, q, a, k in m.ledger.journal[start:] if k == "bank_reward")
    assert rewards == {m.banks[0].account: pytest.approx(50.0), m.banks[1].account: pytest.approx(19.998),
                       m.banks[2].account: pytest.approx(20.0)}
    assert m.ledger.fiscal_cost_wan("bank_reward") == pytest.approx(89.998)
    # the count starts again: no new lending in year 2, no reward in month 24
    m.run(12)
    assert m.ledger.fiscal_cost_wan("bank_reward") == pytest.approx(89.998)


# --- a rate cut below a zero LPR ----------------------------------------------------------------

def test_rate_cut_below_zero_lpr_is_refused_or_harmless():
    try:
        m = HydrogenChainModel(rng=0, n_smes=20, offered_packages=("order_credit",), rate_rise_pp=-6.0,
                               rate_rise_start_month=1, audit=True)
    except ParameterError:
        return  # refusing the combination is a fix too
    m.run(12)
    assert all(loan.contract_rate >= 0.0 for b in m.banks for loan in b.loans)


# --- order loans: the leader's payments of assigned invoices -------------------------------------

def test_a_leader_paying_one_of_several_financed_invoices_makes_no_loan_overdue():
    """An order advance usually finances several orders whose invoices the leader pays one by
    one before the loan falls due: each payment pays it down, none is a missed instalment
    (they once counted as one, so a borrower paid down on time looked distressed to banks)."""
    m = _light_asset_economy(("order_credit",), audit=True)
    paid_down_early = 0
    for _ in range(12):
        m.step()
        for loan in (loan for b in m.banks for loan in b.loans if loan.instrument == "order_financing"):
            if m.month < loan.maturity_month:
                assert loan.months_overdue == 0, (loan.loan_id, m.month, loan.maturity_month)
                paid_down_early += loan.status == "performing" and loan.outstanding_wan < loan.principal_wan - 1e-9
    assert paid_down_early >= 5, "the set-up needs loans paid down in part before maturity"


def test_an_order_loan_repaid_by_the_leader_pays_interest_for_every_month_it_ran():
    """A bullet order loan written in month s and repaid in one payment of the leader in month
    t pays (t - s) months of interest at its rate: the month's interest accrues before the
    leaders pay (it once came after, and the month of repayment went uncharged)."""
    m = _light_asset_economy(("order_credit",), audit=True)
    paid: dict = {}  # loan -> [(month, interest, principal)] from the leaders
    for bank in m.banks:
        collect = bank.book_collection

        def spy(loan, interest, principal, collect=collect):
            paid.setdefault(loan, []).append((m.month, interest, principal))
            collect(loan, interest, principal)
        bank.book_collection = spy
    m.run(12)
    checked = 0
    for loan, payments in paid.items():
        if loan.status != "repaid" or len(payments) != 1 or loan.subsidy_rate != 0.0:
            continue
        month, interest, principal = payments[0]
        assert principal == pytest.approx(loan.principal_wan)  # repaid in one payment
        months = month - loan.start_month
        assert months >= 1
        assert interest == pytest.approx(loan.principal_wan * loan.contract_rate * months / 12, rel=1e-9)
        checked += 1
    assert checked >= 5, "the set-up needs order loans repaid in one payment"


def test_a_borrower_that_stops_paying_defaults_when_its_first_missed_instalment_is_90_days_late():
    """DOMAIN: a loan is non-performing 90 days overdue. The first instalment of a loan written
    in month 0 falls due in month 1; a borrower with no money at all misses it and every one
    after, and defaults in month 1 + npl_overdue_months (it once defaulted a month earlier,
    when the oldest missed payment was 60 days late)."""
    m = HydrogenChainModel(rng=2, n_smes=20, offered_packages=(), signal_noise=0.0, audit=True)
    sme = next(s for s in m.smes if s.tier == 2)
    loan = _hand_made_tech_loan(sme, 500.0)
    for customer in sme.customers:  # set-up: no orders, sales or costs, so no money comes or goes
        customer.suppliers.remove(sme)
    sme.external_sales_wan = sme.chain_sales_ema_wan = sme.fixed_cost_wan = sme.shock_hazard_month = 0.0
    m.ledger.transfer(sme.account, m.suppliers, sme.cash_wan, "production_cost")  # and it spent it all
    overdue = []
    while sme.active and m.month < 12:
        m.step()
        overdue.append(loan.months_overdue)
    assert overdue[:3] == [1, 2, 3]  # a payment short every month from the first due date
    assert sme.default_cause == "loan overdue 90 days"
    assert sme.default_month == 1 + m.params.npl_overdue_months == 4
    m.check_books()


@pytest.mark.parametrize("offered", [("collateral", "order_credit", "order_insurance_credit"),
                                     ("collateral", "order_insurance_credit", "order_credit")])
def test_order_advances_go_under_the_package_the_fund_can_back(offered):
    """With both order packages on offer (the full policy mix), order advances use the one the
    fund can back, whichever is listed first (the first listed once took them all, so in the
    full mix no order loan ever had fund cover)."""
    m = _light_asset_economy(offered, fund_endowment_wan=1000.0)
    assert not m.params.packages["order_credit"].fund_eligible and m.params.packages["order_insurance_credit"].fund_eligible
    m.run(4)
    loans = [loan for b in m.banks for loan in b.loans if loan.instrument == "order_financing"]
    assert len(loans) >= 5
    assert {loan.package for loan in loans} == {"order_insurance_credit"}
    assert any(loan.fund_share > 0 for loan in loans)


def test_an_sme_refused_tech_credit_by_three_banks_still_asks_for_a_collateral_loan():
    """Tech credit is tried first, at up to three banks; collateral after it, at up to three
    more. A cap of three tries in all had spent them on tech credit wherever three banks offer
    it, so no scenario with a tech-credit package ever made a collateral loan."""
    m = HydrogenChainModel(scenario="tech_credit", rng=1, n_smes=120, plan_scale=120 / 300)
    sme = m.smes[0]
    tries = m._term_tries(sme, SME.term_packages(m.packages_for(sme)))
    assert [inst for _, inst, _ in tries] == ["tech_credit"] * 3 + ["collateral"] * 3
    assert tries[0][0] is sme.relationship_bank and tries[3][0] is sme.relationship_bank
    assert len({bank for bank, _, _ in tries}) == 3
    m.run(24)
    assert m.summary()["credit_mobilised_collateral_wan"] > 0


def test_deliveries_count_what_leaders_received_on_the_basis_of_orders_placed():
    """deliveries_wan and orders_placed_wan are both leaders' orders (tier-1 deliveries to a
    leader); tier-2 deliveries to tier-1 SMEs once counted too, so delivered/placed read 0.96
    where it was 0.83."""
    m = HydrogenChainModel(rng=4, n_smes=60, plan_scale=60 / 300)
    received = []
    for leader in m.leaders:
        receive = leader.receive_delivery

        def spy(order, receive=receive):
            received.append(order.value_wan)
            return receive(order)
        leader.receive_delivery = spy
    tier2_invoices = 0
    for _ in range(8):
        start = len(received)
        m.step()
        assert m.counters.deliveries_wan == pytest.approx(math.fsum(received[start:]), rel=1e-12, abs=1e-12)
        tier2_invoices += sum(inv.due_month - m.month == m.params.sme_payment_term_months
                              for s in m.smes if s.tier == 1 for inv in s.payables)
    assert received and tier2_invoices > 0  # both kinds of delivery happened
    frame = m.datacollector.get_model_vars_dataframe()
    assert frame["deliveries_wan"].sum() <= frame["orders_placed_wan"].sum()


def test_a_loan_whose_premium_goes_unpaid_is_not_counted_as_policy_backed_by_the_voucher():
    """The voucher backs a loan through its insurance premium; a loan that goes ahead uninsured
    (the SME cannot pay its part of the premium) has no voucher behind it. Unreachable in
    normal runs (the premium is charged after disbursement), so forced here."""
    m = HydrogenChainModel(rng=2, n_smes=60, offered_packages=("insurance_loan",), premium_voucher_share=0.5)
    m.insurer.sell_cover = lambda *args: False  # set-up: every premium goes unpaid
    m.run(3)
    loans = [loan for b in m.banks for loan in b.loans]
    assert loans and all(loan.insured_share == 0.0 for loan in loans)
    assert not any(loan.policy_backed for loan in loans)  # no fund, subsidy or reward either
    assert m.counters.policy_backed_credit_wan == 0.0


def test_the_fund_counts_defaulted_loans_it_backs_until_they_are_resolved():
    """Capacity is balance x leverage less the credit the fund backs; a backed loan in default
    still has the fund's share of its loss to come, so it counts until resolved (it once
    dropped out at default, letting the fund back more than its leverage allows)."""
    m = HydrogenChainModel(scenario="risk_fund", rng=2, n_smes=60, plan_scale=60 / 300)
    m.run(3)
    backed = [loan for loan in m.fund.backed if loan.status == "performing"]
    assert backed, "the set-up needs a loan the fund backs"
    loan = backed[0]
    loan.status = NPL  # set-up: the borrower defaulted; the recovery period is running
    m.fund.start_month()
    assert loan in m.fund.backed and m.fund.backed_outstanding_wan() >= loan.outstanding_wan > 0
    loan.status = RESOLVED
    m.fund.start_month()
    assert loan not in m.fund.backed


def test_the_fund_backs_no_more_than_its_balance_times_its_leverage():
    """A small fund's capacity binds: what it backs after each month's underwriting stays within
    balance x fund_max_leverage (or where it already was); an audit's mutation letting it back
    anything while it had money left the suite green."""
    m = HydrogenChainModel(scenario="risk_fund", rng=2, n_smes=120, plan_scale=120 / 300, fund_endowment_wan=300.0,
                           fund_topup_wan_per_year=0.0)
    limit_hits = 0
    underwrite = m.underwrite

    def checked_underwrite():
        before = m.fund.backed_outstanding_wan()
        underwrite()
        after = m.fund.backed_outstanding_wan()
        limit = m.fund.balance_wan * m.params.fund_max_leverage
        assert after <= max(before, limit) + 1e-6, (m.month, before, after, limit)
        nonlocal limit_hits
        limit_hits += after > 0.8 * limit
    m.underwrite = checked_underwrite
    m.run(18)
    assert limit_hits >= 3, "the set-up needs the fund's capacity to bind"


# --- the budget pays what each lever promises -------------------------------------------------------

def test_vouchers_pay_their_share_of_every_premium_and_the_fund_is_topped_up_yearly():
    """Two levers the golden runs cover only as totals (an audit's mutations dropping either
    changed no rule test): the province pays premium_voucher_share of every premium sold, the
    firms the rest; the fund gets fund_topup_wan_per_year in months 13 and 25."""
    m = HydrogenChainModel(scenario="north_china_hydrogen_capital", rng=4, n_smes=60, plan_scale=0.2, audit=True)
    m.run(26)
    p = m.params
    journal = m.ledger.journal
    firm_paid = math.fsum(a for _p, _q, a, k in journal if k in ("guarantee_premium", "rd_premium"))
    vouchers = math.fsum(a for _p, _q, a, k in journal if k == "premium_voucher")
    assert firm_paid > 0 and p.premium_voucher_share == 0.5
    assert m.insurer.voucher_due_wan == 0.0  # settled in each month's policy phase
    assert vouchers == pytest.approx(firm_paid)  # half each
    assert vouchers + firm_paid == pytest.approx(m.insurer.premiums_wan)
    topups = [a for _p, _q, a, k in journal if k == "fund_topup"]
    assert topups == [p.fund_topup_wan_per_year] * 2 and p.fund_topup_wan_per_year > 0


def test_paying_everything_overdue_clears_the_overdue_count():
    """A borrower that misses an instalment and then pays it with the next one is no longer
    overdue (an audit's mutation keeping the count after a full payment changed no rule test)."""
    m = HydrogenChainModel(rng=2, n_smes=20, offered_packages=(), signal_noise=0.0, audit=True)
    sme = next(s for s in m.smes if s.tier == 2)
    loan = _hand_made_tech_loan(sme, 500.0)
    for customer in sme.customers:  # set-up as in the 90-day test: no money comes or goes
        customer.suppliers.remove(sme)
    sme.external_sales_wan = sme.chain_sales_ema_wan = sme.fixed_cost_wan = sme.shock_hazard_month = 0.0
    m.ledger.transfer(sme.account, m.suppliers, sme.cash_wan, "production_cost")
    m.step()
    assert loan.months_overdue == 1 and loan.arrears_wan > 0
    m.ledger.transfer(m.buyers, sme.account, 100.0, "external_sale")  # set-up: a customer pays it
    m.step()
    assert loan.months_overdue == 0 and loan.arrears_wan == 0.0 and sme.status != "distressed"
    m.check_books()


def test_a_share_based_subsidy_follows_the_rate_at_each_anniversary():
    """A subsidy set as a share of the rate is recomputed when the rate floats up at the
    loan's anniversary (an audit's mutation keeping the old subsidy changed no rule test)."""
    m = HydrogenChainModel(rng=2, n_smes=20, offered_packages=(), signal_noise=0.0, term_loan_months=36,
                           interest_subsidy_share=0.2, interest_subsidy_months=36, rate_rise_pp=1.0,
                           rate_rise_start_month=6)
    loan = _hand_made_tech_loan(m.smes[0], 500.0)
    first_rate, first_subsidy = loan.contract_rate, loan.subsidy_rate
    assert first_subsidy == pytest.approx(0.2 * first_rate)
    m.run(12)  # month 12: the first anniversary of a loan written in month 0
    assert loan.status == "performing" and loan.contract_rate == pytest.approx(first_rate + 0.01)
    assert loan.subsidy_rate == pytest.approx(0.2 * loan.contract_rate) and loan.subsidy_rate > first_subsidy


def test_pledged_collateral_is_sold_when_the_loan_turns_non_performing():
    """The bank sells the pledge at once: proceeds = pledged x haircut x
    receivable_recovery_share, at most what is owed (an audit's mutation skipping the sale
    changed no rule test)."""
    m = HydrogenChainModel(rng=2, n_smes=20, offered_packages=("collateral",), signal_noise=0.0, audit=True)
    sme = m.smes[0]
    sme.quality, sme.collateral_wan = 0.9, 2000.0  # set-up: a good firm with real collateral
    bank = sme.relationship_bank
    d = bank.decide(sme, "collateral", m.params.packages["collateral"], 500.0)
    assert d.approve and d.collateral_pledged_wan > 0, d.reason
    loan = bank.lend(sme, "collateral", "collateral", d)
    sme.accept_loan(loan)
    m.ledger.transfer(sme.account, m.suppliers, sme.cash_wan, "production_cost")  # set-up: spent
    p = m.params
    expected = min(d.amount_wan, d.collateral_pledged_wan * p.collateral_haircut * p.receivable_recovery_share)
    sales0 = m.ledger.flow_by_kind["collateral_sale"]
    m.flag_default(sme, "set-up")
    m.resolve_defaults()
    assert loan.status == NPL
    assert m.ledger.flow_by_kind["collateral_sale"] - sales0 == pytest.approx(expected) and expected > 0
    assert loan.outstanding_wan == pytest.approx(d.amount_wan - expected)
    m.check_books()


def test_an_agency_assessment_sharpens_every_banks_view_of_the_firm():
    """After the technology-transfer agency assesses an SME, each bank's signal noise about it
    is agency_noise_factor times what it was (an audit's mutation dropping the effect changed
    no rule test); and SMEs that apply for tech credit do get assessed."""
    m = HydrogenChainModel(scenario="north_china_hydrogen_capital", rng=4, n_smes=60, plan_scale=0.2)
    m.run(6)
    assessed = [s for s in m.smes if s.assessed_by_agency]
    assert assessed, "the set-up needs assessed SMEs"
    sme = assessed[0]
    factor = m.params.agency_noise_factor
    for bank in m.banks:
        with_assessment = bank.signal_noise(sme)
        sme.assessed_by_agency = False  # the same firm, unassessed
        without = bank.signal_noise(sme)
        sme.assessed_by_agency = True
        assert with_assessment == pytest.approx(factor * without) and factor < 1.0
