"""Scenario loading, `--set` parsing and titles for the batch commands.

A thin layer over the scenario library (`scenarios`), the single implementation shared
with `h2chain run`: this module only fixes how the batch commands call it (overrides come
from `--set`, names from the command line, so error messages say so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import scenarios
from model.params import ModelParams


def parse_set(items: Iterable[str] | None) -> dict[str, Any]:
    """`["k=v", ...]` -> {k: value}; values in TOML syntax (bare words are text).

    Keys and values are checked when the scenario is loaded (`load`), naming --set.
    """
    return dict(scenarios.parse_set(list(items or [])))


def scenario_names() -> list[str]:
    return [row[0] for row in scenarios.list_scenarios()]


def plain_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`--set` values as JSON can hold them (tuples as lists), for records of what was run.
    Keys are written in one spelling (`fund.fund_coverage` as `fund_coverage`), so the same
    experiment is recognised however it was typed."""
    from experiments.design import scalar_name

    def plain(v):
        return [plain(x) for x in v] if isinstance(v, tuple) else v
    return {scalar_name(k): plain(v) for k, v in overrides.items()}


def stress_value(names: list[str] | None) -> str | list[str] | None:
    """Repeated `--stress` options as an experiment records them: None, one name, or the
    list in order (one name stays a string, so experiments stored before `--stress` was
    repeatable resume as they are)."""
    if not names:
        return None
    return names[0] if len(names) == 1 else list(names)


def load(name: str, overrides: Mapping[str, Any] | None = None, stress: str | list[str] | None = None) -> ModelParams:
    """The resolved parameters of scenario `name` (or a TOML path) with `overrides` and the
    stress overlays (one name or a list, applied in order)."""
    return scenarios.resolve(name, dict(overrides or {}), where="--set", stress=stress or None,
                             name_where="command line").params


def plan_scale_note(changed: Iterable[str], params: ModelParams, *, swept: bool = False) -> str | None:
    """A note for stderr when a command changes `n_smes` (by --set, or by --param when
    `swept`) but not `plan_scale`: the leaders' plans are written for the default number of
    SMEs, so orders per SME then change with n_smes, which is rarely what is meant."""
    from experiments.design import scalar_name

    keys = {scalar_name(k) for k in changed}
    if "n_smes" not in keys or "plan_scale" in keys:
        return None
    written_for = ModelParams().n_smes
    keep = (f"a sweep cannot tie plan_scale to n_smes: to keep them, run each size with --set "
            f"n_smes=N --set plan_scale=N/{written_for}" if swept
            else f"to keep them, add --set plan_scale={params.n_smes / written_for:g}")
    return (f"h2chain: note: n_smes is changed but plan_scale is not: the leaders' plans are written for "
            f"{written_for} SMEs, so orders per SME change with n_smes ({keep})")


def title(name: str, lang: str = "en") -> str:
    """A scenario's display title from its `[meta]` table, falling back to the name."""
    try:
        meta = scenarios.scenario_meta(name)
    except Exception:  # noqa: BLE001 - a title is never worth failing a figure
        return name
    key = "title_zh" if lang == "zh" else "title"
    return str(meta.get(key) or meta.get("title") or name)
