"""Tables from stored runs: scenario means with CIs, paired differences, sweep points.

Input is the `runs` frame of the store (one row per run, one column per KPI); output is
long tidy frames that the CLI prints, writes as CSV and hands to `experiments.figures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from experiments.stats import mean_ci, paired_ci, ratio_of_paired_differences
from experiments.store import FIXED_COLUMNS

# Outputs shown first in printed tables and figures (DOMAIN.md §4), when present.
HEADLINE_KPIS = (
    "sme_survival_rate", "credit_mobilised_wan", "approval_rate", "npl_ratio", "fiscal_cost_wan",
    "fiscal_leverage", "rd_successes", "insurer_loss_ratio", "deliveries_wan",
)
FAN_KPIS = ("credit_outstanding_wan", "active_smes", "defaulted_smes", "npl_ratio")


def kpi_columns(runs: pd.DataFrame) -> list[str]:
    """Numeric KPI columns of a runs frame, headline KPIs first."""
    cols = [c for c in runs.columns if c not in FIXED_COLUMNS]
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(runs[c]) or runs[c].isna().all()]
    head = [k for k in HEADLINE_KPIS if k in numeric]
    return head + [c for c in numeric if c not in head]


def headline(kpis: Sequence[str], limit: int = 9) -> list[str]:
    head = [k for k in HEADLINE_KPIS if k in kpis]
    return (head or list(kpis))[:limit]


def latest_per_replication(runs: pd.DataFrame) -> pd.DataFrame:
    """One ok run per (label, point, rep): the most recently finished (code may have changed)."""
    ok = runs[runs["status"] == "ok"].copy()
    ok["_point"] = ok["point"].fillna(-1)
    ok = ok.sort_values("finished_at").drop_duplicates(["label", "_point", "rep"], keep="last")
    return ok.drop(columns="_point")


def compare_tables(runs: pd.DataFrame, labels: Sequence[str], baseline: str,
                   kpis: Sequence[str] | None = None, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-scenario means with CIs, paired differences to the baseline with CIs).

    Pairs are replications with the same index k (the same seed) in both scenarios.
    """
    runs = latest_per_replication(runs)
    kpis = list(kpis) if kpis is not None else kpi_columns(runs)
    summary_rows, diff_rows = [], []
    base = runs[runs["label"] == baseline].set_index("rep")
    for kpi in kpis:
        if kpi not in runs.columns:
            continue
        for label in labels:
            sub = runs[runs["label"] == label].set_index("rep")
            values = pd.to_numeric(sub[kpi], errors="coerce")
            ci = mean_ci(values.tolist(), level)
            summary_rows.append({"kpi": kpi, "label": label, "mean": ci.mean, "lo": ci.lo, "hi": ci.hi,
                                 "sd": ci.sd, "n": ci.n})
            if label == baseline:
                continue
            reps = sorted(set(sub.index) & set(base.index))
            x = pd.to_numeric(sub.loc[reps, kpi], errors="coerce").tolist()
            y = pd.to_numeric(base.loc[reps, kpi], errors="coerce").tolist()
            d = paired_ci(x, y, level)
            diff_rows.append({"kpi": kpi, "label": label, "baseline": baseline, "diff": d.mean, "lo": d.lo,
                              "hi": d.hi, "sd": d.sd, "n": d.n})
    return pd.DataFrame(summary_rows), pd.DataFrame(diff_rows)


# Cost-effectiveness against the baseline (DOMAIN.md §4): extra fiscal cost per extra unit
# of an outcome, from paired differences. name -> (numerator KPI, denominator KPI).
COST_EFFECTIVENESS = {
    "fiscal_cost_per_extra_surviving_sme_wan": ("fiscal_cost_wan", "surviving_smes"),
    "fiscal_cost_per_extra_rd_success_wan": ("fiscal_cost_wan", "rd_successes"),
}


def cost_effectiveness(runs: pd.DataFrame, labels: Sequence[str], baseline: str,
                       n_smes: dict[str, float] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Extra fiscal cost per extra surviving SME / R&D success against the baseline.

    Ratio of the mean paired differences (replication k against replication k of the
    baseline) with a bootstrap CI over replications; NaN where the outcome does not
    improve on average. Surviving SMEs are the runs' own count (`surviving_smes`); runs
    stored before it was reported fall back to sme_survival_rate x n_smes of the run
    (`n_smes`: run_id -> n_smes parameter), which is wrong with a network_file (the model then
    has the file's SMEs).
    """
    runs = latest_per_replication(runs).copy()
    surviving = pd.to_numeric(runs["surviving_smes"], errors="coerce") if "surviving_smes" in runs.columns \
        else pd.Series(float("nan"), index=runs.index)
    if surviving.isna().any() and "sme_survival_rate" in runs.columns and n_smes:
        estimate = pd.to_numeric(runs["sme_survival_rate"], errors="coerce") * runs["run_id"].map(n_smes).astype(float)
        surviving = surviving.where(surviving.notna(), estimate)
    runs["surviving_smes"] = surviving
    base = runs[runs["label"] == baseline].set_index("rep")
    rows = []
    for name, (num, den) in COST_EFFECTIVENESS.items():
        if num not in runs.columns or den not in runs.columns:
            continue
        for label in labels:
            if label == baseline:
                continue
            sub = runs[runs["label"] == label].set_index("rep")
            reps = sorted(set(sub.index) & set(base.index))
            col = lambda frame, k: pd.to_numeric(frame.loc[reps, k], errors="coerce").tolist()  # noqa: E731
            ci = ratio_of_paired_differences(col(sub, num), col(base, num), col(sub, den), col(base, den), level)
            rows.append({"measure": name, "label": label, "baseline": baseline, "estimate": ci.mean,
                         "lo": ci.lo, "hi": ci.hi, "n": ci.n})
    return pd.DataFrame(rows)


def format_compare(summary: pd.DataFrame, diffs: pd.DataFrame, kpis: Sequence[str], labels: Sequence[str],
                   baseline: str) -> str:
    """A plain-text table: KPI x scenario, mean [95% CI] and difference to baseline [95% CI]."""
    def num(v):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"

    def fmt(m, lo, hi):
        if not np.isfinite(m):
            return "n/a"
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return num(m)
        return f"{num(m)} [{num(lo)}, {num(hi)}]"

    lines = []
    for kpi in kpis:
        s = summary[summary["kpi"] == kpi].set_index("label")
        d = diffs[diffs["kpi"] == kpi].set_index("label") if not diffs.empty else pd.DataFrame()
        rows = []
        for lb in labels:
            if lb not in s.index:
                continue
            r = s.loc[lb]
            diff = "(baseline)" if lb == baseline else (
                fmt(d.loc[lb, "diff"], d.loc[lb, "lo"], d.loc[lb, "hi"]) if lb in d.index else "n/a")
            rows.append((lb, fmt(r["mean"], r["lo"], r["hi"]), diff, int(r["n"])))
        if not rows:
            continue
        w0 = max(len(kpi), *(len(r[0]) + 2 for r in rows))
        w1 = max(len("mean [95% CI]"), *(len(r[1]) for r in rows))
        head2 = f"diff to {baseline} [95% CI]"
        w2 = max(len(head2), *(len(r[2]) for r in rows))
        lines.append(f"{kpi:<{w0}}  {'mean [95% CI]':<{w1}}  {head2:<{w2}}  {'n':>3}")
        for lb, m, df, n in rows:
            lines.append(f"  {lb:<{w0 - 2}}  {m:<{w1}}  {df:<{w2}}  {n:>3}")
        lines.append("")
    return "\n".join(lines)


def format_costs(costs: pd.DataFrame) -> str:
    """Plain-text table of the cost-effectiveness measures (n/a: no gain on average)."""
    def num(v):
        if not np.isfinite(v):
            return "inf" if v == np.inf else "n/a"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"

    lines = []
    for measure, sub in costs.groupby("measure", sort=False):
        w = max(len(measure), *(len(lb) + 2 for lb in sub["label"]))
        lines.append(f"{measure:<{w}}  estimate [95% bootstrap CI]   n")
        for r in sub.itertuples():
            cell = num(r.estimate) if not np.isfinite(r.estimate) else f"{num(r.estimate)} [{num(r.lo)}, {num(r.hi)}]"
            lines.append(f"  {r.label:<{w - 2}}  {cell:<28} {r.n:>3}")
        lines.append("")
    return "\n".join(lines)


def sweep_points(runs: pd.DataFrame, design: pd.DataFrame, kpis: Sequence[str] | None = None,
                 level: float = 0.95) -> pd.DataFrame:
    """Per design point and KPI: mean and CI over replications, with the swept values.

    `design` is long (point, key, value). Output columns: point, <param...>, kpi, mean, lo, hi, n.
    """
    runs = latest_per_replication(runs)
    kpis = list(kpis) if kpis is not None else kpi_columns(runs)
    wide = design.pivot(index="point", columns="key", values="value") if not design.empty else pd.DataFrame()
    rows = []
    for point, sub in runs.groupby("point"):
        base = {"point": int(point), **(wide.loc[point].to_dict() if point in wide.index else {})}
        for kpi in kpis:
            if kpi not in sub.columns:
                continue
            ci = mean_ci(pd.to_numeric(sub[kpi], errors="coerce").tolist(), level)
            rows.append({**base, "kpi": kpi, "mean": ci.mean, "lo": ci.lo, "hi": ci.hi, "n": ci.n})
    return pd.DataFrame(rows)


def point_means(points: pd.DataFrame, kpi: str, n_points: int) -> np.ndarray:
    """The KPI's mean at each design point 0..n_points-1 (NaN where missing)."""
    s = points[points["kpi"] == kpi].set_index("point")["mean"]
    return s.reindex(range(n_points)).to_numpy(dtype=float)
