"""Drawing the supply network: a tiered layout computed once and a styled SpaceRenderer.

Layout: chain leaders on top, tier-1 suppliers in a band below them, tier-2 suppliers at the
bottom. Each leader's chain gets an x-range proportional to its size; inside it, tier-1 SMEs
are grouped by segment (制储运加用) and tier-2 SMEs sit below the customers they supply. The
layout is a pure function of the graph, computed once per model (Mesa's default spring
layout is slow, unseeded and moves between runs).

Encoding: colour = SME status, marker = segment, marker area = credit outstanding; leaders are
large dark stars labelled with their Chinese and English names.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from PIL import Image as PILImage
from mesa.visualization import SpaceRenderer
from mesa.visualization.components import AgentPortrayalStyle
from mesa.visualization.space_drawers import NetworkSpaceDrawer

from viz.fonts import ensure_cjk_font
from viz.i18n import t

STATUS_COLOURS = {
    "healthy": "#a1d99b",  # light green: trading, no loan
    "financed": "#2171b5",  # blue: has a loan
    "distressed": "#fd8d3c",  # orange: cash short, arrears
    "defaulted": "#a50f15",  # dark red: insolvent
}
SEGMENT_MARKERS = {"制": "o", "储": "s", "运": "^", "加": "D", "用": "P"}
SEGMENT_ORDER = tuple(SEGMENT_MARKERS)
LEADER_COLOUR = "#252525"

# y-bands of the tiers (data coordinates; the drawing spans x in [0, 1])
Y_LEADER = 1.08
BAND_TIER1 = (0.92, 0.52)  # top, bottom
BAND_TIER2 = (0.40, 0.00)
CHAIN_GAP = 0.03


def _band_positions(nodes, x0, width, band, out):
    """Place `nodes` (already ordered) column by column in [x0, x0+width] x band."""
    n = len(nodes)
    if n == 0:
        return
    top, bottom = band
    height = top - bottom
    cols = max(1, round(math.sqrt(n * width / height)))
    rows = math.ceil(n / cols)
    cols = math.ceil(n / rows)
    dx = width / cols
    dy = height / rows
    for i, node in enumerate(nodes):
        col, row = divmod(i, rows)
        stagger = 0.25 * dx if row % 2 else -0.25 * dx
        out[node] = (x0 + (col + 0.5) * dx + (stagger if cols > 1 else 0.0), top - (row + 0.5) * dy)


def tiered_layout(graph) -> dict[int, tuple[float, float]]:
    """Node -> (x, y): leaders on top, tier-1 below, tier-2 at the bottom, chains side by side.

    Deterministic (depends only on the graph) and O(N log N).
    """
    attrs = graph.nodes
    leaders = [n for n in graph.nodes if attrs[n].get("kind") == "leader"]
    key_of = {n: attrs[n].get("leader", str(n)) for n in leaders}
    chain_keys = [key_of[n] for n in leaders] or [""]
    sizes = {k: 0 for k in chain_keys}
    for n in graph.nodes:
        if attrs[n].get("kind") != "leader":
            k = attrs[n].get("leader", chain_keys[0])
            sizes[k] = sizes.get(k, 0) + 1
    total = sum(sizes.values()) or 1
    usable = 1.0 - CHAIN_GAP * (len(sizes) - 1)
    ranges, x = {}, 0.0
    for k in sizes:
        w = usable * max(sizes[k], 1) / total if total else usable / len(sizes)
        ranges[k] = (x, w)
        x += w + CHAIN_GAP

    pos: dict[int, tuple[float, float]] = {}
    for n in leaders:
        x0, w = ranges[key_of[n]]
        pos[n] = (x0 + w / 2, Y_LEADER)

    seg_rank = {s: i for i, s in enumerate(SEGMENT_ORDER)}
    for k, (x0, w) in ranges.items():
        tier1 = sorted(
            (n for n in graph.nodes if attrs[n].get("kind") != "leader" and attrs[n].get("tier") == 1
             and attrs[n].get("leader", chain_keys[0]) == k),
            key=lambda n: (seg_rank.get(attrs[n].get("segment"), 99), n),
        )
        _band_positions(tier1, x0, w, BAND_TIER1, pos)
    for k, (x0, w) in ranges.items():
        tier2 = [n for n in graph.nodes if attrs[n].get("kind") != "leader" and attrs[n].get("tier") != 1
                 and attrs[n].get("leader", chain_keys[0]) == k]

        def under_customers(n):
            xs = [pos[c][0] for c in graph.successors(n) if c in pos] if graph.is_directed() else \
                 [pos[c][0] for c in graph.neighbors(n) if c in pos]
            return (float(np.mean(xs)) if xs else x0 + w / 2, n)

        tier2.sort(key=under_customers)
        _band_positions(tier2, x0, w, BAND_TIER2, pos)
    return pos


def sme_size(credit_wan: float) -> float:
    """Marker area (pt^2): a floor so every SME is visible, growing with sqrt(credit)."""
    return 26.0 + min(220.0, 4.0 * math.sqrt(max(credit_wan, 0.0)))


def portray_agent(agent) -> AgentPortrayalStyle:
    """Style of one agent on the network (named function: picklable, testable)."""
    status = getattr(agent, "status", None)
    if status is None:  # a chain leader
        return AgentPortrayalStyle(color=LEADER_COLOUR, marker="*", size=900, zorder=4,
                                   edgecolors="white", linewidths=1.2)
    return AgentPortrayalStyle(
        color=STATUS_COLOURS.get(status, "#969696"),
        marker=SEGMENT_MARKERS.get(getattr(agent, "segment", ""), "o"),
        size=sme_size(getattr(agent, "credit_outstanding_wan", 0.0) or 0.0),
        zorder=3 if status in ("distressed", "defaulted") else 2,
        edgecolors="#252525" if status == "defaulted" else "white",
        linewidths=0.9 if status == "defaulted" else 0.4,
    )


class ChainRenderer(SpaceRenderer):
    """The network view. All styling lives in `__init__`, because SolaraViz's Reset builds a
    new renderer with `type(renderer)(model=..., backend=...)` and copies only part of the
    old one's set-up."""

    def __init__(self, model, backend="matplotlib"):
        self.model = model
        ensure_cjk_font()
        super().__init__(model, backend=backend)
        self.setup_structure(
            node_kwargs={"node_size": 0, "alpha": 0.0},
            edge_kwargs={"arrows": False, "edge_color": "#9e9e9e", "width": 0.35, "alpha": 0.45,
                         "style": "solid", "zorder": 0},
        )
        self.setup_agents(portray_agent)
        self._static: list = []  # texts and legends that change only with the language
        self._static_lang = None
        self._title = None
        self._status_legend = None
        self._groups: list = []
        self._background = None  # pixels of the static layer (see png())
        if backend == "matplotlib":
            fig = self.backend_renderer.fig
            FigureCanvasAgg(fig)  # a real Agg canvas, for blitting
            fig.set_layout_engine("none")  # fixed margins: constrained layout re-solves every draw
            fig.set_size_inches(6.4, 5.9)
            fig.set_dpi(100)
            self.canvas.set_position([0.01, 0.16, 0.98, 0.78])  # legends go below the axes
        self.render()  # SolaraViz redraws only what has been drawn once

    def _get_space_drawer(self):
        if self.space is None:  # the model names its space `network`
            self.space = getattr(self.model, "network", None)
        return NetworkSpaceDrawer(self.space, layout_alg=tiered_layout, layout_kwargs={})

    @property
    def language(self) -> str:
        settings = getattr(self.model, "view_settings", None)
        return settings.language if settings is not None else "en"

    def draw_agents(self, agent_portrayal=None, **kwargs):
        """Scatter the agents, one collection per marker shape, and remember the artists so
        `update()` can restyle them in place. (Mesa's matplotlib backend also does a full
        canvas.draw() first, to size image markers, which we do not use.)"""
        if self.backend != "matplotlib":
            return super().draw_agents(agent_portrayal, **kwargs)
        ax = self.canvas
        pos = self.space_drawer.pos
        groups: dict[str, list] = {}
        for agent in self.space.agents:
            groups.setdefault(self.agent_portrayal(agent).marker, []).append(agent)
        self._groups = []
        for marker, agents in groups.items():
            xy = np.array([pos[a.cell.coordinate] for a in agents], dtype=float)
            coll = ax.scatter(xy[:, 0], xy[:, 1], marker=marker, s=10.0)
            self._groups.append((agents, coll))
        self._restyle()
        self._decorate(ax)
        self.agent_mesh = ax
        return ax

    def _restyle(self) -> None:
        # markers shrink as the network grows beyond 300 SMEs, so they stay apart
        n = max(len(getattr(self.model, "smes", ())), 1)
        scale = min(1.0, (300.0 / n) ** 0.5)
        for agents, coll in self._groups:
            styles = [self.agent_portrayal(a) for a in agents]
            coll.set_facecolors([st.color for st in styles])
            coll.set_edgecolors([st.edgecolors for st in styles])
            coll.set_linewidths([st.linewidths for st in styles])
            coll.set_sizes([st.size if st.marker == "*" else st.size * scale for st in styles])
            coll.set_zorder(max(st.zorder for st in styles))

    def update(self) -> None:
        """Bring the drawing to the model's current month: restyle the agents, rewrite the
        texts. No new artists, the layout and the edges stay as they are."""
        if not getattr(self, "_groups", None):
            self.render()
            return
        self._restyle()
        self._decorate(self.canvas)

    def _decorate(self, ax):
        """Texts and legends. Static ones (leader names, tier captions, the segment legend)
        are made once per language; the month title and the status legend with its counts
        change every step. SolaraViz's own renderer component clears lines, collections and
        patches but not texts, so all of ours are tracked and removed by us."""
        lang = self.language
        fig = ax.get_figure()
        if self._static_lang != lang:
            for artist in self._static:
                try:
                    artist.remove()
                except (ValueError, NotImplementedError):  # already removed (SolaraViz clears artists)
                    pass
            self._static = []
            pos = self.space_drawer.pos
            ax.set_xlim(-0.13, 1.01)
            ax.set_ylim(-0.05, 1.22)
            for leader in getattr(self.model, "leaders", []):
                x, y = pos[leader.cell.coordinate]
                label = f"{leader.name_zh}\n{leader.name}" if lang == "en" else f"{leader.name_zh}"
                self._static.append(ax.text(x + 0.035, y, label, fontsize=10.5, fontweight="bold", va="center",
                                            ha="left", color=LEADER_COLOUR, zorder=5))
            for key, (top, bottom) in (("tier_leaders", (Y_LEADER + 0.05, Y_LEADER - 0.05)),
                                       ("tier_1", BAND_TIER1), ("tier_2", BAND_TIER2)):
                self._static.append(ax.text(-0.02, (top + bottom) / 2, t(key, lang), fontsize=9, color="#525252",
                                            ha="right", va="center", style="italic", linespacing=1.1))
            for y in ((BAND_TIER1[1] + BAND_TIER2[0]) / 2, (BAND_TIER1[0] + Y_LEADER) / 2 - 0.02):
                self._static.append(ax.axhline(y, color="#d9d9d9", lw=0.6, zorder=-1))
            seg_handles = [Line2D([], [], ls="", marker=m, markersize=7, markerfacecolor="#bdbdbd",
                                  markeredgecolor="#525252", label=t(f"seg_{s}", lang))
                           for s, m in SEGMENT_MARKERS.items()]
            seg = Legend(ax, seg_handles, [h.get_label() for h in seg_handles],
                         title=f"{t('segment', lang)} · {t('size_note', lang)}", loc="upper left",
                         bbox_to_anchor=(0.0, -0.075), ncol=5, fontsize=8, title_fontsize=8.5, frameon=False,
                         alignment="left", columnspacing=0.9, handletextpad=0.2)
            ax.add_artist(seg)
            self._static.append(seg)
            self._static_lang = lang
            self._background = None

        if self._title is None:
            self._title = fig.text(0.01, 0.99, "", fontsize=12, ha="left", va="top")
        month = getattr(self.model, "month", int(getattr(self.model, "time", 0)))
        self._title.set_text(t("network_title", lang, month=month))
        counts = {s: 0 for s in STATUS_COLOURS}
        for sme in getattr(self.model, "smes", []):
            counts[sme.status] = counts.get(sme.status, 0) + 1
        status_handles = [Line2D([], [], ls="", marker="o", markersize=8, markerfacecolor=c,
                                 markeredgecolor="#252525" if s == "defaulted" else "white",
                                 label=f"{t(s, lang)} ({counts.get(s, 0)})")
                          for s, c in STATUS_COLOURS.items()]
        if self._status_legend is not None and self._status_legend.axes is not None:
            self._status_legend.remove()
        self._status_legend = Legend(ax, status_handles, [h.get_label() for h in status_handles],
                                     title=t("status", lang), loc="upper left", bbox_to_anchor=(0.0, 0.0), ncol=4,
                                     fontsize=8, title_fontsize=8.5, frameon=False, alignment="left",
                                     columnspacing=1.0, handletextpad=0.2)
        ax.add_artist(self._status_legend)

    def _dynamic_artists(self) -> list:
        return [coll for _agents, coll in self._groups] + [self._title, self._status_legend]

    def png(self) -> bytes:
        """The current drawing as PNG bytes.

        Blitting: the static layer (edges, names, captions, segment legend) is drawn once and
        kept as a pixel buffer; each step restores it and draws only the markers, the title
        and the status legend. Fast zlib level: the image changes every step."""
        fig = self.canvas.get_figure()
        canvas = fig.canvas
        dynamic = self._dynamic_artists()
        if self._background is None:
            for a in dynamic:
                a.set_animated(True)
            canvas.draw()
            for a in dynamic:
                a.set_animated(False)
            self._background = canvas.copy_from_bbox(fig.bbox)
        else:
            canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for a in dynamic:
            a.draw(renderer)
        width, height = canvas.get_width_height()
        image = PILImage.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="png", compress_level=1)
        return buf.getvalue()
