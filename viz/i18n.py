"""Labels of the browser view in English and Chinese (the page's language switch).

`t(key, lang)` looks a label up; an unknown key falls back to the key itself so a missing
translation shows up as a visible English-ish word, never as an error.
"""

from __future__ import annotations

LANGUAGES = {"en": "English", "zh": "中文"}

LABELS: dict[str, dict[str, str]] = {
    # page and controls
    "app_title": {"en": "Hydrogen chain finance — Shanxi", "zh": "山西氢能产业链金融"},
    "settings": {"en": "Scenario and levers", "zh": "情景与政策工具"},
    "language": {"en": "Language / 语言", "zh": "语言 / Language"},
    "scenario": {"en": "Scenario", "zh": "情景"},
    "stress": {"en": "Stress", "zh": "压力情景"},
    "no_stress": {"en": "none", "zh": "无"},
    "seed": {"en": "Random seed", "zh": "随机种子"},
    "seed_invalid": {"en": "The seed must be a whole number; keeping {seed}.", "zh": "随机种子须为整数，仍使用 {seed}。"},
    "apply_hint": {"en": "Changes take effect when you press RESET.",
                   "zh": "修改在按 RESET（重置）后生效。"},
    "pending": {"en": "Changed since the last reset: {names}", "zh": "自上次重置以来已修改：{names}"},
    "running_now": {"en": "Running: {title} · stress: {stress} · seed {seed}",
                    "zh": "当前运行：{title} · 压力：{stress} · 种子 {seed}"},
    "from_scenario": {"en": "levers start at the scenario's values", "zh": "政策工具初值取自所选情景"},
    # levers
    "fund_coverage": {"en": "Risk fund coverage (share of loss)", "zh": "风险补偿基金分担比例"},
    "interest_subsidy_pp": {"en": "Interest subsidy (pp/yr)", "zh": "贴息（百分点/年）"},
    "premium_voucher_share": {"en": "Premium voucher share", "zh": "保费补贴比例"},
    "npl_tolerance": {"en": "NPL tolerance (/yr)", "zh": "不良容忍度（/年）"},
    "order_advance_rate": {"en": "Order advance rate", "zh": "订单融资垫付比例"},
    "n_smes": {"en": "Number of SMEs", "zh": "中小企业数量"},
    "scale_plans": {"en": "Scale the leaders' plans with the number of SMEs (plans are set for 300)",
                    "zh": "按企业数量缩放链主计划（计划按300家企业设定）"},
    # network
    "network_title": {"en": "Supply network · month {month}", "zh": "供应网络 · 第 {month} 月"},
    "tier_leaders": {"en": "chain\nleaders", "zh": "链主\n企业"},
    "tier_1": {"en": "tier-1\nsuppliers", "zh": "一级\n供应商"},
    "tier_2": {"en": "tier-2\nsuppliers", "zh": "二级\n供应商"},
    "status": {"en": "SME status", "zh": "企业状态"},
    "segment": {"en": "segment (marker)", "zh": "环节（形状）"},
    "size_note": {"en": "marker area ∝ credit outstanding", "zh": "点面积 ∝ 贷款余额"},
    "healthy": {"en": "healthy", "zh": "正常"},
    "financed": {"en": "financed", "zh": "获贷"},
    "distressed": {"en": "distressed", "zh": "困境"},
    "defaulted": {"en": "defaulted", "zh": "违约"},
    "seg_制": {"en": "制 production", "zh": "制氢"},
    "seg_储": {"en": "储 storage", "zh": "储氢"},
    "seg_运": {"en": "运 transport", "zh": "运氢"},
    "seg_加": {"en": "加 refuelling", "zh": "加氢"},
    "seg_用": {"en": "用 application", "zh": "用氢"},
    # charts
    "month": {"en": "month", "zh": "月"},
    "chart_credit": {"en": "Credit outstanding by package (CNY 10k)", "zh": "各产品贷款余额（万元）"},
    "chart_approval": {"en": "Loan approval rate", "zh": "贷款审批通过率"},
    "chart_defaults": {"en": "Distress, defaults and NPL ratio", "zh": "困境、违约与不良率"},
    "chart_fiscal": {"en": "Fund balance, fiscal cost by lever (CNY 10k)", "zh": "风险基金余额与各项财政支出（万元）"},
    "chart_deploy": {"en": "Deployment vs the leaders' plans (cum.)", "zh": "部署量与链主计划（累计）"},
    "chart_insurer": {"en": "Insurer loss ratio", "zh": "保险赔付率"},
    "distressed_smes": {"en": "distressed SMEs", "zh": "困境企业数"},
    "defaulted_smes": {"en": "defaulted SMEs", "zh": "违约企业数"},
    "npl_ratio_right": {"en": "NPL ratio (right)", "zh": "不良率（右轴）"},
    "kpi_npl_ratio": {"en": "NPL ratio", "zh": "不良率"},
    "fund_balance_wan": {"en": "fund balance", "zh": "基金余额"},
    "smes": {"en": "SMEs", "zh": "企业数"},
    "trucks_axis": {"en": "trucks", "zh": "重卡"},
    "stations_axis": {"en": "stations", "zh": "加氢站"},
    "trucks": {"en": "trucks", "zh": "氢能重卡"},
    "stations": {"en": "stations (right)", "zh": "加氢站（右轴）"},
    "plan": {"en": "plan", "zh": "计划"},
    "suspend": {"en": "insurer suspends new cover", "zh": "保险停止承保线"},
    "no_data": {"en": "none so far", "zh": "暂无"},
    "lever_interest_subsidy": {"en": "interest subsidy", "zh": "贴息"},
    "lever_bank_reward": {"en": "bank rewards", "zh": "银行奖励"},
    "lever_premium_voucher": {"en": "premium vouchers", "zh": "保费补贴"},
    "lever_fund": {"en": "fund top-ups", "zh": "基金注资"},
    "lever_stop_loss": {"en": "stop-loss", "zh": "超赔兜底"},
    "lever_agency": {"en": "agency fees", "zh": "评估机构费用"},
    # summary panel
    "summary_title": {"en": "Key results so far (summary())", "zh": "截至目前的关键结果（summary()）"},
    "status_counts": {"en": "SMEs by status now", "zh": "当前企业状态分布"},
    "kpi": {"en": "indicator", "zh": "指标"},
    "value": {"en": "value", "zh": "数值"},
    "kpi_sme_survival_rate": {"en": "SME survival rate", "zh": "企业存活率"},
    "kpi_credit_mobilised_wan": {"en": "Credit mobilised (CNY 10k)", "zh": "撬动信贷（万元）"},
    "kpi_approval_rate": {"en": "Approval rate", "zh": "审批通过率"},
    "kpi_fiscal_cost_wan": {"en": "Fiscal cost (CNY 10k)", "zh": "财政支出（万元）"},
    "kpi_fiscal_leverage": {"en": "Fiscal leverage (credit per yuan)", "zh": "财政杠杆（每元撬动信贷）"},
    "kpi_rd_successes": {"en": "R&D successes", "zh": "研发成功数"},
    "kpi_credit_outstanding_wan": {"en": "Credit outstanding (CNY 10k)", "zh": "贷款余额（万元）"},
    "kpi_defaulted_smes": {"en": "Defaulted SMEs", "zh": "违约企业数"},
    "kpi_rd_failures": {"en": "R&D failures", "zh": "研发失败数"},
    "kpi_trucks_planned": {"en": "Trucks planned", "zh": "计划重卡数"},
    "kpi_stations_planned": {"en": "Stations planned", "zh": "计划加氢站数"},
    "kpi_bank_losses_wan": {"en": "Bank losses (CNY 10k)", "zh": "银行损失（万元）"},
    "kpi_approval_rate_light_asset": {"en": "Approval rate, light-asset SMEs", "zh": "轻资产企业审批通过率"},
    "kpi_npl_ratio_end": {"en": "NPL ratio, last month", "zh": "期末不良率"},
    "kpi_fiscal_cost_net_wan": {"en": "Fiscal cost net of recoveries (CNY 10k)", "zh": "财政净支出（万元）"},
    "kpi_policy_backed_credit_wan": {"en": "Policy-backed credit (CNY 10k)", "zh": "政策支持信贷（万元）"},
    "kpi_fund_backed_credit_wan": {"en": "Fund-backed credit (CNY 10k)", "zh": "基金担保信贷（万元）"},
    "kpi_default_rate_meijin_chain": {"en": "Default rate, Meijin chain", "zh": "美锦链违约率"},
    "kpi_default_rate_jinnan_chain": {"en": "Default rate, Jinnan chain", "zh": "晋南链违约率"},
    "kpi_fiscal_interest_subsidy_wan": {"en": "… interest subsidy (CNY 10k)", "zh": "… 贴息（万元）"},
    "kpi_fiscal_bank_reward_wan": {"en": "… bank rewards (CNY 10k)", "zh": "… 银行奖励（万元）"},
    "kpi_fiscal_premium_voucher_wan": {"en": "… premium vouchers (CNY 10k)", "zh": "… 保费补贴（万元）"},
    "kpi_fiscal_fund_wan": {"en": "… fund top-ups (CNY 10k)", "zh": "… 基金注资（万元）"},
    "kpi_fiscal_stop_loss_wan": {"en": "… stop-loss (CNY 10k)", "zh": "… 超赔兜底（万元）"},
    "kpi_fiscal_agency_wan": {"en": "… agency fees (CNY 10k)", "zh": "… 评估机构费用（万元）"},
    "kpi_insurer_loss_ratio": {"en": "Insurer loss ratio", "zh": "保险赔付率"},
    "kpi_fund_payouts_wan": {"en": "Fund payouts (CNY 10k)", "zh": "基金代偿（万元）"},
    "kpi_deliveries_wan": {"en": "Deliveries (CNY 10k)", "zh": "交付额（万元）"},
    "kpi_trucks_deployed": {"en": "Trucks deployed", "zh": "已部署重卡"},
    "kpi_surviving_smes": {"en": "Surviving SMEs", "zh": "存活企业数"},
    "kpi_npl_principal_wan": {"en": "Principal turned NPL (CNY 10k)", "zh": "转为不良的本金（万元）"},
    "kpi_rd_abandoned": {"en": "R&D abandoned", "zh": "研发中止数"},
    "kpi_credit_via": {"en": "… via {package} (CNY 10k)", "zh": "… {package}（万元）"},
    "kpi_stations_deployed": {"en": "Stations deployed", "zh": "已建加氢站"},
    "not_applicable": {"en": "n/a", "zh": "不适用"},
}


def t(key: str, lang: str = "en", **fmt) -> str:
    """The label `key` in `lang` ("en" or "zh"), formatted with `fmt`."""
    entry = LABELS.get(key)
    if entry is None:  # e.g. a summary() key added to the model later: show it readably
        text = key.removeprefix("kpi_").replace("_wan", " (CNY 10k)").replace("_", " ")
    else:
        text = entry.get(lang) or entry["en"]
    return text.format(**fmt) if fmt else text
