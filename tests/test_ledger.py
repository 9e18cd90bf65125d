"""Unit tests of the one ledger (model/ledger.py)."""

from __future__ import annotations

import math

import pytest

from model.ledger import FISCAL_LEVERS, KINDS, AccountingError, InsufficientFunds, Ledger


@pytest.fixture
def ledger():
    lg = Ledger(keep_journal=True)
    lg.open_account("alice", 100.0)  # 0
    lg.open_account("bob", 50.0)  # 1
    lg.open_account("outside", 0.0, external=True)  # 2
    lg.open_budget()  # 3
    return lg


def test_transfer_is_zero_sum(ledger):
    assert ledger.transfer(0, 1, 30.0, "order_payment") == 30.0
    assert ledger.balances == [70.0, 80.0, 0.0, 0.0]
    assert math.fsum(ledger.balances) == 150.0
    assert ledger.inflow[1] == 30.0 and ledger.outflow[0] == 30.0
    assert ledger.flow_by_kind["order_payment"] == 30.0
    assert ledger.n_transfers == 1
    assert ledger.journal == [(0, 1, 30.0, "order_payment")]
    ledger.check()


def test_internal_overdraft_is_refused_and_changes_nothing(ledger):
    with pytest.raises(InsufficientFunds, match="alice"):
        ledger.transfer(0, 1, 100.5, "order_payment")
    assert ledger.balances == [100.0, 50.0, 0.0, 0.0]
    assert ledger.n_transfers == 0
    assert issubclass(InsufficientFunds, AccountingError)
    ledger.check()


def test_paying_exactly_the_balance_is_allowed(ledger):
    ledger.transfer(0, 1, 100.0, "order_payment")
    assert ledger.balance(0) == 0.0
    ledger.check()


def test_external_accounts_may_go_negative(ledger):
    ledger.transfer(2, 0, 1000.0, "external_sale")
    assert ledger.balance(2) == -1000.0
    assert ledger.balance(0) == 1100.0
    ledger.transfer(3, 1, 25.0, "interest_subsidy")
    assert ledger.balance(3) == -25.0
    ledger.check()


def test_boundary_flows_are_tracked_by_kind(ledger):
    ledger.transfer(2, 0, 40.0, "external_sale")  # in
    ledger.transfer(0, 2, 15.0, "production_cost")  # out
    ledger.transfer(0, 1, 5.0, "order_payment")  # internal: not a boundary flow
    assert dict(ledger.external_in_by_kind) == {"external_sale": 40.0}
    assert dict(ledger.external_out_by_kind) == {"production_cost": 15.0}
    assert ledger.internal_total() == pytest.approx(150.0 + 40.0 - 15.0)
    ledger.check()


@pytest.mark.parametrize("amount", [-1.0, math.nan, math.inf, -math.inf])
def test_invalid_amounts_are_rejected(ledger, amount):
    with pytest.raises(AccountingError, match="invalid amount"):
        ledger.transfer(2, 0, amount, "external_sale")
    assert ledger.n_transfers == 0
    ledger.check()


def test_zero_is_a_no_op(ledger):
    assert ledger.transfer(0, 1, 0.0, "order_payment") == 0.0
    assert ledger.n_transfers == 0


def test_unknown_kind_is_rejected(ledger):
    with pytest.raises(AccountingError, match="unknown transfer kind"):
        ledger.transfer(0, 1, 1.0, "gift")
    assert ledger.balances == [100.0, 50.0, 0.0, 0.0]


def test_paying_oneself_is_rejected(ledger):
    with pytest.raises(AccountingError):
        ledger.transfer(0, 0, 1.0, "order_payment")


def test_negative_internal_opening_balance_is_rejected():
    lg = Ledger()
    with pytest.raises(AccountingError):
        lg.open_account("broke", -1.0)
    assert lg.open_account("world", -1.0, external=True) == 0


def test_every_fiscal_lever_kind_is_a_transfer_kind():
    for kinds in FISCAL_LEVERS.values():
        assert set(kinds) <= set(KINDS)


class TestPayUpTo:
    def test_pays_in_full_when_it_can(self, ledger):
        assert ledger.pay_up_to(0, 1, 60.0, "loan_interest") == 60.0
        assert ledger.balance(0) == 40.0

    def test_pays_what_it_has(self, ledger):
        assert ledger.pay_up_to(0, 1, 160.0, "loan_interest") == 100.0
        assert ledger.balance(0) == 0.0 and ledger.balance(1) == 150.0
        ledger.check()

    def test_empty_account_pays_nothing(self, ledger):
        ledger.transfer(0, 1, 100.0, "order_payment")
        n = ledger.n_transfers
        assert ledger.pay_up_to(0, 1, 10.0, "loan_interest") == 0.0
        assert ledger.n_transfers == n

    def test_external_payer_pays_in_full(self, ledger):
        assert ledger.pay_up_to(2, 0, 500.0, "external_sale") == 500.0
        assert ledger.balance(2) == -500.0


class TestFiscalCost:
    def test_by_lever(self, ledger):
        budget = ledger.budget_account
        ledger.transfer(budget, 0, 10.0, "interest_subsidy")
        ledger.transfer(budget, 1, 2.0, "interest_subsidy")
        ledger.transfer(budget, 1, 20.0, "bank_reward")
        ledger.transfer(budget, 0, 5.0, "premium_voucher")
        ledger.transfer(budget, 1, 1000.0, "fund_endowment")
        ledger.transfer(budget, 1, 300.0, "fund_topup")
        ledger.transfer(budget, 0, 8.0, "stop_loss")
        ledger.transfer(budget, 0, 3.0, "agency_subsidy")
        assert ledger.fiscal_cost_wan("interest_subsidy") == 12.0
        assert ledger.fiscal_cost_wan("bank_reward") == 20.0
        assert ledger.fiscal_cost_wan("premium_voucher") == 5.0
        assert ledger.fiscal_cost_wan("fund") == 1300.0  # endowment and top-ups
        assert ledger.fiscal_cost_wan("stop_loss") == 8.0
        assert ledger.fiscal_cost_wan("agency") == 3.0
        assert ledger.fiscal_cost_wan() == 1348.0
        assert ledger.balance(budget) == -1348.0
        ledger.check()

    def test_only_money_leaving_the_budget_is_fiscal(self, ledger):
        # an interest subsidy paid by someone else (nonsense, but possible) is not fiscal cost
        ledger.transfer(0, 1, 10.0, "interest_subsidy")
        ledger.transfer(2, 0, 10.0, "external_sale")
        assert ledger.fiscal_cost_wan() == 0.0
        ledger.check()

    def test_unknown_lever(self, ledger):
        with pytest.raises(KeyError):
            ledger.fiscal_cost_wan("helicopter_money")


class TestCheckDetectsCorruption:
    """`check()` must catch a balance written behind the ledger's back."""

    def _busy(self, ledger):
        ledger.transfer(2, 0, 40.0, "external_sale")
        ledger.transfer(0, 1, 70.0, "order_payment")
        ledger.transfer(ledger.budget_account, 1, 5.0, "interest_subsidy")
        ledger.check()
        return ledger

    def test_money_created_in_an_internal_account(self, ledger):
        lg = self._busy(ledger)
        lg.balances[0] += 1.0
        with pytest.raises(AccountingError):
            lg.check()

    def test_money_moved_without_a_transfer(self, ledger):
        # zero-sum corruption: the total is intact, but the per-account identity is not
        lg = self._busy(ledger)
        lg.balances[0] -= 3.0
        lg.balances[1] += 3.0
        with pytest.raises(AccountingError, match="alice|bob"):
            lg.check()

    def test_external_balance_corrupted(self, ledger):
        lg = self._busy(ledger)
        lg.balances[2] -= 7.0
        with pytest.raises(AccountingError):
            lg.check("settle")

    def test_names_the_phase(self, ledger):
        lg = self._busy(ledger)
        lg.balances[1] += 0.5
        with pytest.raises(AccountingError, match="after settle"):
            lg.check("settle")

    def test_fiscal_record_corrupted(self, ledger):
        lg = self._busy(ledger)
        lg.budget_by_kind["interest_subsidy"] += 1.0
        with pytest.raises(AccountingError, match="budget"):
            lg.check()

    def test_rounding_noise_is_not_an_error(self, ledger):
        lg = self._busy(ledger)
        lg.balances[0] += 1e-9  # below 0.01 yuan
        lg.check()
