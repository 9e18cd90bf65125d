"""Contracts between agents: orders, invoices, loans, R&D projects.

A contract is a record both sides refer to; it holds no money. Money moves only through
the ledger, and a contract's state changes only in the verb of the party whose book it is
on (a loan's balance in the bank's `collect`/`resolve` verbs, an order's progress in the
seller's `produce` verb).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Loan status
PERFORMING, NPL, RESOLVED, REPAID = "performing", "npl", "resolved", "repaid"


@dataclass(slots=True, eq=False)
class Order:
    """A purchase order from a buyer (leader or SME) to an SME."""

    seller: Any
    buyer: Any
    value_wan: float
    due_month: int
    own_cost_wan: float  # what the seller spends outside the chain to make it
    monthly_cost_wan: float  # own cost spread evenly over the lead time
    payment_term_months: int  # the buyer pays this long after delivery (contract term)
    confirmed: bool  # confirmed (确权) by a chain leader: eligible for order financing
    product: Any  # the leader's ProductSpec this order is SME content of; None for an SME's order
    cost_paid_wan: float = 0.0
    stalled_months: int = 0
    loan: Any = None  # order-financing loan against this order (one loan may finance several)
    sub_orders: list | tuple = ()  # the seller's orders to its own suppliers for this order
    done: bool = False  # delivered or cancelled


@dataclass(slots=True, eq=False)
class Invoice:
    """Money owed for a delivered order; the payee's receivable, the payer's payable."""

    payer: Any
    payee: Any
    amount_wan: float
    due_month: int
    loan: Any = None  # an order loan assigned this receivable: pay the bank first
    paid: bool = False
    written_off: bool = False


@dataclass(slots=True, eq=False)
class Loan:
    """A loan on a bank's book."""

    loan_id: int
    bank: Any
    borrower: Any
    instrument: str  # collateral | tech_credit | order_financing
    package: str
    principal_wan: float
    start_month: int
    term_months: int
    spread: float  # over the LPR; the contract rate floats with the LPR at each anniversary
    contract_rate: float
    instalment_wan: float  # 0 for bullet (order) loans
    maturity_month: int
    subsidy_rate: float = 0.0
    subsidy_until_month: int = 0
    insured_share: float = 0.0  # loan-guarantee insurance share of a loss
    fund_share: float = 0.0  # fund share the bank was promised at approval (0 = not backed)
    collateral_pledged_wan: float = 0.0
    policy_backed: bool = False
    outstanding_wan: float = 0.0
    accrued_interest_wan: float = 0.0  # bullet loans
    arrears_wan: float = 0.0  # missed instalments
    months_overdue: int = 0  # settlements short in a row (1 on the first missed due date)
    status: str = PERFORMING
    npl_month: int = 0
    paid_insurer_wan: float = 0.0
    paid_fund_wan: float = 0.0
    paid_bank_wan: float = 0.0  # loss the bank bore (written off)

    @property
    def is_bullet(self) -> bool:
        return self.instalment_wan == 0.0


@dataclass(slots=True, eq=False)
class RDProject:
    """An SME's R&D project."""

    budget_wan: float
    months: int
    success_prob: float
    start_month: int
    spent_wan: float = 0.0
    months_done: int = 0
    stalled_months: int = 0
    sum_insured_wan: float = 0.0  # R&D-loss cover (0 = uninsured)
