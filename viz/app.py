"""The browser view: Mesa's SolaraViz around `HydrogenChainModel`.

    solara run viz.app          # or: solara run app.py, or: h2chain viz

Page layout: the sidebar holds Mesa's run controls (Reset, play/pause, Step), the seed box and
our scenario card (scenario, stress, lever sliders, language); the main area shows the
supply network, the key results so far (`model.summary()`) and six monthly charts.

Everything that belongs to one browser (model, renderer, control values) is created inside
`Page` with `use_memo`, so two researchers on one server never step each other's model.
"""

from __future__ import annotations

import html
import math

import solara
from mesa.visualization import SolaraViz
from mesa.visualization import solara_viz as _mesa_solara_viz
from mesa.visualization.utils import force_update, update_counter

from viz.charts import CHARTS, model_chart_options
from viz.echarts_widget import FigureEcharts
from viz.i18n import LANGUAGES, t
from viz.network_view import STATUS_COLOURS, ChainRenderer
from viz.settings import (
    DEFAULT_SEED,
    INT_LEVERS,
    LEVERS,
    NO_STRESS,
    BrowserModel,
    ViewSettings,
    available_scenarios,
    scenario_description,
    stress_scenarios,
)

# Summary keys shown first, in this order; any other key summary() returns follows.
SUMMARY_ORDER = (
    "sme_survival_rate", "credit_mobilised_wan", "approval_rate", "npl_ratio", "fiscal_cost_wan",
    "fiscal_leverage", "fund_payouts_wan", "insurer_loss_ratio", "rd_successes", "deliveries_wan",
    "trucks_deployed", "stations_deployed",
)
RATE_KEYS = {"sme_survival_rate", "approval_rate", "npl_ratio", "insurer_loss_ratio"}


def grid_layout(num_components: int) -> list[dict]:
    """Tile positions (12-column grid, 40 px rows): our dashboard spans the full width (Mesa's
    default gives every component a half-width tile of 10 rows); any extra component follows."""
    fixed = [{"i": 0, "x": 0, "y": 0, "w": 12, "h": 27, "moved": False}]
    extra = [{"i": i, "x": 6 * (i % 2), "y": 27 + 12 * (i // 2), "w": 6, "h": 10, "moved": False}
             for i in range(len(fixed), num_components)]
    return (fixed + extra)[:num_components]


# SolaraViz looks this function up at render time; Mesa 3.5.1 has no argument for it.
_mesa_solara_viz.make_initial_grid_layout = grid_layout


def _lang(model) -> str:
    settings = getattr(model, "view_settings", None)
    return settings.lang.value if settings is not None else "en"


def format_value(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if key in RATE_KEYS or key.endswith("_rate") or "_rate_" in key or key.startswith(("default_rate", "npl_ratio")):
        return f"{100 * value:.1f}%"
    if key.endswith("_wan"):
        return f"{value:,.0f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,.0f}" if isinstance(value, (int, float)) else html.escape(str(value))


def summary_html(model, lang: str) -> str:
    """The key-results panel as HTML: what runs, SMEs by status, and summary() so far."""
    snap = getattr(model, "view_snapshot", {})
    titles = {s.name: s for s in available_scenarios()}
    scen = titles.get(snap.get("scenario", ""))
    stress = titles.get(snap.get("stress", ""))
    running = t("running_now", lang,
                title=html.escape(scen.label(lang) if scen else snap.get("scenario", "?")),
                stress=html.escape(stress.label(lang) if stress else t("no_stress", lang)),
                seed=getattr(model, "seed_used", "?"))
    counts = {s: 0 for s in STATUS_COLOURS}
    for sme in model.smes:
        counts[sme.status] = counts.get(sme.status, 0) + 1
    chips = "".join(
        f'<span style="display:inline-block;margin:2px 10px 2px 0;white-space:nowrap">'
        f'<span style="display:inline-block;width:11px;height:11px;border-radius:50%;background:{c};'
        f'margin-right:4px;vertical-align:-1px"></span>{t(s, lang)} <b>{counts.get(s, 0)}</b></span>'
        for s, c in STATUS_COLOURS.items())
    summary = model.summary()
    keys = [k for k in SUMMARY_ORDER if k in summary] + [k for k in summary if k not in SUMMARY_ORDER and k != "months"]
    rows = "".join(
        f'<tr data-kpi="{html.escape(k)}"><td style="padding:1px 12px 1px 0">{html.escape(_kpi_name(model, k, lang))}</td>'
        f'<td style="text-align:right;font-variant-numeric:tabular-nums">{format_value(k, summary[k])}</td></tr>'
        for k in keys)
    month = getattr(model, "month", 0)
    return (
        f'<div class="h2-summary" style="font-size:13px;line-height:1.35">'
        f'<div style="font-size:15px;font-weight:600;margin-bottom:2px">{t("summary_title", lang)} · '
        f'<span class="h2-month">{t("month", lang)} {month}</span></div>'
        f'<div style="color:#555;margin-bottom:6px">{running}</div>'
        f'<div style="margin-bottom:6px"><i>{t("status_counts", lang)}:</i><br>{chips}</div>'
        f'<div style="max-height:300px;overflow-y:auto"><table style="border-collapse:collapse;width:100%">{rows}</table></div>'
        f'</div>'
    )


def _kpi_name(model, key: str, lang: str) -> str:
    """A summary key's label; credit by package (credit_mobilised_<package>_wan) names the
    package as the charts do (its Chinese name in Chinese)."""
    spec = None
    if key.startswith("credit_mobilised_") and key.endswith("_wan"):
        package = key.removeprefix("credit_mobilised_").removesuffix("_wan")
        spec = model.params.packages.get(package)
    if spec is None:
        return t("kpi_" + key, lang)
    return t("kpi_credit_via", lang, package=spec.name_zh if lang == "zh" and spec.name_zh else package.replace("_", " "))


@solara.component
def KeyResults(model, tick: int = 0, lang: str = "en"):
    return solara.HTML(tag="div", unsafe_innerHTML=summary_html(model, lang))


@solara.component
def NetworkView(model, tick: int = 0, lang: str = "en"):
    """The supply network, drawn by our SpaceRenderer subclass (matplotlib backend).

    One renderer per model (a Reset makes a new model, hence a new renderer and layout); each
    step restyles the existing markers instead of redrawing the structure, and the PNG is
    saved without a tight bounding box: Mesa's own SpaceRendererComponent redraws edges every
    step and draws the figure three times, which costs more than our one-second budget.
    """
    renderer = solara.use_memo(lambda: ChainRenderer(model), [model])

    def make_png():
        renderer.update()
        return renderer.png()

    png = solara.use_memo(make_png, [model, tick, lang])
    width, height = renderer.canvas.get_figure().canvas.get_width_height()
    # ipywidgets' <img> gets a wrapper of height 100%: give that wrapper the image's shape
    with solara.Div(style={"width": "100%", "aspect-ratio": f"{width} / {height}"}) as main:
        solara.Image(png, width="100%", classes=["h2-network"])
    return main


@solara.component
def Charts(model, tick: int = 0, lang: str = "en"):
    """The six monthly charts (ECharts, drawn in the browser)."""
    options = model_chart_options(model, lang)
    with solara.Div(classes=["h2-charts"], style={"display": "grid", "grid-template-columns": "1fr 1fr",
                                                   "gap": "4px 12px", "width": "100%"}) as main:
        for name in CHARTS:
            FigureEcharts(option=options[name], attributes={"style": "height: 250px; width: 100%;",
                                                           "class": f"h2-chart h2-chart-{name}"})
    return main


@solara.component
def Dashboard(model):
    """Network and key results on the left, the charts on the right.

    One component subscribes to SolaraViz's step counter: every subscriber costs a full
    render pass of the page per step."""
    tick = update_counter.get()
    lang = _lang(model)
    with solara.Div(style={"display": "grid", "grid-template-columns": "minmax(0, 1fr) minmax(0, 1fr)",
                           "gap": "12px", "width": "100%"}) as main:
        with solara.Div(style={"min-width": "0"}):
            NetworkView(model, tick, lang)
            KeyResults(model, tick, lang)
        with solara.Div(style={"min-width": "0"}):
            Charts(model, tick, lang)
    return main


@solara.component
def SettingsCard(settings: ViewSettings, model: solara.Reactive):
    """Scenario, stress, lever sliders and language; applied by Reset."""
    lang = settings.lang.value
    scenarios = available_scenarios()
    by_label = {s.label(lang): s.name for s in scenarios}
    name_to_label = {v: k for k, v in by_label.items()}
    stresses = stress_scenarios()
    stress_by_label = {t("no_stress", lang): NO_STRESS, **{s.label(lang): s.name for s in stresses}}
    stress_to_label = {v: k for k, v in stress_by_label.items()}

    def set_language(value):
        settings.lang.set(value)
        force_update()  # redraw the figures in the new language

    # Long scenario titles must not widen the sidebar over the page (they did).
    solara.Style(""".h2-settings { max-width: 340px; overflow-wrap: anywhere; }
.h2-settings .v-select__selections { flex-wrap: nowrap; }
.h2-settings .v-select__selection { max-width: 290px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.h2-settings .v-slider__input .v-input__slot, .h2-settings .v-input__slider .v-input__slot { flex-wrap: wrap; }
.h2-settings .v-input__slider .v-input__slot > .v-label { width: 100%; margin-bottom: -6px; font-size: 14px; }""")
    with solara.Card(t("settings", lang), classes=["h2-settings"]):
        with solara.ToggleButtonsSingle(value=lang, on_value=set_language, dense=True):
            for code, label in LANGUAGES.items():
                solara.Button(label, value=code, text=True)
        solara.Select(label=t("scenario", lang), values=list(by_label),
                      value=name_to_label.get(settings.scenario.value, settings.scenario.value),
                      on_value=lambda label: settings.choose_scenario(by_label[label]))
        about = scenario_description(settings.scenario.value)
        if about:
            solara.Text(about, style={"font-size": "12px", "color": "#555", "line-height": "1.3"})
        solara.Select(label=t("stress", lang), values=list(stress_by_label),
                      value=stress_to_label.get(settings.stress.value, t("no_stress", lang)),
                      on_value=lambda label: settings.stress.set(stress_by_label[label]))
        solara.Text(t("from_scenario", lang), style={"font-size": "12px", "color": "#666"})
        for name, (lo, hi, step) in LEVERS.items():
            reactive = settings.levers[name]
            label = f"{t(name, lang)}: {reactive.value:g}"  # the value stays visible
            if name in INT_LEVERS:
                solara.SliderInt(label, value=reactive, min=int(lo), max=int(hi), step=int(step))
            else:
                solara.SliderFloat(label, value=reactive, min=lo, max=hi, step=step)
        solara.Checkbox(label=t("scale_plans", lang), value=settings.scale_plans)
        running = getattr(model.value, "view_snapshot", {})
        wanted = settings.snapshot()
        changed = [t(k, lang) for k in wanted if wanted[k] != running.get(k)]
        if changed:
            solara.Warning(t("pending", lang, names=", ".join(changed)) + ". " + t("apply_hint", lang), dense=True)
        else:
            solara.Text(t("apply_hint", lang), style={"font-size": "12px", "color": "#666"})
        if settings.seed_error.value:
            bad, kept = settings.seed_error.value.split("|", 1)
            solara.Error(t("seed_invalid", lang, seed=kept) + f" ({bad})", dense=True)


@solara.component
def Page():
    """One browser session: its own settings, model and renderer."""
    settings = solara.use_memo(ViewSettings, [])
    model = solara.use_memo(lambda: solara.reactive(BrowserModel(settings=settings, seed=DEFAULT_SEED)), [])
    lang = settings.lang.value
    with solara.Sidebar():
        SettingsCard(settings, model)
    SolaraViz(
        model,
        None,  # the network is our NetworkView component (see its docstring)
        components=[(Dashboard, 0)],
        model_params={
            "settings": settings,
            "seed": {"type": "InputText", "value": str(DEFAULT_SEED), "label": t("seed", lang)},
        },
        name=t("app_title", lang),
        play_interval=150,
    )


page = Page
