"""Instructions per SME-month, counted by valgrind's callgrind: a figure that does not depend
on the load of a shared machine, for telling whether an optimisation helped. It still moves
by about ±1.5 % between identical runs (seen on 22 Nov with the string-hash seed fixed and
with address randomisation off alike), so compare a few runs of each version; a change
smaller than that needs `--by-function`, which is exact.

    python -m experiments.perf_count [--smes 300] [--months 12] [--scenario NAME]
    python -m experiments.perf_count --by-function 20    # where the work is, by function
    python -m experiments.perf_count --smes 1000 --vs-boltzmann   # and the ratio in instructions

Counts the instructions of a run of M months and of the same model with 0 months (imports
and construction), and prints the difference per SME-month. `--vs-boltzmann` does the same
for Mesa's BoltzmannWealth and prints our SME-month over its agent-step: a ratio that, unlike
the benchmark's ratio of times, does not move with the machine's caches (on two machines of
the same kind the timed ratio was 4.5x and 6.6x for the same code), though instructions are
not time either. Needs `valgrind` (Debian:
`apt-get install valgrind`); about 50 times slower than a plain run, so keep it small.

`--by-function N` counts instead the Python bytecodes each function executes during the
months (not construction), with `sys.monitoring`; it needs no valgrind, is about as slow,
and prints the N functions that execute most of them. Bytecodes are not time (a bytecode
can be a dict lookup or a call into C), but the count is exact and repeatable.

Not part of the test suite: a tool for performance work, next to `perf_golden` (same
results) and `h2chain bench` (the ratio to Mesa's BoltzmannWealth).
"""

from __future__ import annotations

import argparse
import json
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

# Mesa's BoltzmannWealth as `h2chain bench` runs it
_BOLTZMANN_CHILD = """
import sys
from experiments.bench import build_boltzmann, run_boltzmann
n, steps = int(sys.argv[1]), int(sys.argv[2])
run_boltzmann(build_boltzmann(n, 1), steps)
"""


def instructions(n_smes: int, months: int, scenario: str | None) -> int:
    """Instructions callgrind collects for one process that builds the model and runs it."""
    return _callgrind(_CHILD, str(n_smes), str(months), scenario or "")


def boltzmann_instructions(n_agents: int, steps: int) -> int:
    """The same for Mesa's BoltzmannWealth with `n_agents` agents and `steps` steps."""
    return _callgrind(_BOLTZMANN_CHILD, str(n_agents), str(steps))


def _callgrind(code: str, *args: str) -> int:
    env = child_env(PYTHONHASHSEED="0")  # string hashes change dict probing, and so the count, by ~2 %
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


_BYTECODES_CHILD = """
import json, sys
from collections import Counter
from model import HydrogenChainModel
n, months, scenario = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None
model = HydrogenChainModel(scenario=scenario, rng=1, n_smes=n, plan_scale=n / 300)
counts = Counter()
def count(code, offset):
    counts[code] += 1
tool = sys.monitoring.PROFILER_ID
sys.monitoring.use_tool_id(tool, "h2chain perf_count")
sys.monitoring.register_callback(tool, sys.monitoring.events.INSTRUCTION, count)
sys.monitoring.set_events(tool, sys.monitoring.events.INSTRUCTION)
model.run(months)
sys.monitoring.set_events(tool, 0)
by_function = Counter()
for code, c in counts.items():
    by_function[f"{code.co_qualname} ({code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno})"] += c
print(json.dumps(by_function.most_common()))
"""


def bytecodes_by_function(n_smes: int, months: int, scenario: str | None) -> list[tuple[str, int]]:
    """(function, bytecodes executed) over the months of one run, most first."""
    env = child_env(PYTHONHASHSEED="0")
    cmd = [sys.executable, "-c", _BYTECODES_CHILD, str(n_smes), str(months), scenario or ""]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return [tuple(row) for row in json.loads(proc.stdout)]


def print_by_function(n_smes: int, months: int, scenario: str | None, top: int) -> None:
    rows = bytecodes_by_function(n_smes, months, scenario)
    sme_months = n_smes * months
    total = sum(c for _, c in rows)
    print(f"{total / sme_months:,.0f} bytecodes per SME-month ({n_smes} SMEs x {months} months, "
          f"scenario {scenario or 'defaults'}); the {top} functions that execute most of them:")
    for name, c in rows[:top]:
        print(f"  {c / sme_months:8,.1f}  {100 * c / total:5.1f} %  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.perf_count", description=__doc__.splitlines()[0])
    parser.add_argument("--smes", type=int, default=300, help="SMEs (default 300)")
    parser.add_argument("--months", type=int, default=12, help="months (default 12)")
    parser.add_argument("--scenario", default=None, help="a shipped scenario (default: the defaults)")
    parser.add_argument("--by-function", type=int, default=0, metavar="N",
                        help="count Python bytecodes by function instead (no valgrind) and print the top N")
    parser.add_argument("--vs-boltzmann", action="store_true",
                        help="also count Mesa's BoltzmannWealth (as many agents, as many steps) and print the ratio")
    args = parser.parse_args(argv)
    if args.smes < 1 or args.months < 1:
        print("perf_count: --smes and --months must be at least 1", file=sys.stderr)
        return 2
    if args.by_function < 0:
        print("perf_count: --by-function must be at least 1", file=sys.stderr)
        return 2
    if args.by_function:
        print_by_function(args.smes, args.months, args.scenario, args.by_function)
        return 0
    if shutil.which("valgrind") is None:
        print("perf_count: valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    built = instructions(args.smes, 0, args.scenario)
    run = instructions(args.smes, args.months, args.scenario)
    per = (run - built) / (args.smes * args.months)
    print(f"{per:,.0f} instructions per SME-month ({args.smes} SMEs x {args.months} months, "
          f"scenario {args.scenario or 'defaults'}; construction and imports: {built:,})")
    if args.vs_boltzmann:
        reference = (boltzmann_instructions(args.smes, args.months) - boltzmann_instructions(args.smes, 0)) \
            / (args.smes * args.months)
        print(f"{reference:,.0f} instructions per agent-step of BoltzmannWealth ({args.smes} agents x "
              f"{args.months} steps); ratio {per / reference:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
