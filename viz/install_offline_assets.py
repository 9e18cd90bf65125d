"""Install the front-end files Solara fetches lazily and `solara-assets` does not ship.

Solara serves its JavaScript from `<prefix>/share/solara/cdn/` (filled by the
`solara-assets` wheel) and, for anything missing there, tries a public CDN: unreachable
offline, so the browser gets a 404 and the page logs a console error. The one file set we
need beyond `solara-assets` is KaTeX 0.16.9, which `solara.Markdown` loads for maths.

This script puts the npm package `katex@0.16.9` into `<prefix>/share/solara/cdn/katex@0.16.9/`.
It uses `npm pack` when npm is on PATH and otherwise downloads the same tarball from the npm
registry with the standard library; either way the tarball's sha512 is checked against the
registry's published integrity. It is idempotent and needs nothing but Python (and network
access to the npm registry the first time).

    python -m viz.install_offline_assets            # into this interpreter's prefix
    python -m viz.install_offline_assets --check    # exit 1 if missing
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import io
import logging
import shutil
import site
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

# name -> (version, registry tarball URL, sha512 integrity as published by the npm registry)
PACKAGES = {
    "katex": (
        "0.16.9",
        "https://registry.npmjs.org/katex/-/katex-0.16.9.tgz",
        "sha512-fsSYjWS0EEOwvy81j3vRA8TEAhQhKiqO+FQaKWp0m39qwOzHVBgAUBIXWj1pB+O2W3fIpNa6Y9KSKCVbfPhyAQ==",
    ),
}
# A file that must exist once a package is installed (what the page asks for).
PROBES = {"katex": "dist/katex.min.css"}


def cdn_dir() -> Path:
    """The directory Solara serves `/_solara/cdn/` from (same rule as solara.server.settings)."""
    spec = importlib.util.find_spec("solara")
    origin = spec.origin if spec and spec.origin else ""
    userbase = site.getuserbase()
    prefix = userbase if userbase and origin.startswith(userbase) else sys.prefix
    return Path(prefix) / "share" / "solara" / "cdn"


def _integrity_ok(blob: bytes, integrity: str) -> bool:
    algo, _, expected = integrity.partition("-")
    return base64.b64encode(hashlib.new(algo, blob).digest()).decode() == expected


def fetch_tarball(name: str, version: str, url: str) -> bytes:
    """The npm tarball of name@version: through `npm pack` if npm exists, else plain HTTPS."""
    npm = shutil.which("npm")
    if npm:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                subprocess.run([npm, "pack", f"{name}@{version}", "--silent", "--pack-destination", tmp],
                               check=True, capture_output=True, timeout=300)
                (tgz,) = Path(tmp).glob("*.tgz")
                return tgz.read_bytes()
            except (subprocess.SubprocessError, ValueError, OSError) as exc:
                log.warning("npm pack %s@%s failed (%s); downloading the tarball directly", name, version, exc)
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 (fixed https URL)
        return resp.read()


def install(name: str, dest_root: Path, force: bool = False) -> Path:
    version, url, integrity = PACKAGES[name]
    dest = dest_root / f"{name}@{version}"
    if (dest / PROBES[name]).exists() and not force:
        log.info("%s already present", dest)
        return dest
    blob = fetch_tarball(name, version, url)
    if not _integrity_ok(blob, integrity):
        raise RuntimeError(f"{name}@{version}: tarball does not match the registry's integrity {integrity}")
    with tempfile.TemporaryDirectory(dir=dest_root if dest_root.exists() else None) as tmp:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        unpacked = Path(tmp) / "package"
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(unpacked), str(dest))
    log.info("installed %s@%s into %s", name, version, dest)
    return dest


def missing(dest_root: Path) -> list[str]:
    return [f"{n}@{v[0]}" for n, v in PACKAGES.items() if not (dest_root / f"{n}@{v[0]}" / PROBES[n]).exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="CDN directory (default: Solara's)")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if something is missing")
    parser.add_argument("--force", action="store_true", help="reinstall even if present")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = args.dest or cdn_dir()
    if args.check:
        gone = missing(root)
        for item in gone:
            log.error("missing offline asset %s in %s", item, root)
        return 1 if gone else 0
    root.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        install(name, root, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
