"""Chain leaders (链主企业): Meijin Energy (美锦能源), Jinnan Steel (晋南钢铁), ...

A leader turns its deployment plan into orders by segment for its tier-1 suppliers,
confirms (确权) some of them for order financing, sells what is deployed and pays its
suppliers' invoices on its payment term (late under the `late_payer` stress).
"""

from __future__ import annotations

from mesa.discrete_space import FixedAgent

from model.instruments import Invoice, Order
from model.params import SEGMENTS, LeaderSpec, leader_key

from .sme import DEFAULTED


class ChainLeader(FixedAgent):
    def __init__(self, model, spec: LeaderSpec, cell):
        super().__init__(model)
        self.spec = spec
        self.key = leader_key(spec)
        self.name = spec.name
        self.name_zh = spec.name_zh
        self.cell = cell
        self.account = model.ledger.open_account(f"leader:{self.key}", spec.initial_cash_wan)
        self.suppliers_by_segment: dict[str, list] = {s: [] for s in SEGMENTS}
        self.suppliers: list = []
        self.payables: list[Invoice] = []
        self.units_deployed: dict[str, float] = {}
        self.units_planned: dict[str, float] = {}
        self.late_invoices = 0
        # this month's deployed units, sold outside at the end of the production phase
        self.unit_sales_due_wan = 0.0  # what the units sell for
        self.unit_purchases_due_wan = 0.0  # the non-SME content the leader buys outside

    @property
    def cash_wan(self) -> float:
        return self.model.ledger.balance(self.account)

    def add_supplier(self, sme) -> None:
        self.suppliers.append(sme)
        self.suppliers_by_segment[sme.segment].append(sme)

    # -- phase 1: orders --------------------------------------------------------------------
    def place_orders(self) -> None:
        m = self.model
        demand = m.demand_multiplier() * m.params.plan_scale
        by_segment: dict[str, tuple] = {}  # this month's supplier groups
        for prod in self.spec.products.values():
            units = prod.units_in_month(m.month) * demand
            if prod.kpi:
                planned = prod.units_in_month(m.month) * m.params.plan_scale
                self.units_planned[prod.kpi] = self.units_planned.get(prod.kpi, 0.0) + planned
            sme_spend = units * prod.unit_value_wan * prod.sme_share
            if sme_spend <= 0.0:
                continue
            total_share = sum(prod.segment_shares.values())
            for seg, share in prod.segment_shares.items():
                group = by_segment.get(seg)
                if group is None:
                    group = by_segment[seg] = self._supplier_group(seg)
                suppliers, weights, wsum = group
                if not suppliers:
                    continue
                value = sme_spend * share / total_share
                m.counters.orders_placed_wan += value
                for s, w in zip(suppliers, weights):
                    s.take_order(self, value * w / wsum, confirmed=s.confirm_draw() < self.spec.confirm_share, product=prod)

    def _supplier_group(self, seg: str) -> tuple[list, list, float]:
        """(active suppliers of a segment, or all active suppliers if it has none; their
        order weights; the sum). Taking orders changes neither status nor weights, so one
        group serves every product of the month."""
        suppliers = [s for s in self.suppliers_by_segment[seg] if s.status != DEFAULTED]
        if not suppliers:
            suppliers = [s for s in self.suppliers if s.status != DEFAULTED]
        weights = [s.order_weight for s in suppliers]
        return suppliers, weights, sum(weights)

    # -- deliveries -------------------------------------------------------------------------
    def receive_delivery(self, order: Order) -> Invoice:
        """Record a delivered order: a payable, deployed units, and the sale of the units
        (the leader buys the rest of each unit outside the chain and sells it outside)."""
        m = self.model
        invoice = Invoice(self, order.seller, order.value_wan, m.month + order.payment_term_months, order.loan)
        self.payables.append(invoice)
        m.counters.deliveries_wan += order.value_wan  # on the basis of orders_placed_wan
        prod = order.product
        if prod is not None and prod.sme_share > 0:
            if prod.kpi:
                units = order.value_wan / (prod.unit_value_wan * prod.sme_share)  # SME content per unit
                self.units_deployed[prod.kpi] = self.units_deployed.get(prod.kpi, 0.0) + units
            prod_value = order.value_wan / prod.sme_share
            self.unit_sales_due_wan += prod_value * (1.0 + self.spec.unit_margin)
            self.unit_purchases_due_wan += prod_value - order.value_wan
        return invoice

    def sell_units(self) -> None:
        """Sell the month's deployed units outside and buy their non-SME content: two
        payments a month, not two per delivery (the leader's cash is next read when it pays
        invoices, after production)."""
        m = self.model
        m.ledger.transfer(m.buyers, self.account, self.unit_sales_due_wan, "unit_sale")
        m.ledger.transfer(self.account, m.suppliers, self.unit_purchases_due_wan, "leader_purchase")
        self.unit_sales_due_wan = self.unit_purchases_due_wan = 0.0

    # -- phase 5: payments ------------------------------------------------------------------
    def payment_delay_months(self) -> int:
        p = self.model.params
        if p.late_payer == self.key and self.model.month >= p.late_payment_start_month:
            return p.late_payment_months
        return 0

    def pay_invoices(self) -> None:
        m = self.model
        delay = self.payment_delay_months()
        month = m.month
        balances = m.ledger.balances
        account = self.account
        still_open = []
        for inv in self.payables:
            if inv.paid or inv.written_off:
                continue
            if inv.due_month + delay <= month and balances[account] >= inv.amount_wan:
                m.pay_invoice(account, inv)
            else:
                if inv.due_month <= month:
                    self.late_invoices += 1
                still_open.append(inv)
        # in place: one list for the leader's life (see agents/sme.py's docstring)
        self.payables[:] = still_open
