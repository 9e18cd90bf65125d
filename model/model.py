"""HydrogenChainModel: the Shanxi hydrogen chain economy, month by month.

`step()` lists the month's phases in order; each phase is a short method that asks agents
to act. Money moves only through `self.ledger`; `audit=True` checks the accounting identity
(and the banks' loan books against the ledger) after every phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mesa import DataCollector, Model
from mesa.discrete_space import Network

from agents import SME, Bank, ChainLeader, Government, Insurer, RiskCompensationFund, TechTransferAgency
from agents.bank import SME_REASONS
from agents.sme import DEFAULTED

from . import finance, network, reporters
from .collector import YOUNG_THRESHOLD, rarer_collections
from .instruments import NPL, Order
from .ledger import AccountingError, AuditLedger, Ledger
from .params import FrozenParams, ModelParams, ParameterError

# How far an SME searches in a month: an order advance is asked of up to two banks; a term
# loan of up to three (package, bank) pairs for each instrument (tech credit, collateral).
ORDER_TRIES = 2
TERM_TRIES_PER_INSTRUMENT = 3


@dataclass
class Counters:
    """Flows the reporters need. `month_*` fields are reset at the start of every month."""

    month_applications: int = 0
    month_approvals: int = 0
    month_new_lending_wan: float = 0.0
    deliveries_wan: float = 0.0  # this month, leaders' orders delivered by tier-1 SMEs
    orders_placed_wan: float = 0.0  # this month, leaders' orders to tier-1 SMEs
    financing_gap_wan: float = 0.0  # this month, summed over SMEs that foresee a shortfall
    npl_new_wan: float = 0.0  # this month
    applications: int = 0
    approvals: int = 0
    light_applications: int = 0
    light_approvals: int = 0
    credit_mobilised_wan: float = 0.0
    policy_backed_credit_wan: float = 0.0
    deliveries_total_wan: float = 0.0
    npl_total_wan: float = 0.0
    written_off_wan: float = 0.0
    rd_successes: int = 0
    rd_failures: int = 0  # completed projects that failed
    rd_abandoned: int = 0  # projects dropped for lack of money
    lending_by_package_wan: dict = field(default_factory=dict)

    def start_month(self) -> None:
        self.deliveries_total_wan += self.deliveries_wan
        self.npl_total_wan += self.npl_new_wan
        self.month_applications = self.month_approvals = 0
        self.month_new_lending_wan = self.deliveries_wan = self.npl_new_wan = 0.0
        self.orders_placed_wan = self.financing_gap_wan = 0.0


@dataclass(slots=True)
class Application:
    sme: SME
    tries: tuple  # (bank, instrument, package name), in order
    amount_wan: float
    orders: tuple = ()  # confirmed orders an order-financing loan is lent against


class HydrogenChainModel(Model):
    """Agent-based model of hydrogen industrial-chain finance in Shanxi.

    Keyword-only. `scenario` is a ModelParams, a shipped scenario name or a TOML path; any
    parameter of ModelParams can be passed as a keyword and overrides it. `rng` seeds every
    random draw. `audit=True` checks the ledger after every phase (slower; for tests).
    """

    def __init__(self, *, scenario: ModelParams | str | Path | None = None, rng=None, audit: bool = False, **params):
        resolved = self._resolve_params(scenario, params)
        resolved.rng = rng
        super().__init__(rng=rng, scenario=resolved)  # self.scenario is the ModelParams
        self.params = FrozenParams(resolved)  # the same values, faster to read (see FrozenParams)
        self.audit = audit
        self.month = 0
        self._month_cache = [None, 0.0, 1.0]  # [month, lpr, demand multiplier]
        self.counters = Counters()
        self._loan_ids = 0
        self.applications: list[Application] = []
        self.pending_defaults: dict[SME, str] = {}
        self.resolved_loans: list = []

        self.ledger = AuditLedger() if audit else Ledger()  # the audit's records cost every transfer
        self.buyers = self.ledger.open_account("outside buyers", 0.0, external=True)
        self.suppliers = self.ledger.open_account("outside suppliers and labour", 0.0, external=True)
        self.funding = self.ledger.open_account("banks' funding market", 0.0, external=True)
        self.government = Government(self)
        self.fund = RiskCompensationFund(self)
        self.insurer = Insurer(self)
        self.agency = TechTransferAgency(self) if resolved.agency_enabled else None
        self.banks = [Bank(self, spec) for spec in resolved.banks]
        self._build_chain()
        self.datacollector = DataCollector(model_reporters=reporters.model_reporters(self))
        reporters.collect(self)

    @staticmethod
    def _resolve_params(scenario, overrides: dict) -> ModelParams:
        if scenario is None:
            return ModelParams(**overrides)
        if isinstance(scenario, ModelParams):
            return scenario.replace(**overrides)  # a copy: Mesa binds the scenario to one model
        if isinstance(scenario, (str, Path)):
            from scenarios import load_scenario  # the scenario library sits on top of the model

            return load_scenario(scenario, overrides=overrides)
        raise ParameterError("scenario", f"expected a scenario name, a TOML path or ModelParams, got {type(scenario).__name__}")

    # -- construction ---------------------------------------------------------------------
    def _build_chain(self) -> None:
        p = self.params
        if p.network_file:
            self.graph = network.load(p.network_file, p)
        else:
            self.graph = network.generate(p, self.rng)
        self.network = Network(self.graph, capacity=None, random=self.random, layout=None)
        self.layout = network.tiered_layout(self.graph)
        cells = {cell.coordinate: cell for cell in self.network.all_cells}
        self.leaders = [ChainLeader(self, spec, cells[i]) for i, spec in enumerate(p.leaders)]
        self.leader_set = frozenset(self.leaders)  # "is this buyer a leader?" in O(1)
        leader_by_key = {ld.key: ld for ld in self.leaders}
        g = self.graph
        rng = self.rng
        mean_q = p.quality_alpha / (p.quality_alpha + p.quality_beta)
        bank_weights = np.array([b.spec.market_weight for b in self.banks], dtype=float)
        bank_cdf = network.cumulative_weights(bank_weights / bank_weights.sum())
        expected_chain = self._expected_chain_sales()
        self.smes: list[SME] = []
        sme_by_node: dict[int, SME] = {}
        sme_nodes = sorted(n for n in g.nodes if g.nodes[n]["kind"] == "sme")
        # each SME's own streams, drawn before anything else so they do not depend on the scenario
        sme_seeds = rng.integers(0, 2**62, size=len(sme_nodes)).tolist()
        for node, seed in zip(sme_nodes, sme_seeds):
            attrs = g.nodes[node]
            quality = float(rng.beta(p.quality_alpha, p.quality_beta))
            light = bool(rng.random() < p.light_asset_share)
            mean_collateral = p.collateral_light_mean_wan if light else p.collateral_heavy_mean_wan
            collateral = float(mean_collateral * rng.lognormal(-0.18, 0.6))
            external = float(p.external_sales_mean_wan * rng.lognormal(-0.125, 0.5))
            margin = min(max(p.gross_margin_mean + 0.2 * (quality - mean_q) + 0.02 * rng.standard_normal(), 0.05), 0.6)
            chain = expected_chain.get(node, 0.0)
            sales = external + chain
            opening = p.initial_cash_months * (p.fixed_cost_share * sales + (1 - margin) * sales)
            bank = self.banks[network.draw_index(rng, bank_cdf)]
            sme = SME(self, cells[node], segment=attrs["segment"], tier=attrs["tier"], leader_key=attrs["leader"],
                      quality=quality, collateral_wan=collateral, light_asset=light, external_sales_wan=external,
                      gross_margin=margin, expected_chain_sales_wan=chain, opening_cash_wan=opening,
                      relationship_bank=bank, seed=seed)
            self.smes.append(sme)
            sme_by_node[node] = sme
        for node, sme in sme_by_node.items():
            for customer in g.successors(node):
                if g.nodes[customer]["kind"] == "leader":
                    leader = self.leaders[customer]
                    sme.customers.append(leader)
                    leader.add_supplier(sme)
                else:
                    sme.customers.append(sme_by_node[customer])
                    sme_by_node[customer].suppliers.append(sme)
        self._leader_by_key = leader_by_key
        self._packages_cache: dict = {}
        self._menu_cache: dict = {}
        self._tries_cache: dict = {}  # (relationship bank, kind, packages) -> tries, in order
        self._banks_for_package = {
            name: [b for b in self.banks if "all" in pkg.banks or b.key in pkg.banks]
            for name, pkg in p.packages.items()}

    def _expected_chain_sales(self) -> dict[int, float]:
        """Year-1 monthly chain orders each SME can expect (used to size fixed costs and cash)."""
        p = self.params
        g = self.graph
        out: dict[int, float] = {}
        for li, spec in enumerate(p.leaders):
            suppliers = [n for n in g.predecessors(li) if g.nodes[n]["kind"] == "sme"]
            by_seg: dict[str, list[int]] = {}
            for n in suppliers:
                by_seg.setdefault(g.nodes[n]["segment"], []).append(n)
            for prod in spec.products.values():
                spend = prod.units_in_month(1) * prod.unit_value_wan * prod.sme_share * p.plan_scale
                total_share = sum(prod.segment_shares.values())
                for seg, share in prod.segment_shares.items():
                    group = by_seg.get(seg) or suppliers
                    for n in group:
                        out[n] = out.get(n, 0.0) + spend * share / total_share / len(group)
        cost_share = p.tier2_input_share * (1 - p.gross_margin_mean)
        for n in g.nodes:
            if g.nodes[n]["tier"] == 1:
                suppliers = list(g.predecessors(n))
                for s in suppliers:
                    out[s] = out.get(s, 0.0) + cost_share * out.get(n, 0.0) / len(suppliers)
        return out

    # -- environment (derived from parameters and the month; no state) -----------------------
    # Both are read by every SME or application every month: computed once per month.
    def lpr(self) -> float:
        """The LPR this month (a rate cut stops at zero)."""
        cache = self._month_cache
        if cache[0] != self.month:
            self._fill_month_cache()
        return cache[1]

    def demand_multiplier(self) -> float:
        cache = self._month_cache
        if cache[0] != self.month:
            self._fill_month_cache()
        return cache[2]

    def _fill_month_cache(self) -> None:
        p = self.params
        month = self.month
        lpr = max(0.0, p.lpr_1y + (p.rate_rise_pp / 100.0 if month >= p.rate_rise_start_month else 0.0))
        start = p.demand_shock_start_month
        dm = 1.0 - p.demand_shock_share if start <= month < start + p.demand_shock_months else 1.0
        self._month_cache[:] = [month, lpr, dm]

    def rd_multiplier(self) -> float:
        p = self.params
        return p.rd_success_multiplier if self.month >= p.rd_stress_start_month else 1.0

    def next_loan_id(self) -> int:
        self._loan_ids += 1
        return self._loan_ids

    def packages_for(self, sme: SME) -> list:
        """(name, PackageSpec) offered in this scenario that this SME can reach (cached)."""
        key = (sme.leader_key, sme.tier)
        cached = self._packages_cache.get(key)
        if cached is None:
            p = self.params
            cached = [(name, p.packages[name]) for name in p.offered_packages
                      if ("all" in p.packages[name].leaders or sme.leader_key in p.packages[name].leaders)
                      and sme.tier in p.packages[name].tiers]
            self._packages_cache[key] = cached
        return cached

    def finance_menu(self, sme: SME) -> tuple:
        """(the order-financing package or None, the term (instrument, package) pairs in the
        order to try, whether any of them is not collateral) for this SME (cached per leader
        and tier, like `packages_for`). Of several packages with order financing, the SME
        uses one the risk-compensation fund can back (the only cover an order advance can
        have), then the first offered."""
        key = (sme.leader_key, sme.tier)
        menu = self._menu_cache.get(key)
        if menu is None:
            packages = self.packages_for(sme)
            order_pkgs = [(not pkg.fund_eligible, i, name) for i, (name, pkg) in enumerate(packages)
                          if "order_financing" in pkg.instruments]
            order_pkg = min(order_pkgs)[2] if order_pkgs else None
            term = tuple(SME.term_packages(packages))
            menu = self._menu_cache[key] = (order_pkg, term, any(inst != "collateral" for inst, _ in term))
        return menu

    # -- the month ----------------------------------------------------------------------------
    def step(self) -> None:
        self.month += 1
        self.counters.start_month()
        for phase in (
            self.place_orders,        # leaders turn their plans into orders (and tier-1 into sub-orders)
            self.apply_for_finance,   # SMEs project their cash and apply under the packages they reach
            self.underwrite,          # banks reset floating rates at anniversaries, then decide;
                                      # the insurer writes guarantee cover
            self.produce,             # fixed costs, outside sales, R&D, production and delivery;
                                      # leaders sell the deployed units
            self.settle,              # leaders and SMEs pay invoices; loans are serviced
            self.resolve_defaults,    # NPL at 90 days, recovery, loss allocation, claims, write-offs
            self.pay_policy,          # subsidies, vouchers, rewards, fund endowment and top-ups
        ):
            phase()
            if self.audit:
                self.check_books(phase.__name__)
        reporters.collect(self)

    def run(self, months: int, *, gc_young_threshold: int | None = YOUNG_THRESHOLD) -> HydrogenChainModel:
        """Run `months` months. The garbage collector runs rarer meanwhile (see
        `model.collector`; results are the same); `gc_young_threshold=None` leaves it alone."""
        if months < 0:
            raise ParameterError("months", f"{months} is negative; allowed >= 0")
        with rarer_collections(gc_young_threshold):
            for _ in range(months):
                self.step()
        return self

    def active_smes(self) -> list[SME]:
        return [s for s in self.smes if s.status != DEFAULTED]

    def place_orders(self) -> None:
        for leader in self.leaders:
            leader.place_orders()

    def apply_for_finance(self) -> None:
        self.fund.start_month()
        self.applications = []
        for sme in self.active_smes():
            sme.plan_finance()

    def underwrite(self) -> None:
        for bank in self.banks:
            bank.reprice_anniversaries()
            bank.open_book()
        apps = self.applications
        self.random.shuffle(apps)
        for app in apps:
            self.decide_application(app)
        self.applications = []

    def produce(self) -> None:
        for sme in self.active_smes():
            sme.produce()
        for leader in self.leaders:
            leader.sell_units()

    def settle(self) -> None:
        # the month's interest first: a loan the leaders repay this month owes this month too
        for bank in self.banks:
            bank.accrue()
        for leader in self.leaders:
            leader.pay_invoices()
        for sme in self.smes:  # tier-1 before tier-2: cash travels down the chain in one month
            sme.settle()
        for bank in self.banks:
            bank.pay_funding_cost()

    def resolve_defaults(self) -> None:
        for sme, cause in list(self.pending_defaults.items()):
            if sme.active:
                sme.enter_default(cause)
        self.pending_defaults.clear()
        for bank in self.banks:
            bank.resolve_due()

    def pay_policy(self) -> None:
        self.government.pay_policy()

    # -- applications --------------------------------------------------------------------------
    def _banks_in_order(self, sme: SME, package: str) -> list[Bank]:
        banks = self._banks_for_package[package]
        if sme.relationship_bank in banks:
            return [sme.relationship_bank] + [b for b in banks if b is not sme.relationship_bank]
        return list(banks)

    # The banks an application tries depend only on the SME's relationship bank and the
    # packages: computed once per combination (tuples, shared by applications, never changed).
    def submit_order_application(self, sme: SME, package: str, orders: list[Order], amount_wan: float) -> None:
        key = (sme.relationship_bank, "order", package)
        tries = self._tries_cache.get(key)
        if tries is None:
            tries = self._tries_cache[key] = tuple(
                [(bank, "order_financing", package) for bank in self._banks_in_order(sme, package)][:ORDER_TRIES])
        if tries:
            self.applications.append(Application(sme, tries, amount_wan, tuple(orders)))

    def submit_term_application(self, sme: SME, candidates, amount_wan: float) -> None:
        key = (sme.relationship_bank, "term", tuple(candidates))
        tries = self._tries_cache.get(key)
        if tries is None:
            tries = self._tries_cache[key] = self._term_tries(sme, candidates)
        if tries:
            self.applications.append(Application(sme, tries, amount_wan))

    def _term_tries(self, sme: SME, candidates) -> tuple:
        """Up to TERM_TRIES_PER_INSTRUMENT (package, bank) pairs for each instrument, in the
        order of the candidates. Per instrument, not in all: an SME refused tech credit by
        three banks still asks for a collateral loan (a cap on all tries had left collateral
        untried wherever three banks offered tech credit)."""
        tries = []
        for inst, pkg in candidates:
            for bank in self._banks_in_order(sme, pkg):
                if sum(i == inst for _, i, _ in tries) < TERM_TRIES_PER_INSTRUMENT:
                    tries.append((bank, inst, pkg))
        return tuple(tries)

    def decide_application(self, app: Application) -> None:
        c = self.counters
        sme = app.sme
        c.month_applications += 1
        c.applications += 1
        if sme.light_asset:
            c.light_applications += 1
        refused = None  # instrument refused for a reason no other bank would judge differently
        for bank, instrument, package in app.tries:
            if instrument == refused:
                continue  # decide() is pure: the next bank would refuse it for the same reason
            decision = bank.decide(sme, instrument, self.params.packages[package], app.amount_wan, app.orders)
            if not decision.approve:
                if decision.reason in SME_REASONS:
                    refused = instrument
                continue
            loan = bank.lend(sme, instrument, package, decision, app.orders)
            sme.accept_loan(loan, app.orders)
            if loan.insured_share > 0:
                premium = finance.guarantee_premium(loan.principal_wan, self.params.guarantee_premium_rate, loan.term_months)
                if not self.insurer.sell_cover(sme, premium, "guarantee_premium"):
                    loan.insured_share = 0.0  # goes ahead uninsured: no voucher stands behind it
                    loan.policy_backed = bank.policy_backed(loan)
            c.month_approvals += 1
            c.approvals += 1
            c.month_new_lending_wan += loan.principal_wan
            c.credit_mobilised_wan += loan.principal_wan
            c.lending_by_package_wan[package] = c.lending_by_package_wan.get(package, 0.0) + loan.principal_wan
            if loan.policy_backed:
                c.policy_backed_credit_wan += loan.principal_wan
            if sme.light_asset:
                c.light_approvals += 1
            return

    # -- payments between agents ----------------------------------------------------------------
    def pay_invoice(self, payer_account: int, invoice) -> None:
        """Pay an invoice in full. An order loan assigned the receivable is repaid first,
        straight to its bank; the rest goes to the supplier."""
        self.pay_invoice_up_to(payer_account, invoice, invoice.amount_wan)

    def pay_invoice_up_to(self, payer_account: int, invoice, limit_wan: float) -> float:
        ledger = self.ledger
        # min(invoice, max(0, limit)) without the calls (`b if b < a else a` is min(a, b))
        limit = limit_wan if limit_wan > 0.0 else 0.0
        amount = limit if limit < invoice.amount_wan else invoice.amount_wan
        if amount <= 1e-9:
            return 0.0
        left = amount
        loan = invoice.loan
        if loan is not None:
            bank = loan.bank
            if loan.status == "performing":
                accrued = loan.accrued_interest_wan
                outstanding = loan.outstanding_wan
                interest = accrued if accrued < left else left
                rest = left - interest
                principal = outstanding if outstanding < rest else rest
                ledger.transfer(payer_account, bank.account, interest, "loan_interest")
                ledger.transfer(payer_account, bank.account, principal, "loan_principal")
                bank.book_collection(loan, interest, principal)
                left -= interest + principal
            elif loan.status == NPL and loan.outstanding_wan > 0:
                part = min(left, loan.outstanding_wan)
                ledger.transfer(payer_account, bank.account, part, "recovery")
                bank.receive_recovery(loan, part)
                left -= part
            elif loan.status == "resolved":
                owed = loan.paid_insurer_wan + loan.paid_fund_wan + loan.paid_bank_wan
                part = min(left, owed)
                if part > 1e-9:
                    ledger.transfer(payer_account, bank.account, part, "late_recovery")
                    bank.receive_recovery(loan, part)
                    left -= part
        if left > 1e-9:
            ledger.transfer(payer_account, invoice.payee.account, left, "order_payment")
        invoice.amount_wan -= amount
        if invoice.amount_wan <= 1e-9:
            invoice.amount_wan = 0.0
            invoice.paid = True
        return amount

    def cancel_order(self, order: Order) -> None:
        """A stalled order is cancelled by its buyer, or a defaulted seller's order lapses;
        the seller's own suppliers' orders for it lapse too."""
        order.done = True
        for sub in order.sub_orders:
            if not sub.done:
                self.cancel_order(sub)

    def flag_default(self, sme: SME, cause: str) -> None:
        self.pending_defaults.setdefault(sme, cause)

    # -- checks and results -----------------------------------------------------------------
    def check_books(self, where: str = "") -> None:
        """The ledger identity, and the banks' loan books against the ledger's loan flows."""
        self.ledger.check(where)
        f = self.ledger.flow_by_kind
        expected = (f["loan_disbursement"] - f["loan_principal"] - f["recovery"] - f["collateral_sale"]
                    - f["guarantee_claim"] - f["fund_payout"] - self.counters.written_off_wan)
        book = math.fsum(b.outstanding_wan for b in self.banks)
        if abs(book - expected) > 1e-6 * (1.0 + abs(expected)):
            at = f" after {where}" if where else ""
            raise AccountingError(f"loan books {book} != ledger loan flows {expected}{at}")

    def summary(self) -> dict[str, float | int | None]:
        return reporters.summary(self)
