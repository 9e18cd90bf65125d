"""Scenario loading and `--set` parsing for the batch commands.

The scenario library (`scenarios.load_scenario`, `scenarios.apply_stress`,
`scenarios.parse_set`, `[meta]` titles) is the single implementation; this module only
calls it. While that package is not part of the build, a small fallback keeps the batch
commands usable with the default parameters ("baseline") so experiments can be tested.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from model.params import ModelParams, ParameterError, close_matches


def _scenarios():
    try:
        import scenarios
    except ModuleNotFoundError as exc:
        if exc.name == "scenarios":
            return None
        raise
    return scenarios


def parse_set(items: Iterable[str] | None) -> dict[str, Any]:
    """`["k=v", ...]` -> {k: value}; values are TOML values (bare words are text)."""
    items = list(items or [])
    lib = _scenarios()
    if lib is not None and hasattr(lib, "parse_set"):
        return dict(lib.parse_set(items))
    out: dict[str, Any] = {}
    specs = ModelParams.specs()
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(item, "expected key=value", "--set")
        if key not in specs:
            raise ParameterError(key, f"unknown parameter{close_matches(key, specs)}", "--set")
        out[key] = toml_value(text.strip())
    # check types and ranges now, naming --set as the source
    types = ModelParams.types()
    from model.params import check_scalar

    for key, value in out.items():
        spec = specs[key]
        if spec.group not in ("leaders", "banks", "packages"):
            out[key] = check_scalar(key, value, types[key], spec, "--set")
    return out


def toml_value(text: str) -> Any:
    """A TOML value (`0.4`, `true`, `["a", "b"]`, `"x"`); anything else is taken as text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def scenario_names() -> list[str]:
    lib = _scenarios()
    if lib is not None and hasattr(lib, "list_scenarios"):
        return [row[0] if isinstance(row, (tuple, list)) else getattr(row, "name", row) for row in lib.list_scenarios()]
    return ["baseline"]


def load(name: str, overrides: Mapping[str, Any] | None = None, stress: str | None = None) -> ModelParams:
    """The resolved parameters of scenario `name` with `overrides`, and a stress if named."""
    overrides = dict(overrides or {})
    lib = _scenarios()
    if lib is not None:
        # overrides come from --set, names from the command line: messages say which
        if hasattr(lib, "resolve"):
            return lib.resolve(name, overrides, where="--set", stress=stress or None, name_where="command line").params
        return lib.load_scenario(name, overrides=overrides, where="--set", stress=stress or None)
    if name != "baseline":
        from experiments.cli import UserError

        raise UserError(f"unknown scenario {name!r}: the scenario library is not installed; only 'baseline' is available")
    if stress:
        from experiments.cli import UserError

        raise UserError(f"unknown stress {stress!r}: the scenario library is not installed")
    return ModelParams(**overrides)


def title(name: str, lang: str = "en") -> str:
    """A scenario's display title from its `[meta]` table, falling back to the name."""
    lib = _scenarios()
    if lib is None:
        return name
    for fn_name in ("scenario_meta", "load_meta", "meta"):
        fn = getattr(lib, fn_name, None)
        if fn is None:
            continue
        try:
            meta = fn(name)
        except Exception:  # noqa: BLE001 - a title is never worth failing a figure
            return name
        meta = meta if isinstance(meta, Mapping) else getattr(meta, "__dict__", {})
        keys = ("title_zh", "name_zh", "title") if lang == "zh" else ("title", "title_en", "name")
        for k in keys:
            if meta.get(k):
                return str(meta[k])
        return name
    return name
