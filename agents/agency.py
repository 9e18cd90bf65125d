"""Technology-transfer agency (技术转移机构, optional): assesses an SME's technology so that
banks' signal of its quality is less noisy ("技术翻译", the Dalian case)."""

from __future__ import annotations

from mesa import Agent


class TechTransferAgency(Agent):
    def __init__(self, model):
        super().__init__(model)
        self.name, self.name_zh = "Technology-transfer agency", "技术转移机构"
        self.account = model.ledger.open_account("agency", 0.0)
        self.subsidy_due_wan = 0.0

    def assess(self, sme) -> bool:
        """Assess `sme` for its fee (the province pays its subsidised share later).
        False if the SME cannot pay its part."""
        p = self.model.params
        firm_part = p.agency_fee_wan * (1.0 - p.agency_subsidy_share)
        if self.model.ledger.balance(sme.account) < firm_part:
            return False
        self.model.ledger.transfer(sme.account, self.account, firm_part, "agency_fee")
        self.subsidy_due_wan += p.agency_fee_wan - firm_part
        return True
