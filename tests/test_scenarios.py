"""The scenario library: shipped files, inheritance, overrides, stress overlays, round trip,
validation messages, the CLI, and (once the core exists) that every scenario runs."""

from __future__ import annotations

import re
import textwrap
import tomllib

import pytest

from model.params import ModelParams, ParameterError
from scenarios import (
    SCENARIO_DIR,
    ScenarioError,
    apply_stress,
    list_scenarios,
    load_scenario,
    parse_set,
    resolve,
    scenario_meta,
    scenario_sources,
    to_toml,
)

SHIPPED = {
    "baseline": "baseline",
    "tech_credit": "package",
    "insurance_loan": "package",
    "order_credit": "package",
    "order_insurance_credit": "package",
    "interest_subsidy": "policy",
    "risk_fund": "policy",
    "bank_reward": "policy",
    "premium_voucher": "policy",
    "npl_tolerance": "policy",
    "north_china_hydrogen_capital": "policy",
    "leader_late_payment": "stress",
    "h2_demand_shock": "stress",
    "rd_failure_wave": "stress",
    "rate_rise": "stress",
}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(fn, *args, **kwargs) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        fn(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------------------
# The shipped library
# --------------------------------------------------------------------------------------


def test_all_fifteen_ship_with_their_kind():
    rows = list_scenarios()
    assert {r[0]: r[3] for r in rows} == SHIPPED
    for name, title, title_zh, kind in rows:
        assert title and title_zh, name
    # baseline first, then packages, policies, stresses
    kinds = [r[3] for r in rows]
    assert kinds == sorted(kinds, key=["baseline", "package", "policy", "stress"].index)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_scenario_loads_with_meta_and_sources(name):
    p = load_scenario(name)
    assert isinstance(p, ModelParams)
    meta = scenario_meta(name)
    assert meta["kind"] == SHIPPED[name]
    assert meta.get("description")
    assert meta.get("sources"), f"{name}.toml: [meta] sources is empty"
    doc = tomllib.loads((SCENARIO_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    if name != "baseline":
        assert "extends" in doc, f"{name}.toml should extend a parent"


@pytest.mark.parametrize("name", [n for n, k in SHIPPED.items() if k != "baseline"])
def test_children_set_only_what_differs(name):
    """A shipped child file must not restate a value its parent already has."""
    doc = tomllib.loads((SCENARIO_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    parent = load_scenario(doc["extends"]).values()
    for table, body in doc.items():
        if table in ("extends", "meta", "leaders", "banks", "packages"):
            continue
        for key, value in body.items():
            if key in ("interest_subsidy_months", "fund_coverage", "fund_max_leverage",
                       "late_payment_start_month", "demand_shock_start_month", "demand_shock_months",
                       "rd_stress_start_month", "rate_rise_start_month"):
                continue  # restated on purpose: the policy's own defining values
            assert parent[key] != value, f"{name}.toml restates [{table}] {key} = {value!r} from its parent"


def test_baseline_writes_out_every_parameter_with_a_comment():
    text = (SCENARIO_DIR / "baseline.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    written = {k for table, body in doc.items() if isinstance(body, dict) for k in body}
    missing = [n for n in ModelParams.scalar_names() if n not in written]
    assert not missing, f"baseline.toml lacks {missing}: write every default out, with its source"
    for line in text.splitlines():
        m = re.match(r"^(\w+) = ", line)
        if m and m.group(1) in ModelParams.scalar_names() and m.group(1) not in (
                "demand_shock_start_month", "demand_shock_months", "rd_stress_start_month", "rate_rise_start_month"):
            assert "#" in line, f"baseline.toml: {m.group(1)} has no comment naming its source"


def test_baseline_matches_the_defaults_of_params_py():
    """baseline.toml and model/params.py must agree: if a default changes, change both."""
    a, b = load_scenario("baseline").canonical(), ModelParams().canonical()
    assert [k for k in a if a[k] != b[k]] == []
    assert load_scenario("baseline").stable_hash() == ModelParams().stable_hash()


def test_policy_values_follow_domain_section_6():
    assert load_scenario("interest_subsidy").interest_subsidy_pp == 1.5
    assert load_scenario("interest_subsidy").interest_subsidy_months == 24
    fund = load_scenario("risk_fund")
    assert fund.fund_coverage == 0.3 and fund.fund_max_leverage >= 10 and fund.fund_endowment_wan > 0
    assert load_scenario("bank_reward").bank_reward_wan_per_100m == 20.0
    assert load_scenario("premium_voucher").premium_voucher_share == 0.5
    assert load_scenario("npl_tolerance").npl_tolerance == 0.045
    late = load_scenario("leader_late_payment")
    assert (late.late_payer, late.late_payment_months) == ("jinnan", 6)
    mix = load_scenario("north_china_hydrogen_capital")
    assert set(mix.offered_packages) == set(mix.packages)
    assert mix.fund_endowment_wan > 0 and mix.interest_subsidy_pp == 1.5 and mix.premium_voucher_share == 0.5
    assert mix.bank_reward_wan_per_100m == 20.0 and mix.agency_enabled


def test_package_scenarios_change_only_offered_packages():
    base = load_scenario("baseline").values()
    for name in ("tech_credit", "insurance_loan", "order_credit"):
        p = load_scenario(name)
        diff = [k for k, v in p.values().items() if v != base[k]]
        assert diff == ["offered_packages"], name
        assert name in p.offered_packages and "collateral" in p.offered_packages


def test_stress_scenarios_set_only_the_stress_table():
    for name, kind in SHIPPED.items():
        if kind != "stress":
            continue
        doc = tomllib.loads((SCENARIO_DIR / f"{name}.toml").read_text(encoding="utf-8"))
        assert set(doc) <= {"extends", "meta", "stress"}, name


# --------------------------------------------------------------------------------------
# Inheritance, overrides, stress
# --------------------------------------------------------------------------------------


def test_chain_and_sources():
    res = resolve("risk_fund")
    assert res.chain == ["scenarios/baseline.toml", "scenarios/tech_credit.toml", "scenarios/risk_fund.toml"]
    src = scenario_sources("risk_fund")
    assert src["fund_endowment_wan"] == "scenarios/risk_fund.toml"
    assert src["offered_packages"] == "scenarios/tech_credit.toml"
    assert src["lpr_1y"] == "scenarios/baseline.toml"
    assert src["leaders.jinnan.payment_term_months"] == "scenarios/baseline.toml"


def test_overrides_flat_grouped_and_dotted():
    p = load_scenario("risk_fund", overrides={
        "fund_coverage": 0.4,
        "policy.interest_subsidy_pp": 1.0,
        "leaders.jinnan.payment_term_months": 4,
        "leaders.meijin.products.stations.unit_value_wan": 1000,
        "banks.shanxi_bank.capital_wan": 60000,
        "packages.tech_credit.fund_eligible": False,
    })
    assert p.fund_coverage == 0.4 and p.interest_subsidy_pp == 1.0
    leaders = {ld.name.split()[0].lower(): ld for ld in p.leaders}
    assert leaders["jinnan"].payment_term_months == 4
    assert leaders["meijin"].products["stations"].unit_value_wan == 1000.0
    assert leaders["meijin"].products["stations"].sme_share == 0.45  # merged, not replaced
    assert p.banks[0].capital_wan == 60000.0
    assert p.packages["tech_credit"].fund_eligible is False
    src = scenario_sources("risk_fund", {"fund_coverage": 0.4}, where="--set")
    assert src["fund_coverage"] == "--set"


def test_overrides_validate_with_their_source():
    e = error_of(load_scenario, "risk_fund", {"fund_coverage": 1.4})
    assert e.where == "keyword" and "fund_coverage" in str(e) and "out of range" in str(e)
    e = error_of(load_scenario, "risk_fund", {"fund_coverag": 0.4}, where="--set")
    assert str(e).startswith("--set: fund_coverag: unknown parameter (did you mean fund_coverage")
    e = error_of(load_scenario, "baseline", {"leaders.jinan.payment_term_months": 4})
    assert "did you mean jinnan" in str(e)
    e = error_of(load_scenario, "baseline", {"policy.fund_coverage": 0.4})
    assert "belongs in table [fund]" in str(e)


def test_user_file_extends_shipped_and_relative(tmp_path):
    write(tmp_path, "mine.toml", """
        extends = "risk_fund"
        [fund]
        fund_coverage = 0.4
        [leaders.jinnan]
        payment_term_months = 3
    """)
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "child.toml", """
        extends = "../mine.toml"
        [policy]
        premium_voucher_share = 0.25
    """)
    p = load_scenario(sub / "child.toml")
    assert p.fund_coverage == 0.4 and p.premium_voucher_share == 0.25
    assert p.offered_packages == ("collateral", "tech_credit")
    assert {ld.name: ld.payment_term_months for ld in p.leaders}["Jinnan Steel"] == 3
    assert load_scenario(str(sub / "child.toml")).stable_hash() == p.stable_hash()


def test_structured_tables_add_and_remove(tmp_path):
    path = write(tmp_path, "pengfei.toml", """
        extends = "baseline"
        [leaders.pengfei]
        name = "Pengfei Group"
        name_zh = "鹏飞集团"
        [leaders.pengfei.products.trucks]
        units_per_year = [200, 400]
        unit_value_wan = 120.0
        sme_share = 0.35
        segment_shares = { "用" = 0.5, "储" = 0.5 }
        [banks.joint_stock_branch]
        remove = true
        [packages.my_package]
        name_zh = "我的组合"
        instruments = ["order_financing", "rd_insurance"]
        [bank]
        offered_packages = ["collateral", "my_package"]
    """)
    p = load_scenario(path)
    assert [ld.name for ld in p.leaders] == ["Meijin Energy", "Jinnan Steel", "Pengfei Group"]
    assert len(p.banks) == 2
    assert p.packages["my_package"].instruments == ("order_financing", "rd_insurance")
    assert load_scenario(path, overrides={"late_payer": "pengfei"}).late_payer == "pengfei"


def test_stress_composes_with_any_policy_scenario():
    mix = load_scenario("north_china_hydrogen_capital")
    stressed = apply_stress(mix, "leader_late_payment")
    assert (stressed.late_payer, stressed.late_payment_months) == ("jinnan", 6)
    changed = [k for k, v in stressed.values().items() if v != mix.values()[k]]
    assert set(changed) == {"late_payer", "late_payment_months"}
    assert load_scenario("north_china_hydrogen_capital", stress="leader_late_payment") == stressed
    two = load_scenario("risk_fund", stress=["leader_late_payment", "rate_rise"])
    assert two.late_payer == "jinnan" and two.rate_rise_pp == 1.5
    # overrides still win over the stress
    assert load_scenario("risk_fund", {"late_payment_months": 3}, stress="leader_late_payment").late_payment_months == 3
    src = scenario_sources("risk_fund", stress="leader_late_payment")
    assert src["late_payer"] == "scenarios/leader_late_payment.toml"


def test_only_stress_files_overlay(tmp_path):
    e = error_of(apply_stress, load_scenario("baseline"), "risk_fund")
    assert "not a stress scenario" in str(e)
    path = write(tmp_path, "bad_stress.toml", """
        extends = "baseline"
        [meta]
        kind = "stress"
        [stress]
        rate_rise_pp = 1.0
        [bank]
        npl_tolerance = 0.04
    """)
    e = error_of(apply_stress, load_scenario("baseline"), path)
    assert "[bank]" in str(e) and "only [stress]" in str(e)


def test_params_object_round_trips_through_model_params_api():
    p = load_scenario("order_insurance_credit")
    assert p.replace().stable_hash() == p.stable_hash()
    # SolaraViz Reset rebuilds type(model.scenario)(**fields)
    again = type(p)(rng=p.rng, **p.values())
    assert again == p


# --------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_to_toml_round_trip_keeps_the_hash(name, tmp_path):
    # a value with more digits than any shipped one: the writer must keep every digit
    p = load_scenario(name, overrides={"fund_coverage": 0.35, "lpr_1y": 0.031234567891})
    path = tmp_path / "out.toml"
    path.write_text(to_toml(p), encoding="utf-8")
    q = load_scenario(path)
    assert q.stable_hash() == p.stable_hash()
    assert q == p


def test_round_trip_with_added_structures(tmp_path):
    p = load_scenario("baseline", overrides={
        "packages": {**load_scenario("baseline").packages},
        "leaders.jinnan.products.trucks.segment_shares": {"用": 0.7, "储": 0.3},
        "network_file": 'a "quoted" path\\x',
    })
    path = tmp_path / "out.toml"
    path.write_text(to_toml(p, meta={"title": "t", "kind": "policy"}), encoding="utf-8")
    assert load_scenario(path).stable_hash() == p.stable_hash()


def test_hash_is_stable_and_sensitive():
    assert load_scenario("risk_fund").stable_hash() == load_scenario("risk_fund").stable_hash()
    assert load_scenario("risk_fund").stable_hash() != load_scenario("risk_fund", {"fund_coverage": 0.31}).stable_hash()
    assert load_scenario("baseline", {"fund_coverage": 0.3}).stable_hash() == load_scenario("baseline").stable_hash()


# --------------------------------------------------------------------------------------
# Validation: one clear message per mistake
# --------------------------------------------------------------------------------------


def test_unknown_key_with_suggestion(tmp_path):
    path = write(tmp_path, "foo.toml", """
        extends = "baseline"
        [fund]
        fund_coverag = 0.4
    """)
    e = error_of(load_scenario, path)
    assert isinstance(e, ScenarioError)
    assert e.where.endswith("foo.toml")
    assert str(e).endswith("foo.toml: [fund] fund_coverag: unknown key (did you mean fund_coverage?)")
    assert "\n" not in str(e)


def test_key_in_the_wrong_table(tmp_path):
    path = write(tmp_path, "foo.toml", """
        [policy]
        fund_coverage = 0.4
    """)
    assert str(error_of(load_scenario, path)).endswith(
        "foo.toml: [policy] fund_coverage: belongs in table [fund], not [policy]")
    path = write(tmp_path, "top.toml", "fund_coverage = 0.4\n")
    assert "put it in table [fund]" in str(error_of(load_scenario, path))


def test_unknown_table(tmp_path):
    path = write(tmp_path, "foo.toml", """
        [fnd]
        fund_coverage = 0.4
    """)
    msg = str(error_of(load_scenario, path))
    assert "[fnd]: unknown table (did you mean fund" in msg


def test_unknown_structured_key(tmp_path):
    path = write(tmp_path, "foo.toml", """
        [leaders.jinnan]
        payment_term_month = 4
    """)
    msg = str(error_of(load_scenario, path))
    assert "[leaders.jinnan] payment_term_month: unknown key (did you mean payment_term_months?)" in msg
    path = write(tmp_path, "new.toml", """
        [leaders.jinan]
        payment_term_months = 4
    """)
    msg = str(error_of(load_scenario, path))
    assert "new leader 'jinan' (did you mean jinnan?) lacks name, name_zh, products" in msg


@pytest.mark.parametrize("text, expected", [
    ('[fund]\nfund_coverage = "0.4"\n', "[fund] fund_coverage: expected a number, got '0.4'"),
    ("[network]\nn_smes = 12.5\n", "[network] n_smes: expected a whole number, got 12.5"),
    ('[agency]\nagency_enabled = "yes"\n', "[agency] agency_enabled: expected true or false, got 'yes'"),
    ('[bank]\noffered_packages = "collateral"\n', "[bank] offered_packages: expected a list"),
    ("[leaders.jinnan]\npd_annual = true\n", "[leaders.jinnan] pd_annual: expected a number, got True"),
    ('[stress]\nlate_payer = 3\n', "[stress] late_payer: expected text, got 3"),
])
def test_wrong_type(tmp_path, text, expected):
    path = write(tmp_path, "foo.toml", text)
    assert expected in str(error_of(load_scenario, path))


@pytest.mark.parametrize("text, expected", [
    ("[fund]\nfund_coverage = 1.2\n", "[fund] fund_coverage: 1.2 is out of range; allowed 0 to 1 share"),
    ("[sme]\nlight_asset_share = -0.1\n", "[sme] light_asset_share: -0.1 is out of range; allowed 0 to 1 share"),
    ("[fund]\nfund_endowment_wan = -5.0\n", "[fund] fund_endowment_wan: -5.0 is out of range; allowed 0 to"),
    ("[bank]\nnpl_overdue_months = 0\n", "[bank] npl_overdue_months: 0 is out of range; allowed 1 to 12 months"),
    ("[banks.shanxi_bank]\ncapital_wan = -1\n", "[banks.shanxi_bank] capital_wan: -1.0 is out of range; allowed >= 0"),
    ("[leaders.jinnan]\nconfirm_share = 1.5\n", "[leaders.jinnan] confirm_share: 1.5 is out of range; allowed 0 to 1"),
    ('[leaders.jinnan.products.trucks]\nsegment_shares = { "用" = 0.5 }\n', "shares add up to 0.5; they must add up to 1"),
    ('[packages.tech_credit]\ninstruments = ["tech_credt"]\n', "unknown instrument 'tech_credt' (did you mean tech_credit?)"),
    ('[stress]\nlate_payer = "jinan"\n', "[stress] late_payer: unknown leader 'jinan'"),
    ('[bank]\noffered_packages = ["collateral", "tech_credt"]\n', "[bank] offered_packages: unknown package 'tech_credt' (did you mean tech_credit?)"),
    ('[insurer]\nloss_order = "pro-rata"\n', "[insurer] loss_order: 'pro-rata' is not allowed; choose one of insurer_first, pro_rata"),
])
def test_out_of_range_and_bad_choice(tmp_path, text, expected):
    path = write(tmp_path, "foo.toml", 'extends = "baseline"\n' + text)
    e = error_of(load_scenario, path)
    assert expected in str(e)
    assert e.where.endswith("foo.toml")


def test_replaced_packages_table_is_named_when_a_file_offers_a_dropped_package():
    # order_credit.toml offers order_credit; replacing the whole table by --set drops it: the
    # message must name the --set, not leave the file to take the blame alone
    only_collateral = {"collateral": {"name_zh": "抵押", "instruments": ["collateral"], "tiers": [1, 2],
                                      "leaders": ["all"]}}
    e = error_of(load_scenario, "order_credit", {"packages": only_collateral}, "--set")
    assert e.where.endswith("order_credit.toml")
    assert "unknown package 'order_credit'; defined: collateral (the packages table was replaced by --set)" in str(e)
    # when the same source set both, there is nothing to add
    e = error_of(load_scenario, "baseline", {"packages": only_collateral, "offered_packages": ["tech_credit"]}, "--set")
    assert str(e) == "--set: [bank] offered_packages: unknown package 'tech_credit'; defined: collateral"


def test_unknown_parent(tmp_path):
    path = write(tmp_path, "foo.toml", 'extends = "baseLine"\n')
    msg = str(error_of(load_scenario, path))
    assert msg.startswith(f"{path}: extends: unknown scenario 'baseLine' (did you mean baseline") or \
        "foo.toml: extends: unknown scenario 'baseLine' (did you mean baseline" in msg
    assert "available: " in msg
    path = write(tmp_path, "bar.toml", 'extends = "missing/parent.toml"\n')
    msg = str(error_of(load_scenario, path))
    assert "bar.toml: extends: file not found" in msg


def test_cycle_rejected(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "c.toml"\n')
    write(tmp_path, "c.toml", 'extends = "a.toml"\n')
    msg = str(error_of(load_scenario, tmp_path / "a.toml"))
    assert "inheritance cycle: " in msg and "a.toml -> " in msg
    write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    assert "inheritance cycle" in str(error_of(load_scenario, tmp_path / "self.toml"))


def test_a_file_that_is_not_utf8_gives_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'extends = "baseline"\n[meta]\ntitle = "caf\xe9"\n')
    e = error_of(load_scenario, path)
    assert e.where.endswith("latin1.toml")
    assert str(e).endswith("line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8")


@pytest.mark.parametrize("key, value, expected", [
    ("banks", 1, "banks: expected a table of entries keyed by their short key, got 1"),
    ("leaders", "x", "leaders: expected a table of entries keyed by their short key, got 'x'"),
    ("packages", 1, "packages: expected a table of entries keyed by their short key, got 1"),
    ("banks", [1], "banks: expected BankSpec objects or a table keyed by short key"),
])
def test_a_plain_value_for_a_whole_structured_table_gives_one_line(key, value, expected):
    assert str(error_of(load_scenario, "baseline", {key: value}, "--set")) == f"--set: {expected}"


def test_malformed_toml_gives_line(tmp_path):
    path = write(tmp_path, "foo.toml", '[fund]\nfund_coverage = 0.4\nfund_topup_wan_per_year = \n')
    e = error_of(load_scenario, path)
    assert e.where.endswith("foo.toml")
    assert "line 3: malformed TOML" in str(e)


def test_missing_file_and_unknown_name(tmp_path):
    msg = str(error_of(load_scenario, tmp_path / "nope.toml"))
    assert "nope.toml" in msg and "file not found" in msg
    msg = str(error_of(load_scenario, "risk_fnd"))
    assert "unknown scenario 'risk_fnd' (did you mean risk_fund?)" in msg
    assert "available: " in msg and "baseline" in msg


def test_meta_is_checked(tmp_path):
    path = write(tmp_path, "foo.toml", '[meta]\nkind = "polcy"\n')
    assert "[meta] kind: 'polcy' is not allowed" in str(error_of(load_scenario, path))
    path = write(tmp_path, "bar.toml", '[meta]\ntitel = "x"\n')
    assert "[meta] titel: unknown key (did you mean title?)" in str(error_of(load_scenario, path))


def test_leader_table_key_must_match_name(tmp_path):
    path = write(tmp_path, "foo.toml", """
        [leaders.jinnan]
        name = "Pengfei Group"
    """)
    assert "name the table [leaders.pengfei]" in str(error_of(load_scenario, path))


# --------------------------------------------------------------------------------------
# --set parsing and the CLI
# --------------------------------------------------------------------------------------


def test_parse_set_uses_toml_values():
    got = parse_set(["fund_coverage=0.4", "agency_enabled=true", 'late_payer="jinnan"', "late_payer2=jinnan",
                     "offered_packages=[\"collateral\", \"tech_credit\"]", "n_smes = 50", "x=[1,2]"])
    assert got == {"fund_coverage": 0.4, "agency_enabled": True, "late_payer": "jinnan", "late_payer2": "jinnan",
                   "offered_packages": ["collateral", "tech_credit"], "n_smes": 50, "x": [1, 2]}
    e = error_of(parse_set, ["fund_coverage"])
    assert e.where == "--set" and "expected key=value" in str(e)


def run_cli(capsys, *argv):
    from experiments.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_scenarios_lists_names_titles_kinds(capsys):
    code, out, err = run_cli(capsys, "scenarios")
    assert code == 0
    for name in SHIPPED:
        assert name in out
    assert "订单+保险+信贷" in out and "Order + insurance + credit package" in out


def test_cli_show_prints_values_units_and_sources(capsys):
    code, out, _ = run_cli(capsys, "show", "risk_fund", "--set", "fund_coverage=0.4", "--stress", "leader_late_payment")
    assert code == 0
    lines = {ln.split("=")[0].strip(): ln for ln in out.splitlines() if "=" in ln}
    assert "0.4" in lines["fund_coverage"] and "share" in lines["fund_coverage"] and "--set" in lines["fund_coverage"]
    assert "scenarios/risk_fund.toml" in lines["fund_endowment_wan"]
    assert "scenarios/tech_credit.toml (parent)" in lines["offered_packages"]
    assert "leader_late_payment.toml" in lines["late_payer"]
    assert load_scenario("risk_fund", {"fund_coverage": 0.4}, stress="leader_late_payment").stable_hash() in out


def test_cli_show_toml_round_trips(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "show", "north_china_hydrogen_capital", "--toml",
                           "--set", "leaders.jinnan.payment_term_months=4")
    assert code == 0
    path = tmp_path / "resolved.toml"
    path.write_text(out, encoding="utf-8")
    expected = load_scenario("north_china_hydrogen_capital", {"leaders.jinnan.payment_term_months": 4})
    assert load_scenario(path).stable_hash() == expected.stable_hash()


def test_cli_errors_are_one_line_exit_2(capsys, tmp_path):
    path = write(tmp_path, "foo.toml", "[fund]\nfund_coverag = 0.4\n")
    code, out, err = run_cli(capsys, "show", str(path))
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "foo.toml: [fund] fund_coverag: unknown key (did you mean fund_coverage?)" in err
    code, _, err = run_cli(capsys, "show", "baseline", "--set", "fund_coverage=2")
    assert code == 2 and "--set: fund_coverage: 2.0 is out of range" in err
    code, _, err = run_cli(capsys, "show", "nope")
    assert code == 2 and "unknown scenario 'nope'" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["show", "run"])
def test_cli_unknown_stress_names_the_stress_option(command, capsys):
    """An unknown --stress once read "command line: scenario: unknown scenario", as if the
    positional scenario name were wrong."""
    code, _, err = run_cli(capsys, command, "baseline", "--stress", "nosuch")
    assert code == 2 and err.strip().count("\n") == 0
    assert err.startswith("h2chain: error: command line: --stress: unknown scenario 'nosuch'; available: ")
    # the positional name keeps its message
    code, _, err = run_cli(capsys, command, "nosuch", "--stress", "leader_late_payment")
    assert code == 2 and err.startswith("h2chain: error: command line: scenario: unknown scenario 'nosuch'")


def test_unknown_stress_in_python_names_the_scenario_as_before():
    e = error_of(load_scenario, "baseline", stress="nosuch")
    assert e.where == "keyword" and e.key == "scenario"


# --------------------------------------------------------------------------------------
# With the model (skipped until the simulation core is merged)
# --------------------------------------------------------------------------------------


def _model_class():
    import model

    cls = getattr(model, "HydrogenChainModel", None)
    if cls is None:
        pytest.skip("the simulation core (model.HydrogenChainModel) is not merged yet")
    return cls


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_scenario_runs_12_months(name):
    cls = _model_class()
    m = cls(scenario=name, rng=11, n_smes=40, plan_scale=40 / 300)
    m.run(12)
    assert m.month == 12
    m.ledger.check()
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 13
    assert m.summary()


def test_model_keywords_override_the_file():
    cls = _model_class()
    m = cls(scenario="risk_fund", rng=3, fund_coverage=0.4, n_smes=30)
    assert m.params.fund_coverage == 0.4
    assert m.params.fund_endowment_wan == load_scenario("risk_fund").fund_endowment_wan
    assert m.params.stable_hash() == load_scenario("risk_fund", {"fund_coverage": 0.4, "n_smes": 30}).stable_hash()
    with pytest.raises(ParameterError) as info:
        cls(scenario="risk_fund", rng=3, fund_coverag=0.4)
    assert "fund_coverag" in str(info.value) and "fund_coverage" in str(info.value)


def test_model_accepts_a_user_file_and_a_params_object(tmp_path):
    cls = _model_class()
    path = write(tmp_path, "mine.toml", 'extends = "order_credit"\n[network]\nn_smes = 25\n')
    m = cls(scenario=str(path), rng=1)
    assert m.params.n_smes == 25 and "order_credit" in m.params.offered_packages
    p = load_scenario("order_credit", stress="leader_late_payment")
    m = cls(scenario=p.replace(n_smes=25), rng=1)
    assert m.params.late_payer == "jinnan"


# --------------------------------------------------------------------------------------
# docs/ODD.md stays true to the code
# --------------------------------------------------------------------------------------


def test_odd_generated_tables_are_current():
    from scenarios.doc import fill

    path = SCENARIO_DIR.parent / "docs" / "ODD.md"
    text = path.read_text(encoding="utf-8")
    assert fill(text) == text, "docs/ODD.md is stale: run `python -m scenarios.doc --write docs/ODD.md`"


def test_odd_names_only_real_parameters():
    """Every parameter is documented, and every `snake_case` name the ODD quotes exists in the
    code (model/, agents/, scenarios/), so the description cannot drift from it silently."""
    root = SCENARIO_DIR.parent
    text = (root / "docs" / "ODD.md").read_text(encoding="utf-8")
    for name in ModelParams.scalar_names():
        assert f"`{name}`" in text, f"docs/ODD.md does not mention {name}"
    source = "\n".join(f.read_text(encoding="utf-8") for d in ("model", "agents", "scenarios")
                       for pattern in ("*.py", "*.toml") for f in (root / d).glob(pattern))
    identifiers = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source)) | set(SHIPPED)
    quoted = set(re.findall(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`", text))
    missing = sorted(w for w in quoted if w not in identifiers)
    assert not missing, f"docs/ODD.md quotes names the code does not have: {missing}"


def test_top_level_mistakes(tmp_path):
    path = write(tmp_path, "a.toml", 'extend = "baseline"\n')
    assert "a.toml: extend: unknown key (did you mean extends?)" in str(error_of(load_scenario, path))
    path = write(tmp_path, "b.toml", 'title = "mine"\n')
    assert "b.toml: title: belongs in table [meta]" in str(error_of(load_scenario, path))


def test_documented_example_loads():
    path = SCENARIO_DIR.parent / "docs" / "examples" / "full_mix_bigger_fund.toml"
    p = load_scenario(path)
    mix = load_scenario("north_china_hydrogen_capital")
    assert p.fund_endowment_wan == 2 * mix.fund_endowment_wan
    assert p.packages["order_credit"].fund_eligible and not mix.packages["order_credit"].fund_eligible


# each stress lever and the parameter that says when it starts
STRESS_STARTS = {"demand_shock_share": "demand_shock_start_month", "rd_success_multiplier": "rd_stress_start_month",
                 "rate_rise_pp": "rate_rise_start_month", "late_payer": "late_payment_start_month"}


@pytest.mark.parametrize("name", sorted(n for n in SHIPPED if scenario_meta(n).get("kind") == "stress"))
def test_each_stress_changes_nothing_before_its_start_and_something_after(name):
    """With common random numbers a stressed run equals the baseline month by month until the
    stress starts, and differs afterwards (the 12-month scenario test never reached month 13,
    where every shipped stress starts, so a stress that did nothing went unnoticed)."""
    cls = _model_class()
    stressed = load_scenario("baseline", {"n_smes": 60, "plan_scale": 0.2}, stress=name)
    base = load_scenario("baseline", {"n_smes": 60, "plan_scale": 0.2})
    start = min(getattr(stressed, when) for lever, when in STRESS_STARTS.items()
                if getattr(stressed, lever) != getattr(base, lever))
    frames = [cls(scenario=p, rng=5).run(start + 18).datacollector.get_model_vars_dataframe() for p in (base, stressed)]
    assert frames[0].iloc[:start].equals(frames[1].iloc[:start]), f"{name} changed results before month {start}"
    assert not frames[0].iloc[start:].equals(frames[1].iloc[start:]), f"{name} changed nothing after month {start}"


def test_a_later_set_of_the_same_key_wins():
    from scenarios.setparse import parse_set

    assert parse_set(["fund_coverage=0.1", "fund_coverage=0.4"])["fund_coverage"] == 0.4
    assert load_scenario("baseline", parse_set(["fund_coverage=0.1", "fund_coverage=0.4"]), "--set").fund_coverage == 0.4
