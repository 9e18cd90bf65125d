"""`--set key=value` parsing shared by every command that takes overrides."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

from model.params import ParameterError


def parse_value(text: str) -> Any:
    """A value in TOML syntax (`0.4`, `true`, `"jinnan"`, `[1, 2]`, `{ "用" = 1.0 }`); text
    that is not a TOML value is taken as a plain string (so `late_payer=jinnan` works)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def parse_set(items: Iterable[str] | None) -> dict[str, Any]:
    """`["fund_coverage=0.4", "leaders.jinnan.payment_term_months=4"]` -> overrides dict.

    Keys are flat parameter names or dotted paths, as in `load_scenario(overrides=...)`.
    A later setting of the same key wins.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(item, "expected key=value, e.g. --set fund_coverage=0.4", "--set")
        out[key] = parse_value(text.strip())
    return out
