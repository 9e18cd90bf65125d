"""Figures for batch results (matplotlib, Agg), saved as PNG and SVG.

SVG (text drawn as paths, so Chinese renders anywhere) is the version for papers; PNG at
150 dpi is for quick viewing and slides.

Each function takes plain tables (pandas frames built by `experiments.analysis`) and
writes files; none of them reads the store or knows the model. Labels come in English or
Chinese (`lang="zh"` registers a CJK font first, see `experiments.fonts`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.files import replacing  # noqa: E402

FORMATS = ("png", "svg")

# Display names of outputs (en, zh). Unknown names are shown as they are.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "sme_survival_rate": ("SME survival rate", "中小企业存活率"),
    "credit_mobilised_wan": ("Credit mobilised (CNY 10k)", "撬动信贷（万元）"),
    "approval_rate": ("Loan approval rate", "贷款审批通过率"),
    "npl_ratio": ("NPL ratio (cumulative: principal turned NPL / credit lent)", "累计不良率（转为不良的本金/累计放贷）"),
    "fiscal_cost_wan": ("Fiscal cost (CNY 10k)", "财政支出（万元）"),
    "fiscal_leverage": ("Fiscal leverage (credit per yuan)", "财政杠杆（每元财政资金撬动信贷）"),
    "rd_successes": ("R&D projects succeeded", "研发成功项目数"),
    "rd_failures": ("R&D projects failed", "研发失败项目数"),
    "rd_abandoned": ("R&D projects abandoned", "研发中止项目数"),
    "insurer_loss_ratio": ("Insurer loss ratio", "保险赔付率"),
    "fund_payouts_wan": ("Fund payouts (CNY 10k)", "风险补偿资金赔付（万元）"),
    "fund_balance_wan": ("Fund balance (CNY 10k)", "风险补偿资金余额（万元）"),
    "deliveries_wan": ("Orders delivered (CNY 10k)", "订单交付额（万元）"),
    "trucks_deployed": ("Hydrogen trucks deployed", "氢能重卡投放量"),
    "stations_deployed": ("Refuelling stations built", "加氢站建成数"),
    "credit_outstanding_wan": ("Credit outstanding (CNY 10k)", "贷款余额（万元）"),
    "new_lending_wan": ("New lending (CNY 10k)", "新增贷款（万元）"),
    "active_smes": ("Active SMEs", "正常经营中小企业数"),
    "distressed_smes": ("Distressed SMEs", "经营困难中小企业数"),
    "defaulted_smes": ("Defaulted SMEs", "违约中小企业数"),
}

# Monthly series that share a name with a summary KPI but measure something else.
MONTHLY_KPI_LABELS: dict[str, tuple[str, str]] = {
    "npl_ratio": ("NPL ratio (stock: NPL / loans outstanding)", "不良贷款率（存量：不良/贷款余额）"),
}

TEXT: dict[str, tuple[str, str]] = {
    "mean_ci": ("mean and 95% CI over replications", "各次重复的均值与95%置信区间"),
    "diff": ("paired difference to {base} (95% CI)", "相对“{base}”的配对差异（95%置信区间）"),
    "month": ("month", "月份"),
    "fan": ("median and 5–95% band over replications", "各次重复的中位数与5%–95%区间"),
    "sens": ("sensitivity indices", "敏感性指数"),
    "value": ("value", "取值"),
}

PALETTE = plt.get_cmap("tab10")


def setup(lang: str = "en") -> None:
    """Figure defaults readable in a paper; a CJK font for Chinese labels."""
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "font.size": 10, "axes.titlesize": 10,
                         "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "path"})
    if lang == "zh":
        from experiments.fonts import use_cjk_font

        use_cjk_font()


def kpi_label(name: str, lang: str = "en", monthly: bool = False) -> str:
    """Display name of an output; `monthly` for a monthly series (npl_ratio is then the stock,
    in the summary the cumulative ratio)."""
    pair = (MONTHLY_KPI_LABELS.get(name) if monthly else None) or KPI_LABELS.get(name)
    if pair is None:
        if name.startswith("credit_") and name.endswith("_wan"):
            pkg = name[len("credit_"):-len("_wan")]
            return f"Credit via {pkg} (CNY 10k)" if lang == "en" else f"{pkg} 贷款（万元）"
        return name
    return pair[1] if lang == "zh" else pair[0]


def text(key: str, lang: str = "en", **fmt) -> str:
    en, zh = TEXT[key]
    return (zh if lang == "zh" else en).format(**fmt)


def save(fig, out_dir: str | Path, name: str) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        p = out_dir / f"{name}.{fmt}"
        with replacing(p) as part:
            fig.savefig(part, bbox_inches="tight", format=fmt)
        paths.append(p)
    plt.close(fig)
    return paths


def _grid(n: int, ncols: int = 3, w: float = 3.6, h: float = 2.8, sharey: bool = False):
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False, sharey=sharey)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _err(mean, lo, hi):
    lo = np.where(np.isfinite(lo), mean - lo, 0.0)
    hi = np.where(np.isfinite(hi), hi - mean, 0.0)
    return np.vstack([lo, hi])


def _compact(ax, axis: str = "x") -> None:
    """Readable tick numbers (1.2e+05 -> 120,000; no offset text)."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def _label_rows(fig, axes, ys, labels) -> None:
    """Scenario names on the y axis of the first column only (panels share the y axis)."""
    for ax in axes:
        ax.set_yticks(ys, labels)
        ax.tick_params(axis="y", labelleft=ax.get_subplotspec().is_first_col())
        ax.set_ylim(-0.6, len(labels) - 0.4)


def comparison_bars(table: pd.DataFrame, kpis: Sequence[str], labels: Sequence[str], out_dir, *,
                    lang: str = "en", title_of: Callable[[str], str] = str, name: str = "compare_bars") -> list[Path]:
    """Horizontal bars of each KPI's mean with 95% CI error bars, one panel per KPI.

    `table` has columns label, kpi, mean, lo, hi. A missing value (e.g. a loss ratio where
    nothing was insured) is marked n/a.
    """
    kpis = [k for k in kpis if k in set(table["kpi"])]
    if not kpis:
        return []
    labels = list(labels)
    fig, axes = _grid(len(kpis), w=3.3, h=0.9 + 0.32 * len(labels), sharey=True)
    ys = np.arange(len(labels))[::-1]
    colors = [PALETTE(i % 10) for i in range(len(labels))]
    for ax, kpi in zip(axes, kpis):
        rows = table[table["kpi"] == kpi].set_index("label").reindex(labels)
        mean = rows["mean"].to_numpy(dtype=float)
        ax.barh(ys, np.nan_to_num(mean), color=colors, height=0.7,
                xerr=_err(mean, rows["lo"].to_numpy(dtype=float), rows["hi"].to_numpy(dtype=float)), capsize=2)
        for y, m in zip(ys, mean):
            if not np.isfinite(m):
                ax.text(0, y, " n/a", va="center", ha="left", fontsize=8, color="0.4")
        ax.set_title(kpi_label(kpi, lang))
        ax.axvline(0.0, color="0.3", lw=0.6)
        _compact(ax)
    _label_rows(fig, axes, ys, [title_of(lb) for lb in labels])
    fig.suptitle(text("mean_ci", lang))
    fig.tight_layout()
    return save(fig, out_dir, name)


def forest(diffs: pd.DataFrame, kpis: Sequence[str], labels: Sequence[str], baseline: str, out_dir, *,
           lang: str = "en", title_of: Callable[[str], str] = str, name: str = "compare_forest") -> list[Path]:
    """Paired differences to the baseline with 95% CIs, one panel per KPI.

    `diffs` has columns label, kpi, diff, lo, hi (the baseline itself is left out).
    """
    labels = [lb for lb in labels if lb != baseline]
    kpis = [k for k in kpis if k in set(diffs["kpi"])]
    if not kpis or not labels:
        return []
    fig, axes = _grid(len(kpis), w=3.3, h=0.9 + 0.32 * len(labels), sharey=True)
    ys = np.arange(len(labels))[::-1]
    for ax, kpi in zip(axes, kpis):
        rows = diffs[diffs["kpi"] == kpi].set_index("label").reindex(labels)
        d = rows["diff"].to_numpy(dtype=float)
        ax.errorbar(d, ys, xerr=_err(d, rows["lo"].to_numpy(dtype=float), rows["hi"].to_numpy(dtype=float)),
                    fmt="o", ms=4, color="black", ecolor="0.3", capsize=2)
        for y, v in zip(ys, d):
            if not np.isfinite(v):
                ax.text(0, y, " n/a", va="center", ha="left", fontsize=8, color="0.4")
        ax.axvline(0.0, color="0.6", lw=0.8, ls="--")
        ax.set_title(kpi_label(kpi, lang))
        _compact(ax)
    _label_rows(fig, axes, ys, [title_of(lb) for lb in labels])
    fig.suptitle(text("diff", lang, base=title_of(baseline)))
    fig.tight_layout()
    return save(fig, out_dir, name)


def fan_charts(monthly: pd.DataFrame, kpis: Sequence[str], labels: Sequence[str], out_dir, *,
               lang: str = "en", title_of: Callable[[str], str] = str, name: str = "monthly_fan") -> list[Path]:
    """Median and 5–95% band over replications, per month, one panel per KPI.

    `monthly` is long: label, rep, month, kpi, value.
    """
    kpis = [k for k in kpis if k in set(monthly["kpi"])]
    if not kpis:
        return []
    fig, axes = _grid(len(kpis), ncols=2, w=4.8, h=3.0)
    for ax, kpi in zip(axes, kpis):
        sub = monthly[monthly["kpi"] == kpi]
        for i, lb in enumerate(labels):
            s = sub[sub["label"] == lb]
            if s.empty:
                continue
            q = s.groupby("month")["value"].quantile([0.05, 0.5, 0.95]).unstack()
            color = PALETTE(i % 10)
            ax.fill_between(q.index, q[0.05], q[0.95], color=color, alpha=0.18, lw=0)
            ax.plot(q.index, q[0.5], color=color, lw=1.5, label=title_of(lb))
        ax.set_title(kpi_label(kpi, lang, monthly=True))
        ax.set_xlabel(text("month", lang))
        _compact(ax, "y")
    handles, names = axes[0].get_legend_handles_labels()
    fig.suptitle(text("fan", lang))
    fig.tight_layout(rect=(0, 0.1 if len(names) > 3 else 0.06, 1, 1))
    fig.legend(handles, names, loc="lower center", ncols=min(3, max(1, len(names))), fontsize=8, frameon=False)
    return save(fig, out_dir, name)


def sweep_lines(points: pd.DataFrame, x: str, kpis: Sequence[str], out_dir, *, lang: str = "en",
                name: str = "sweep_lines") -> list[Path]:
    """One swept parameter: each KPI's mean (line) and 95% CI (band) against the parameter.

    `points` has columns <x>, kpi, mean, lo, hi.
    """
    kpis = [k for k in kpis if k in set(points["kpi"])]
    if not kpis:
        return []
    fig, axes = _grid(len(kpis))
    for ax, kpi in zip(axes, kpis):
        s = points[points["kpi"] == kpi].sort_values(x)
        ax.fill_between(s[x], s["lo"], s["hi"], alpha=0.25, lw=0)
        ax.plot(s[x], s["mean"], marker="o", ms=3)
        if not np.isfinite(s["mean"].to_numpy(dtype=float)).any():
            ax.text(0.5, 0.5, "n/a", transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_title(kpi_label(kpi, lang))
        ax.set_xlabel(x)
        _compact(ax, "y")
    fig.suptitle(text("mean_ci", lang), y=1.0)
    fig.tight_layout()
    return save(fig, out_dir, name)


def sweep_heatmap(points: pd.DataFrame, x: str, y: str, kpi: str, out_dir, *, lang: str = "en",
                  name: str | None = None) -> list[Path]:
    """Two swept parameters on a grid: the KPI's mean as a heatmap."""
    s = points[points["kpi"] == kpi]
    if s.empty:
        return []
    table = s.pivot_table(index=y, columns=x, values="mean", aggfunc="mean").sort_index(ascending=False)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns], rotation=45, ha="right")
    ax.set_yticks(range(table.shape[0]), [f"{v:g}" for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(kpi_label(kpi, lang))
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return save(fig, out_dir, name or f"sweep_heatmap_{kpi}")


def sensitivity_bars(indices: pd.DataFrame, kpis: Sequence[str], out_dir, *, lang: str = "en",
                     name: str = "sensitivity") -> list[Path]:
    """Sensitivity indices per parameter, grouped by index, one panel per KPI.

    `indices` has columns kpi, param, index, value, conf.
    """
    kpis = [k for k in kpis if k in set(indices["kpi"])]
    if not kpis:
        return []
    fig, axes = _grid(len(kpis))
    for ax, kpi in zip(axes, kpis):
        s = indices[indices["kpi"] == kpi]
        params = list(dict.fromkeys(s["param"]))
        kinds = list(dict.fromkeys(s["index"]))
        width = 0.8 / max(1, len(kinds))
        for j, kind in enumerate(kinds):
            r = s[s["index"] == kind].set_index("param").reindex(params)
            conf = r["conf"].to_numpy(dtype=float)
            ax.bar(np.arange(len(params)) + j * width, r["value"].to_numpy(dtype=float), width,
                   yerr=np.where(np.isfinite(conf), conf, 0.0), capsize=2, label=kind)
        ax.set_xticks(np.arange(len(params)) + width * (len(kinds) - 1) / 2, params, rotation=30, ha="right")
        ax.set_title(kpi_label(kpi, lang))
        _compact(ax, "y")
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle(text("sens", lang), y=1.0)
    fig.tight_layout()
    return save(fig, out_dir, name)


def titles_from(mapping: Mapping[str, str]) -> Callable[[str], str]:
    return lambda lb: mapping.get(lb, lb)
