"""Golden short runs: four small runs whose end-of-run summaries are pinned, so a change of
results that nobody meant shows up as a failing test (the rule tests check mechanisms; these
check that the whole model still gives the numbers it gave).

A deliberate change of the model's rules changes them too. Then regenerate the file and say
in the commit which figures moved and why:

    H2CHAIN_UPDATE_GOLDEN=1 python -m pytest -q tests/test_golden.py

Tolerance: relative 1e-9 (the same code on the same Python and numpy gives identical
numbers; the margin only absorbs a different summation order in a library update).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from model import HydrogenChainModel
from scenarios import load_scenario

GOLDEN = Path(__file__).resolve().parent / "golden" / "summaries.json"
N_SMES, MONTHS, SEED = 60, 24, 7
CASES = [  # (scenario, stress)
    ("baseline", None),
    ("north_china_hydrogen_capital", None),
    ("order_credit", "leader_late_payment"),
    ("risk_fund", "rd_failure_wave"),
]


def _run(scenario: str, stress: str | None) -> dict:
    params = load_scenario(scenario, {"n_smes": N_SMES, "plan_scale": N_SMES / 300}, stress=stress)
    summary = HydrogenChainModel(scenario=params, rng=SEED).run(MONTHS).summary()
    return {"params_hash": params.stable_hash(), "summary": summary}


def _key(scenario: str, stress: str | None) -> str:
    return f"{scenario}+{stress}" if stress else scenario


def test_golden_file_covers_the_cases():
    if os.environ.get("H2CHAIN_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        data = {_key(s, st): _run(s, st) for s, st in CASES}
        GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(_key(s, st) for s, st in CASES)


@pytest.mark.parametrize("scenario,stress", CASES, ids=[_key(s, st) for s, st in CASES])
def test_short_run_gives_the_pinned_summary(scenario, stress):
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[_key(scenario, stress)]
    got = _run(scenario, stress)
    assert got["params_hash"] == expected["params_hash"], "the scenario's parameters changed"
    assert set(got["summary"]) == set(expected["summary"]), "the summary's keys changed"
    moved = []
    for k, want in expected["summary"].items():
        have = got["summary"][k]
        if want is None or have is None:
            same = want is None and have is None
        else:
            same = math.isclose(have, want, rel_tol=1e-9, abs_tol=1e-9)
        if not same:
            moved.append(f"{k}: {want} -> {have}")
    assert not moved, ("results changed (if meant, regenerate: H2CHAIN_UPDATE_GOLDEN=1 python -m pytest "
                       "tests/test_golden.py, and say why in the commit):\n  " + "\n  ".join(moved))
