"""Banks (山西银行 Shanxi Bank, 晋商银行 Jinshang Bank, a joint-stock branch, ...).

A bank underwrites applications from what it can observe (a noisy signal of quality, less
noisy after an agency's assessment or a long relationship; collateral; confirmed orders and
the leader's risk; insurance and fund cover), prices at LPR + spread, keeps its loan book,
classifies loans non-performing after 90 days overdue and shares the loss.

Its capital is derived from its books, never stored twice:
capital = cash + loans outstanding - funding liability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mesa import Agent

from model import finance
from model.instruments import NPL, PERFORMING, REPAID, RESOLVED, Loan
from model.params import BankSpec, bank_key

# Refusals that depend only on the applicant, the instrument and the amount (checked in
# Bank.decide before anything bank-specific): every bank would give the same answer, so the
# model does not ask the next bank.
SME_REASONS = frozenset({"below minimum loan", "distressed (credit bureau)", "insufficient collateral", "leverage"})


@dataclass(slots=True)
class Decision:
    approve: bool
    reason: str
    amount_wan: float = 0.0
    pd_annual: float = 0.0
    el_rate: float = 0.0
    rate: float = 0.0
    insured_share: float = 0.0
    fund_share: float = 0.0
    collateral_pledged_wan: float = 0.0
    subsidy_rate: float = 0.0  # the interest subsidy the loan will carry (annual rate)


class Bank(Agent):
    def __init__(self, model, spec: BankSpec):
        super().__init__(model)
        p = model.params
        self.spec = spec
        self.key = bank_key(spec)
        self.name = spec.name
        self.name_zh = spec.name_zh
        opening_cash = spec.capital_wan / p.capital_ratio_floor  # lending capacity funded on day 0
        self.funding_liability_wan = opening_cash - spec.capital_wan
        self.account = model.ledger.open_account(f"bank:{self.key}", opening_cash)
        self.loans: list[Loan] = []  # performing and NPL (resolved and repaid loans drop out)
        self.queue: list = []  # applications waiting for underwriting this month
        self.new_credit_year_wan = 0.0
        self.written_off_wan = 0.0  # gross, at resolution
        self.late_recovered_wan = 0.0  # recovered by the bank after resolution
        # the book as reported at the start of underwriting, updated as the bank lends:
        # decisions read this instead of summing the whole book per application
        self.book_outstanding_wan = 0.0
        self.reported_npl_ratio = 0.0
        # underwriting constants of the run (parameters are frozen while the model runs)
        reward_rate = p.bank_reward_wan_per_100m / finance.WAN_PER_100M
        self._el_limit = p.npl_tolerance * spec.risk_appetite + reward_rate
        self._cover_cache: dict = {}  # (insured, fund share, over tolerance) -> covered share

    # -- books ----------------------------------------------------------------------------
    @property
    def outstanding_wan(self) -> float:
        return math.fsum([loan.outstanding_wan for loan in self.loans])  # a list: faster than a generator, same sum

    @property
    def npl_outstanding_wan(self) -> float:
        return math.fsum([loan.outstanding_wan for loan in self.loans if loan.status == NPL])

    @property
    def capital_wan(self) -> float:
        return self.capital_with_book_wan(self.outstanding_wan)

    def capital_with_book_wan(self, book_wan: float) -> float:
        """Capital (cash + loans - funding owed) when the loan book is worth `book_wan`: the
        book now, the book reported at the start of the month, or a shared scan of it."""
        return self.model.ledger.balance(self.account) + book_wan - self.funding_liability_wan

    def npl_ratio(self) -> float:
        return self.npl_share(self.npl_outstanding_wan, self.outstanding_wan)

    @staticmethod
    def npl_share(npl_wan: float, outstanding_wan: float) -> float:
        """Non-performing share of a loan book (0 for an empty book)."""
        return npl_wan / outstanding_wan if outstanding_wan > 0 else 0.0

    def open_book(self) -> None:
        """Month-start report of the loan book, read by this month's decisions."""
        self.book_outstanding_wan = self.outstanding_wan
        self.reported_npl_ratio = self.npl_ratio()

    def over_tolerance(self) -> bool:
        """Is the bank's reported NPL ratio above the tolerated level?"""
        return self.reported_npl_ratio > self.model.params.npl_tolerance

    def capital_for_decisions_wan(self) -> float:
        return self.capital_with_book_wan(self.book_outstanding_wan)

    # -- underwriting (decide, then apply) ---------------------------------------------------
    def signal_noise(self, sme) -> float:
        p = self.model.params
        sd = p.signal_noise * self.spec.noise_multiplier
        if sme.assessed_by_agency:
            sd *= p.agency_noise_factor
        months = sme.relationship_months.get(self.key, 0)
        return sd / (1.0 + months / p.relationship_learning_months) if p.relationship_learning_months > 0 else sd

    def estimated_pd(self, sme) -> float:
        """The annual default probability this bank reads from its noisy signal of the SME."""
        p = self.model.params
        signal = sme.quality + self.signal_noise(sme) * sme.signal_draw(self.key)
        return finance.pd_from_signal(signal, p.pd_base_annual, p.pd_quality_slope)

    def decide(self, sme, instrument: str, package, amount_wan: float, orders=()) -> Decision:
        """Pure decision on one application: no state changes (beyond caches of pure
        functions of the run's parameters).

        The refusals in `SME_REASONS` must stay independent of the bank: the model does not
        ask the next bank once one of them is given. The checks that need no rating
        (collateral, leverage) come before it: more than half of all applications fail
        there, and a rating costs a third of a decision."""
        m = self.model
        p = m.params
        if amount_wan < p.min_loan_wan:
            return Decision(False, "below minimum loan")
        if sme.arrears_wan > 0 or sme._overdue():
            return Decision(False, "distressed (credit bureau)")  # unpaid wages or overdue loans are on record
        pledged = 0.0
        if instrument == "order_financing":
            term = self.order_loan_maturity(orders) - m.month
            # the loan is repaid from the leaders' payments: the leaders' risk, plus the SME
            # failing to deliver (a weighted part of its own default risk over the term)
            leader_pd = self.highest_leader_pd(orders)
            pd_term = finance.combine_pd(finance.pd_over_term(leader_pd, term),
                                         p.order_delivery_risk_share * finance.pd_over_term(self.estimated_pd(sme), term))
            pd_annual = finance.annualise_pd(pd_term, term)
            lgd = 0.6  # a defaulting leader still pays part of its debts
        else:
            term = p.term_loan_months
            if instrument == "collateral":
                haircut = p.collateral_haircut
                if haircut > 0:
                    free = sme.free_collateral_wan()
                    wanted = amount_wan / haircut
                    pledged = wanted if wanted < free else free  # min(free, wanted)
                    lendable = pledged * haircut
                    amount_wan = lendable if lendable < amount_wan else amount_wan  # min(amount, lendable)
                else:
                    amount_wan = 0.0  # min(amount, 0 * haircut) for a non-negative amount
                if amount_wan < p.min_loan_wan:
                    return Decision(False, "insufficient collateral")
                lgd = finance.loss_given_default(amount_wan, pledged * haircut * p.receivable_recovery_share)
            else:
                cap = p.tech_credit_max_wan
                amount_wan = cap if cap < amount_wan else amount_wan  # min(amount, cap)
                lgd = 0.9  # unsecured: little is recovered
            if sme.debt_wan() + amount_wan > p.max_debt_to_annual_sales * 12.0 * sme.expected_sales_wan:
                return Decision(False, "leverage")
            pd_annual = self.estimated_pd(sme)
        # guarantee insurance covers the package's credit leg; an order advance is enhanced by
        # the leader's confirmation instead
        insured = p.guarantee_insurer_share if (
            "guarantee_insurance" in package.instruments and instrument != "order_financing" and m.insurer.writing) else 0.0
        fund_share = 0.0
        if package.fund_eligible and m.fund.can_back(amount_wan):
            fund_share = p.fund_coverage + (p.fund_credit_loan_bonus if instrument == "tech_credit" else 0.0)
            fund_share = fund_share if fund_share < 1.0 else 1.0  # min(fund_share, 1.0)
        over = self.reported_npl_ratio > p.npl_tolerance  # self.over_tolerance()
        key = (insured, fund_share, over)
        cover = self._cover_cache.get(key)
        if cover is None:
            cover = self._cover_cache[key] = finance.covered_share(
                insurer_share=insured, fund_share=fund_share, fund_per_loan_cap=p.fund_per_loan_cap,
                policy_cover_cap=p.policy_cover_cap, order=p.loss_order, bank_over_tolerance=over)
        el = finance.expected_loss_rate(pd_annual, lgd, cover)
        limit = self._el_limit
        if pd_annual > p.pd_limit_multiple * limit:
            return Decision(False, "rating below cut-off", amount_wan, pd_annual, el)
        if el > limit:
            return Decision(False, "expected loss above tolerance", amount_wan, pd_annual, el)
        if self.capital_for_decisions_wan() * (1.0 - 1e-9) < p.capital_ratio_floor * (self.book_outstanding_wan + amount_wan):
            return Decision(False, "capital", amount_wan, pd_annual, el)
        if m.ledger.balances[self.account] < amount_wan:
            return Decision(False, "liquidity", amount_wan, pd_annual, el)
        rate = finance.loan_rate(m.lpr(), el, p.capital_ratio_floor, p.capital_cost, p.bank_opex_spread)
        # the borrower pays LPR + spread - subsidy: the cap is on what it pays
        subsidy = finance.subsidy_rate(rate, p.interest_subsidy_pp, p.interest_subsidy_share, p.interest_subsidy_cap_pp)
        if rate - subsidy > p.max_loan_rate:
            return Decision(False, "rate above cap", amount_wan, pd_annual, el, rate)
        return Decision(True, "approved", amount_wan, pd_annual, el, rate, insured, fund_share, pledged, subsidy)

    def order_loan_maturity(self, orders) -> int:
        """An order loan falls due a grace period after the last expected leader payment."""
        last = None  # max() over the orders, written out: a max() call over a generator costs
        for o in orders:  # more than the loop on CPython 3.12 (see model/finance.py)
            pay = o.due_month + o.buyer.spec.payment_term_months
            if last is None or pay > last:
                last = pay
        return last + self.model.params.order_loan_grace_months

    @staticmethod
    def highest_leader_pd(orders) -> float:
        """The annual PD of the riskiest leader among the buyers of `orders` (max(), written out)."""
        highest = None
        for o in orders:
            pd = o.buyer.spec.pd_annual
            if highest is None or pd > highest:
                highest = pd
        return highest

    def lend(self, sme, instrument: str, package_name: str, decision: Decision, orders=()) -> Loan:
        """Write the approved loan and disburse it."""
        m = self.model
        p = m.params
        if instrument == "order_financing":
            maturity = self.order_loan_maturity(orders)
            term = maturity - m.month
            instalment = 0.0
        else:
            term = p.term_loan_months
            maturity = m.month + term
            instalment = finance.annuity_payment(decision.amount_wan, decision.rate, term)
        subsidy = decision.subsidy_rate
        loan = Loan(
            loan_id=m.next_loan_id(), bank=self, borrower=sme, instrument=instrument, package=package_name,
            principal_wan=decision.amount_wan, start_month=m.month, term_months=term,
            spread=decision.rate - m.lpr(), contract_rate=decision.rate, instalment_wan=instalment,
            maturity_month=maturity, subsidy_rate=subsidy,
            subsidy_until_month=m.month + p.interest_subsidy_months if subsidy > 0 else 0,
            insured_share=decision.insured_share, fund_share=decision.fund_share,
            collateral_pledged_wan=decision.collateral_pledged_wan, outstanding_wan=decision.amount_wan)
        loan.policy_backed = self.policy_backed(loan)
        self.loans.append(loan)
        if loan.fund_share > 0:
            m.fund.back(loan)
        self.new_credit_year_wan += loan.principal_wan
        self.book_outstanding_wan += loan.principal_wan
        m.ledger.transfer(self.account, sme.account, loan.principal_wan, "loan_disbursement")
        return loan

    def policy_backed(self, loan: Loan) -> bool:
        """Does policy money stand behind this loan: fund cover, an interest subsidy, the bank
        reward, or guarantee insurance whose premium vouchers pay in part?"""
        p = self.model.params
        return loan.fund_share > 0 or loan.subsidy_rate > 0 or p.bank_reward_wan_per_100m > 0 or (
            loan.insured_share > 0 and p.premium_voucher_share > 0)

    # -- service -----------------------------------------------------------------------------
    def subsidy_now(self, loan: Loan) -> float:
        """Annual subsidy rate the province pays on this loan this month."""
        return loan.subsidy_rate if self.model.month <= loan.subsidy_until_month else 0.0

    def amount_due(self, loan: Loan) -> tuple[float, float]:
        """(interest, principal) the borrower owes this month, arrears included. The borrower
        pays interest at the contract rate less the subsidy; the schedule is the annuity at
        the contract rate (reset at anniversaries by `reprice_anniversaries`). A query: asked
        in production (to keep the money back) and again in settlement (to pay it)."""
        month = self.model.month
        if loan.status != PERFORMING or month <= loan.start_month:
            return 0.0, 0.0  # the first instalment falls due a month after disbursement
        if loan.instalment_wan == 0.0:  # bullet
            if month < loan.maturity_month:
                return 0.0, 0.0
            return loan.accrued_interest_wan, loan.outstanding_wan
        outstanding = loan.outstanding_wan
        rate = loan.contract_rate
        _, principal = finance.split_instalment(outstanding, rate, loan.instalment_wan)
        borrower_interest = outstanding * (rate - self.subsidy_now(loan)) / 12.0
        owed = principal + loan.arrears_wan
        return borrower_interest + loan.accrued_interest_wan, (outstanding if outstanding < owed else owed)

    def reprice_anniversaries(self) -> None:
        """Floating rate: an amortising loan whose anniversary is this month takes the current
        LPR + its spread, and its instalment is recomputed over the remaining term. Before any
        instalment of the month is asked for, so the anniversary payment is at the new rate."""
        month = self.model.month
        for loan in self.loans:
            if (loan.status == PERFORMING and loan.instalment_wan != 0.0 and month > loan.start_month
                    and (month - loan.start_month) % 12 == 0):
                self._reprice(loan)

    def _reprice(self, loan: Loan) -> None:
        m = self.model
        loan.contract_rate = m.lpr() + loan.spread
        remaining = max(1, loan.maturity_month - m.month + 1)
        loan.instalment_wan = finance.annuity_payment(loan.outstanding_wan, loan.contract_rate, remaining)
        if loan.subsidy_rate > 0:
            p = m.params
            loan.subsidy_rate = finance.subsidy_rate(loan.contract_rate, p.interest_subsidy_pp, p.interest_subsidy_share, p.interest_subsidy_cap_pp)

    def accrue(self) -> None:
        """Monthly accruals on performing loans: bullet loans accrue the borrower's interest
        (paid with the principal); the province owes the subsidy part on every loan."""
        gov = self.model.government
        subsidy_owed = 0.0
        month = self.model.month
        for loan in self.loans:
            if loan.status != PERFORMING or loan.start_month == month:
                continue  # interest runs from the month after disbursement
            s = self.subsidy_now(loan)
            if loan.instalment_wan == 0.0:  # bullet
                loan.accrued_interest_wan += loan.outstanding_wan * (loan.contract_rate - s) / 12.0
            subsidy_owed += loan.outstanding_wan * s / 12.0
        if subsidy_owed > 0:
            gov.owe_interest_subsidy(self, subsidy_owed)

    def book_payment(self, loan: Loan, interest_paid: float, principal_paid: float, interest_due: float, principal_due: float) -> None:
        """Record what the borrower paid against what fell due this month (a shortfall is a
        missed instalment; see `book_collection` for a leader paying an assigned receivable)."""
        # `x if x > 0.0 else 0.0` is max(0.0, x), without the call (a hot path)
        x = interest_due - interest_paid
        loan.accrued_interest_wan = x if x > 0.0 else 0.0
        if loan.instalment_wan != 0.0:  # not a bullet loan
            x = principal_due - principal_paid
            loan.arrears_wan = x if x > 0.0 else 0.0
        x = loan.outstanding_wan - principal_paid
        loan.outstanding_wan = x if x > 0.0 else 0.0
        if principal_due + interest_due > 1e-9:
            fully_paid = principal_paid >= principal_due - 1e-9 and interest_paid >= interest_due - 1e-9
            loan.months_overdue = 0 if fully_paid else loan.months_overdue + 1
        self._close_if_repaid(loan)

    def book_collection(self, loan: Loan, interest_paid: float, principal_paid: float) -> None:
        """Record a payment from a receivable assigned to an order loan (a leader paying one of
        the invoices the loan was lent against): it pays the loan down, accrued interest first,
        but it is not a due date, so it neither misses nor cures an instalment. One advance
        usually finances several orders, and their invoices arrive one by one before the loan
        falls due."""
        x = loan.accrued_interest_wan - interest_paid
        loan.accrued_interest_wan = x if x > 0.0 else 0.0
        x = loan.outstanding_wan - principal_paid
        loan.outstanding_wan = x if x > 0.0 else 0.0
        self._close_if_repaid(loan)

    @staticmethod
    def _close_if_repaid(loan: Loan) -> None:
        if loan.outstanding_wan <= 1e-9:
            loan.outstanding_wan = 0.0
            loan.accrued_interest_wan = 0.0
            loan.status = REPAID

    def pay_funding_cost(self) -> None:
        m = self.model
        cost = self.outstanding_wan * m.params.bank_funding_cost / 12.0
        m.ledger.pay_up_to(self.account, m.funding, cost, "funding_cost")

    # -- defaults -------------------------------------------------------------------------
    def classify_npl(self, loan: Loan) -> None:
        """The borrower has defaulted: the loan is non-performing and the pledged collateral is
        sold. The loss is shared only when the recovery period ends (`resolve_due`), so every
        recovery made before then reduces the loss that insurer, fund and bank share."""
        m = self.model
        p = m.params
        if loan.status != PERFORMING:
            return
        loan.status = NPL
        loan.npl_month = m.month
        m.counters.npl_new_wan += loan.outstanding_wan
        loan.accrued_interest_wan = 0.0
        loan.arrears_wan = 0.0
        if loan.collateral_pledged_wan > 0:
            proceeds = min(loan.outstanding_wan, loan.collateral_pledged_wan * p.collateral_haircut * p.receivable_recovery_share)
            if proceeds > 0:
                m.ledger.transfer(m.buyers, self.account, proceeds, "collateral_sale")
                loan.outstanding_wan -= proceeds

    def receive_recovery(self, loan: Loan, amount_wan: float) -> None:
        """Cash recovered on a defaulted loan (already transferred to the bank). During the
        recovery period it reduces the loss still to be shared; after the loss was shared it
        goes back to insurer, fund and bank in proportion to what each bore."""
        if loan.status == NPL:
            loan.outstanding_wan = max(0.0, loan.outstanding_wan - amount_wan)
        elif loan.status == RESOLVED:
            m = self.model
            back = finance.share_recovery(amount_wan, loan.paid_insurer_wan, loan.paid_fund_wan, loan.paid_bank_wan)
            if back.insurer_wan > 0:
                m.ledger.transfer(self.account, m.insurer.account, back.insurer_wan, "recovery_refund")
                m.insurer.book_recovery(back.insurer_wan)
                loan.paid_insurer_wan -= back.insurer_wan
            if back.fund_wan > 0:
                m.ledger.transfer(self.account, m.fund.account, back.fund_wan, "recovery_refund")
                loan.paid_fund_wan -= back.fund_wan
            loan.paid_bank_wan -= back.bank_wan
            self.late_recovered_wan += back.bank_wan

    def resolve_due(self) -> None:
        """NPL loans whose recovery period (`fund_payout_lag_months`) has ended: the loss
        left after recoveries is shared in the loss order (insurer, then the fund within its
        caps and balance), and the bank writes off the rest."""
        m = self.model
        p = m.params
        lag = p.fund_payout_lag_months
        keep = []
        for loan in self.loans:
            if loan.status == NPL and m.month >= loan.npl_month + lag:
                shares = finance.allocate_loss(
                    loan.outstanding_wan, loan.principal_wan, insurer_share=loan.insured_share,
                    fund_share=loan.fund_share, fund_per_loan_cap=p.fund_per_loan_cap,
                    policy_cover_cap=p.policy_cover_cap, fund_available_wan=m.fund.balance_wan,
                    order=p.loss_order, bank_over_tolerance=self.over_tolerance())
                if shares.insurer_wan > 0:
                    paid = m.insurer.pay_guarantee_claim(self, shares.insurer_wan)
                    loan.paid_insurer_wan += paid
                    loan.outstanding_wan -= paid
                if shares.fund_wan > 0:
                    paid = m.fund.pay_claim(self, shares.fund_wan)
                    loan.paid_fund_wan += paid
                    loan.outstanding_wan -= paid
                loss = max(0.0, loan.outstanding_wan)
                loan.paid_bank_wan += loss
                self.written_off_wan += loss
                m.counters.written_off_wan += loss
                loan.outstanding_wan = 0.0
                loan.status = RESOLVED
                m.resolved_loans.append(loan)
            elif loan.status == REPAID:
                continue
            else:
                keep.append(loan)
        # in place: one list for the bank's life (see agents/sme.py's docstring)
        self.loans[:] = keep
