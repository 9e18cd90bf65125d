"""Serialise a `ModelParams` back to a scenario TOML file that loads to the same hash.

`to_toml(params)` writes every parameter (no `extends`), grouped in the tables of
`model/params.py`, so the file alone says exactly what produced a result.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from model.params import ModelParams

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """One TOML value (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(params: ModelParams, *, meta: Mapping[str, Any] | None = None, header: str | None = None) -> str:
    """The complete TOML text of `params` (every parameter; loads to the same stable hash)."""
    plain = params.canonical()
    lines: list[str] = []
    lines.append(f"# h2chain parameters, stable hash {params.stable_hash()}")
    if header:
        lines.extend(f"# {line}" for line in header.splitlines())
    if meta:
        lines += ["", "[meta]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in meta.items()]
    specs = ModelParams.specs()
    for group, names in ModelParams.groups().items():
        if group in ("leaders", "banks", "packages"):
            continue
        lines += ["", f"[{group}]"]
        for name in names:
            unit = specs[name].unit
            comment = f"  # {unit}" if unit and unit not in ("path", "names", "choice", "bool") else ""
            lines.append(f"{name} = {toml_value(plain[name])}{comment}")
    for kind in ("leaders", "banks", "packages"):
        for key, entry in plain[kind].items():
            lines += ["", f"[{kind}.{toml_key(key)}]"]
            products = entry.get("products") if kind == "leaders" else None
            for fname, v in entry.items():
                if fname == "products":
                    continue
                lines.append(f"{toml_key(fname)} = {toml_value(v)}")
            for pname, prod in (products or {}).items():
                lines += ["", f"[{kind}.{toml_key(key)}.products.{toml_key(pname)}]"]
                lines += [f"{toml_key(f)} = {toml_value(v)}" for f, v in prod.items()]
    return "\n".join(lines) + "\n"
