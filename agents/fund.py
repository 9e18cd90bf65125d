"""The provincial risk-compensation fund (省级风险补偿基金).

It backs eligible loans while it has capacity (balance x leverage limit), and pays its share
of a bank's principal loss after the payout lag, within its caps and while it has money.
"""

from __future__ import annotations

import math

from mesa import Agent

from model import finance
from model.instruments import NPL, PERFORMING

# A defaulted loan stays backed until it is resolved: the fund still owes its share of the loss.
_STILL_BACKED = (PERFORMING, NPL)


class RiskCompensationFund(Agent):
    def __init__(self, model):
        super().__init__(model)
        self.name, self.name_zh = "Risk-compensation fund", "省级风险补偿基金"
        self.account = model.ledger.open_account("fund", 0.0)
        self.backed: list = []  # loans it backs
        self.payouts_wan = 0.0
        self.backed_total_wan = 0.0  # credit it has backed (cumulative)
        self._backed_now = 0.0

    @property
    def balance_wan(self) -> float:
        return self.model.ledger.balance(self.account)

    def backed_outstanding_wan(self) -> float:
        return math.fsum(loan.outstanding_wan for loan in self.backed if loan.status in _STILL_BACKED)

    def capacity_wan(self) -> float:
        return finance.fund_capacity(self.balance_wan, self._backed_now, self.model.params.fund_max_leverage)

    def start_month(self) -> None:
        """Prune repaid and resolved loans once a month; cache what it backs (defaulted loans
        awaiting resolution included: its share of their loss is still to pay)."""
        self.backed = [loan for loan in self.backed if loan.status in _STILL_BACKED]
        self._backed_now = self.backed_outstanding_wan()

    def can_back(self, amount_wan: float) -> bool:
        return self.balance_wan > 0 and self.capacity_wan() >= amount_wan

    def back(self, loan) -> None:
        self.backed.append(loan)
        self._backed_now += loan.principal_wan
        self.backed_total_wan += loan.principal_wan

    def pay_claim(self, bank, claim_wan: float) -> float:
        """Pay a bank's claim at the end of the recovery period, as far as the balance allows."""
        paid = self.model.ledger.pay_up_to(self.account, bank.account, claim_wan, "fund_payout")
        self.payouts_wan += paid
        return paid
