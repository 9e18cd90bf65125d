"""Find a CJK font and register it with matplotlib, so Chinese labels render.

Looked for, in order: the file named by the environment variable H2CHAIN_CJK_FONT; the
Debian packages `fonts-wqy-microhei` and `fonts-noto-cjk`; any font fontconfig reports
for Chinese (`fc-list :lang=zh`). If none is found, `use_cjk_font` raises `FontMissing`
with the install line, rather than drawing empty boxes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

INSTALL_HINT = ("no CJK font found for Chinese labels; install one with "
                "`apt-get install -y fonts-wqy-microhei` (or fonts-noto-cjk), "
                "or point H2CHAIN_CJK_FONT at a .ttf/.ttc/.otf file")

KNOWN_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

PROBE = "山西氢能产业链金融"


class FontMissing(RuntimeError):
    """No font that can draw Chinese was found."""


def candidate_files() -> list[Path]:
    found: list[Path] = []
    env = os.environ.get("H2CHAIN_CJK_FONT")
    if env:
        found.append(Path(env))
    found += [Path(p) for p in KNOWN_FILES]
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in sorted(out.splitlines()):
            path = line.split(":")[0].strip()
            if path and "Serif" not in path and "Mono" not in path:
                found.append(Path(path))
    return [p for p in dict.fromkeys(found) if p.is_file()]


def _covers(path: Path, text: str = PROBE) -> str | None:
    """The family name of the font at `path` if it has glyphs for `text`."""
    from matplotlib import ft2font

    try:
        face = ft2font.FT2Font(str(path))
    except Exception:  # noqa: BLE001 - unreadable font file
        return None
    if any(face.get_char_index(ord(ch)) == 0 for ch in text):
        return None
    return face.family_name


@functools.cache
def cjk_font() -> tuple[str, str]:
    """(family name, file) of a usable CJK font; raises FontMissing."""
    for path in candidate_files():
        family = _covers(path)
        if family:
            return family, str(path)
    raise FontMissing(INSTALL_HINT)


def use_cjk_font() -> str:
    """Register a CJK font with matplotlib and put it first in the sans-serif list."""
    import matplotlib
    from matplotlib import font_manager

    family, path = cjk_font()
    if family not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    sans = [f for f in matplotlib.rcParams["font.sans-serif"] if f != family]
    matplotlib.rcParams["font.sans-serif"] = [family, *sans]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return family
