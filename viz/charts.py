"""The six monthly charts of the browser view, as ECharts options drawn by the browser.

Why not matplotlib: six charts redrawn as PNGs cost 1.5-4 s per step on our 2-core machines,
which breaks the one-second budget of a step; an ECharts option is a small JSON document and
the browser draws it in milliseconds (ECharts 5.4 ships offline in `solara-assets`).
The charts also get hover tooltips with exact values.

`chart_options(frame, lang, ...)` is a pure function of the model's monthly DataFrame, so it
is tested without Solara. Columns that a scenario lacks (package columns differ between
package libraries) are skipped, never an error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from viz.i18n import t

CHARTS = ("credit", "approval", "defaults", "fiscal", "deployment", "insurer")
LEVERS = ("interest_subsidy", "bank_reward", "premium_voucher", "fund", "stop_loss", "agency")
LEVER_COLOURS = ("#6a51a3", "#9e9ac8", "#e377c2", "#31a354", "#fd8d3c", "#8c6d31")
PACKAGE_COLOURS = ("#9ecae1", "#3182bd", "#08519c", "#fdae6b", "#e6550d", "#a1d99b", "#31a354", "#bcbddc", "#756bb1")


def monthly_frame(model) -> pd.DataFrame:
    """The model's monthly KPI frame with a `month` column (0 = the initial state)."""
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    if "month" not in frame.columns:
        frame.insert(0, "month", range(len(frame)))
    return frame


def _values(frame, col) -> np.ndarray:
    """A column as floats, NaN where missing (reporters return None before data exists)."""
    series = frame[col]
    if series.dtype == object:
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _points(frame, col, scale=1.0, digits=4):
    """[[month, value], ...] with None for missing values (JSON null: a gap in the line)."""
    values = np.round(_values(frame, col) * scale, digits)
    return [[int(m), None if math.isnan(v) else float(v)] for m, v in zip(frame["month"], values)]


def _line(name, data, colour, *, width=2.0, dashed=False, area=False, stack=None, axis=0):
    series = {"type": "line", "name": name, "data": data, "showSymbol": False, "color": colour,
              "lineStyle": {"width": width, "type": "dotted" if dashed else "solid"}, "yAxisIndex": axis,
              "connectNulls": False}
    if area:
        series["areaStyle"] = {"opacity": 0.85}
    if stack:
        series["stack"] = stack
    return series


def _axis(name="", fmt=None, **extra):
    axis = {"type": "value", "name": name, "nameTextStyle": {"fontSize": 10}, "splitLine": {"lineStyle": {"color": "#eee"}},
            "axisLabel": {"fontSize": 10}, "scale": False, **extra}
    if fmt:
        axis["axisLabel"]["formatter"] = fmt
    return axis


def _base(title, frame, lang, series, y_axes, note=None):
    last = int(frame["month"].iloc[-1]) if len(frame) else 0
    x_axis = {"type": "value", "name": t("month", lang), "nameLocation": "middle", "nameGap": 20,
              "nameTextStyle": {"fontSize": 10}, "min": 0, "max": max(last, 1), "minInterval": 1,
              "axisLabel": {"fontSize": 10}, "splitLine": {"show": False}}
    if any("stack" in s for s in series):
        # ECharts stacks along the x axis when both axes are value axes: series k was drawn at
        # x = (k+1) x month, unstacked. A category axis of months stacks values as intended.
        x_axis = {**x_axis, "type": "category", "data": [int(m) for m in frame["month"]], "boundaryGap": False}
        del x_axis["min"], x_axis["max"], x_axis["minInterval"]
        series = [{**s, "data": [value for _month, value in s["data"]]} for s in series]
    option = {
        "animation": False,
        "title": {"text": title, "left": 0, "top": 0, "textStyle": {"fontSize": 13, "fontWeight": "normal"}},
        "tooltip": {"trigger": "axis", "confine": True},
        "legend": {"top": 22, "left": 0, "itemWidth": 14, "itemHeight": 8, "textStyle": {"fontSize": 10}},
        "grid": {"left": 8, "right": 12, "top": 80 if len(series) > 2 else 58, "bottom": 28, "containLabel": True},
        "xAxis": x_axis,
        "yAxis": y_axes,
        "series": series,
    }
    if note:
        option["graphic"] = [{"type": "text", "left": "center", "top": "middle",
                              "style": {"text": note, "fill": "#999", "fontSize": 13}}]
    return option


def _all_zero(frame, cols) -> bool:
    cols = [c for c in cols if c in frame.columns]
    if not cols or frame.empty:
        return True
    return not any(np.any(np.nan_to_num(_values(frame, c)) != 0.0) for c in cols)


def credit_option(frame, lang, packages=None, package_labels=None):
    names = list(packages) if packages else [c[len("credit_"):-len("_wan")] for c in frame.columns
                                              if c.startswith("credit_") and c.endswith("_wan") and c != "credit_outstanding_wan"]
    cols = [f"credit_{p}_wan" for p in names if f"credit_{p}_wan" in frame.columns]
    labels = package_labels or {}
    series = [_line(labels.get(c[len("credit_"):-len("_wan")], c[len("credit_"):-len("_wan")].replace("_", " ")),
                    _points(frame, c, digits=1), PACKAGE_COLOURS[i % len(PACKAGE_COLOURS)],
                    width=1, area=True, stack="credit") for i, c in enumerate(cols)]
    if not cols and "credit_outstanding_wan" in frame:
        series = [_line("total", _points(frame, "credit_outstanding_wan", digits=1), "#3182bd")]
    note = None
    if _all_zero(frame, cols or ["credit_outstanding_wan"]):
        series, note = [], t("no_data", lang)
    return _base(t("chart_credit", lang), frame, lang, series, [_axis()], note)


def approval_option(frame, lang):
    series = [_line(t("kpi_approval_rate", lang), _points(frame, "approval_rate", 100, 1), "#2171b5")] \
        if "approval_rate" in frame else []
    return _base(t("chart_approval", lang), frame, lang, series, [_axis(fmt="{value}%", min=0, max=100)])


def defaults_option(frame, lang):
    series = []
    if "distressed_smes" in frame:
        series.append(_line(t("distressed_smes", lang), _points(frame, "distressed_smes"), "#fd8d3c"))
    if "defaulted_smes" in frame:
        series.append(_line(t("defaulted_smes", lang), _points(frame, "defaulted_smes"), "#a50f15"))
    axes = [_axis(minInterval=1)]
    if "npl_ratio" in frame:
        series.append(_line(t("npl_ratio_right", lang), _points(frame, "npl_ratio", 100, 2), "#525252",
                            width=1.5, dashed=True, axis=1))
        axes.append(_axis(fmt="{value}%", min=0, splitLine={"show": False}))
    return _base(t("chart_defaults", lang), frame, lang, series, axes)


def fiscal_option(frame, lang):
    cols = [f"fiscal_{lv}_wan" for lv in LEVERS if f"fiscal_{lv}_wan" in frame.columns]
    series = [_line(t(f"lever_{c[len('fiscal_'):-len('_wan')]}", lang), _points(frame, c, digits=1),
                    LEVER_COLOURS[LEVERS.index(c[len("fiscal_"):-len("_wan")])], width=1, area=True, stack="fiscal")
              for c in cols]
    if "fund_balance_wan" in frame:
        series.append(_line(t("fund_balance_wan", lang), _points(frame, "fund_balance_wan", digits=1), "#006d2c", width=2.5))
    note = None
    if _all_zero(frame, cols + ["fund_balance_wan"]):
        series, note = [], t("no_data", lang)
    return _base(t("chart_fiscal", lang), frame, lang, series, [_axis(min=0)], note)


def deployment_option(frame, lang):
    series, axes = [], [_axis(min=0)]
    if "trucks_deployed" in frame:
        series.append(_line(t("trucks", lang), _points(frame, "trucks_deployed", digits=1), "#08519c"))
    if "trucks_planned" in frame:
        series.append(_line(f"{t('trucks', lang)} · {t('plan', lang)}", _points(frame, "trucks_planned", digits=1),
                            "#08519c", width=1.5, dashed=True))
    if "stations_deployed" in frame or "stations_planned" in frame:
        axes.append(_axis(min=0, splitLine={"show": False}))
        if "stations_deployed" in frame:
            series.append(_line(t("stations", lang), _points(frame, "stations_deployed", digits=2), "#d94801", axis=1))
        if "stations_planned" in frame:
            series.append(_line(f"{t('stations', lang)} · {t('plan', lang)}", _points(frame, "stations_planned", digits=2),
                                "#d94801", width=1.5, dashed=True, axis=1))
    return _base(t("chart_deploy", lang), frame, lang, series, axes)


def insurer_option(frame, lang, suspend_at=None):
    series = []
    empty = _all_zero(frame, ["insurer_loss_ratio"])
    if "insurer_loss_ratio" in frame and not empty:
        line = _line(t("kpi_insurer_loss_ratio", lang), _points(frame, "insurer_loss_ratio", 100, 1), "#756bb1")
        if suspend_at is not None and not empty:
            line["markLine"] = {"symbol": "none", "silent": True, "lineStyle": {"color": "#cb181d", "type": "dashed"},
                                "label": {"formatter": t("suspend", lang), "position": "insideEndTop", "fontSize": 10},
                                "data": [{"yAxis": round(100 * suspend_at, 1)}]}
        series.append(line)
    return _base(t("chart_insurer", lang), frame, lang, series, [_axis(fmt="{value}%", min=0)],
                 t("no_data", lang) if empty else None)


def chart_options(frame: pd.DataFrame, lang: str = "en", packages=None, suspend_at=None,
                  package_labels: dict | None = None) -> dict[str, dict]:
    """Chart name -> ECharts option, for the six charts of the page."""
    return {
        "credit": credit_option(frame, lang, packages, package_labels),
        "approval": approval_option(frame, lang),
        "defaults": defaults_option(frame, lang),
        "fiscal": fiscal_option(frame, lang),
        "deployment": deployment_option(frame, lang),
        "insurer": insurer_option(frame, lang, suspend_at),
    }


def model_chart_options(model, lang: str = "en") -> dict[str, dict]:
    params = getattr(model, "params", None)
    packages = tuple(params.packages) if params is not None else None
    labels = {name: (spec.name_zh if lang == "zh" and getattr(spec, "name_zh", "") else name.replace("_", " "))
              for name, spec in params.packages.items()} if params is not None else None
    return chart_options(monthly_frame(model), lang, packages, getattr(params, "insurer_suspend_loss_ratio", None), labels)
