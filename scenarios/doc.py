"""Markdown tables for docs/ODD.md generated from the parameter specs and the scenario files,
so the documentation quotes the code rather than a copy of it.

    python -m scenarios.doc parameters   # the calibration table (every scalar parameter)
    python -m scenarios.doc scenarios    # the scenario library table
    python -m scenarios.doc structured   # leaders, banks and packages of the baseline
    python -m scenarios.doc --write docs/ODD.md   # refresh the generated blocks in place
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from model.params import ModelParams
from scenarios.loader import SCENARIO_DIR, list_scenarios, resolve
from scenarios.writer import toml_value

FLAGS = {"O": "official text", "P": "press or bank page", "E": "estimate"}


def _source_cell(source: str) -> str:
    return source.replace("|", "/")


def _range_cell(spec) -> str:
    if spec.choices:
        return " / ".join(spec.choices)
    if spec.lo is None and spec.hi is None:
        return ""
    lo = "" if spec.lo is None else f"{spec.lo:g}"
    hi = "" if spec.hi is None else f"{spec.hi:g}"
    return f"{lo} – {hi}"


def baseline_comments() -> dict[str, str]:
    """Parameter name -> the comment on its line in baseline.toml (its source or sweep range)."""
    out = {}
    for line in (SCENARIO_DIR / "baseline.toml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(\w+) = .*?#\s*(.+)$", line)
        if m and m.group(1) in ModelParams.specs():
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def parameter_table() -> str:
    """One Markdown table per parameter group: name, baseline value, unit, allowed range,
    meaning, source (O/P/E as in DOMAIN.md §6)."""
    base = resolve("baseline").params.canonical()
    specs = ModelParams.specs()
    comments = baseline_comments()
    out = []
    for group, names in ModelParams.groups().items():
        if group in ("leaders", "banks", "packages"):
            continue
        out.append(f"\n**[{group}]**\n")
        out.append("| parameter | baseline | unit | allowed | meaning | source (params.py) | baseline.toml note |")
        out.append("|---|---|---|---|---|---|---|")
        for name in names:
            s = specs[name]
            out.append(f"| `{name}` | `{toml_value(base[name])}` | {s.unit} | {_range_cell(s)} | {s.doc} | "
                       f"{_source_cell(s.source)} | {_source_cell(comments.get(name, ''))} |")
    return "\n".join(out).lstrip("\n") + "\n"


def scenario_table() -> str:
    out = ["| scenario | kind | extends | title | 标题 | sets |", "|---|---|---|---|---|---|"]
    for name, title, title_zh, kind in list_scenarios():
        res = resolve(name)
        own = res.chain[-1]
        parent = res.chain[-2].removeprefix("scenarios/").removesuffix(".toml") if len(res.chain) > 1 else "—"
        plain = res.params.canonical()
        sets = [f"`{k} = {toml_value(plain[k])}`" for k, src in res.sources.items()
                if src == own and k in plain] if name != "baseline" else ["every default"]
        sets += sorted({f"`[{'.'.join(k.split('.')[:2])}]`" for k, src in res.sources.items()
                        if src == own and "." in k}) if name != "baseline" else []
        out.append(f"| `{name}` | {kind} | {parent} | {title} | {title_zh} | {', '.join(sets)} |")
    return "\n".join(out) + "\n"


def structured_table() -> str:
    """The baseline's leaders (with their deployment plans), banks and package library."""
    p = resolve("baseline").params
    plain = p.canonical()
    out = ["| leader | 链主 | payment term (months) | PD/yr | confirm share | supplier weight | product | units per year | unit value (wan) | SME share | segments | KPI |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, ld in plain["leaders"].items():
        for i, (pname, prod) in enumerate(ld["products"].items()):
            head = (f"`{key}` {ld['name']} | {ld['name_zh']} | {ld['payment_term_months']} | {ld['pd_annual']:g} | "
                    f"{ld['confirm_share']:g} | {ld['supplier_weight']:g}") if i == 0 else " | | | | | "
            segs = ", ".join(f"{k} {v:g}" for k, v in prod["segment_shares"].items())
            units = ", ".join(f"{u:g}" for u in prod["units_per_year"])
            out.append(f"| {head} | `{pname}` {prod['label']} | {units} | {prod['unit_value_wan']:g} | "
                       f"{prod['sme_share']:g} | {segs} | {prod['kpi']} |")
    out += ["", "| bank | 银行 | capital (wan) | risk appetite | noise multiplier | market weight |", "|---|---|---|---|---|---|"]
    for key, b in plain["banks"].items():
        out.append(f"| `{key}` {b['name']} | {b['name_zh']} | {b['capital_wan']:g} | {b['risk_appetite']:g} | "
                   f"{b['noise_multiplier']:g} | {b['market_weight']:g} |")
    out += ["", "| package | 名称 | instruments | banks | leaders | tiers | fund eligible | description |",
            "|---|---|---|---|---|---|---|---|"]
    for key, k in plain["packages"].items():
        out.append(f"| `{key}` | {k['name_zh']} | {', '.join(k['instruments'])} | {', '.join(k['banks'])} | "
                   f"{', '.join(k['leaders'])} | {', '.join(map(str, k['tiers']))} | {'yes' if k['fund_eligible'] else 'no'} | "
                   f"{k['description']} |")
    return "\n".join(out) + "\n"


GENERATORS = {"parameters": parameter_table, "scenarios": scenario_table, "structured": structured_table}
BEGIN = "<!-- BEGIN generated by `python -m scenarios.doc --write docs/ODD.md`: {} -->"
END = "<!-- END generated: {} -->"


def fill(text: str) -> str:
    """`text` with every generated block (between the BEGIN/END markers) regenerated."""
    for name, gen in GENERATORS.items():
        begin, end = BEGIN.format(name), END.format(name)
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = f"{head}{begin}\n\n{gen()}\n{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--write":
        path = Path(argv[1] if len(argv) > 1 else "docs/ODD.md")
        path.write_text(fill(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    what = argv[0] if argv else "parameters"
    if what not in GENERATORS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if what in ("-h", "--help") else 2
    sys.stdout.write(GENERATORS[what]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
