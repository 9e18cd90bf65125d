"""Shared helpers for the core tests.

Test layers (see ../shared/STYLE.md): exact finance units (test_finance), the ledger
(test_ledger), parameters (test_params), the network (test_network), rule tests that build a
small model and let its own verbs act (test_rules), and whole-model properties (test_model:
Hypothesis accounting identity, determinism, public API, linearity of the month).
"""

from __future__ import annotations

import math

import pytest

from model.ledger import AuditLedger


def replay_journal(ledger) -> list[float]:
    """Balances recomputed from the opening balances and the journal alone (needs an
    AuditLedger, the one a model built with audit=True has: the plain Ledger keeps no journal)."""
    assert isinstance(ledger, AuditLedger), "build the model with audit=True to keep the journal"
    balances = list(ledger.opening)
    for payer, payee, amount, _kind in ledger.journal:
        balances[payer] -= amount
        balances[payee] += amount
    return balances


def assert_money_conserved(model) -> None:
    """Independent of `Ledger.check()`: replaying every transfer reproduces every balance;
    the total over all accounts (internal and external) never changed; the internal accounts
    changed by exactly the journal's flows across the boundary; no internal account is
    overdrawn; the budget paid exactly the fiscal cost."""
    ledger = model.ledger
    replayed = replay_journal(ledger)
    scale = 1.0 + math.fsum(abs(b) for b in ledger.balances)
    for i, (got, want) in enumerate(zip(ledger.balances, replayed)):
        assert got == pytest.approx(want, abs=1e-9 * scale), f"account {ledger.names[i]}"
    assert math.fsum(ledger.balances) == pytest.approx(math.fsum(ledger.opening), abs=1e-9 * scale)
    ext = ledger.external
    net_in = math.fsum(a if ext[p] else -a for p, q, a, _ in ledger.journal if ext[p] != ext[q])
    internal_open = math.fsum(o for o, e in zip(ledger.opening, ext) if not e)
    internal_now = math.fsum(b for b, e in zip(ledger.balances, ext) if not e)
    assert internal_now == pytest.approx(internal_open + net_in, abs=1e-9 * scale)
    for i, b in enumerate(ledger.balances):
        if not ext[i]:
            assert b >= -1e-6, f"internal account {ledger.names[i]} overdrawn: {b}"
    budget = model.government.account
    paid_by_budget = math.fsum(a for p, _q, a, _k in ledger.journal if p == budget)
    assert paid_by_budget == pytest.approx(ledger.fiscal_cost_wan(), abs=1e-9 * scale)
    received_by_budget = [k for _p, q, _a, k in ledger.journal if q == budget]
    assert not received_by_budget, f"the budget received money: {set(received_by_budget)}"


def journal_since(ledger, start: int):
    """Transfers recorded after journal position `start`."""
    return ledger.journal[start:]


def status_by_tier(model, leader_key: str) -> dict[int, list]:
    """SMEs of one leader's chain by tier (1, 2)."""
    return {t: [s for s in model.smes if s.leader_key == leader_key and s.tier == t] for t in (1, 2)}
