"""A CJK font for matplotlib, so 美锦能源 / 晋南钢铁 render as glyphs, not boxes.

Debian's `fonts-noto-cjk` or `fonts-wqy-microhei` (`.ci/run` installs the first). Fonts are
registered by file, so a matplotlib font cache built before the font was installed does not
hide it.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from matplotlib import font_manager, rcParams

log = logging.getLogger(__name__)

CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN")


@functools.cache
def ensure_cjk_font() -> str | None:
    """Register the first CJK font found and put it behind DejaVu Sans in the sans-serif list.

    Returns the family name, or None (with a warning) when no CJK font is installed.
    """
    known = {f.name for f in font_manager.fontManager.ttflist}
    for path in CANDIDATES:
        if Path(path).exists():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError) as exc:  # a broken font file
                log.warning("cannot load font %s: %s", path, exc)
    known |= {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in FAMILIES if f in known), None)
    if family is None:
        log.warning("no CJK font found: install fonts-noto-cjk; Chinese labels will show as boxes")
        return None
    # Latin text keeps DejaVu Sans; glyphs it lacks fall back to the CJK family.
    rcParams["font.sans-serif"] = ["DejaVu Sans", family, *[f for f in rcParams["font.sans-serif"] if f not in ("DejaVu Sans", family)]]
    # A generic family ("sans-serif") resolves to one font only; fallback needs an explicit list.
    rcParams["font.family"] = ["DejaVu Sans", family]
    rcParams["axes.unicode_minus"] = False
    return family
