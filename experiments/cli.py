"""The `h2chain` command line.

Each feature module registers its own subcommands through a `register(subparsers)`
function, so the command line is one place to look and each module owns its commands.
User mistakes (bad scenario, bad --set, bad range) exit with status 2 and one line on
stderr, never a traceback. Output piped into a reader that stops early (`| head`) ends the
command quietly with status 141, as a Unix tool killed by SIGPIPE would.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import signal
import sys
import threading
from pathlib import Path

from experiments.errors import UserError

# Modules that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "experiments.single",
    "scenarios.cli",
    "experiments.batch_cli",
    "experiments.bench",
    "viz.server",
)


# Exit status when the reader of our standard output goes away (`h2chain show x | head`):
# 128 + SIGPIPE, what the shell reports for `cat`, `grep` and the like in the same pipeline,
# so `set -o pipefail` scripts see the familiar "reader stopped" status, distinct from
# 1 (failed runs) and 2 (user mistakes), as 130 (128 + SIGINT) is for an interrupt.
EXIT_BROKEN_PIPE = 141


def check_output_file(path: Path, option: str, *companions: Path) -> None:
    """Refuse, before any work, an output file (and files written beside it) that cannot be
    written: a directory in its place, a parent that cannot be made or is read-only."""
    for target in (path, *companions):
        if target.is_dir():
            raise UserError(f"{option} {path}: {target} is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot create {path.parent} ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"{option} {path}: {path.parent} is not writable")


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
    try:
        try:
            code = _dispatch(argv)
        except SystemExit:  # argparse's --help and usage errors: flush while we can catch it
            _flush_stdout()
            raise
        # flush here, not at interpreter exit, so that a closed pipe is caught below
        _flush_stdout()
        return code
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # a pipe of our own (a worker, a scheduler) broke: a real failure, show it
        # The reader went away (`| head`). Point stdout at devnull so that Python's own
        # flush at exit does not fail again and print "Exception ignored ..." (the recipe of
        # the Python docs' "Note on SIGPIPE"); nothing goes to stderr.
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


class Terminated(Exception):
    """SIGTERM (`kill`, `timeout`, a cluster's job manager): end like an interrupt, closing
    the worker pool and the store on the way out."""


def _terminate(signum, frame) -> None:
    raise Terminated


def _dispatch(argv: list[str] | None) -> int:
    """Run the command; user mistakes, Ctrl-C and SIGTERM end it with one line, whenever
    they come (Ctrl-C while the command modules are still being imported included)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _dispatch_command(argv)
    except KeyboardInterrupt:
        print("h2chain: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("h2chain: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch_command(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from model.params import ParameterError

    try:
        return int(args.func(args) or 0)
    except (UserError, ParameterError) as exc:
        print(f"h2chain: error: {exc}", file=sys.stderr)
        return 2


def _flush_stdout() -> None:
    if sys.stdout is not None:  # None when started with stdout closed
        sys.stdout.flush()


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe or socket nobody reads any more (poll says POLLERR
    or POLLHUP). A stdout that is no file (tests' capture) cannot have broken; where poll is
    missing, assume it did, as the Python docs' recipe does."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in poller.poll(0))


def _stdout_to_devnull() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a non-file object (tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
