"""Instructions per SME-month, counted by valgrind's callgrind: a figure that does not move
with the load on a shared machine, for telling whether an optimisation helped.

    python -m experiments.perf_count [--smes 300] [--months 12] [--scenario NAME]

Counts the instructions of a run of M months and of the same model with 0 months (imports
and construction), and prints the difference per SME-month. Needs `valgrind` (Debian:
`apt-get install valgrind`); about 50 times slower than a plain run, so keep it small. Not
part of the test suite: a tool for performance work, next to `perf_golden` (same results)
and `h2chain bench` (the ratio to Mesa's BoltzmannWealth).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

from experiments.bench import ROOT, child_env

_CHILD = """
import sys
from model import HydrogenChainModel
n, months, scenario = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None
HydrogenChainModel(scenario=scenario, rng=1, n_smes=n, plan_scale=n / 300).run(months)
"""


def instructions(n_smes: int, months: int, scenario: str | None) -> int:
    """Instructions callgrind collects for one process that builds the model and runs it."""
    env = child_env(PYTHONHASHSEED="0")  # string hashes change dict probing, and so the count, by ~2 %
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           sys.executable, "-c", _CHILD, str(n_smes), str(months), scenario or ""]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.perf_count", description=__doc__.splitlines()[0])
    parser.add_argument("--smes", type=int, default=300, help="SMEs (default 300)")
    parser.add_argument("--months", type=int, default=12, help="months (default 12)")
    parser.add_argument("--scenario", default=None, help="a shipped scenario (default: the defaults)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("perf_count: valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.smes < 1 or args.months < 1:
        print("perf_count: --smes and --months must be at least 1", file=sys.stderr)
        return 2
    built = instructions(args.smes, 0, args.scenario)
    run = instructions(args.smes, args.months, args.scenario)
    per = (run - built) / (args.smes * args.months)
    print(f"{per:,.0f} instructions per SME-month ({args.smes} SMEs x {args.months} months, "
          f"scenario {args.scenario or 'defaults'}; construction and imports: {built:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
