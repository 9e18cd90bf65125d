"""Supporting tech SMEs (配套科技型中小企业) along 制 production -> 储 storage -> 运 transport
-> 加 refuelling -> 用 application.

An SME takes orders, finds working capital and R&D money, applies for what it can reach,
delivers, pays its own suppliers and its debt, and defaults when a loan is 90 days overdue or
when it cannot pay its fixed costs for several months. A defaulted SME stops paying its
suppliers, which is how distress travels up the chain.

Cash is the SME's ledger balance; everything else here is its own book. The books (orders,
receivables, payables, loans) are lists that live as long as the SME and are filtered in
place each month. A new list every month would survive Python's young garbage-collector
generations and swell the oldest one: at 10,000 SMEs that made collection take 12.5 % of a
run instead of 8.7 % (banks and leaders do the same with their books).
"""

from __future__ import annotations

import math
import random
from collections import deque

from mesa.discrete_space import FixedAgent

from model import finance
from model.instruments import NPL, PERFORMING, REPAID, Invoice, Order, RDProject

HEALTHY, FINANCED, DISTRESSED, DEFAULTED = "healthy", "financed", "distressed", "defaulted"


class SME(FixedAgent):
    def __init__(self, model, cell, *, segment: str, tier: int, leader_key: str, quality: float,
                 collateral_wan: float, light_asset: bool, external_sales_wan: float, gross_margin: float,
                 expected_chain_sales_wan: float, opening_cash_wan: float, relationship_bank, seed: int):
        super().__init__(model)
        p = model.params
        self.cell = cell
        self.segment = segment
        self.tier = tier
        self.leader_key = leader_key
        self.quality = quality  # latent: banks never see it
        self.collateral_wan = collateral_wan
        self.light_asset = light_asset
        self.external_sales_wan = external_sales_wan  # capacity, per month
        self.gross_margin = gross_margin
        self.chain_sales_ema_wan = expected_chain_sales_wan
        self.fixed_cost_wan = p.fixed_cost_share * (external_sales_wan + expected_chain_sales_wan)
        self.account = model.ledger.open_account(f"sme:{self.unique_id}", opening_cash_wan)
        self.relationship_bank = relationship_bank
        self.relationship_months: dict[str, int] = {}
        self.customers: list = []  # tier-1 SMEs (for tier-2) or the leader (for tier-1)
        self.suppliers: list = []  # tier-2 SMEs of a tier-1 SME
        self.order_weight = 0.5 + quality
        self.ip_value_wan = 0.0
        self.book: list[Order] = []  # orders being produced
        self.receivables: list[Invoice] = []
        # (due_month, amount), appended in month order with one term: due months never
        # decrease, so what is due is always at the left end
        self.external_receivables: deque[tuple[int, float]] = deque()
        self.payables: list[Invoice] = []
        self.loans: list = []
        self.rd: RDProject | None = None
        self.arrears_wan = 0.0
        self.arrears_months = 0
        self.assessed_by_agency = False
        self.status = HEALTHY
        self.default_month = 0
        self.default_cause = ""
        self.sales_wan = 0.0  # last month's deliveries and outside sales
        self.orders_month_wan = 0.0
        # Own random streams (common random numbers): the same SME draws the same shocks,
        # R&D outcomes and bank-signal errors in every scenario of a paired comparison, as
        # long as it is alive; one draw per month each, whether or not it is used.
        self._month_rng = random.Random(seed)
        # R&D outcomes (in project order, from seed + 1) and confirmations of its orders (in
        # order, from seed + 2) come from streams made at their first draw: tier-2 SMEs never
        # have an order confirmed and many SMEs never finish a project, and each stream holds
        # 2.5 KB of state (at 10,000 SMEs: about 30 MB less peak memory, measured, and a tenth
        # fewer objects for every full garbage collection)
        self._seed = seed
        self._rd_rng: random.Random | None = None
        self._order_rng: random.Random | None = None
        self._signal_draws = {bank.key: self._month_rng.gauss(0.0, 1.0) for bank in model.banks}
        pd_true = finance.pd_from_signal(quality, p.pd_base_annual, p.pd_quality_slope)
        self.shock_hazard_month = 1.0 - (1.0 - pd_true) ** (1.0 / 12.0)

    # -- views ------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.status != DEFAULTED

    @property
    def cash_wan(self) -> float:
        return self.model.ledger.balance(self.account)

    @property
    def expected_sales_wan(self) -> float:
        return self.external_sales_wan + self.chain_sales_ema_wan

    @property
    def credit_outstanding_wan(self) -> float:
        return math.fsum([loan.outstanding_wan for loan in self.loans])

    def debt_wan(self) -> float:
        """Term debt (order loans are repaid from the leader's payment and do not count)."""
        # a list, not a generator, and the instalment, not the is_bullet property: the same
        # sum, about twice as fast (banks ask for it in every decision)
        return math.fsum([loan.outstanding_wan for loan in self.loans if loan.instalment_wan != 0.0])

    def free_collateral_wan(self) -> float:
        pledged = math.fsum([loan.collateral_pledged_wan for loan in self.loans if loan.status == PERFORMING])
        free = self.collateral_wan + 0.3 * self.ip_value_wan - pledged
        return free if free > 0.0 else 0.0  # max(0.0, free)

    def signal_draw(self, bank_key: str) -> float:
        """The standard-normal error in a bank's view of this SME (persistent per bank)."""
        return self._signal_draws[bank_key]

    def confirm_draw(self) -> float:
        """A uniform draw for a leader's decision to confirm (确权) an order from this SME."""
        rng = self._order_rng
        if rng is None:
            rng = self._order_rng = random.Random(self._seed + 2)
        return rng.random()

    def rd_draw(self) -> float:
        """A uniform draw for an outcome of this SME's R&D (success; a claimable failure)."""
        rng = self._rd_rng
        if rng is None:
            rng = self._rd_rng = random.Random(self._seed + 1)
        return rng.random()

    # -- phase 1: orders arrive -------------------------------------------------------------
    def take_order(self, buyer, value_wan: float, *, confirmed: bool = False, product=None) -> Order:
        """Book an order and pass the inputs it needs to this SME's active suppliers."""
        m = self.model
        p = m.params
        cost = (1.0 - self.gross_margin) * value_wan
        suppliers = [s for s in self.suppliers if s.status != DEFAULTED] if self.suppliers else ()
        to_suppliers = p.tier2_input_share * cost if suppliers else 0.0
        lead = p.order_lead_time_months
        own = cost - to_suppliers
        term = buyer.spec.payment_term_months if buyer in m.leader_set else p.sme_payment_term_months
        # positional: an order is made about once per SME-month, and keywords cost more here
        order = Order(self, buyer, value_wan, m.month + lead, own, own / lead, term, confirmed, product)
        self.book.append(order)
        self.orders_month_wan += value_wan
        if suppliers:
            each = to_suppliers / len(suppliers)
            order.sub_orders = [s.take_order(self, each) for s in suppliers]
        return order

    # -- phase 2: plan and apply ------------------------------------------------------------
    def plan_finance(self) -> None:
        m = self.model
        p = m.params
        self.chain_sales_ema_wan = 0.9 * self.chain_sales_ema_wan + 0.1 * self.orders_month_wan
        self.orders_month_wan = 0.0
        self.maybe_start_rd()
        gap = self.financing_gap()
        if gap <= p.min_loan_wan:
            return
        m.counters.financing_gap_wan += gap
        order_pkg, term, term_needs_assessment = m.finance_menu(self)
        if order_pkg is not None:
            # one advance against the confirmed, unfinanced leader orders that cover the gap
            orders, amount = [], 0.0
            leaders = m.leader_set
            for order in self.book:
                if amount >= gap:
                    break
                if order.confirmed and order.loan is None and not order.done and order.buyer in leaders:
                    orders.append(order)
                    amount += p.order_advance_rate * order.value_wan
            if orders:
                m.submit_order_application(self, order_pkg, orders, amount)
                gap -= amount
        if gap > p.min_loan_wan:
            if term:
                if m.agency is not None and not self.assessed_by_agency and term_needs_assessment:
                    self.assessed_by_agency = m.agency.assess(self)
                m.submit_term_application(self, term, 1.25 * gap)

    @staticmethod
    def term_packages(packages) -> list[tuple[str, str]]:
        """(instrument, package) pairs to try, best cover first: insured tech credit, fund-backed
        tech credit, plain tech credit, then collateral."""
        ranked = []
        for name, pkg in packages:
            if "tech_credit" in pkg.instruments:
                score = 2 * ("guarantee_insurance" in pkg.instruments) + pkg.fund_eligible
                ranked.append((-score, "tech_credit", name))
            if "collateral" in pkg.instruments:
                ranked.append((1, "collateral", name))
        ranked.sort()
        return [(inst, name) for _, inst, name in ranked]

    def financing_gap(self) -> float:
        """Cash the SME expects to lack at the trough of its month-by-month projection over
        the planning horizon (payments go out before collections come in within a month),
        plus a buffer of fixed costs.

        Hot path (every SME, every month). Written with locals and without min()/max()
        calls; every sum is added in the same order as the plain version, so results are
        bit-for-bit the same (`x if x < y else y` is exactly `min(y, x)`)."""
        m = self.model
        p = m.params
        h = p.planning_horizon_months
        now = m.month
        dm = m.demand_multiplier()
        ext = self.external_sales_wan
        outside_cost = (1.0 - self.gross_margin) * ext * dm
        fixed = self.fixed_cost_wan
        out = [fixed + outside_cost] * h
        out[0] = fixed + self.arrears_wan + outside_cost
        waiting = p.external_payment_term_months  # months before outside sales pay
        if waiting < h:
            inflow = [0.0] * waiting + [ext * dm] * (h - waiting)
        else:
            inflow = [0.0] * h
        # order loan -> first month in the horizon its orders pay; made only when needed (few
        # SMEs have order loans)
        repaid_at = None
        for o in self.book:
            if o.done:
                continue
            left = o.own_cost_wan - o.cost_paid_wan
            k = 0  # months of spending left within the horizon
            if left > 1e-9:
                per_month = o.monthly_cost_wan
                while True:
                    spend = per_month if per_month < left else left
                    out[k] += spend
                    left -= spend
                    k += 1
                    if left <= 1e-9 or k >= h:
                        break
            due = o.due_month
            pay_k = (now + k if now + k > due else due) + o.payment_term_months - now
            if pay_k < h:
                inflow[pay_k] += o.value_wan
                if o.loan is not None:
                    if repaid_at is None:
                        repaid_at = {}
                    first = repaid_at.get(o.loan, h)
                    repaid_at[o.loan] = pay_k if pay_k < first else first
        rd = self.rd
        if rd is not None:
            per_month = rd.budget_wan / rd.months
            left = rd.budget_wan - rd.spent_wan
            for k in range(h):
                spend = per_month if per_month < left else left
                out[k] += spend
                left -= spend
        for loan in self.loans:
            if loan.status == PERFORMING and loan.instalment_wan != 0.0:  # amortising (not bullet)
                inst = loan.instalment_wan
                months = loan.maturity_month - now + 1
                for k in range(months if months < h else h):  # min(h, months)
                    out[k] += inst
                out[0] += loan.arrears_wan
        for inv in self.payables:
            k = inv.due_month - now
            if k < h:
                out[k if k > 0 else 0] += inv.amount_wan
        for inv in self.receivables:
            k = inv.due_month - now
            if k < h:
                if k < 0:
                    k = 0
                inflow[k] += inv.amount_wan
                if inv.loan is not None:
                    if repaid_at is None:
                        repaid_at = {}
                    first = repaid_at.get(inv.loan, h)
                    repaid_at[inv.loan] = k if k < first else first
        # an order loan is repaid once, out of the first of its orders' payments to arrive
        if repaid_at is not None:
            for loan, k in repaid_at.items():
                inflow[k] -= loan.outstanding_wan + loan.accrued_interest_wan
        for due, amount in self.external_receivables:
            k = due - now
            if k < h:
                inflow[k if k > 0 else 0] += amount
        cash = m.ledger.balances[self.account]
        trough = cash
        for k in range(h):
            cash -= out[k]
            if cash < trough:
                trough = cash
            cash += inflow[k]
        return p.cash_buffer_months * self.fixed_cost_wan - trough

    def maybe_start_rd(self) -> None:
        m = self.model
        p = m.params
        start = self._month_rng.random() < p.rd_start_prob
        if self.rd is not None or not start:
            return
        mean_q = p.quality_alpha / (p.quality_alpha + p.quality_beta)
        prob = min(0.95, max(0.02, p.rd_success_mean * self.quality / mean_q))
        self.rd = RDProject(p.rd_budget_months_of_sales * self.expected_sales_wan, p.rd_duration_months, prob, m.month)
        if m.insurer.writing and any("rd_insurance" in pkg.instruments for _, pkg in m.packages_for(self)):
            sum_insured = p.rd_cover_share * self.rd.budget_wan
            if m.insurer.sell_cover(self, finance.rd_premium(sum_insured, p.rd_premium_rate), "rd_premium"):
                self.rd.sum_insured_wan = sum_insured

    def accept_loan(self, loan, orders=()) -> None:
        """Book an approved loan; an order loan is repaid from these orders' invoices."""
        self.loans.append(loan)
        for order in orders:
            order.loan = loan

    # -- phase 4: production, delivery, R&D ------------------------------------------------
    def produce(self) -> None:
        reserve = self.debt_service_due_wan()
        self.pay_fixed_costs()
        self.suffer_operating_shock()
        cost = self.work_on_orders(reserve)  # committed orders first
        cost += self.sell_outside(reserve + cost)  # the orders' cost is still in the account: keep it back
        self.pay_production_cost(cost)
        self.work_on_rd(reserve)

    def debt_service_due_wan(self) -> float:
        total = 0.0
        if not self.loans:
            return total
        month = self.model.month
        for loan in self.loans:
            # amortising (instalment != 0), or a bullet loan at or past maturity
            if loan.status == PERFORMING and (loan.instalment_wan != 0.0 or loan.maturity_month <= month):
                interest, principal = loan.bank.amount_due(loan)
                total += interest + principal
        return total

    def spendable(self, reserve: float) -> float:
        cash = self.cash_wan - reserve
        return cash if cash > 0.0 else 0.0  # max(0.0, cash)

    def pay_fixed_costs(self) -> None:
        m = self.model
        due = self.fixed_cost_wan + self.arrears_wan
        paid = m.ledger.pay_up_to(self.account, m.suppliers, due, "fixed_cost")
        self.arrears_wan = due - paid
        if self.arrears_wan > 1e-6:
            self.arrears_months += 1
            if self.arrears_months >= m.params.arrears_default_months:
                m.flag_default(self, "insolvent")
        else:
            self.arrears_wan = 0.0
            self.arrears_months = 0

    def suffer_operating_shock(self) -> None:
        """Latent quality is a true annual hazard of an operating shock (the same curve banks
        estimate from their noisy signal); an unpaid shock becomes arrears."""
        m = self.model
        p = m.params
        if self._month_rng.random() >= self.shock_hazard_month:
            return
        loss = p.operating_shock_months_of_sales * self.expected_sales_wan
        paid = m.ledger.pay_up_to(self.account, m.suppliers, loss, "operating_shock")
        self.arrears_wan += loss - paid

    def sell_outside(self, reserve: float) -> float:
        """Sales outside the modelled chain, cash after the buyers' term. Returns their
        production cost (paid with the month's production, `pay_production_cost`)."""
        m = self.model
        planned = self.external_sales_wan * m.demand_multiplier()
        unit_cost = 1.0 - self.gross_margin
        if unit_cost > 0:
            spendable = m.ledger.balances[self.account] - reserve
            affordable = (spendable if spendable > 0.0 else 0.0) / unit_cost  # max(0, cash - reserve) / unit cost
            sales = affordable if affordable < planned else planned  # min(planned, affordable)
        else:
            sales = planned
        if sales <= 1e-9:
            return 0.0
        self.external_receivables.append((m.month + m.params.external_payment_term_months, sales))
        self.sales_wan += sales
        return sales * unit_cost

    def pay_production_cost(self, cost_wan: float) -> None:
        """The month's production cost, orders and outside sales together: one payment, not
        one per order (the hot path; the verbs above checked it is affordable)."""
        if cost_wan > 0.0:
            m = self.model
            m.ledger.transfer(self.account, m.suppliers, cost_wan, "production_cost")

    def work_on_rd(self, reserve: float) -> None:
        m = self.model
        rd = self.rd
        if rd is None:
            return
        per_month, left = rd.budget_wan / rd.months, rd.budget_wan - rd.spent_wan
        spend = left if left < per_month else per_month  # min(per_month, left)
        if self.spendable(reserve) >= spend:
            m.ledger.transfer(self.account, m.suppliers, spend, "rd_spend")
            rd.spent_wan += spend
            rd.months_done += 1
        else:
            rd.stalled_months += 1
        if rd.months_done >= rd.months:
            self.finish_rd(self.rd_draw() < rd.success_prob * m.rd_multiplier(), completed=True)
        elif rd.stalled_months > m.params.max_order_delay_months * 2:
            self.finish_rd(False, completed=False)  # abandoned for lack of money: not an insured event

    def finish_rd(self, success: bool, completed: bool) -> None:
        m = self.model
        p = m.params
        rd = self.rd
        self.rd = None
        if success:
            self.gross_margin = min(0.9, self.gross_margin + p.rd_margin_gain)
            self.order_weight *= 1.0 + p.rd_order_weight_gain
            self.ip_value_wan += rd.spent_wan
            m.counters.rd_successes += 1
        else:
            if completed:
                m.counters.rd_failures += 1
            else:
                m.counters.rd_abandoned += 1
            # only a technical failure as the policy defines it is an insured event
            if completed and self.rd_draw() < p.rd_claimable_share and rd.sum_insured_wan > 0:
                m.insurer.pay_rd_claim(self, min(rd.sum_insured_wan, rd.spent_wan))

    def work_on_orders(self, reserve: float) -> float:
        """Spend this month's production cost on each open order (committed orders first, in
        the order taken), deliver what is finished and due, cancel what stalled too long.
        Returns the cost spent (paid with the month's production, `pay_production_cost`)."""
        m = self.model
        self.sales_wan = 0.0
        p = m.params
        max_delay = p.max_order_delay_months
        month = m.month
        available = m.ledger.balances[self.account] - reserve
        cost = 0.0
        open_orders = []
        for order in self.book:
            if order.done:
                continue
            own = order.own_cost_wan
            left = own - order.cost_paid_wan
            per_month = order.monthly_cost_wan
            need = per_month if per_month < left else left  # min(left, per_month)
            if need > 1e-9:
                # spendable = max(0, cash - reserve) >= need > 0  <=>  cash - reserve >= need
                if available >= need:
                    available -= need
                    cost += need
                    order.cost_paid_wan += need
                else:
                    order.stalled_months += 1
                    if order.due_month < month + 1:
                        order.due_month = month + 1
            if order.cost_paid_wan >= own - 1e-9 and month >= order.due_month:
                self.deliver(order)
            elif order.stalled_months > max_delay:
                m.cancel_order(order)
            else:
                open_orders.append(order)
        # in place: one list for the SME's life (see the module docstring)
        self.book[:] = open_orders
        return cost

    def deliver(self, order: Order) -> None:
        order.done = True
        invoice = order.buyer.receive_delivery(order)
        self.receivables.append(invoice)
        self.sales_wan += order.value_wan

    def receive_delivery(self, order: Order) -> Invoice:
        """A tier-2 supplier delivered: owe it on the SME payment term."""
        m = self.model
        invoice = Invoice(self, order.seller, order.value_wan, m.month + order.payment_term_months)
        self.payables.append(invoice)
        return invoice

    # -- phase 5: payments and loan service ---------------------------------------------------
    def settle(self) -> None:
        if self.status == DEFAULTED:
            self.settle_estate()
            return
        self.collect_outside()
        self.service_loans()
        if self.payables:
            self.pay_suppliers()
        if self.receivables:
            # in place: one list for the SME's life (see the module docstring)
            self.receivables[:] = [inv for inv in self.receivables if not (inv.paid or inv.written_off)]
        self.update_status()

    def collect_outside(self) -> None:
        """Collect outside sales that fall due. `sell_outside` is the only writer of the queue
        and appends in month order with one payment term, so due months never decrease and
        what is due is always at the left end (the same transfers, in the same order, as a
        scan of the whole list)."""
        queue = self.external_receivables
        if not queue:
            return
        m = self.model
        month = m.month
        while queue and queue[0][0] <= month:
            m.ledger.transfer(m.buyers, self.account, queue.popleft()[1], "external_sale")

    def service_loans(self) -> None:
        if not self.loans:
            return
        m = self.model
        ledger = m.ledger
        npl_months = m.params.npl_overdue_months
        banks_seen = set()
        for loan in self.loans:
            if loan.status != PERFORMING:
                continue
            bank = loan.bank
            if bank.key not in banks_seen:
                banks_seen.add(bank.key)
                self.relationship_months[bank.key] = self.relationship_months.get(bank.key, 0) + 1
            interest_due, principal_due = bank.amount_due(loan)
            if interest_due + principal_due <= 1e-12:
                continue
            interest_paid = ledger.pay_up_to(self.account, bank.account, interest_due, "loan_interest")
            principal_paid = ledger.pay_up_to(self.account, bank.account, principal_due, "loan_principal") \
                if interest_paid >= interest_due - 1e-9 else 0.0
            bank.book_payment(loan, interest_paid, principal_paid, interest_due, principal_due)
            # months_overdue counts settlements short in a row, the first on the missed due
            # date itself: the oldest missed payment is months_overdue - 1 months past due
            # (with npl_overdue_months 3: 90 days past due at the fourth short settlement)
            if loan.months_overdue > npl_months:
                m.flag_default(self, "loan overdue 90 days")
        # in place: one list for the SME's life (see the module docstring)
        self.loans[:] = [loan for loan in self.loans if loan.status != REPAID]

    def pay_suppliers(self) -> None:
        m = self.model
        month = m.month
        balances = m.ledger.balances
        account = self.account
        keep = []
        for inv in self.payables:
            if inv.paid or inv.written_off:
                continue
            if inv.due_month <= month:
                m.pay_invoice_up_to(account, inv, balances[account])
            if not inv.paid:
                keep.append(inv)
        # in place: one list for the SME's life (see the module docstring)
        self.payables[:] = keep

    def update_status(self) -> None:
        if self.status == DEFAULTED:
            return
        if self.arrears_wan > 0 or (self.loans and self._overdue()) or self._stalled():
            self.status = DISTRESSED
        elif self.loans:
            self.status = FINANCED
        else:
            self.status = HEALTHY

    def _overdue(self) -> bool:
        for loan in self.loans:
            if loan.months_overdue > 0:
                return True
        return False

    def _stalled(self) -> bool:
        for o in self.book:
            if o.stalled_months > 0:
                return True
        return False

    # -- default --------------------------------------------------------------------------
    def enter_default(self, cause: str) -> None:
        """Stop: cancel orders, walk away from payables, hand cash and collateral to the banks."""
        m = self.model
        self.status = DEFAULTED
        self.default_month = m.month
        self.default_cause = cause
        for order in self.book:
            m.cancel_order(order)
        self.book = []
        for inv in self.payables:
            inv.written_off = True  # its suppliers will not be paid
        self.payables = []
        self.rd = None
        for loan in self.loans:
            loan.bank.classify_npl(loan)
            self.collateral_wan = max(0.0, self.collateral_wan - loan.collateral_pledged_wan)
        self.settle_estate()

    def settle_estate(self) -> None:
        """A defaulted SME's cash (what it held, later collections) goes to its banks."""
        m = self.model
        self.collect_outside()
        cash = self.cash_wan
        if cash <= 1e-9:
            return
        claims = [(loan, loan.outstanding_wan if loan.status == NPL else loan.paid_insurer_wan + loan.paid_fund_wan + loan.paid_bank_wan)
                  for loan in self.loans]
        claims = [(loan, c) for loan, c in claims if c > 1e-9]
        total = math.fsum(c for _, c in claims)
        if total <= 0:
            return
        pay_total = min(cash, total)
        for loan, c in claims:
            amount = pay_total * c / total
            kind = "recovery" if loan.status == NPL else "late_recovery"
            m.ledger.transfer(self.account, loan.bank.account, amount, kind)
            loan.bank.receive_recovery(loan, amount)
