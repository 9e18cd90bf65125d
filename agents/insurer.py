"""The insurer (e.g. PICC P&C): R&D-loss cover for firms, loan-guarantee cover for banks.

It stops writing new business when its loss ratio passes the suspension limit; the
government pays a share of claims above that limit (stop-loss), settled yearly.
"""

from __future__ import annotations

from mesa import Agent

from model import finance


class Insurer(Agent):
    def __init__(self, model):
        super().__init__(model)
        p = model.params
        self.name, self.name_zh = "Insurer", "保险公司"
        self.account = model.ledger.open_account("insurer", p.insurer_reserves_wan)
        self.premiums_wan = 0.0
        self.claims_wan = 0.0  # net of recoveries refunded to it
        self.stop_loss_received_wan = 0.0
        self.voucher_due_wan = 0.0  # premium the province owes through vouchers

    @property
    def loss_ratio(self) -> float | None:
        return finance.ratio_or_none(self.claims_wan, self.premiums_wan)

    @property
    def writing(self) -> bool:
        """Writes new business unless its loss ratio is past the suspension limit."""
        lr = self.loss_ratio
        return lr is None or lr <= self.model.params.insurer_suspend_loss_ratio

    def sell_cover(self, firm, premium_wan: float, kind: str) -> bool:
        """Sell cover to `firm` for `premium_wan`: the firm pays its share now, vouchers pay
        the rest (settled by the government in the policy phase). False if the firm cannot pay."""
        p = self.model.params
        firm_part, voucher_part = finance.voucher_split(premium_wan, p.premium_voucher_share)
        if self.model.ledger.balance(firm.account) < firm_part:
            return False
        self.model.ledger.transfer(firm.account, self.account, firm_part, kind)
        self.voucher_due_wan += voucher_part
        self.premiums_wan += premium_wan
        return True

    def pay_guarantee_claim(self, bank, amount_wan: float) -> float:
        paid = self.model.ledger.pay_up_to(self.account, bank.account, amount_wan, "guarantee_claim")
        self.claims_wan += paid
        return paid

    def pay_rd_claim(self, sme, amount_wan: float) -> float:
        paid = self.model.ledger.pay_up_to(self.account, sme.account, amount_wan, "rd_claim")
        self.claims_wan += paid
        return paid

    def book_recovery(self, amount_wan: float) -> None:
        self.claims_wan -= amount_wan

    def stop_loss_due(self) -> float:
        p = self.model.params
        return finance.stop_loss_payment(self.claims_wan, self.premiums_wan, p.insurer_suspend_loss_ratio,
                                         p.stop_loss_government_share, self.stop_loss_received_wan)
