"""`h2chain scenarios` and `h2chain show`: what scenarios exist and what one resolves to."""

from __future__ import annotations

import sys

from model.params import ModelParams
from scenarios.loader import COMMAND_LINE, DEFAULT_LABEL, list_scenarios, resolve
from scenarios.setparse import parse_set
from scenarios.writer import to_toml, toml_value


def register(subparsers) -> None:
    p = subparsers.add_parser("scenarios", help="list the shipped scenarios (name, titles, kind)",
                              description="List the shipped scenarios with their English and Chinese titles.")
    p.set_defaults(func=cmd_scenarios)

    p = subparsers.add_parser(
        "show", help="print a scenario's resolved parameters and where each came from",
        description="Resolve a scenario (a shipped name or a path to a .toml file) and print every "
                    "parameter with its value, unit and source (file, parent file, --stress, --set).")
    p.add_argument("scenario", metavar="NAME_OR_PATH", help="shipped scenario name or path to a TOML file")
    add_set_arguments(p)
    p.add_argument("--toml", action="store_true", help="print the resolved parameters as a complete TOML file")
    p.set_defaults(func=cmd_show)


def add_set_arguments(parser) -> None:
    """`--set key=value` (repeatable) and `--stress NAME` (repeatable), shared with `run`/`compare`."""
    parser.add_argument("--set", dest="set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter (TOML value syntax: 0.4, true, \"jinnan\", [1, 2]); "
                             "KEY is a flat name or a dotted path like leaders.jinnan.payment_term_months")
    parser.add_argument("--stress", action="append", default=[], metavar="NAME",
                        help="overlay the [stress] table of a stress scenario (repeatable)")


def cmd_scenarios(args) -> int:
    rows = list_scenarios()
    width = max(len(r[0]) for r in rows)
    kind_w = max(len(r[3]) for r in rows)
    out = sys.stdout
    for name, title, title_zh, kind in rows:
        out.write(f"{name:<{width}}  {kind:<{kind_w}}  {title}  {title_zh}\n")
    return 0


def _source_text(src: str, chain: list[str]) -> str:
    if src == DEFAULT_LABEL:
        return "default (model/params.py)"
    if chain and src == chain[-1]:
        return src
    if src in chain:
        return f"{src} (parent)"
    return src


def cmd_show(args) -> int:
    overrides = parse_set(args.set)
    res = resolve(args.scenario, overrides, where="--set", stress=args.stress or None, name_where=COMMAND_LINE)
    params = res.params
    out = sys.stdout
    if args.toml:
        meta = {k: v for k, v in res.meta.items() if k in ("title", "title_zh", "kind")}
        header = f"resolved from {' -> '.join(res.chain)}"
        if res.stress:
            header += f"; stress {', '.join(res.stress)}"
        if overrides:
            header += f"; --set {', '.join(args.set)}"
        out.write(to_toml(params, meta=meta or None, header=header))
        return 0
    title = res.meta.get("title", "")
    out.write(f"{args.scenario}: {title} {res.meta.get('title_zh', '')}".rstrip() + "\n")
    out.write(f"chain: {' -> '.join(res.chain)}\n")
    if res.stress:
        out.write(f"stress: {', '.join(res.stress)}\n")
    out.write(f"stable hash: {params.stable_hash()}\n")
    specs = ModelParams.specs()
    plain = params.canonical()
    for group, names in ModelParams.groups().items():
        if group in ("leaders", "banks", "packages"):
            continue
        out.write(f"\n[{group}]\n")
        width = max(len(n) for n in names)
        for name in names:
            unit = specs[name].unit
            value = toml_value(plain[name])
            out.write(f"  {name:<{width}} = {value:<14} {unit:<12} {_source_text(res.sources.get(name, ''), res.chain)}\n")
    for kind in ("leaders", "banks", "packages"):
        for key, entry in plain[kind].items():
            rows = []
            for fname, v in entry.items():
                if fname == "products":
                    for pname, prod in v.items():
                        for pf, pv in prod.items():
                            rows.append((f"products.{pname}.{pf}", pv))
                else:
                    rows.append((fname, v))
            out.write(f"\n[{kind}.{key}]\n")
            width = max(len(r[0]) for r in rows)
            for fname, v in rows:
                src = res.sources.get(f"{kind}.{key}.{fname}", "")
                out.write(f"  {fname:<{width}} = {toml_value(v):<14} {_source_text(src, res.chain)}\n")
    return 0
