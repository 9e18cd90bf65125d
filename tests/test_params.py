"""The typed parameter object (model/params.py): validation, errors that name the key and
the source, identity (hash, equality, replace), structured parameters, and the promise that
every value inside a parameter's allowed range gives a model that runs."""

from __future__ import annotations

import json
import math

import pytest

from model import HydrogenChainModel, ModelParams, ParameterError
from model.params import DEFAULT_PACKAGES, BankSpec, LeaderSpec, PackageSpec, bank_key, leader_key


def test_defaults_are_valid_and_in_range():
    p = ModelParams()
    types = ModelParams.types()
    for name, spec in ModelParams.specs().items():
        v = getattr(p, name)
        if types[name] in (int, float):
            assert spec.lo is not None and spec.hi is not None, name
            assert spec.lo <= v <= spec.hi, name
        if spec.choices:
            assert v in spec.choices, name


def test_every_scalar_has_a_unit_doc_and_source():
    for name in ModelParams.scalar_names():
        spec = ModelParams.specs()[name]
        assert spec.doc and spec.source and spec.group, name


def test_the_levers_of_the_issue_are_flat_parameters():
    for name in ("n_smes", "fund_coverage", "order_advance_rate", "npl_tolerance", "interest_subsidy_pp",
                 "premium_voucher_share", "lpr_1y"):
        assert name in ModelParams.scalar_names()


def test_units_are_in_the_names_of_money_parameters():
    for name in ModelParams.scalar_names():
        if ModelParams.specs()[name].unit.startswith("wan"):
            assert "_wan" in name, name


class TestErrors:
    def test_unknown_name_with_suggestion(self):
        with pytest.raises(ParameterError) as err:
            ModelParams(npl_tolerence=0.03)
        e = err.value
        assert e.key == "npl_tolerence" and e.where == "keyword"
        assert "unknown" in e.problem and "npl_tolerance" in e.problem

    def test_unknown_name_without_any_close_match(self):
        with pytest.raises(ParameterError) as err:
            ModelParams(zzz_qqq=1)
        assert err.value.key == "zzz_qqq" and "did you mean" not in str(err.value)

    def test_out_of_range_names_the_range_and_unit(self):
        with pytest.raises(ParameterError) as err:
            ModelParams(fund_payout_lag_months=40)
        assert err.value.key == "fund_payout_lag_months"
        assert "allowed 0 to 36 months" in str(err.value)

    def test_bounds_are_inclusive(self):
        spec = ModelParams.specs()["fund_coverage"]
        assert ModelParams(fund_coverage=spec.lo).fund_coverage == spec.lo
        assert ModelParams(fund_coverage=spec.hi).fund_coverage == spec.hi

    def test_ints_given_as_whole_floats_are_accepted(self):
        assert ModelParams(n_smes=40.0).n_smes == 40
        assert isinstance(ModelParams(n_smes=40.0).n_smes, int)

    def test_bool_is_not_a_number(self):
        with pytest.raises(ParameterError):
            ModelParams(fund_coverage=True)

    def test_unknown_offered_package(self):
        with pytest.raises(ParameterError) as err:
            ModelParams(offered_packages=("order_credt",))
        assert err.value.key == "offered_packages" and "order_credit" in str(err.value)

    def test_offered_packages_as_a_string_is_refused(self):
        # a plain string would otherwise be read as a tuple of letters
        with pytest.raises(ParameterError):
            ModelParams(offered_packages="collateral")

    def test_unknown_late_payer(self):
        with pytest.raises(ParameterError) as err:
            ModelParams(late_payer="pengfei")
        assert err.value.key == "late_payer" and "jinnan" in str(err.value)

    def test_package_with_unknown_instrument(self):
        pkgs = {**DEFAULT_PACKAGES, "x": {"name_zh": "x", "instruments": ["tech_credt"]}}
        with pytest.raises(ParameterError) as err:
            ModelParams(packages=pkgs)
        assert err.value.key == "packages.x.instruments" and "tech_credit" in str(err.value)

    def test_package_for_unknown_bank(self):
        pkgs = {**DEFAULT_PACKAGES, "x": {"name_zh": "x", "instruments": ["tech_credit"], "banks": ["icbc"]}}
        with pytest.raises(ParameterError) as err:
            ModelParams(packages=pkgs)
        assert err.value.key == "packages.x.banks"

    def test_structured_unknown_key(self):
        with pytest.raises(ParameterError) as err:
            ModelParams(banks={"b": {"name": "B", "name_zh": "乙", "capitl_wan": 1.0}})
        assert err.value.key == "banks.b.capitl_wan" and "capital_wan" in str(err.value)

    def test_leader_with_unknown_segment(self):
        leaders = {"x": {"name": "X Corp", "name_zh": "X", "products": {
            "p": {"units_per_year": [1], "unit_value_wan": 1.0, "sme_share": 0.5, "segment_shares": {"水": 1.0}}}}}
        with pytest.raises(ParameterError) as err:
            ModelParams(leaders=leaders)
        assert "segment" in str(err.value) and "水" in str(err.value)

    def test_at_least_one_leader_and_bank(self):
        with pytest.raises(ParameterError):
            ModelParams(leaders=())
        with pytest.raises(ParameterError):
            ModelParams(banks=())


class TestIdentity:
    def test_equal_params_equal_hash(self):
        a, b = ModelParams(fund_coverage=0.4), ModelParams(fund_coverage=0.4)
        assert a == b and a.stable_hash() == b.stable_hash()

    def test_any_change_changes_the_hash(self):
        base = ModelParams()
        for change in ({"fund_coverage": 0.31}, {"n_smes": 301}, {"loss_order": "pro_rata"},
                       {"offered_packages": ("collateral", "tech_credit")}, {"agency_enabled": True}):
            other = ModelParams(**change)
            assert other != base and other.stable_hash() != base.stable_hash(), change

    def test_hash_ignores_the_seed(self):
        assert ModelParams(rng=1).stable_hash() == ModelParams(rng=2).stable_hash()

    def test_canonical_is_json(self):
        blob = json.dumps(ModelParams().canonical(), ensure_ascii=False)
        assert "晋南钢铁" in blob

    def test_replace_validates_and_leaves_the_original(self):
        p = ModelParams(fund_coverage=0.4)
        q = p.replace(n_smes=50)
        assert (q.n_smes, q.fund_coverage) == (50, 0.4)
        assert p.n_smes == 300
        with pytest.raises(ParameterError):
            p.replace(fund_coverage=2.0)

    def test_default_structures_are_not_shared_mutable_state(self):
        a, b = ModelParams(), ModelParams()
        assert isinstance(a.leaders, tuple) and isinstance(a.banks, tuple)
        assert all(isinstance(ld, LeaderSpec) for ld in a.leaders)
        assert all(isinstance(bk, BankSpec) for bk in a.banks)
        assert all(isinstance(pk, PackageSpec) for pk in a.packages.values())
        a.__dict__["offered_packages"] = ("tech_credit",)
        assert b.offered_packages == ("collateral",)


class TestStructured:
    def test_banks_from_a_mapping(self):
        p = ModelParams(banks={"shanxi_bank": {"name": "Shanxi Bank", "name_zh": "山西银行", "capital_wan": 10.0}})
        assert len(p.banks) == 1 and p.banks[0].capital_wan == 10.0
        assert bank_key(p.banks[0]) == "shanxi_bank"

    def test_a_new_package_needs_no_code(self):
        pkgs = {**DEFAULT_PACKAGES, "jinnan_trucks": {
            "name_zh": "晋南订单贷", "instruments": ["order_financing", "guarantee_insurance"],
            "leaders": ["jinnan"], "tiers": [1], "fund_eligible": True}}
        m = HydrogenChainModel(rng=4, n_smes=60, packages=pkgs, offered_packages=("jinnan_trucks",), audit=True)
        m.run(4)
        loans = [loan for b in m.banks for loan in b.loans]
        assert loans
        for loan in loans:
            assert loan.package == "jinnan_trucks" and loan.instrument == "order_financing"
            assert loan.borrower.leader_key == "jinnan" and loan.borrower.tier == 1
        assert "credit_jinnan_trucks_wan" in m.datacollector.get_model_vars_dataframe().columns

    def test_leader_keys(self):
        assert [leader_key(ld) for ld in ModelParams().leaders] == ["meijin", "jinnan"]


# --- every value inside a parameter's range gives a model that runs ------------------------------

def _bound_cases():
    types = ModelParams.types()
    cases = []
    for name, spec in ModelParams.specs().items():
        if types[name] not in (int, float) or name in ("n_smes", "fund_endowment_wan"):
            continue
        for end, value in (("lo", spec.lo), ("hi", spec.hi)):
            value = int(value) if types[name] is int else value
            cases.append(pytest.param(name, value, id=f"{name}-{end}"))
    return cases


@pytest.mark.parametrize("name,value", _bound_cases())
def test_each_parameter_at_each_end_of_its_range_runs(name, value):
    # 40 SMEs: at the lowest tier1_share (0.05) that still leaves each of the two leaders a supplier
    m = HydrogenChainModel(rng=1, n_smes=40, offered_packages=tuple(DEFAULT_PACKAGES), fund_endowment_wan=2000.0,
                           **{name: value})
    m.run(3)
    m.check_books()
    for k, v in m.summary().items():
        assert v is None or math.isfinite(v), (k, v)


# --- leaders, products and banks are checked however they arrive -----------------------------

def _leaders_with(**changes):
    """The default leaders, Jinnan (the second) changed; products by dataclasses.replace."""
    import dataclasses

    from model.params import DEFAULT_LEADERS

    meijin, jinnan = DEFAULT_LEADERS
    product_changes = changes.pop("product", None)
    if product_changes:
        trucks = dataclasses.replace(jinnan.products["trucks"], **product_changes)
        changes["products"] = {**jinnan.products, "trucks": trucks}
    return (meijin, dataclasses.replace(jinnan, **changes))


@pytest.mark.parametrize("params, key, problem", [
    (dict(leaders=_leaders_with(pd_annual=3.0)), "leaders.jinnan.pd_annual", "out of range; allowed 0 to 1"),
    (dict(leaders=_leaders_with(confirm_share=5.0)), "leaders.jinnan.confirm_share", "out of range"),
    (dict(leaders=_leaders_with(initial_cash_wan=math.inf)), "leaders.jinnan.initial_cash_wan", "finite"),
    (dict(leaders=_leaders_with(product={"unit_value_wan": math.nan})), "leaders.jinnan.products.trucks.unit_value_wan",
     "finite"),
    (dict(leaders=_leaders_with(product={"units_per_year": ()})), "leaders.jinnan.products.trucks.units_per_year",
     "at least one"),
    (dict(leaders=_leaders_with(product={"units_per_year": (100.0, math.nan)})),
     "leaders.jinnan.products.trucks.units_per_year", "finite"),
    (dict(leaders=_leaders_with(product={"segment_shares": {"制": 0.0}})),
     "leaders.jinnan.products.trucks.segment_shares", "add up to 0"),
    (dict(leaders=_leaders_with(name="Meijin B")), "leaders", "the key 'meijin'"),
    (dict(leaders=_leaders_with(supplier_weight=0.0)), None, None),
    (dict(n_smes=2), "n_smes", "fewer than the 2 leaders"),
])
def test_structured_values_are_checked_when_given_as_keywords(params, key, problem):
    """Keywords and ModelParams get the checks scenario files and --set get (they once crashed
    mid-run: a complex number from pd_annual 3, a division by zero, an index error)."""
    if key is None:  # one leader with weight 0 is allowed (the other draws every supplier)
        ModelParams(**params)
        return
    with pytest.raises(ParameterError) as info:
        HydrogenChainModel(rng=1, **params)
    assert info.value.key == key and problem in info.value.problem, str(info.value)


def test_all_weights_zero_is_refused():
    import dataclasses

    from model.params import DEFAULT_BANKS, DEFAULT_LEADERS

    with pytest.raises(ParameterError, match="every supplier_weight is 0"):
        ModelParams(leaders=tuple(dataclasses.replace(ld, supplier_weight=0.0) for ld in DEFAULT_LEADERS))
    with pytest.raises(ParameterError, match="every market_weight is 0"):
        ModelParams(banks=tuple(dataclasses.replace(b, market_weight=0.0) for b in DEFAULT_BANKS))


def test_nan_from_the_command_line_is_one_line(capsys):
    from experiments.cli import main

    assert main(["run", "order_credit", "--months", "1", "--set", "leaders.jinnan.pd_annual=nan"]) == 2
    err = capsys.readouterr().err
    assert "pd_annual" in err and "finite" in err and err.strip().count("\n") == 0


def test_editing_one_models_structured_parameters_leaves_the_defaults_alone():
    """Plans, segment shares and the package table are dicts: editing a model's must not change
    every later ModelParams of the process (they were the module's default objects)."""
    before = ModelParams().stable_hash()
    m = HydrogenChainModel(rng=1, n_smes=30)
    m.params.leaders[1].products["trucks"].segment_shares["用"] = 0.9
    m.params.packages["collateral"] = m.params.packages["tech_credit"]
    assert ModelParams().stable_hash() == before
    assert HydrogenChainModel(rng=1, n_smes=30).params.stable_hash() == ModelParams(n_smes=30).stable_hash()


@pytest.mark.parametrize("field", ["instruments", "banks", "leaders", "tiers"])
def test_a_package_with_an_empty_list_is_refused(field):
    """It would be accepted and never lend, silently."""
    import dataclasses

    packages = {**DEFAULT_PACKAGES, "tech_credit": dataclasses.replace(DEFAULT_PACKAGES["tech_credit"], **{field: ()})}
    with pytest.raises(ParameterError) as info:
        ModelParams(packages=packages)
    assert info.value.key == f"packages.tech_credit.{field}" and "empty" in info.value.problem
