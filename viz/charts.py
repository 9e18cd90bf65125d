"""The six monthly charts of the browser view, drawn from the model's DataCollector frame.

`draw_charts(frame, axes, ...)` is a pure function of a DataFrame (one row per month) so it
can be tested without Solara; `chart_figure(model, lang)` builds the figure for the page.
Columns that a scenario lacks (package columns differ between package libraries) are
skipped, never an error.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from viz.fonts import ensure_cjk_font
from viz.i18n import t

LEVERS = ("interest_subsidy", "bank_reward", "premium_voucher", "fund", "stop_loss", "agency")
LEVER_COLOURS = ("#6a51a3", "#9e9ac8", "#e377c2", "#31a354", "#fd8d3c", "#8c6d31")
PACKAGE_COLOURS = ("#9ecae1", "#3182bd", "#08519c", "#fdae6b", "#e6550d", "#a1d99b", "#31a354", "#bcbddc", "#756bb1")
TITLE_SIZE = 9.5
TEXT_SIZE = 8


def monthly_frame(model) -> pd.DataFrame:
    """The model's monthly KPI frame with a `month` column (0 = the initial state)."""
    frame = model.datacollector.get_model_vars_dataframe()
    frame = frame.reset_index(drop=True)
    if "month" not in frame.columns:
        frame.insert(0, "month", range(len(frame)))
    return frame


def _wan(x, _pos=None) -> str:
    """CNY 10k tick labels: 1.2亿 style is too cryptic for English readers, so use k/M."""
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.1f}M"
    if ax >= 1e3:
        return f"{x / 1e3:.0f}k"
    return f"{x:.0f}"


def _cols(frame, names):
    return [c for c in names if c in frame.columns]


def _finish(ax, title, lang, legend=True, ncol=1):
    ax.set_title(title, fontsize=TITLE_SIZE, loc="left")
    ax.tick_params(labelsize=TEXT_SIZE - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.grid(True, color="#eeeeee", lw=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=TEXT_SIZE - 1, frameon=False, loc="upper left", ncol=ncol, handlelength=1.4,
                  columnspacing=0.8, labelspacing=0.25)


def draw_credit(ax, frame, lang, packages=None):
    names = list(packages) if packages else [c[len("credit_"):-len("_wan")] for c in frame.columns
                                              if c.startswith("credit_") and c.endswith("_wan")
                                              and c != "credit_outstanding_wan"]
    cols = [f"credit_{p}_wan" for p in names if f"credit_{p}_wan" in frame.columns]
    if cols:
        data = frame[cols].fillna(0.0).clip(lower=0.0)
        ax.stackplot(frame["month"], data.T.values, labels=[c[len("credit_"):-len("_wan")] for c in cols],
                     colors=PACKAGE_COLOURS[: len(cols)], alpha=0.9)
    elif "credit_outstanding_wan" in frame:
        ax.plot(frame["month"], frame["credit_outstanding_wan"], color="#3182bd", label="total")
    ax.yaxis.set_major_formatter(FuncFormatter(_wan))
    _finish(ax, t("chart_credit", lang), lang, ncol=2)


def draw_approval(ax, frame, lang):
    if "approval_rate" in frame:
        ax.plot(frame["month"], frame["approval_rate"], color="#2171b5", lw=1.6)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _finish(ax, t("chart_approval", lang), lang, legend=False)


def draw_defaults(ax, frame, lang):
    if "distressed_smes" in frame:
        ax.plot(frame["month"], frame["distressed_smes"], color="#fd8d3c", lw=1.5, label=t("distressed_smes", lang))
    if "defaulted_smes" in frame:
        ax.plot(frame["month"], frame["defaulted_smes"], color="#a50f15", lw=1.5, label=t("defaulted_smes", lang))
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    handles, labels = ax.get_legend_handles_labels()
    if "npl_ratio" in frame:
        right = ax.twinx()
        line = right.plot(frame["month"], frame["npl_ratio"], color="#525252", lw=1.2, ls="--",
                          label=t("npl_ratio", lang))
        right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        right.set_ylim(bottom=0)
        right.tick_params(labelsize=TEXT_SIZE - 0.5)
        right.spines["top"].set_visible(False)
        handles += line
        labels.append(t("npl_ratio", lang))
    _finish(ax, t("chart_defaults", lang), lang, legend=False)
    if handles:
        ax.legend(handles, labels, fontsize=TEXT_SIZE - 1, frameon=False, loc="upper left", labelspacing=0.25)


def draw_fiscal(ax, frame, lang):
    cols = [f"fiscal_{lv}_wan" for lv in LEVERS if f"fiscal_{lv}_wan" in frame.columns]
    if cols:
        data = frame[cols].fillna(0.0).clip(lower=0.0)
        colours = [LEVER_COLOURS[LEVERS.index(c[len("fiscal_"):-len("_wan")])] for c in cols]
        ax.stackplot(frame["month"], data.T.values, colors=colours, alpha=0.85,
                     labels=[t(f"lever_{c[len('fiscal_'):-len('_wan')]}", lang) for c in cols])
    if "fund_balance_wan" in frame:
        ax.plot(frame["month"], frame["fund_balance_wan"], color="#006d2c", lw=1.8, label=t("fund_balance_wan", lang))
    ax.yaxis.set_major_formatter(FuncFormatter(_wan))
    ax.set_ylim(bottom=0)
    _finish(ax, t("chart_fiscal", lang), lang, ncol=2)


def draw_deployment(ax, frame, lang):
    handles = []
    if "trucks_deployed" in frame:
        handles += ax.plot(frame["month"], frame["trucks_deployed"], color="#08519c", lw=1.6, label=t("trucks", lang))
    if "trucks_planned" in frame:
        handles += ax.plot(frame["month"], frame["trucks_planned"], color="#08519c", lw=1.0, ls=":",
                           label=f"{t('trucks', lang)} · {t('plan', lang)}")
    ax.yaxis.set_major_formatter(FuncFormatter(_wan))
    ax.set_ylim(bottom=0)
    if _cols(frame, ["stations_deployed", "stations_planned"]):
        right = ax.twinx()
        if "stations_deployed" in frame:
            handles += right.plot(frame["month"], frame["stations_deployed"], color="#d94801", lw=1.6,
                                  label=t("stations", lang))
        if "stations_planned" in frame:
            handles += right.plot(frame["month"], frame["stations_planned"], color="#d94801", lw=1.0, ls=":",
                                  label=f"{t('stations', lang)} · {t('plan', lang)}")
        right.set_ylim(bottom=0)
        right.tick_params(labelsize=TEXT_SIZE - 0.5)
        right.spines["top"].set_visible(False)
    _finish(ax, t("chart_deploy", lang), lang, legend=False)
    if handles:
        ax.legend(handles, [h.get_label() for h in handles], fontsize=TEXT_SIZE - 1, frameon=False,
                  loc="upper left", labelspacing=0.25)


def draw_insurer(ax, frame, lang, suspend_at=None):
    if "insurer_loss_ratio" in frame:
        series = pd.to_numeric(frame["insurer_loss_ratio"], errors="coerce")
        ax.plot(frame["month"], series, color="#756bb1", lw=1.6)
    if suspend_at is not None:
        ax.axhline(suspend_at, color="#cb181d", lw=1.0, ls="--", label=t("suspend", lang))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(bottom=0)
    _finish(ax, t("chart_insurer", lang), lang)


def draw_charts(frame: pd.DataFrame, axes, lang: str = "en", packages=None, suspend_at=None) -> None:
    """Fill six axes (credit, approval, defaults, fiscal, deployment, insurer) from `frame`."""
    draw_credit(axes[0], frame, lang, packages)
    draw_approval(axes[1], frame, lang)
    draw_defaults(axes[2], frame, lang)
    draw_fiscal(axes[3], frame, lang)
    draw_deployment(axes[4], frame, lang)
    draw_insurer(axes[5], frame, lang, suspend_at)
    for ax in axes[-2:]:
        ax.set_xlabel(t("month", lang), fontsize=TEXT_SIZE)


def chart_figure(model, lang: str = "en") -> Figure:
    """A 3 x 2 figure of the monthly charts of `model`."""
    ensure_cjk_font()
    fig = Figure(figsize=(7.6, 8.4), dpi=90, layout="constrained")
    axes = fig.subplots(3, 2, sharex=True).ravel()
    params = getattr(model, "params", None)
    packages = tuple(params.packages) if params is not None else None
    suspend_at = getattr(params, "insurer_suspend_loss_ratio", None)
    draw_charts(monthly_frame(model), axes, lang, packages, suspend_at)
    return fig
