"""The provincial government: policy levers and the budget they are paid from.

Every fiscal yuan leaves the provincial budget account through the ledger with the kind of
its lever, so the fiscal cost by lever falls out of the ledger.
"""

from __future__ import annotations

from mesa import Agent

from model import finance


class Government(Agent):
    def __init__(self, model):
        super().__init__(model)
        self.name, self.name_zh = "Shanxi provincial government", "山西省政府"
        self.account = model.ledger.open_budget()
        self.subsidy_owed: dict = {}  # bank -> interest subsidy owed this month

    def owe_interest_subsidy(self, bank, amount_wan: float) -> None:
        self.subsidy_owed[bank] = self.subsidy_owed.get(bank, 0.0) + amount_wan

    def pay_policy(self) -> None:
        """The month's policy payments: interest subsidies, premium vouchers, agency
        subsidies, fund endowment and top-ups; yearly bank rewards and insurer stop-loss."""
        m = self.model
        p = m.params
        ledger = m.ledger
        for bank, amount in self.subsidy_owed.items():
            ledger.transfer(self.account, bank.account, amount, "interest_subsidy")
        self.subsidy_owed.clear()
        if m.insurer.voucher_due_wan > 0:
            ledger.transfer(self.account, m.insurer.account, m.insurer.voucher_due_wan, "premium_voucher")
            m.insurer.voucher_due_wan = 0.0
        if m.agency is not None and m.agency.subsidy_due_wan > 0:
            ledger.transfer(self.account, m.agency.account, m.agency.subsidy_due_wan, "agency_subsidy")
            m.agency.subsidy_due_wan = 0.0
        if m.month == 1 and p.fund_endowment_wan > 0:
            ledger.transfer(self.account, m.fund.account, p.fund_endowment_wan, "fund_endowment")
        if m.month > 1 and m.month % 12 == 1 and p.fund_topup_wan_per_year > 0:
            ledger.transfer(self.account, m.fund.account, p.fund_topup_wan_per_year, "fund_topup")
        if m.month % 12 == 0:
            for bank in m.banks:
                reward = finance.bank_reward(bank.new_credit_year_wan, p.bank_reward_wan_per_100m)
                if reward > 0:
                    ledger.transfer(self.account, bank.account, reward, "bank_reward")
                bank.new_credit_year_wan = 0.0
            stop_loss = m.insurer.stop_loss_due()
            if stop_loss > 0:
                ledger.transfer(self.account, m.insurer.account, stop_loss, "stop_loss")
                m.insurer.stop_loss_received_wan += stop_loss
