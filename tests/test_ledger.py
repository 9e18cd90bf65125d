"""Unit tests of the one ledger (model/ledger.py): the fast `Ledger` normal runs use and the
`AuditLedger` audits and tests use. Both must refuse the same transfers and hold bit-for-bit
the same balances, flows by kind and fiscal cost; only the audit ledger keeps the journal and
per-account records."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.ledger import FISCAL_LEVERS, KINDS, AccountingError, AuditLedger, InsufficientFunds, Ledger


def _open(lg):
    lg.open_account("alice", 100.0)  # 0
    lg.open_account("bob", 50.0)  # 1
    lg.open_account("outside", 0.0, external=True)  # 2
    lg.open_budget()  # 3
    return lg


@pytest.fixture
def ledger():
    """The audit ledger: for tests of the records only it keeps."""
    return _open(AuditLedger())


@pytest.fixture(params=[Ledger, AuditLedger], ids=["fast", "audit"])
def any_ledger(request):
    """Either ledger: for what both must do alike (refusals, balances, fiscal cost, checks)."""
    return _open(request.param())


def _state(lg) -> tuple:
    """What results are computed from, bit for bit (hex tells -0.0 from 0.0)."""
    return ([b.hex() for b in lg.balances],
            {k: v.hex() for k, v in lg.flow_by_kind.items()},
            {k: v.hex() for k, v in lg.budget_by_kind.items()})


def test_transfer_is_zero_sum(any_ledger):
    ledger = any_ledger
    assert ledger.transfer(0, 1, 30.0, "order_payment") == 30.0
    assert ledger.balances == [70.0, 80.0, 0.0, 0.0]
    assert math.fsum(ledger.balances) == 150.0
    assert ledger.flow_by_kind["order_payment"] == 30.0
    ledger.check()


def test_audit_ledger_records_each_transfer(ledger):
    ledger.transfer(0, 1, 30.0, "order_payment")
    assert ledger.inflow[1] == 30.0 and ledger.outflow[0] == 30.0
    assert ledger.n_transfers == 1
    assert ledger.journal == [(0, 1, 30.0, "order_payment")]
    ledger.check()


def test_fast_ledger_keeps_no_audit_records():
    lg = _open(Ledger())
    lg.transfer(0, 1, 30.0, "order_payment")
    for record in ("journal", "inflow", "outflow", "external_in_by_kind", "external_out_by_kind", "n_transfers"):
        assert not hasattr(lg, record), record


def test_internal_overdraft_is_refused_and_changes_nothing(any_ledger):
    before = _state(any_ledger)
    with pytest.raises(InsufficientFunds, match="alice"):
        any_ledger.transfer(0, 1, 100.5, "order_payment")
    assert any_ledger.balances == [100.0, 50.0, 0.0, 0.0]
    assert _state(any_ledger) == before
    assert issubclass(InsufficientFunds, AccountingError)
    any_ledger.check()


def test_refused_transfers_are_not_recorded(ledger):
    with pytest.raises(InsufficientFunds):
        ledger.transfer(0, 1, 100.5, "order_payment")
    with pytest.raises(AccountingError):
        ledger.transfer(0, 1, math.nan, "order_payment")
    assert ledger.transfer(0, 1, 0.0, "order_payment") == 0.0
    assert ledger.n_transfers == 0 and ledger.journal == []
    assert ledger.inflow == [0.0] * 4 and ledger.outflow == [0.0] * 4
    ledger.check()


def test_paying_exactly_the_balance_is_allowed(any_ledger):
    any_ledger.transfer(0, 1, 100.0, "order_payment")
    assert any_ledger.balance(0) == 0.0
    any_ledger.check()


def test_external_accounts_may_go_negative(any_ledger):
    ledger = any_ledger
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
def test_invalid_amounts_are_rejected(any_ledger, amount):
    before = _state(any_ledger)
    with pytest.raises(AccountingError, match="invalid amount"):
        any_ledger.transfer(2, 0, amount, "external_sale")
    assert _state(any_ledger) == before
    any_ledger.check()


def test_zero_is_a_no_op(any_ledger):
    before = _state(any_ledger)
    assert any_ledger.transfer(0, 1, 0.0, "order_payment") == 0.0
    assert _state(any_ledger) == before


def test_unknown_kind_is_rejected(any_ledger):
    with pytest.raises(AccountingError, match="unknown transfer kind"):
        any_ledger.transfer(0, 1, 1.0, "gift")
    assert any_ledger.balances == [100.0, 50.0, 0.0, 0.0]
    assert "gift" not in any_ledger.flow_by_kind


def test_paying_oneself_is_rejected(any_ledger):
    before = _state(any_ledger)
    with pytest.raises(AccountingError, match="same account"):
        any_ledger.transfer(0, 0, 1.0, "order_payment")
    assert _state(any_ledger) == before


@pytest.mark.parametrize("payer,payee,amount,kind", [
    (0, 1, -1.0, "order_payment"),
    (0, 1, math.nan, "order_payment"),
    (2, 0, math.inf, "external_sale"),
    (0, 1, 1.0, "gift"),
    (0, 1, -1.0, "gift"),  # the amount is checked before the kind
    (1, 1, 1.0, "order_payment"),
    (1, 1, 1.0, "gift"),  # the kind before payer == payee
    (0, 0, 1000.0, "order_payment"),  # payer == payee before the overdraft
    (1, 0, 50.000002, "order_payment"),
])
def test_both_ledgers_refuse_alike(payer, payee, amount, kind):
    """Same exception, same message, nothing written: the split kept every check in order."""
    refusals = []
    for cls in (Ledger, AuditLedger):
        lg = _open(cls())
        before = _state(lg)
        with pytest.raises(AccountingError) as info:
            lg.transfer(payer, payee, amount, kind)
        assert _state(lg) == before
        refusals.append((type(info.value), str(info.value)))
    assert refusals[0] == refusals[1]


def test_negative_internal_opening_balance_is_rejected():
    for cls in (Ledger, AuditLedger):
        lg = cls()
        with pytest.raises(AccountingError):
            lg.open_account("broke", -1.0)
        assert lg.open_account("world", -1.0, external=True) == 0


def test_audit_ledger_opens_records_for_every_account(ledger):
    assert len(ledger.inflow) == len(ledger.outflow) == len(ledger.balances) == 4
    ledger.open_account("carol", 5.0)
    assert len(ledger.inflow) == len(ledger.outflow) == 5
    ledger.transfer(0, 4, 10.0, "order_payment")
    assert ledger.inflow[4] == 10.0
    ledger.check()


def test_every_fiscal_lever_kind_is_a_transfer_kind():
    for kinds in FISCAL_LEVERS.values():
        assert set(kinds) <= set(KINDS)


# --- the fast ledger and the audit ledger agree, bit for bit -------------------------------

_N_ACCOUNTS = 5  # alice, bob, outside, the budget, and carol (internal, empty)
_BUDGET = 3
_amounts = st.one_of(
    st.floats(min_value=0.0, max_value=300.0),
    st.floats(min_value=0.0, max_value=1e-5),  # around EPS_WAN
    st.sampled_from([0.0, -1.0, math.nan, math.inf, 0.1, 0.2, 0.3, 1e16]),
)
_ops = st.lists(st.tuples(
    st.sampled_from(["transfer", "pay_up_to"]),
    st.integers(0, _N_ACCOUNTS - 1),  # payer
    st.sampled_from([0, 1, 2, 4, 0]),  # payee: never the budget (nothing pays into it)
    _amounts,
    st.sampled_from(KINDS + ("gift",)),
), max_size=60)


def _apply(lg, ops) -> list:
    outcomes = []
    for verb, payer, payee, amount, kind in ops:
        try:
            outcomes.append(getattr(lg, verb)(payer, payee, amount, kind))
        except AccountingError as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    return outcomes


@settings(max_examples=300, deadline=None)
@given(ops=_ops)
def test_fast_and_audit_ledgers_agree_bit_for_bit(ops):
    fast, audit = _open(Ledger()), _open(AuditLedger())
    fast.open_account("carol", 0.0)
    audit.open_account("carol", 0.0)
    assert _apply(fast, ops) == _apply(audit, ops)  # same amounts moved, same refusals
    assert _state(fast) == _state(audit)
    # and both equal a replay of the journal, adding in the same order (an independent oracle)
    balances, flows, budget = list(audit.opening), dict.fromkeys(KINDS, 0.0), {}
    for payer, payee, amount, kind in audit.journal:
        balances[payer] -= amount
        balances[payee] += amount
        flows[kind] += amount
        if payer == _BUDGET:
            budget[kind] = budget.get(kind, 0.0) + amount
    assert _state(fast) == ([b.hex() for b in balances], {k: v.hex() for k, v in flows.items()},
                            {k: v.hex() for k, v in budget.items()})
    fast.check("random transfers")
    audit.check("random transfers")


class TestPayUpTo:
    def test_pays_in_full_when_it_can(self, any_ledger):
        assert any_ledger.pay_up_to(0, 1, 60.0, "loan_interest") == 60.0
        assert any_ledger.balance(0) == 40.0

    def test_pays_what_it_has(self, any_ledger):
        assert any_ledger.pay_up_to(0, 1, 160.0, "loan_interest") == 100.0
        assert any_ledger.balance(0) == 0.0 and any_ledger.balance(1) == 150.0
        any_ledger.check()

    def test_empty_account_pays_nothing(self, any_ledger):
        any_ledger.transfer(0, 1, 100.0, "order_payment")
        before = _state(any_ledger)
        assert any_ledger.pay_up_to(0, 1, 10.0, "loan_interest") == 0.0
        assert _state(any_ledger) == before

    def test_audit_ledger_records_what_was_paid(self, ledger):
        ledger.transfer(0, 1, 100.0, "order_payment")
        assert ledger.pay_up_to(0, 1, 10.0, "loan_interest") == 0.0
        assert ledger.pay_up_to(1, 0, 160.0, "loan_interest") == 150.0
        assert ledger.journal[-1] == (1, 0, 150.0, "loan_interest") and ledger.n_transfers == 2

    def test_external_payer_pays_in_full(self, any_ledger):
        assert any_ledger.pay_up_to(2, 0, 500.0, "external_sale") == 500.0
        assert any_ledger.balance(2) == -500.0


class TestFiscalCost:
    def test_by_lever(self, any_ledger):
        ledger = any_ledger
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

    def test_only_money_leaving_the_budget_is_fiscal(self, any_ledger):
        # an interest subsidy paid by someone else (nonsense, but possible) is not fiscal cost
        any_ledger.transfer(0, 1, 10.0, "interest_subsidy")
        any_ledger.transfer(2, 0, 10.0, "external_sale")
        assert any_ledger.fiscal_cost_wan() == 0.0
        any_ledger.check()

    def test_unknown_lever(self, any_ledger):
        with pytest.raises(KeyError):
            any_ledger.fiscal_cost_wan("helicopter_money")


class TestCheckDetectsCorruption:
    """`check()` must catch a balance or record written behind the ledger's back: both ledgers
    what their records allow, the audit ledger also a zero-sum move between accounts."""

    def _busy(self, ledger):
        ledger.transfer(2, 0, 40.0, "external_sale")
        ledger.transfer(0, 1, 70.0, "order_payment")
        ledger.transfer(ledger.budget_account, 1, 5.0, "interest_subsidy")
        ledger.check()
        return ledger

    def test_money_created_in_an_internal_account(self, any_ledger):
        lg = self._busy(any_ledger)
        lg.balances[0] += 1.0
        with pytest.raises(AccountingError, match="money created"):
            lg.check()

    def test_money_destroyed_in_an_internal_account(self, any_ledger):
        lg = self._busy(any_ledger)
        lg.balances[1] -= 2.0
        with pytest.raises(AccountingError, match="money created or destroyed"):
            lg.check()

    def test_money_moved_without_a_transfer(self, ledger):
        # zero-sum corruption: the total is intact, but the per-account identity is not (only
        # the audit ledger has the per-account records to see it)
        lg = self._busy(ledger)
        lg.balances[0] -= 3.0
        lg.balances[1] += 3.0
        with pytest.raises(AccountingError, match="alice|bob"):
            lg.check()

    def test_an_overdraft_written_behind_the_ledger(self, any_ledger):
        lg = self._busy(any_ledger)  # alice holds 70
        lg.balances[0] -= 100.0
        lg.balances[1] += 100.0
        with pytest.raises(AccountingError, match="alice is overdrawn"):
            lg.check()

    def test_external_balance_corrupted(self, any_ledger):
        lg = self._busy(any_ledger)
        lg.balances[2] -= 7.0
        with pytest.raises(AccountingError):
            lg.check("settle")

    def test_names_the_phase(self, any_ledger):
        lg = self._busy(any_ledger)
        lg.balances[1] += 0.5
        with pytest.raises(AccountingError, match="after settle"):
            lg.check("settle")

    def test_fiscal_record_corrupted(self, any_ledger):
        lg = self._busy(any_ledger)
        lg.budget_by_kind["interest_subsidy"] += 1.0
        with pytest.raises(AccountingError, match="budget"):
            lg.check()

    def test_budget_balance_moved_to_another_external_account(self, any_ledger):
        # zero-sum and between external accounts: only the budget's own record shows it
        lg = self._busy(any_ledger)
        lg.balances[lg.budget_account] -= 1.0
        lg.balances[2] += 1.0
        with pytest.raises(AccountingError, match="budget"):
            lg.check()

    def test_money_paid_into_the_budget_is_an_error(self, any_ledger):
        # nothing in the model pays into the budget; if something did, its net outflow would no
        # longer be the fiscal cost
        lg = self._busy(any_ledger)
        lg.transfer(2, lg.budget_account, 1.0, "external_sale")
        with pytest.raises(AccountingError, match="budget"):
            lg.check()

    def test_rounding_noise_is_not_an_error(self, any_ledger):
        lg = self._busy(any_ledger)
        lg.balances[0] += 1e-9  # below 0.01 yuan
        lg.check()
