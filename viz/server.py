"""`h2chain viz`: serve the browser view with Solara, offline.

    h2chain viz                       # http://127.0.0.1:8765
    h2chain viz --port 9000 --host 0.0.0.0

Runs `python -m solara run viz.app` with telemetry and the PyPI version check switched off
(both would try the internet) and the project root on PYTHONPATH.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def server_env(base: dict | None = None) -> dict[str, str]:
    """Environment for the Solara server: offline, with the project importable."""
    env = dict(os.environ if base is None else base)
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


def server_command(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, open_browser: bool = False) -> list[str]:
    return [sys.executable, "-m", "solara", "run", "viz.app", "--port", str(port), "--host", host,
            "--production", "--no-check-version", "--open" if open_browser else "--no-open"]


def run_viz(args) -> int:
    from experiments.errors import UserError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    cmd = server_command(args.port, args.host, args.open)
    print(f"h2chain viz: serving the browser view on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    log.info("running %s", " ".join(cmd))
    try:
        return subprocess.call(cmd, cwd=ROOT, env=server_env())
    except KeyboardInterrupt:
        return 130


def register(subparsers) -> None:
    p = subparsers.add_parser("viz", help="open the browser view (Mesa SolaraViz, works offline)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--open", action="store_true", help="open a web browser on the page")
    p.set_defaults(func=run_viz)
