"""Read scenario TOML files, resolve `extends` chains, validate, and build `ModelParams`.

A scenario file is data: tables mirror the parameter groups of `model/params.py`
(`[market]`, `[bank]`, `[fund]`, ...), keys inside a table are the flat parameter names,
`[leaders.<key>]`, `[banks.<key>]` and `[packages.<name>]` hold the structured parameters,
and `[meta]` says what the scenario is and where its values come from. A file sets only
what differs from its parent (`extends = "baseline"`); a file without `extends` starts from
the defaults in `model/params.py`.

Resolution order: the parent chain from the root down, then stress overlays
(`apply_stress`), then overrides (keywords or `--set`). Every value remembers where it came
from (`Resolution.sources`), which `h2chain show` prints.

Every mistake raises one `ScenarioError` (a `ParameterError`) whose `where` is the file,
e.g. `scenarios/foo.toml: [fund] fund_coverag: unknown key (did you mean fund_coverage?)`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from model.params import (
    INSTRUMENTS,
    BankSpec,
    LeaderSpec,
    ModelParams,
    PackageSpec,
    ParameterError,
    ProductSpec,
    check_scalar,
    close_matches,
    to_plain,
)

SCENARIO_DIR = Path(__file__).resolve().parent
KINDS = ("baseline", "package", "policy", "stress")
META_KEYS = ("title", "title_zh", "description", "kind", "sources", "compare_with")
STRUCTURED = ("leaders", "banks", "packages")
DEFAULT_LABEL = "model/params.py default"
# The `where` of scenario names typed on the command line; stress names there come from
# `--stress` (in `show`, `run`, `compare` and `sweep` alike), which messages then name.
COMMAND_LINE = "command line"
STRESS_OPTION = "--stress"

KPI_CHOICES = ("", "trucks", "stations")
SPEC_CLASSES = {"leaders": LeaderSpec, "banks": BankSpec, "packages": PackageSpec}


class ScenarioError(ParameterError):
    """A mistake in a scenario file, an override or a scenario name (one line)."""


# ---------------------------------------------------------------------------------------
# Locating files
# ---------------------------------------------------------------------------------------


def shipped_names() -> list[str]:
    """Names of the scenario files shipped in this package."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def label(path: Path) -> str:
    """How a file is named in messages: `scenarios/x.toml` for shipped files, else the path."""
    path = Path(path)
    if path.parent == SCENARIO_DIR:
        return f"scenarios/{path.name}"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def looks_like_path(ref: str | os.PathLike) -> bool:
    if isinstance(ref, os.PathLike):
        return True
    return "/" in ref or os.sep in ref or ref.endswith(".toml")


def locate(ref: str | os.PathLike, *, relative_to: Path | None = None, where: str = "keyword",
           key: str = "scenario") -> Path:
    """The file a scenario name or path refers to.

    A bare name (`"risk_fund"`) is a shipped scenario; anything with a slash or ending in
    `.toml` is a path, relative to the current directory or, in `extends`, to the file
    that names it.
    """
    if not isinstance(ref, (str, os.PathLike)):
        raise ScenarioError(key, f"expected a scenario name or a path, got {ref!r}", where)
    if looks_like_path(ref):
        path = Path(ref).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.is_file():
            raise ScenarioError(key, f"file not found: {path}", where if relative_to else str(ref))
        return path.resolve()
    path = SCENARIO_DIR / f"{ref}.toml"
    if not path.is_file():
        names = shipped_names()
        raise ScenarioError(key, f"unknown scenario {str(ref)!r}{close_matches(str(ref), names)}; "
                            f"available: {', '.join(names)} (or give a path to a .toml file)", where)
    return path


def read_toml(path: Path) -> dict[str, Any]:
    where = label(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        key = f"line {m.group(1)}" if m else "TOML"
        raise ScenarioError(key, f"malformed TOML: {exc}", where) from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; a file saved as GBK or Latin-1 is not
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"line {line}", f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                            f"save the file as UTF-8", where) from None
    except OSError as exc:
        raise ScenarioError("scenario", f"cannot read file: {exc.strerror}", where) from None


# ---------------------------------------------------------------------------------------
# The resolved state: flat scalars + plain structured tables + where each came from
# ---------------------------------------------------------------------------------------


@dataclass
class Resolution:
    """A resolved scenario before (and after) it becomes a `ModelParams`."""

    scalars: dict[str, Any]
    structured: dict[str, dict[str, Any]]  # leaders/banks/packages: key -> plain dict
    sources: dict[str, str]  # parameter path -> file label, "--set", "keyword", default label
    chain: list[str] = field(default_factory=list)  # file labels, root first
    meta: dict[str, Any] = field(default_factory=dict)  # the leaf file's [meta]
    stress: list[str] = field(default_factory=list)  # stress files overlaid
    params: ModelParams | None = None


def default_resolution() -> Resolution:
    defaults = ModelParams()
    plain = defaults.canonical()
    scalars = {n: defaults.values()[n] for n in ModelParams.scalar_names()}
    structured = {name: copy.deepcopy(plain[name]) for name in STRUCTURED}
    sources = {n: DEFAULT_LABEL for n in scalars}
    for name, table in structured.items():
        for path in _leaf_paths(name, table):
            sources[path] = DEFAULT_LABEL
    return Resolution(scalars=scalars, structured=structured, sources=sources)


def _leaf_paths(prefix: str, value: Any):
    """Dotted paths of the leaves of a structured table (segment_shares counts as a leaf)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(v, Mapping) and k != "segment_shares":
                yield from _leaf_paths(f"{prefix}.{k}", v)
            else:
                yield f"{prefix}.{k}"


# ---------------------------------------------------------------------------------------
# Validating and applying one file's tables
# ---------------------------------------------------------------------------------------


def _group_of(name: str) -> str | None:
    spec = ModelParams.specs().get(name)
    return spec.group if spec else None


def _tables() -> list[str]:
    """The tables of scalar parameters ([market], [bank], ...)."""
    return [g for g in ModelParams.groups() if g not in STRUCTURED]


def check_value(name: str, value: Any, where: str, key: str | None = None) -> Any:
    """Check and coerce one scalar parameter; `key` is how the message names it."""
    spec = ModelParams.specs()[name]
    typ = _param_types()[name]
    key = key or name
    if typ is tuple and isinstance(value, (list, tuple)):
        for item in value:
            if not isinstance(item, str):
                raise ScenarioError(key, f"expected a list of names, got {value!r}", where)
    try:
        return check_scalar(key, value, typ, spec, where)
    except ParameterError as exc:
        raise ScenarioError(exc.key, _range_text(exc.problem, spec), where) from None


def _range_text(problem: str, spec) -> str:
    # check_scalar prints "allowed 0 to None" for half-open ranges; say it plainly.
    if spec.lo is not None and spec.hi is None:
        problem = problem.replace(f"allowed {spec.lo:g} to None", f"allowed >= {spec.lo:g}")
    return problem


def apply_file(res: Resolution, doc: dict[str, Any], where: str) -> None:
    """Validate one parsed file and merge its tables onto `res` (in place)."""
    tables = _tables()
    for top, value in doc.items():
        if top in ("extends", "meta"):
            continue
        if top in STRUCTURED:
            if not isinstance(value, dict):
                raise ScenarioError(top, f"expected tables [{top}.<key>], got a value", where)
            for key, table in value.items():
                _apply_structured(res, top, key, table, where)
            continue
        if top in tables:
            if not isinstance(value, dict):
                raise ScenarioError(top, f"expected a table [{top}], got a value", where)
            for name, v in value.items():
                _apply_scalar(res, top, name, v, where)
            continue
        group = _group_of(top)
        if group is not None:
            raise ScenarioError(top, f"a parameter outside any table; put it in table [{group}]", where)
        all_tables = ["meta", *tables, *STRUCTURED]
        if isinstance(value, dict):
            raise ScenarioError(f"[{top}]", f"unknown table{close_matches(top, all_tables)}; tables: "
                                f"{', '.join(all_tables)}", where)
        if top in META_KEYS:
            raise ScenarioError(top, "belongs in table [meta]", where)
        hint = close_matches(top, ["extends", *META_KEYS])
        raise ScenarioError(top, f"unknown key{hint}; only `extends` stands outside a table "
                            f"(titles and sources go in [meta])", where)


def _apply_scalar(res: Resolution, table: str, name: str, value: Any, where: str) -> None:
    key = f"[{table}] {name}"
    group = _group_of(name)
    if group is None:
        in_table = [n for n in ModelParams.groups()[table]]
        hint = close_matches(name, in_table) or close_matches(name, ModelParams.scalar_names())
        raise ScenarioError(key, f"unknown key{hint}", where)
    if group in STRUCTURED:
        raise ScenarioError(key, f"{name} is a set of tables: write [{name}.<key>] tables", where)
    if group != table:
        raise ScenarioError(key, f"belongs in table [{group}], not [{table}]", where)
    res.scalars[name] = check_value(name, value, where, key)
    res.sources[name] = where


@cache
def _param_types() -> dict[str, type]:
    return ModelParams.types()


@cache
def _field_types(cls) -> dict[str, Any]:
    return get_type_hints(cls)


def _check_field(cls, table_key: str, fname: str, value: Any, where: str) -> Any:
    """Check and coerce one field of a structured spec."""
    key = f"[{table_key}] {fname}"
    hint = _field_types(cls)[fname]
    origin = get_origin(hint)
    if hint is str:
        if not isinstance(value, str):
            raise ScenarioError(key, f"expected text, got {value!r}", where)
        if fname == "kpi" and value not in KPI_CHOICES:
            raise ScenarioError(key, f"{value!r} is not allowed; choose one of {', '.join(map(repr, KPI_CHOICES))}", where)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ScenarioError(key, f"expected true or false, got {value!r}", where)
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(key, f"expected a number, got {value!r}", where)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ScenarioError(key, f"expected a whole number, got {value!r}", where)
            value = int(value)
        else:
            value = float(value)
        return value  # its range (FIELD_RANGES) is ModelParams.validate's, for every route in
    if origin is tuple or hint is tuple:
        if isinstance(value, (str, dict)) or not isinstance(value, (list, tuple)):
            raise ScenarioError(key, f"expected a list, got {value!r}", where)
        return _check_list(table_key, fname, list(value), where)
    if origin in (Mapping, dict) or hint is Mapping:
        if fname == "segment_shares":
            return _check_segment_shares(key, value, where)
        if not isinstance(value, dict):
            raise ScenarioError(key, f"expected a table, got {value!r}", where)
        return value
    return value


def _check_list(table_key: str, fname: str, items: list, where: str) -> list:
    key = f"[{table_key}] {fname}"
    if fname == "units_per_year":
        if not items:
            raise ScenarioError(key, "expected at least one yearly value", where)
        for v in items:  # finite and >= 0: ModelParams.validate
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ScenarioError(key, f"expected numbers >= 0, got {v!r}", where)
        return items
    if fname == "tiers":
        for v in items:
            if v not in (1, 2) or isinstance(v, bool):
                raise ScenarioError(key, f"{v!r} is not a tier; allowed: 1, 2", where)
        return items
    for v in items:
        if not isinstance(v, str):
            raise ScenarioError(key, f"expected a list of names, got {v!r}", where)
    if fname == "instruments":
        for v in items:
            if v not in INSTRUMENTS:
                raise ScenarioError(key, f"unknown instrument {v!r}{close_matches(v, INSTRUMENTS)}; "
                                    f"allowed: {', '.join(INSTRUMENTS)}", where)
    return items


def _check_segment_shares(key: str, value: Any, where: str) -> dict:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(key, f"expected a table segment -> share, e.g. {{\"用\" = 0.6, \"储\" = 0.4}}, got {value!r}", where)
    out = {}
    for seg, share in value.items():  # segments, ranges and the sum: ModelParams.validate
        if isinstance(share, bool) or not isinstance(share, (int, float)):
            raise ScenarioError(key, f"share of {seg} must be a number from 0 to 1, got {share!r}", where)
        out[seg] = float(share)
    return out


def _required(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


def _spec_key(kind: str, name: str) -> str:
    if kind == "leaders":
        return name.split()[0].lower()
    if kind == "banks":
        return name.lower().replace(" ", "_").replace("-", "_")
    return name


def _apply_structured(res: Resolution, kind: str, key: str, table: Any, where: str) -> None:
    """Merge `[kind.key]` key-by-key onto the parent's entry (or create a new one)."""
    path = f"{kind}.{key}"
    if not isinstance(table, dict):
        raise ScenarioError(path, f"expected a table [{path}], got a value", where)
    cls = SPEC_CLASSES[kind]
    fields = [f.name for f in dataclasses.fields(cls)]
    existing = res.structured[kind]
    if table.get("remove") is True and len(table) == 1:
        if key not in existing:
            raise ScenarioError(f"[{path}] remove", f"no {kind[:-1]} {key!r} to remove{close_matches(key, existing)}", where)
        del existing[key]
        for p in [p for p in res.sources if p.startswith(path + ".")]:
            del res.sources[p]
        return
    entry = existing.get(key)
    new = entry is None
    if new:
        missing = [f for f in _required(cls) if f not in table]
        if missing:
            have = ", ".join(existing) or "none"
            raise ScenarioError(f"[{path}]", f"new {kind[:-1]} {key!r}{close_matches(key, existing)} lacks "
                                f"{', '.join(missing)} (existing: {have}; to change one, use its key)", where)
        entry = {}
    merged = dict(entry)
    for fname, value in table.items():
        if fname not in fields:
            extra = "; to drop the entry write only `remove = true`" if fname == "remove" else ""
            raise ScenarioError(f"[{path}] {fname}", f"unknown key{close_matches(fname, fields)}; "
                                f"allowed: {', '.join(fields)}{extra}", where)
        if fname == "products":
            merged["products"] = _merge_products(res, path, dict(entry.get("products", {})), value, where)
            continue
        merged[fname] = _check_field(cls, path, fname, value, where)
        res.sources[f"{path}.{fname}"] = where
    if kind in ("leaders", "banks") and "name" in table:
        derived = _spec_key(kind, merged["name"])
        if derived != key:
            raise ScenarioError(f"[{path}] name", f"the name {merged['name']!r} gives the key {derived!r}; "
                                f"name the table [{kind}.{derived}]", where)
    existing[key] = merged


def _merge_products(res: Resolution, leader_path: str, products: dict, table: Any, where: str) -> dict:
    if not isinstance(table, dict):
        raise ScenarioError(f"[{leader_path}] products", f"expected tables [{leader_path}.products.<name>]", where)
    fields = [f.name for f in dataclasses.fields(ProductSpec)]
    for pname, ptable in table.items():
        ppath = f"{leader_path}.products.{pname}"
        if not isinstance(ptable, dict):
            raise ScenarioError(f"[{ppath}]", "expected a table", where)
        if ptable.get("remove") is True and len(ptable) == 1:
            if pname not in products:
                raise ScenarioError(f"[{ppath}] remove", f"no product {pname!r}{close_matches(pname, products)}", where)
            del products[pname]
            continue
        entry = products.get(pname)
        if entry is None:
            missing = [f for f in _required(ProductSpec) if f not in ptable]
            if missing:
                raise ScenarioError(f"[{ppath}]", f"new product {pname!r}{close_matches(pname, products)} lacks "
                                    f"{', '.join(missing)} (existing: {', '.join(products) or 'none'})", where)
            entry = {}
        merged = dict(entry)
        for fname, value in ptable.items():
            if fname not in fields:
                raise ScenarioError(f"[{ppath}] {fname}", f"unknown key{close_matches(fname, fields)}; "
                                    f"allowed: {', '.join(fields)}", where)
            merged[fname] = _check_field(ProductSpec, ppath, fname, value, where)
            res.sources[f"{ppath}.{fname}"] = where
        products[pname] = merged
    if not products:
        raise ScenarioError(f"[{leader_path}] products", "a leader needs at least one product", where)
    return products


def check_meta(doc: dict[str, Any], where: str) -> dict[str, Any]:
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise ScenarioError("meta", "expected a table [meta]", where)
    for k, v in meta.items():
        if k not in META_KEYS:
            raise ScenarioError(f"[meta] {k}", f"unknown key{close_matches(k, META_KEYS)}; allowed: {', '.join(META_KEYS)}", where)
        if k == "sources":
            if not (isinstance(v, list) and all(isinstance(s, str) for s in v)):
                raise ScenarioError("[meta] sources", "expected a list of texts", where)
        elif not isinstance(v, str):
            raise ScenarioError(f"[meta] {k}", f"expected text, got {v!r}", where)
    if "kind" in meta and meta["kind"] not in KINDS:
        raise ScenarioError("[meta] kind", f"{meta['kind']!r} is not allowed; choose one of {', '.join(KINDS)}", where)
    return meta


# ---------------------------------------------------------------------------------------
# Chains
# ---------------------------------------------------------------------------------------


def _load_chain(ref, *, where: str, key: str = "scenario") -> list[tuple[Path, dict[str, Any]]]:
    """[(path, parsed document)] from the root to `ref`; cycles and unknown parents rejected.
    `key` names `ref` in messages (the option it came from)."""
    path = locate(ref, where=where, key=key)
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    while True:
        if path in seen:
            loop = " -> ".join(label(p) for p in [*seen[seen.index(path):], path])
            raise ScenarioError("extends", f"inheritance cycle: {loop}", label(seen[-1]))
        seen.append(path)
        doc = read_toml(path)
        here = label(path)
        check_meta(doc, here)
        chain.append((path, doc))
        parent = doc.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise ScenarioError("extends", f"expected the name or path of a parent scenario, got {parent!r}", here)
        path = locate(parent, relative_to=path.parent, where=here, key="extends")
    chain.reverse()
    return chain


# ---------------------------------------------------------------------------------------
# Overrides (keywords, --set) and stress overlays
# ---------------------------------------------------------------------------------------


def apply_overrides(res: Resolution, overrides: Mapping[str, Any], where: str) -> None:
    """Flat names (`fund_coverage`), `group.name` (`fund.fund_coverage`) or structured dotted
    paths (`leaders.jinnan.payment_term_months`, `leaders.jinnan.products.trucks.sme_share`,
    `banks.shanxi_bank.capital_wan`, `packages.order_credit.fund_eligible`). A whole
    `leaders`/`banks`/`packages` value replaces that table."""
    scalars = ModelParams.scalar_names()
    for raw_key, value in overrides.items():
        key = str(raw_key)
        if key in STRUCTURED:
            res.structured[key] = _whole_structured(key, value, where)
            for p in [p for p in res.sources if p.startswith(key + ".")]:
                del res.sources[p]
            res.sources[key] = where  # the whole table: named when a file's reference to it breaks
            for p in _leaf_paths(key, res.structured[key]):
                res.sources[p] = where
            continue
        if key in scalars:
            res.scalars[key] = check_value(key, value, where)
            res.sources[key] = where
            continue
        parts = key.split(".")
        if len(parts) == 2 and parts[0] in ModelParams.groups() and parts[0] not in STRUCTURED:
            _apply_scalar(res, parts[0], parts[1], value, where)
            continue
        if parts[0] in STRUCTURED and len(parts) >= 3:
            kind, entry = parts[0], parts[1]
            if entry not in res.structured[kind]:
                raise ScenarioError(key, f"no {kind[:-1]} {entry!r}{close_matches(entry, res.structured[kind])}; "
                                    f"{kind}: {', '.join(res.structured[kind])}", where)
            if kind == "leaders" and len(parts) == 5 and parts[2] == "products":
                table = {"products": {parts[3]: {parts[4]: value}}}
            elif len(parts) == 3:
                table = {parts[2]: value}
            else:
                raise ScenarioError(key, "expected <table>.<key>.<field> or leaders.<key>.products.<name>.<field>", where)
            _apply_structured(res, kind, entry, table, where)
            continue
        raise ScenarioError(key, f"unknown parameter{close_matches(key, [*scalars, *STRUCTURED])}", where)


def _whole_structured(kind: str, value: Any, where: str) -> dict[str, Any]:
    plain = to_plain(value)
    if not isinstance(plain, dict):
        if isinstance(plain, list) and kind != "packages":
            raise ScenarioError(kind, f"expected {SPEC_CLASSES[kind].__name__} objects or a table keyed by short key", where)
        raise ScenarioError(kind, f"expected a table of entries keyed by their short key, got {value!r}", where)
    fresh = Resolution(scalars={}, structured={kind: {}}, sources={})
    for key, table in plain.items():
        _apply_structured(fresh, kind, key, table, where)
    return fresh.structured[kind]


def stress_tables(ref, *, where: str = "keyword", key: str = "scenario") -> tuple[dict[str, Any], list[str]]:
    """The `[stress]` values set by a stress scenario (and by stress-kind files it extends).

    Raises if the file is not `kind = "stress"` or if a stress-kind file sets anything
    besides `[stress]` (which could not compose with another scenario). `where` and `key`
    name the source of `ref` in messages (`command line`, `--stress`).
    """
    chain = _load_chain(ref, where=where, key=key)
    leaf_path, leaf_doc = chain[-1]
    if leaf_doc.get("meta", {}).get("kind") != "stress":
        raise ScenarioError("[meta] kind", f"{label(leaf_path)} is not a stress scenario (kind = "
                            f"{leaf_doc.get('meta', {}).get('kind', 'not set')!r}); only kind = \"stress\" "
                            f"files can be overlaid", label(leaf_path))
    values: dict[str, Any] = {}
    files: list[str] = []
    for path, doc in chain:
        if doc.get("meta", {}).get("kind") != "stress":
            continue
        here = label(path)
        other = [t for t in doc if t not in ("extends", "meta", "stress")]
        if other:
            raise ScenarioError(f"[{other[0]}]", "a stress scenario may set only [stress] (and [meta]), so that it "
                                "composes with any policy scenario", here)
        res = Resolution(scalars={}, structured={k: {} for k in STRUCTURED}, sources={})
        apply_file(res, {"stress": doc.get("stress", {})}, here)
        for name, v in res.scalars.items():
            values[name] = (v, here)
        files.append(here)
    return values, files


# ---------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------


def _build(res: Resolution, fallback_where: str) -> ModelParams:
    packages = res.structured["packages"]
    offered_where = res.sources.get("offered_packages", fallback_where)
    for name in res.scalars["offered_packages"]:
        if name not in packages:
            # a file's list can break because an override replaced the packages table: say so
            replaced = res.sources.get("packages")
            by = f" (the packages table was replaced by {replaced})" if replaced and replaced != offered_where else ""
            raise ScenarioError("[bank] offered_packages", f"unknown package {name!r}{close_matches(name, packages)}; "
                                f"defined: {', '.join(packages)}{by}", offered_where)
    try:
        return ModelParams(**res.scalars, **copy.deepcopy(res.structured))
    except ParameterError as exc:
        key = exc.key
        group = _group_of(key.split(".")[0]) if key else None
        src = res.sources.get(key) or res.sources.get(key.split(".")[0]) or fallback_where
        if group and "." not in key and group not in STRUCTURED:
            key = f"[{group}] {key}"
        elif "." in key:
            head, _, last = key.rpartition(".")
            src = res.sources.get(exc.key, fallback_where)
            key = f"[{head}] {last}"
        raise ScenarioError(key, exc.problem, src) from None


def resolve(name_or_path, overrides: Mapping[str, Any] | None = None, *, where: str = "keyword",
            stress=None, name_where: str | None = None, stress_key: str | None = None) -> Resolution:
    """Resolve a scenario: chain, then stress overlays, then overrides. Returns the
    `Resolution` (with `.params`, `.sources`, `.chain`, `.meta`). `where` names the source of
    the overrides in messages, `name_where` (default: `where`) that of the scenario names,
    `stress_key` the option the stress names came from: by default `--stress` when
    `name_where` is the command line (`command line: --stress: unknown scenario ...`), else
    `scenario` as for the scenario name itself."""
    name_where = name_where or where
    if stress_key is None:
        stress_key = STRESS_OPTION if name_where == COMMAND_LINE else "scenario"
    res = default_resolution()
    if isinstance(name_or_path, ModelParams):
        res = _from_params(name_or_path)
    elif name_or_path is not None:
        for path, doc in _load_chain(name_or_path, where=name_where):
            here = label(path)
            apply_file(res, doc, here)
            if isinstance(doc.get("network"), dict) and doc["network"].get("network_file"):
                # a path in a file is relative to that file, as `extends` is, not to where
                # the command runs
                res.scalars["network_file"] = str((path.parent / res.scalars["network_file"]).resolve())
            res.chain.append(here)
            res.meta = doc.get("meta", {})
    for ref in _as_list(stress):
        values, files = stress_tables(ref, where=name_where, key=stress_key)
        for name, (v, src) in values.items():
            res.scalars[name] = v
            res.sources[name] = src
        res.stress.extend(files)
    if overrides:
        apply_overrides(res, overrides, where)
    res.params = _build(res, res.chain[-1] if res.chain else where)
    return res


def _as_list(stress) -> list:
    if stress is None or stress == "":
        return []
    if isinstance(stress, (str, os.PathLike)):
        return [stress]
    if isinstance(stress, Sequence):
        return list(stress)
    raise ScenarioError("stress", f"expected a stress scenario name or path, got {stress!r}", "keyword")


def _from_params(params: ModelParams) -> Resolution:
    plain = params.canonical()
    scalars = {n: params.values()[n] for n in ModelParams.scalar_names()}
    structured = {name: copy.deepcopy(plain[name]) for name in STRUCTURED}
    sources = {n: "parameters" for n in scalars}
    for name, table in structured.items():
        for path in _leaf_paths(name, table):
            sources[path] = "parameters"
    return Resolution(scalars=scalars, structured=structured, sources=sources)


def load_scenario(name_or_path=None, overrides: Mapping[str, Any] | None = None, where: str = "keyword", *,
                  stress=None) -> ModelParams:
    """The validated `ModelParams` of a shipped scenario (by name) or of a TOML file (by path).

    `overrides` (flat names or dotted paths) apply last; `where` names their source in
    error messages ("keyword", "--set"). `stress` (a name, path or list of them) overlays the
    `[stress]` table of stress scenarios first (see `apply_stress`).
    """
    return resolve(name_or_path, overrides, where=where, stress=stress).params


def apply_stress(params: ModelParams, stress, where: str = "keyword") -> ModelParams:
    """`params` with the `[stress]` table of a stress scenario (or several) laid over it."""
    changes: dict[str, Any] = {}
    for ref in _as_list(stress):
        values, _ = stress_tables(ref, where=where)
        changes.update({k: v for k, (v, _src) in values.items()})
    if not changes:
        return params
    try:
        return params.replace(**changes)
    except ParameterError as exc:
        raise ScenarioError(exc.key, exc.problem, str(stress)) from None


def scenario_sources(name_or_path, overrides: Mapping[str, Any] | None = None, *, where: str = "keyword",
                     stress=None) -> dict[str, str]:
    """Parameter path -> where its value came from (file label, `--set`, default)."""
    return resolve(name_or_path, overrides, where=where, stress=stress).sources


def scenario_meta(name_or_path) -> dict[str, Any]:
    """The `[meta]` table of one scenario file (not inherited)."""
    path = locate(name_or_path)
    doc = read_toml(path)
    return check_meta(doc, label(path))


def list_scenarios() -> list[tuple[str, str, str, str]]:
    """(name, title_en, title_zh, kind) of every shipped scenario, baseline first, then
    packages, policies and stresses."""
    rows = []
    for name in shipped_names():
        meta = scenario_meta(name)
        rows.append((name, meta.get("title", ""), meta.get("title_zh", ""), meta.get("kind", "")))
    rank = {k: i for i, k in enumerate(KINDS)}
    rows.sort(key=lambda r: (rank.get(r[3], len(KINDS)), r[0]))
    return rows
