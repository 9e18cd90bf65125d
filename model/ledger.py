"""The one ledger every yuan moves through.

A transfer is (payer, payee, amount, kind). Accounts are numbered; some are *external*:
the world outside the modelled chain (buyers outside the chain, suppliers of materials and
labour, the provincial budget, banks' funding market). External accounts may go negative;
internal accounts may not (an agent cannot pay money it does not have).

Two classes, because normal runs and audits need different records:

- `Ledger` keeps what results are computed from: balances, the total flow of each kind
  (`flow_by_kind`, which the loan-book check reads) and what the budget paid by
  kind (`budget_by_kind`, the fiscal cost by lever). Its `check()` verifies what those allow:
  transfers are zero-sum (all balances together never change), no internal account is
  overdrawn, and the budget lost exactly the fiscal cost by lever.
- `AuditLedger` (what `HydrogenChainModel(audit=True)` and the tests use) also keeps a journal
  of every transfer, each account's inflow and outflow, and the flows across the boundary of
  the chain by kind. Its `check()` adds the identities those records make checkable: every
  account's balance is its opening plus inflow minus outflow, and the internal balances changed
  by exactly the net inflow from external accounts.

Both refuse the same bad transfers and compute balances, `flow_by_kind` and `budget_by_kind`
with the same additions in the same order, so an audited run reports bit-for-bit the same
results as a normal one. `HydrogenChainModel.check_books` also checks the banks' loan books
against the ledger's loan flows.
"""

from __future__ import annotations

import math
from collections import defaultdict


class AccountingError(AssertionError):
    """The accounting identity is broken: a bug, never a user mistake."""


class InsufficientFunds(AccountingError):
    """An internal account tried to pay more than it holds."""


# Transfer kinds. Kinds paid out of the provincial budget are the fiscal levers.
KINDS = (
    "opening",
    "external_sale", "unit_sale", "production_cost", "fixed_cost", "operating_shock", "rd_spend", "leader_purchase",
    "order_payment",
    "loan_disbursement", "loan_interest", "loan_principal", "funding_cost",
    "guarantee_premium", "rd_premium", "guarantee_claim", "rd_claim",
    "recovery", "late_recovery", "collateral_sale", "recovery_refund",
    "fund_payout", "agency_fee",
    # fiscal levers (paid by the budget)
    "interest_subsidy", "bank_reward", "premium_voucher", "fund_endowment", "fund_topup",
    "stop_loss", "agency_subsidy",
)
FISCAL_LEVERS = {
    "interest_subsidy": ("interest_subsidy",),
    "bank_reward": ("bank_reward",),
    "premium_voucher": ("premium_voucher",),
    "fund": ("fund_endowment", "fund_topup"),
    "stop_loss": ("stop_loss",),
    "agency": ("agency_subsidy",),
}
_INF = math.inf

# Amounts below this (wan) are rounding noise: 1e-6 wan = 0.01 yuan.
EPS_WAN = 1e-6


class Ledger:
    """Balances of all accounts, flows by kind and the budget's payments by kind: what results
    need. Transfers are O(1); see `AuditLedger` for the records only checks read."""

    def __init__(self):
        self.names: list[str] = []
        self.external: list[bool] = []
        self.balances: list[float] = []
        self.opening: list[float] = []
        self.flow_by_kind: dict[str, float] = dict.fromkeys(KINDS, 0.0)  # every kind, from zero
        self.budget_by_kind: dict[str, float] = defaultdict(float)  # paid by the budget account
        self.budget_account: int | None = None

    # -- accounts ----------------------------------------------------------------------------
    def open_account(self, name: str, opening_wan: float = 0.0, external: bool = False) -> int:
        if opening_wan < 0 and not external:
            raise AccountingError(f"account {name}: negative opening balance {opening_wan}")
        self.names.append(name)
        self.external.append(external)
        self.balances.append(float(opening_wan))
        self.opening.append(float(opening_wan))
        return len(self.names) - 1

    def open_budget(self, name: str = "provincial budget") -> int:
        self.budget_account = self.open_account(name, 0.0, external=True)
        return self.budget_account

    def balance(self, account: int) -> float:
        return self.balances[account]

    # -- the one way money moves ---------------------------------------------------------
    def transfer(self, payer: int, payee: int, amount_wan: float, kind: str) -> float:
        """Move `amount_wan` from payer to payee; returns the amount. Zero is a no-op.

        The hot path of the model (about eight transfers per SME-month): locals, one chained
        comparison for "positive and finite", every check before the first write, no calls."""
        if not (0.0 < amount_wan < _INF):  # false for zero, NaN, infinities and negative amounts
            if amount_wan == 0.0:
                return 0.0
            raise AccountingError(f"{kind}: invalid amount {amount_wan!r}")
        flows = self.flow_by_kind
        try:
            kind_total = flows[kind]  # every kind is there from the start
        except KeyError:
            raise AccountingError(f"unknown transfer kind {kind!r}") from None
        if payer == payee:
            raise AccountingError(f"{kind}: payer and payee are the same account")
        balances = self.balances
        ext_payer = self.external[payer]
        if not ext_payer and balances[payer] < amount_wan - EPS_WAN:
            raise InsufficientFunds(
                f"{self.names[payer]} cannot pay {amount_wan:.6f} wan ({kind}); balance {balances[payer]:.6f}")
        balances[payer] -= amount_wan
        balances[payee] += amount_wan
        flows[kind] = kind_total + amount_wan
        if ext_payer and payer == self.budget_account:  # the budget is an external account
            self.budget_by_kind[kind] += amount_wan
        return amount_wan

    def pay_up_to(self, payer: int, payee: int, amount_wan: float, kind: str) -> float:
        """Pay as much of `amount_wan` as the payer holds; returns what was paid."""
        if self.external[payer]:
            paid = amount_wan  # an external account pays whatever is asked
        else:
            available = self.balances[payer]
            if available < 0.0:
                available = 0.0
            paid = available if available < amount_wan else amount_wan  # min(amount, available)
        if paid <= EPS_WAN:
            return 0.0
        return self.transfer(payer, payee, paid, kind)

    # -- views -------------------------------------------------------------------------------
    def fiscal_cost_wan(self, lever: str | None = None) -> float:
        if lever is None:
            return math.fsum(self.budget_by_kind.values())
        return math.fsum(self.budget_by_kind[k] for k in FISCAL_LEVERS[lever])

    def internal_total(self) -> float:
        return math.fsum(b for b, e in zip(self.balances, self.external) if not e)

    # -- the identity -------------------------------------------------------------------------
    def check(self, where: str = "") -> None:
        """Raise AccountingError if any identity this ledger's records allow checking fails."""
        at = f" after {where}" if where else ""
        scale = 1.0 + math.fsum(abs(b) for b in self.balances)
        self._check(at, 1e-9 * scale + EPS_WAN)

    def _check(self, at: str, tol: float) -> None:
        # 1. transfers are zero-sum: all balances together never change
        total = math.fsum(self.balances)
        opening_total = math.fsum(self.opening)
        if abs(total - opening_total) > tol:
            raise AccountingError(f"money created or destroyed{at}: total {total} vs opening {opening_total}")
        for name, balance, external in zip(self.names, self.balances, self.external):
            if not external and balance < -EPS_WAN:
                raise AccountingError(f"internal account {name} is overdrawn{at}: {balance}")
        # 4. the budget paid exactly the fiscal flows recorded by lever. Nothing pays into the
        # budget, so what it paid is what it lost: opening - balance.
        budget = self.budget_account
        if budget is not None:
            paid = self.opening[budget] - self.balances[budget]
            if abs(paid - self.fiscal_cost_wan()) > tol:
                raise AccountingError(
                    f"budget outflow (opening - balance) {paid} != fiscal cost by lever {self.fiscal_cost_wan()}{at}")


class AuditLedger(Ledger):
    """A `Ledger` that also records every transfer (`journal`), each account's inflow and
    outflow, and flows across the chain's boundary by kind, so that `check()` can verify the
    accounting identity three independent ways. For audits and tests: normal runs never read
    these records and use the plain `Ledger`."""

    def __init__(self):
        super().__init__()
        self.inflow: list[float] = []
        self.outflow: list[float] = []
        self.external_in_by_kind: dict[str, float] = defaultdict(float)  # external -> internal
        self.external_out_by_kind: dict[str, float] = defaultdict(float)  # internal -> external
        self.journal: list[tuple[int, int, float, str]] = []  # (payer, payee, amount_wan, kind)

    @property
    def n_transfers(self) -> int:
        """Transfers that moved money (zero amounts and refusals are not recorded)."""
        return len(self.journal)

    def open_account(self, name: str, opening_wan: float = 0.0, external: bool = False) -> int:
        account = super().open_account(name, opening_wan, external)
        self.inflow.append(0.0)
        self.outflow.append(0.0)
        return account

    def transfer(self, payer: int, payee: int, amount_wan: float, kind: str) -> float:
        moved = super().transfer(payer, payee, amount_wan, kind)  # validates; raises before any write
        if moved:  # zero is a no-op: nothing to record
            self.outflow[payer] += moved
            self.inflow[payee] += moved
            ext = self.external
            if ext[payer]:
                if not ext[payee]:
                    self.external_in_by_kind[kind] += moved
            elif ext[payee]:
                self.external_out_by_kind[kind] += moved
            self.journal.append((payer, payee, moved, kind))
        return moved

    def _check(self, at: str, tol: float) -> None:
        super()._check(at, tol)
        # 2. every account: balance = opening + in - out
        for i, name in enumerate(self.names):
            expected = self.opening[i] + self.inflow[i] - self.outflow[i]
            if abs(self.balances[i] - expected) > tol:
                raise AccountingError(f"account {name}{at}: balance {self.balances[i]} != opening + in - out {expected}")
        # 3. internal money changes only by flows across the boundary (by kind)
        internal_opening = math.fsum(o for o, e in zip(self.opening, self.external) if not e)
        net_in = math.fsum(self.external_in_by_kind.values()) - math.fsum(self.external_out_by_kind.values())
        internal = self.internal_total()
        if abs(internal - (internal_opening + net_in)) > tol:
            raise AccountingError(
                f"internal balances{at} {internal} != opening {internal_opening} + net external inflow {net_in}")
        # 4 again, from the recorded outflow rather than the balance
        if self.budget_account is not None:
            paid = self.outflow[self.budget_account]
            if abs(paid - self.fiscal_cost_wan()) > tol:
                raise AccountingError(f"budget outflow {paid} != fiscal cost by lever {self.fiscal_cost_wan()}{at}")
