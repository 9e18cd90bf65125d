"""The scenario library: named, validated TOML files that map onto `ModelParams`.

    from scenarios import load_scenario, list_scenarios
    p = load_scenario("risk_fund", overrides={"fund_coverage": 0.4})
    p = load_scenario("north_china_hydrogen_capital", stress="leader_late_payment")
    p = load_scenario("my_runs/variant.toml")          # a researcher's own file
    text = to_toml(p)                                  # loads back to the same stable_hash()

See `scenarios/baseline.toml` for the format and `docs/ODD.md` for what the values mean.
"""

from scenarios.loader import (
    KINDS,
    SCENARIO_DIR,
    Resolution,
    ScenarioError,
    apply_stress,
    list_scenarios,
    load_scenario,
    resolve,
    scenario_meta,
    scenario_sources,
    shipped_names,
)
from scenarios.setparse import parse_set
from scenarios.writer import to_toml

__all__ = [
    "KINDS",
    "SCENARIO_DIR",
    "Resolution",
    "ScenarioError",
    "apply_stress",
    "list_scenarios",
    "load_scenario",
    "parse_set",
    "resolve",
    "scenario_meta",
    "scenario_sources",
    "shipped_names",
    "to_toml",
]
