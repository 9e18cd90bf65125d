"""The browser view's CJK font: 美锦能源 / 晋南钢铁 must render as glyphs, not boxes.

Finding and checking the font is `experiments.fonts` (one implementation for figures and
the view). The view keeps Latin text in DejaVu Sans and falls back to the CJK family for
glyphs DejaVu lacks, and it degrades to a warning instead of failing when no CJK font exists.
"""

from __future__ import annotations

import functools
import logging

from matplotlib import font_manager, rcParams

from experiments.fonts import FontMissing, cjk_font

log = logging.getLogger(__name__)


@functools.cache
def _register() -> str | None:
    try:
        family, path = cjk_font()
    except FontMissing as exc:
        log.warning("%s; Chinese labels will show as boxes", exc)
        return None
    if family not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    return family


def ensure_cjk_font() -> str | None:
    """Register a CJK font behind DejaVu Sans; the family name, or None (with a warning).
    rcParams are set on every call: Solara scopes rcParams per browser session."""
    family = _register()
    if family is None:
        return None
    rest = [f for f in rcParams["font.sans-serif"] if f not in ("DejaVu Sans", family)]
    rcParams["font.sans-serif"] = ["DejaVu Sans", family, *rest]
    # A generic family ("sans-serif") resolves to one font only; fallback needs an explicit list.
    rcParams["font.family"] = ["DejaVu Sans", family]
    rcParams["axes.unicode_minus"] = False
    return family
