"""The model's parameters: one typed object, the single source of truth.

`ModelParams` subclasses Mesa 3.5's `Scenario` so that `Model.scenario` holds it,
Mesa freezes it while the model runs, and SolaraViz's Reset can rebuild it from the
page's fields. Every scalar parameter is a flat, globally unique name (`fund_coverage`,
`lpr_1y`, ...) that is the same as a keyword of `HydrogenChainModel`, a key in a scenario
TOML table and a `--set` key on the command line. Each carries a `Spec`: the TOML table
(group) it lives in, its allowed range, its unit, what it means and where its default
comes from (O official text, P press or bank page, E estimate; see docs/ODD.md).

Structured parameters (leaders, banks, packages) are tuples of frozen dataclasses, so a
default can never be shared and mutated between instances.

Units: money in CNY 10k (万元, `_wan`); rates are fractions per year (0.03 = 3%) unless the
name ends in `_pp` (percentage points); time in months.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from mesa.experimental.scenarios import Scenario

SEGMENTS = ("制", "储", "运", "加", "用")
SEGMENT_NAMES_EN = {"制": "production", "储": "storage", "运": "transport", "加": "refuelling", "用": "application"}
INSTRUMENTS = ("collateral", "tech_credit", "order_financing", "guarantee_insurance", "rd_insurance")
LOSS_ORDERS = ("insurer_first", "pro_rata")


class ParameterError(ValueError):
    """A parameter has an unknown name, a wrong type or a value outside its range.

    `where` names the source (a file, "keyword", "--set"); `key` the parameter path.
    """

    def __init__(self, key: str, problem: str, where: str = "keyword"):
        self.key = key
        self.problem = problem
        self.where = where
        super().__init__(f"{where}: {key}: {problem}")


@dataclass(frozen=True)
class Spec:
    """Metadata of one scalar parameter."""

    group: str
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    doc: str = ""
    source: str = "E"
    choices: tuple[str, ...] | None = None


def close_matches(name: str, candidates) -> str:
    """' (did you mean x?)' naming the closest candidates (those about as close as the best,
    at most three), or ''."""
    name = str(name)
    scored = sorted(((difflib.SequenceMatcher(None, name, c).ratio(), c) for c in map(str, candidates)), reverse=True)
    scored = [(r, c) for r, c in scored if r >= 0.6]
    if not scored:
        return ""
    best = scored[0][0]
    found = [c for r, c in scored if r >= best - 0.05][:3]
    return f" (did you mean {', '.join(found)}?)"


# ---------------------------------------------------------------------------------------
# Structured parameters
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    """One line of a leader's deployment plan, e.g. Jinnan's hydrogen trucks."""

    units_per_year: tuple[float, ...]  # by model year 1, 2, ...; the last value repeats
    unit_value_wan: float  # value of one unit (a truck, a station, one MW)
    sme_share: float  # share of the unit's value bought from the modelled SMEs
    segment_shares: Mapping[str, float]  # how that SME spend splits over 制储运加用
    label: str = ""
    kpi: str = ""  # "trucks" or "stations" feed the deployment KPIs; "" counts nowhere

    def units_in_month(self, month: int) -> float:
        year = (month - 1) // 12
        plan = self.units_per_year
        return plan[min(year, len(plan) - 1)] / 12.0


@dataclass(frozen=True)
class LeaderSpec:
    """A chain leader (链主企业)."""

    name: str
    name_zh: str
    products: Mapping[str, ProductSpec]
    payment_term_months: int = 2
    pd_annual: float = 0.01  # the default probability banks assign to the leader
    confirm_share: float = 0.9  # share of orders the leader confirms (确权) for order financing
    supplier_weight: float = 1.0  # relative share of tier-1 SMEs that supply this leader
    initial_cash_wan: float = 200_000.0
    unit_margin: float = 0.08  # the leader's margin when it sells/uses a deployed unit


@dataclass(frozen=True)
class BankSpec:
    """A bank lending to the chain (capital is what it allocates to this chain)."""

    name: str
    name_zh: str
    capital_wan: float = 40_000.0
    risk_appetite: float = 1.0  # multiplies the expected-loss limit
    noise_multiplier: float = 1.0  # assessment quality: lower sees SMEs more clearly
    market_weight: float = 1.0  # share of SMEs whose relationship bank it is


@dataclass(frozen=True)
class PackageSpec:
    """A named combination of instruments offered by banks to a set of SMEs."""

    name_zh: str
    instruments: tuple[str, ...]
    banks: tuple[str, ...] = ("all",)
    leaders: tuple[str, ...] = ("all",)  # SMEs in these leaders' chains may apply
    tiers: tuple[int, ...] = (1, 2)
    fund_eligible: bool = False
    description: str = ""


# Allowed ranges of the numeric fields of the structured specs (LeaderSpec, ProductSpec,
# BankSpec), which carry no Spec of their own: (lo, hi). Shares 0-1, money >= 0. Checked for
# every way parameters arrive (keywords, ModelParams, scenario files, --set) by `validate`.
FIELD_RANGES: dict[str, tuple[float | None, float | None]] = {
    "payment_term_months": (0, 36),
    "pd_annual": (0.0, 1.0),
    "confirm_share": (0.0, 1.0),
    "supplier_weight": (0.0, 100.0),
    "initial_cash_wan": (0.0, None),
    "unit_margin": (0.0, 1.0),
    "unit_value_wan": (0.0, None),
    "sme_share": (0.0, 1.0),
    "capital_wan": (0.0, None),
    "risk_appetite": (0.0, 10.0),
    "noise_multiplier": (0.0, 10.0),
    "market_weight": (0.0, 100.0),
}


def _product(units, value, share, segs, label, kpi=""):
    return ProductSpec(tuple(units), value, share, dict(segs), label, kpi)


DEFAULT_LEADERS: tuple[LeaderSpec, ...] = (
    LeaderSpec(
        name="Meijin Energy",
        name_zh="美锦能源",
        products={
            "stations": _product(
                (12, 18, 24, 24, 24), 1200.0, 0.45, {"加": 0.6, "储": 0.25, "制": 0.15},
                "hydrogen refuelling stations", "stations"),
            "fc_vehicles": _product(
                (600, 900, 1200, 1200, 1200), 100.0, 0.35, {"用": 0.6, "储": 0.3, "运": 0.1},
                "fuel-cell buses and trucks (飞驰)"),
            "h2_supply_mw": _product(
                (20, 30, 40, 40, 40), 150.0, 0.5, {"制": 0.8, "运": 0.2},
                "coke-oven-gas purification and electrolysers, MW"),
        },
        payment_term_months=2,
        pd_annual=0.015,
        supplier_weight=1.0,
    ),
    LeaderSpec(
        name="Jinnan Steel",
        name_zh="晋南钢铁",
        products={
            "trucks": _product(
                (1500, 2500, 3000, 3000, 3000), 120.0, 0.35, {"用": 0.5, "储": 0.35, "运": 0.15},
                "hydrogen heavy trucks", "trucks"),
        },
        payment_term_months=2,
        pd_annual=0.02,
        supplier_weight=1.2,
    ),
)

DEFAULT_BANKS: tuple[BankSpec, ...] = (
    BankSpec("Shanxi Bank", "山西银行", capital_wan=50_000.0, risk_appetite=1.1, noise_multiplier=1.1, market_weight=1.2),
    BankSpec("Jinshang Bank", "晋商银行", capital_wan=40_000.0, risk_appetite=1.0, noise_multiplier=1.0, market_weight=1.0),
    BankSpec("Joint-stock branch", "股份制银行太原分行", capital_wan=30_000.0, risk_appetite=0.8, noise_multiplier=0.8, market_weight=0.8),
)

DEFAULT_PACKAGES: Mapping[str, PackageSpec] = {
    "collateral": PackageSpec("抵押贷", ("collateral",), description="traditional loan against fixed collateral"),
    "tech_credit": PackageSpec("科技信用贷", ("tech_credit",), fund_eligible=True,
                               description="unsecured loan on the assessed technology"),
    "insurance_loan": PackageSpec("保贷联动", ("tech_credit", "guarantee_insurance", "rd_insurance"), fund_eligible=True,
                                  description="Dalian pattern: R&D-loss cover for the firm, guarantee cover for the bank"),
    "order_credit": PackageSpec("订单融资", ("order_financing",),
                                description="advance against a leader-confirmed order, repaid from the leader's payment"),
    "order_insurance_credit": PackageSpec(
        "订单+保险+信贷", ("order_financing", "tech_credit", "guarantee_insurance", "rd_insurance"),
        leaders=("all",), fund_eligible=True,
        description="the package a chain leader arranges with banks and an insurer for its suppliers"),
}


# ---------------------------------------------------------------------------------------
# The parameter object
# ---------------------------------------------------------------------------------------


class ModelParams(Scenario):
    """All parameters of `HydrogenChainModel`. See the module docstring for units."""

    # --- market --------------------------------------------------------------------
    lpr_1y: Annotated[float, Spec("market", 0.0, 0.2, "fraction/yr", "1-year loan prime rate", "O: PBOC LPR 2025-05-20")] = 0.030
    lpr_5y: Annotated[float, Spec("market", 0.0, 0.2, "fraction/yr", "5-year loan prime rate (for reference: no rule reads it; loans float on lpr_1y)", "O: PBOC LPR 2025-05-20")] = 0.035
    bank_funding_cost: Annotated[float, Spec("market", 0.0, 0.2, "fraction/yr", "banks' cost of funding a loan", "E (1.5-2.5%)")] = 0.018
    plan_scale: Annotated[float, Spec("market", 0.0, 1000.0, "ratio", "multiplier on every leader's deployment plan (scale it with n_smes to keep orders per SME; the plans are the leaders' real targets at 300 SMEs)", "E")] = 1.0
    external_payment_term_months: Annotated[int, Spec("market", 0, 12, "months", "payment term of buyers outside the chain", "O: NBS 2024, 67 days")] = 2

    # --- network -------------------------------------------------------------------
    n_smes: Annotated[int, Spec("network", 2, 200_000, "count", "number of supporting tech SMEs", "E")] = 300
    tier1_share: Annotated[float, Spec("network", 0.05, 1.0, "share", "share of SMEs supplying a leader directly", "E (0.4-0.8)")] = 0.6
    tier2_customers_max: Annotated[int, Spec("network", 1, 5, "count", "tier-1 customers a tier-2 SME supplies at most", "E")] = 2
    network_file: Annotated[str, Spec("network", unit="path", doc="GraphML or CSV edge list of a real supplier network; empty = generate", source="user")] = ""

    # --- sme -------------------------------------------------------------------------
    light_asset_share: Annotated[float, Spec("sme", 0.0, 1.0, "share", "share of SMEs with little fixed collateral", "E (0.5-0.8)")] = 0.7
    collateral_heavy_mean_wan: Annotated[float, Spec("sme", 0.0, 1e6, "wan", "mean collateral of an asset-heavy SME", "E")] = 1500.0
    collateral_light_mean_wan: Annotated[float, Spec("sme", 0.0, 1e6, "wan", "mean collateral of a light-asset SME", "E")] = 60.0
    external_sales_mean_wan: Annotated[float, Spec("sme", 0.0, 1e6, "wan/month", "mean monthly sales outside the modelled chain", "E")] = 60.0
    gross_margin_mean: Annotated[float, Spec("sme", 0.0, 0.9, "share", "mean gross margin on sales", "E (0.15-0.30)")] = 0.22
    fixed_cost_share: Annotated[float, Spec("sme", 0.0, 1.0, "share", "monthly fixed cost as a share of expected monthly sales", "E")] = 0.10
    initial_cash_months: Annotated[float, Spec("sme", 0.0, 24.0, "months", "opening cash in months of expected costs", "E")] = 2.0
    quality_alpha: Annotated[float, Spec("sme", 0.1, 100.0, "", "Beta(alpha, beta) of latent quality", "E")] = 4.0
    quality_beta: Annotated[float, Spec("sme", 0.1, 100.0, "", "Beta(alpha, beta) of latent quality", "E")] = 3.0
    order_lead_time_months: Annotated[int, Spec("sme", 1, 12, "months", "months from order to delivery", "E (1-3)")] = 2
    sme_payment_term_months: Annotated[int, Spec("sme", 0, 12, "months", "term on which an SME pays its SME suppliers", "O: Decree 802, <= 60 days")] = 2
    tier2_input_share: Annotated[float, Spec("sme", 0.0, 1.0, "share", "share of a tier-1 SME's production cost bought from its tier-2 SMEs", "E")] = 0.35
    planning_horizon_months: Annotated[int, Spec("sme", 1, 12, "months", "how far ahead an SME projects its cash", "E")] = 3
    cash_buffer_months: Annotated[float, Spec("sme", 0.0, 12.0, "months", "fixed costs an SME wants to keep in cash", "E")] = 1.0
    operating_shock_months_of_sales: Annotated[float, Spec("sme", 0.0, 24.0, "months", "cash lost in an operating shock (failed batch, lost customer), in months of expected sales; shocks arrive at the true-quality hazard pd_from_signal(quality)", "E (2-12)")] = 8.0
    arrears_default_months: Annotated[int, Spec("sme", 1, 24, "months", "months of unpaid fixed costs before an SME is insolvent", "E")] = 3
    max_order_delay_months: Annotated[int, Spec("sme", 1, 24, "months", "months an order may stall before the buyer cancels it (an R&D project stalled twice as long is abandoned)", "E")] = 3

    # --- rd --------------------------------------------------------------------------
    rd_start_prob: Annotated[float, Spec("rd", 0.0, 1.0, "1/month", "monthly probability that an SME without a project starts one", "E")] = 0.04
    rd_budget_months_of_sales: Annotated[float, Spec("rd", 0.0, 60.0, "months", "R&D budget in months of expected sales", "E")] = 2.0
    rd_duration_months: Annotated[int, Spec("rd", 1, 60, "months", "length of an R&D project", "E (12-24)")] = 18
    rd_success_mean: Annotated[float, Spec("rd", 0.0, 1.0, "probability", "mean success probability of a hardware R&D project", "E (0.2-0.4)")] = 0.3
    rd_margin_gain: Annotated[float, Spec("rd", 0.0, 0.5, "share", "gross-margin gain from a successful project", "E")] = 0.03
    rd_order_weight_gain: Annotated[float, Spec("rd", 0.0, 5.0, "share", "gain in share of leaders' orders after success", "E")] = 0.25

    # --- bank ------------------------------------------------------------------------
    offered_packages: Annotated[tuple, Spec("bank", unit="names", doc="packages banks offer in this scenario", source="scenario")] = ("collateral",)
    npl_tolerance: Annotated[float, Spec("bank", 0.0, 0.5, "fraction/yr", "tolerated expected loss rate on tech loans (不良容忍度)", "E (0.03-0.045); CBIRC 2019")] = 0.03
    npl_overdue_months: Annotated[int, Spec("bank", 1, 12, "months", "months the oldest missed payment is past due when a loan becomes non-performing", "O: 90 days")] = 3
    pd_limit_multiple: Annotated[float, Spec("bank", 0.0, 100.0, "ratio", "rating cut-off: a bank rejects an annual PD above this multiple of its expected-loss limit, whatever the cover", "E (1-3)")] = 1.5
    capital_ratio_floor: Annotated[float, Spec("bank", 0.01, 1.0, "share", "capital per yuan of loans a bank must hold", "O: 10.5%")] = 0.105
    capital_cost: Annotated[float, Spec("bank", 0.0, 1.0, "fraction/yr", "required return on the capital a loan uses", "E")] = 0.06
    bank_opex_spread: Annotated[float, Spec("bank", 0.0, 0.1, "fraction/yr", "operating cost spread", "E")] = 0.005
    max_loan_rate: Annotated[float, Spec("bank", 0.0, 0.5, "fraction/yr", "highest rate a borrower will pay, net of any interest subsidy (above it: the bank refuses)", "E (0.06-0.10)")] = 0.08
    signal_noise: Annotated[float, Spec("bank", 0.0, 2.0, "sd", "noise of a bank's signal of SME quality", "E")] = 0.2
    pd_base_annual: Annotated[float, Spec("bank", 0.0, 1.0, "fraction/yr", "annual default probability of an average-quality SME", "E; NFRA inclusive NPL 2.2-3.0%")] = 0.05
    pd_quality_slope: Annotated[float, Spec("bank", 0.0, 20.0, "", "log-PD per unit of quality signal", "E")] = 4.0
    max_debt_to_annual_sales: Annotated[float, Spec("bank", 0.0, 10.0, "ratio", "largest term debt per yuan of expected annual sales", "E (0.3-0.8)")] = 0.5
    relationship_learning_months: Annotated[float, Spec("bank", 0.0, 120.0, "months", "months of relationship that halve a bank's signal noise", "E")] = 24.0

    # --- instruments -----------------------------------------------------------------
    collateral_haircut: Annotated[float, Spec("instruments", 0.0, 1.0, "share", "loan limit / recovery per yuan of collateral", "P (0.5-0.7)")] = 0.6
    order_advance_rate: Annotated[float, Spec("instruments", 0.0, 1.0, "share", "order financing advance per yuan of confirmed order", "O/P (0.7-0.8, to 0.9)")] = 0.8
    tech_credit_max_wan: Annotated[float, Spec("instruments", 0.0, 1e6, "wan", "largest tech credit loan", "P: up to CNY 30 M")] = 3000.0
    term_loan_months: Annotated[int, Spec("instruments", 1, 60, "months", "term of collateral and tech credit loans", "O: up to 3-5 years")] = 24
    order_delivery_risk_share: Annotated[float, Spec("instruments", 0.0, 1.0, "share", "weight of the SME's own default risk in an order loan's risk (the rest is the leader's)", "E (0.1-0.5)")] = 0.3
    order_loan_grace_months: Annotated[int, Spec("instruments", 0, 12, "months", "months after the expected payment before an order loan falls due", "E")] = 1
    min_loan_wan: Annotated[float, Spec("instruments", 0.0, 1e5, "wan", "smallest loan a bank will write", "E")] = 20.0
    receivable_recovery_share: Annotated[float, Spec("instruments", 0.0, 1.0, "share", "share of a defaulter's collateral proceeds reaching its banks after costs", "E")] = 0.8

    # --- insurer ---------------------------------------------------------------------
    guarantee_insurer_share: Annotated[float, Spec("insurer", 0.0, 1.0, "share", "insurer's share of a guaranteed principal loss", "P: Yunnan, Yiwu 70/30")] = 0.7
    guarantee_premium_rate: Annotated[float, Spec("insurer", 0.0, 0.2, "fraction/yr", "loan-guarantee premium per yuan of principal", "O/P: <= 2-3%")] = 0.02
    rd_premium_rate: Annotated[float, Spec("insurer", 0.0, 1.0, "share", "R&D-loss premium per yuan insured", "E (0.02-0.10)")] = 0.05
    rd_cover_share: Annotated[float, Spec("insurer", 0.0, 1.0, "share", "share of the R&D budget insured", "P (0.10-0.30)")] = 0.2
    rd_claimable_share: Annotated[float, Spec("insurer", 0.0, 1.0, "share", "share of failed R&D projects that qualify for a claim under the policy's definition of technical failure", "E (0.02-0.2)")] = 0.05
    insurer_suspend_loss_ratio: Annotated[float, Spec("insurer", 0.0, 10.0, "ratio", "loss ratio above which the insurer stops new business", "P: Yunnan 120%")] = 1.2
    stop_loss_government_share: Annotated[float, Spec("insurer", 0.0, 1.0, "share", "government share of claims above the suspension loss ratio", "P: Yunnan 80%")] = 0.8
    insurer_reserves_wan: Annotated[float, Spec("insurer", 0.0, 1e7, "wan", "insurer's opening reserves for this business", "E")] = 30_000.0
    loss_order: Annotated[str, Spec("insurer", unit="choice", doc="how a default loss is shared", source="Jiangmen rule", choices=LOSS_ORDERS)] = "insurer_first"

    # --- fund ------------------------------------------------------------------------
    fund_endowment_wan: Annotated[float, Spec("fund", 0.0, 1e7, "wan", "opening balance of the provincial risk-compensation fund", "E")] = 0.0
    fund_topup_wan_per_year: Annotated[float, Spec("fund", 0.0, 1e7, "wan/yr", "yearly top-up from the budget", "E")] = 0.0
    fund_coverage: Annotated[float, Spec("fund", 0.0, 1.0, "share", "fund share of a bank's remaining principal loss", "O/P: Anhui 30%")] = 0.3
    fund_credit_loan_bonus: Annotated[float, Spec("fund", 0.0, 1.0, "share", "extra fund share for unsecured (credit) loans", "O/P: +5 pp")] = 0.05
    fund_per_loan_cap: Annotated[float, Spec("fund", 0.0, 1.0, "share", "largest fund payout as a share of the loan's principal", "O/P: 50%")] = 0.5
    policy_cover_cap: Annotated[float, Spec("fund", 0.0, 1.0, "share", "all policy cover (insurer + fund) as a share of the loss", "O/P: <= 80%")] = 0.8
    fund_payout_lag_months: Annotated[int, Spec("fund", 0, 36, "months", "recovery period: months from NPL until the loss left after recoveries is shared (insurer and fund pay, the bank writes off the rest)", "E (6-12)")] = 6
    fund_max_leverage: Annotated[float, Spec("fund", 0.0, 100.0, "ratio", "largest backed credit per yuan of fund balance", "O/P: >= 10x; observed 5-50x")] = 10.0

    # --- policy ----------------------------------------------------------------------
    interest_subsidy_pp: Annotated[float, Spec("policy", 0.0, 10.0, "pp/yr", "interest subsidy in percentage points", "O: 1.5 pp for 2 years")] = 0.0
    interest_subsidy_share: Annotated[float, Spec("policy", 0.0, 1.0, "share", "interest subsidy as a share of the loan rate", "P: local 40-50%")] = 0.0
    interest_subsidy_cap_pp: Annotated[float, Spec("policy", 0.0, 10.0, "pp/yr", "largest subsidy in percentage points", "P: <= 2% of the loan")] = 2.0
    interest_subsidy_months: Annotated[int, Spec("policy", 0, 120, "months", "months a loan is subsidised", "O: up to 2 years")] = 24
    bank_reward_wan_per_100m: Annotated[float, Spec("policy", 0.0, 1000.0, "wan per CNY 100 M", "reward per CNY 100 M of a bank's yearly new tech credit", "P: Shanxi CNY 0.2 M")] = 0.0
    premium_voucher_share: Annotated[float, Spec("policy", 0.0, 1.0, "share", "share of tech-insurance premiums paid by vouchers", "O: Shanghai/Zhoushan 50%")] = 0.0

    # --- agency ----------------------------------------------------------------------
    agency_enabled: Annotated[bool, Spec("agency", unit="bool", doc="a technology-transfer agency assesses SMEs for banks", source="Dalian case")] = False
    agency_fee_wan: Annotated[float, Spec("agency", 0.0, 1e4, "wan", "fee for one assessment", "E")] = 5.0
    agency_noise_factor: Annotated[float, Spec("agency", 0.0, 1.0, "share", "signal noise after an assessment, per unit of noise before", "E")] = 0.5
    agency_subsidy_share: Annotated[float, Spec("agency", 0.0, 1.0, "share", "share of the agency fee paid by the province", "E")] = 0.0

    # --- stress ----------------------------------------------------------------------
    late_payer: Annotated[str, Spec("stress", unit="leader key", doc="leader that pays late ('' = none)", source="scenario")] = ""
    late_payment_months: Annotated[int, Spec("stress", 0, 36, "months", "extra months the late payer takes", "scenario")] = 0
    late_payment_start_month: Annotated[int, Spec("stress", 1, 600, "month", "first month of late payment", "scenario")] = 13
    demand_shock_share: Annotated[float, Spec("stress", 0.0, 1.0, "share", "fall in leaders' plans and outside sales", "scenario")] = 0.0
    demand_shock_start_month: Annotated[int, Spec("stress", 1, 600, "month", "first month of the demand shock", "scenario")] = 13
    demand_shock_months: Annotated[int, Spec("stress", 1, 600, "months", "length of the demand shock", "scenario")] = 24
    rd_success_multiplier: Annotated[float, Spec("stress", 0.0, 5.0, "ratio", "multiplier on R&D success probability (a failure wave < 1)", "scenario")] = 1.0
    rd_stress_start_month: Annotated[int, Spec("stress", 1, 600, "month", "first month R&D outcomes are affected", "scenario")] = 13
    rate_rise_pp: Annotated[float, Spec("stress", -10.0, 10.0, "pp", "rise of the LPR in percentage points", "scenario")] = 0.0
    rate_rise_start_month: Annotated[int, Spec("stress", 1, 600, "month", "first month of the rate rise", "scenario")] = 13

    # --- structured ------------------------------------------------------------------
    leaders: Annotated[tuple, Spec("leaders", doc="chain leaders and their deployment plans", source="P: press 2023-24")] = DEFAULT_LEADERS
    banks: Annotated[tuple, Spec("banks", doc="banks lending to the chain", source="E")] = DEFAULT_BANKS
    packages: Annotated[Mapping, Spec("packages", doc="the package library (data)", source="DOMAIN.md §3")] = DEFAULT_PACKAGES

    # ---------------------------------------------------------------------------------

    def __init__(self, *, rng=None, **kwargs):
        unknown = [k for k in kwargs if k not in self.specs() and not k.startswith("_")]
        if unknown:
            k = unknown[0]
            raise ParameterError(k, f"unknown parameter{close_matches(k, self.specs())}")
        super().__init__(rng=rng, **kwargs)
        # Leaders and banks may be given as mappings (from TOML) or as spec tuples.
        for name in ("leaders", "banks"):
            value = self.__dict__[name]
            if isinstance(value, Mapping):
                self.__dict__[name] = coerce_structured(name, value)
        if not isinstance(self.__dict__["packages"], Mapping) or any(
            not isinstance(p, PackageSpec) for p in self.__dict__["packages"].values()
        ):
            self.__dict__["packages"] = coerce_structured("packages", self.__dict__["packages"])
        if isinstance(self.__dict__["offered_packages"], list):
            self.__dict__["offered_packages"] = tuple(self.__dict__["offered_packages"])
        # Each parameter object owns its leaders, banks and packages: their plans, segment
        # shares and the package table are dicts, and the defaults must not change for every
        # later model of the process when one model's are edited.
        for name in ("leaders", "banks", "packages"):
            self.__dict__[name] = copy.deepcopy(self.__dict__[name])
        self.validate()

    # -- metadata ------------------------------------------------------------------------
    @classmethod
    def specs(cls) -> dict[str, Spec]:
        """Name -> Spec for every parameter, in declaration order (cached)."""
        cached = cls.__dict__.get("_specs_cache")
        if cached is None:
            hints = get_type_hints(cls, include_extras=True)
            cached = {}
            for name, hint in hints.items():
                if get_origin(hint) is Annotated:
                    base, *meta = get_args(hint)
                    spec = next(m for m in meta if isinstance(m, Spec))
                    cached[name] = spec
            cls._specs_cache = cached
        return cached

    @classmethod
    def scalar_names(cls) -> list[str]:
        return [n for n, s in cls.specs().items() if s.group not in ("leaders", "banks", "packages")]

    @classmethod
    def groups(cls) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, spec in cls.specs().items():
            out.setdefault(spec.group, []).append(name)
        return out

    @classmethod
    def types(cls) -> dict[str, type]:
        hints = get_type_hints(cls, include_extras=True)
        return {n: get_args(h)[0] for n, h in hints.items() if get_origin(h) is Annotated}

    def values(self) -> dict[str, Any]:
        """Parameter name -> value (without Mesa's bookkeeping and rng)."""
        return {name: self.__dict__[name] for name in self.specs()}

    # -- validation ------------------------------------------------------------------------
    def validate(self, where: str = "keyword") -> None:
        types = self.types()
        for name, spec in self.specs().items():
            value = self.__dict__[name]
            self.__dict__[name] = check_scalar(name, value, types[name], spec, where) if spec.group not in (
                "leaders", "banks", "packages") else value
        for p in self.offered_packages:
            if p not in self.packages:
                raise ParameterError("offered_packages", f"unknown package {p!r}{close_matches(p, self.packages)}; "
                                     f"defined: {', '.join(self.packages)}", where)
        bank_keys = {bank_key(b) for b in self.banks}
        leader_keys = {leader_key(ld) for ld in self.leaders}
        for pname, pkg in self.packages.items():
            for field_name in ("instruments", "banks", "leaders", "tiers"):
                if not getattr(pkg, field_name):  # an empty list: the package could never lend
                    raise ParameterError(f"packages.{pname}.{field_name}", "is empty; a package needs at least one "
                                                                           "(\"all\" for every bank or leader)", where)
            for inst in pkg.instruments:
                if inst not in INSTRUMENTS:
                    raise ParameterError(f"packages.{pname}.instruments", f"unknown instrument {inst!r}"
                                         f"{close_matches(inst, INSTRUMENTS)}; allowed: {', '.join(INSTRUMENTS)}", where)
            for b in pkg.banks:
                if b != "all" and b not in bank_keys:
                    raise ParameterError(f"packages.{pname}.banks", f"unknown bank {b!r}; banks: {', '.join(sorted(bank_keys))}", where)
            for ld in pkg.leaders:
                if ld != "all" and ld not in leader_keys:
                    raise ParameterError(f"packages.{pname}.leaders", f"unknown leader {ld!r}; leaders: {', '.join(sorted(leader_keys))}", where)
        if self.late_payer and self.late_payer not in leader_keys:
            raise ParameterError("late_payer", f"unknown leader {self.late_payer!r}; leaders: {', '.join(sorted(leader_keys))}", where)
        if not self.leaders:
            raise ParameterError("leaders", "at least one chain leader is needed", where)
        if not self.banks:
            raise ParameterError("banks", "at least one bank is needed", where)
        self._validate_structured_values(where)

    def _validate_structured_values(self, where: str) -> None:
        """Leaders, products and banks as the model can run them, however they arrived: finite
        numbers within FIELD_RANGES, a plan for every product, segment shares adding to 1,
        distinct keys, some weight to draw suppliers and relationship banks by, and a tier-1
        supplier for every leader."""
        def check_number(path: str, value: Any) -> None:
            lo, hi = FIELD_RANGES.get(path.rsplit(".", 1)[-1], (0.0, None))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ParameterError(path, f"expected a finite number, got {value!r}", where)
            _check_range(path, value, lo, hi, "", where)

        def check_numbers(path: str, spec) -> None:
            for f in dataclasses.fields(spec):
                value = getattr(spec, f.name)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    check_number(f"{path}.{f.name}", value)

        for kind, specs, key_of in (("leaders", self.leaders, leader_key), ("banks", self.banks, bank_key)):
            keys = [key_of(spec) for spec in specs]
            dup = next((k for k in keys if keys.count(k) > 1), None)
            if dup is not None:
                raise ParameterError(kind, f"two {kind} have the key {dup!r} (the first word of the name for a "
                                           f"leader, the name for a bank); give them distinct names", where)
            for k, spec in zip(keys, specs):
                check_numbers(f"{kind}.{k}", spec)
        for ld in self.leaders:
            for prod_name, prod in ld.products.items():
                path = f"leaders.{leader_key(ld)}.products.{prod_name}"
                check_numbers(path, prod)
                if not prod.units_per_year:
                    raise ParameterError(f"{path}.units_per_year", "expected at least one yearly value", where)
                for v in prod.units_per_year:
                    check_number(f"{path}.units_per_year", v)
                for seg, share in prod.segment_shares.items():
                    if seg not in SEGMENTS:
                        raise ParameterError(f"{path}.segment_shares",
                                             f"unknown segment {seg!r}; allowed: {', '.join(SEGMENTS)}", where)
                    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
                        raise ParameterError(f"{path}.segment_shares", f"share of {seg} must be a number from 0 "
                                                                       f"to 1, got {share!r}", where)
                total = sum(prod.segment_shares.values())
                if abs(total - 1.0) > 1e-3:
                    raise ParameterError(f"{path}.segment_shares", f"shares add up to {total:g}; they must add up "
                                                                   f"to 1", where)
        for kind, weight in (("leaders", "supplier_weight"), ("banks", "market_weight")):
            if not any(getattr(spec, weight) > 0 for spec in getattr(self, kind)):
                raise ParameterError(f"{kind}.{weight}", f"every {weight} is 0; at least one must be above 0", where)
        if not self.network_file:
            tier1 = tier1_count(self.n_smes, self.tier1_share)
            if tier1 < len(self.leaders):
                raise ParameterError("n_smes", f"{self.n_smes} SMEs with tier1_share {self.tier1_share:g} make "
                                               f"{tier1} tier-1 SME(s), fewer than the {len(self.leaders)} leaders: "
                                               f"every leader needs a supplier", where)

    # -- identity -------------------------------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        """Plain JSON-able representation of every parameter (the basis of the hash)."""
        return {name: to_plain(value) for name, value in self.values().items()}

    def stable_hash(self) -> str:
        """A hash of the resolved parameters: equal parameters, equal hash, on any machine.
        With a `network_file`, the hash covers the file's contents instead of its path: batches
        skip runs whose hash they have stored, so an edited network must be a different model,
        and the same network found under another path (another checkout) the same one."""
        identity = self.canonical()
        if self.network_file:  # the network is its contents, wherever the file lies
            identity["network_file"] = network_file_digest(self.network_file)
        blob = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def replace(self, **changes) -> ModelParams:
        """A copy with some parameters changed (validated)."""
        return type(self)(rng=self.rng, **{**self.values(), **changes})

    def __eq__(self, other):
        return isinstance(other, ModelParams) and self.canonical() == other.canonical()

    __hash__ = None  # mutable before the run starts

    def __repr__(self):
        return f"ModelParams(hash={self.stable_hash()})"


class FrozenParams:
    """A model's parameters for reading while it runs: the values of a `ModelParams` as plain
    attributes; methods (`values()`, `replace()`, ...) come from the `ModelParams` itself.

    Why a copy: Mesa's `Scenario` keeps its values in a `__dict__` slot, for which CPython 3.12
    cannot specialise attribute reads. A read costs about 50 ns against 12 ns here, and the
    model reads parameters about fifteen times per SME-month (3 % of a run). Mesa forbids
    changing a scenario while its model runs, so the copy cannot go stale; it refuses writes
    itself, with the same advice.
    """

    def __init__(self, params: ModelParams):
        self.__dict__.update(vars(params))
        self.__dict__["_source"] = params

    def __getattr__(self, name: str):  # only for what is not a copied value
        try:
            source = self.__dict__["_source"]
        except KeyError:  # while copy or pickle rebuilds the object, before its values are back
            raise AttributeError(name) from None
        return getattr(source, name)

    def __setattr__(self, name: str, value) -> None:
        raise ParameterError(name, "parameters cannot change while a model runs; pass them when the model is built")

    def __eq__(self, other):
        return self._source == (other._source if isinstance(other, FrozenParams) else other)

    __hash__ = None

    def __repr__(self):
        return f"FrozenParams({self._source!r})"


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def tier1_count(n_smes: int, tier1_share: float) -> int:
    """How many of a generated network's SMEs supply a leader directly (at least one)."""
    return max(1, min(n_smes, round(n_smes * tier1_share)))


def network_input_files(path: str | Path) -> list[Path]:
    """The files a `network_file` reads: the file, and for a CSV edge list its optional
    `<name>.nodes.csv` of node attributes beside it."""
    path = Path(path)
    return [path, path.with_suffix(".nodes.csv")] if path.suffix.lower() == ".csv" else [path]


def network_file_digest(path: str | Path) -> str:
    """sha256 of the contents of a network file and its companion (missing files count as
    absent: loading the model reports them)."""
    h = hashlib.sha256()
    for f in network_input_files(path):
        h.update(f.name.encode("utf-8"))
        h.update(f.read_bytes() if f.is_file() else b"<absent>")
    return h.hexdigest()


def leader_key(leader: LeaderSpec) -> str:
    """The short key of a leader: the first word of its English name, lower case."""
    return leader.name.split()[0].lower()


def bank_key(bank: BankSpec) -> str:
    return bank.name.lower().replace(" ", "_").replace("-", "_")


def check_scalar(name: str, value: Any, typ: type, spec: Spec, where: str = "keyword") -> Any:
    """Coerce and range-check one scalar; raise ParameterError naming the allowed values."""
    if typ is bool:
        if not isinstance(value, (bool, int)) or (isinstance(value, int) and value not in (0, 1)):
            raise ParameterError(name, f"expected true or false, got {value!r}", where)
        return bool(value)
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
            raise ParameterError(name, f"expected a whole number, got {value!r}", where)
        value = int(value)
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(name, f"expected a number, got {value!r}", where)
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(name, f"expected a finite number, got {value!r}", where)
    elif typ is str:
        if not isinstance(value, str):
            raise ParameterError(name, f"expected text, got {value!r}", where)
        if spec.choices and value not in spec.choices:
            raise ParameterError(name, f"{value!r} is not allowed; choose one of {', '.join(spec.choices)}", where)
        return value
    elif typ is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ParameterError(name, f"expected a list, got {value!r}", where)
        return tuple(value)
    if typ in (int, float):
        _check_range(name, value, spec.lo, spec.hi, spec.unit, where)
    return value


def _check_range(name: str, value: float, lo: float | None, hi: float | None, unit: str, where: str) -> None:
    """One message for every number outside its range: a scalar's Spec or a FIELD_RANGES entry."""
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        allowed = f"{lo:g} to {hi:g}" if hi is not None else f">= {lo:g}"
        raise ParameterError(name, f"{value!r} is out of range; allowed {allowed}{f' {unit}' if unit else ''}", where)


def _build(cls, key: str, data: Mapping, where: str, path: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        raise ParameterError(f"{path}.{k}", f"unknown key{close_matches(k, fields)}; allowed: {', '.join(fields)}", where)
    kwargs = {}
    for fname, f in fields.items():
        if fname not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParameterError(f"{path}.{fname}", "missing (required)", where)
            continue
        v = data[fname]
        if fname == "products":
            if not isinstance(v, Mapping) or not v:
                raise ParameterError(f"{path}.products", "expected a table of products", where)
            v = {pn: _build(ProductSpec, pn, pv, where, f"{path}.products.{pn}") for pn, pv in v.items()}
        elif fname in ("units_per_year", "instruments", "banks", "leaders", "tiers"):
            if isinstance(v, (str, int, float)):
                raise ParameterError(f"{path}.{fname}", f"expected a list, got {v!r}", where)
            v = tuple(v)
        elif fname == "segment_shares":
            if not isinstance(v, Mapping):
                raise ParameterError(f"{path}.{fname}", "expected a table segment -> share", where)
            v = dict(v)
        elif isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ParameterError(f"{path}.{fname}", f"expected a number, got {v!r}", where)
            # its range (FIELD_RANGES, finite) is checked by ModelParams.validate
        kwargs[fname] = v
    return cls(**kwargs)


def coerce_structured(name: str, value: Any, where: str = "keyword"):
    """Build leaders/banks (tuples) or packages (dict) from specs or plain mappings.

    Mappings are keyed by the short key (`jinnan`, `shanxi_bank`, package name). A mapping
    value that is a spec object is taken as it is.
    """
    if name == "packages":
        if not isinstance(value, Mapping):
            raise ParameterError("packages", "expected a table of packages", where)
        return {k: (v if isinstance(v, PackageSpec) else _build(PackageSpec, k, v, where, f"packages.{k}"))
                for k, v in value.items()}
    cls = LeaderSpec if name == "leaders" else BankSpec
    if isinstance(value, Mapping):
        items = value.items()
    else:
        return tuple(value)
    out = []
    for k, v in items:
        out.append(v if isinstance(v, cls) else _build(cls, k, v, where, f"{name}.{k}"))
    return tuple(out)


def to_plain(value: Any) -> Any:
    """Specs, tuples and mappings as plain JSON-able data (leaders/banks keyed by their key)."""
    if isinstance(value, LeaderSpec):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], LeaderSpec):
            return {leader_key(v): to_plain(v) for v in value}
        if value and isinstance(value[0], BankSpec):
            return {bank_key(v): to_plain(v) for v in value}
        return [to_plain(v) for v in value]
    return value
