"""The `h2chain` command line.

Each feature module registers its own subcommands through a `register(subparsers)`
function, so the command line is one place to look and each module owns its commands.
User mistakes (bad scenario, bad --set, bad range) exit with status 2 and one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "experiments.single",
    "scenarios.cli",
    "experiments.batch_cli",
    "experiments.bench",
    "viz.server",
)


class UserError(Exception):
    """A mistake in the user's input: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="h2chain",
        description="Agent-based model of hydrogen industrial-chain finance in Shanxi.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that feature is not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from model.params import ParameterError

    try:
        return int(args.func(args) or 0)
    except (UserError, ParameterError) as exc:
        print(f"h2chain: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("h2chain: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # `python -m experiments.cli` runs this file as __main__; call the copy imported as
    # experiments.cli so that the UserError raised by command modules is the one caught.
    from experiments.cli import main as _main

    sys.exit(_main())
