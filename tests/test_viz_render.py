"""The browser view rendered in-process (no browser): layout, styling, charts, the page's
component tree, Step / Reset / scenario / language through the real widgets."""

from __future__ import annotations

import json
from html import escape

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

solara = pytest.importorskip("solara")
v = pytest.importorskip("ipyvuetify")


from model import ModelParams  # noqa: E402
from viz import app as viz_app  # noqa: E402
from viz.echarts_widget import SafeEchartsWidget as EchartsWidget  # noqa: E402
from viz.charts import CHARTS, chart_options, model_chart_options, monthly_frame  # noqa: E402
from viz.i18n import LABELS, t  # noqa: E402
from viz.network_view import (  # noqa: E402
    BAND_TIER1,
    BAND_TIER2,
    STATUS_COLOURS,
    Y_LEADER,
    ChainRenderer,
    portray_agent,
    tiered_layout,
)
from viz.settings import BrowserModel, ViewSettings, available_scenarios, parse_seed  # noqa: E402

N_SMES = 60


@pytest.fixture
def model():
    settings = ViewSettings()
    settings.levers["n_smes"].set(N_SMES)
    return BrowserModel(settings=settings, seed=3)


def test_layout_is_tiered_complete_and_deterministic(model):
    g = model.graph
    pos = tiered_layout(g)
    assert set(pos) == set(g.nodes)
    assert pos == tiered_layout(g)  # a pure function of the graph: stable between steps
    for n, (x, y) in pos.items():
        tier = g.nodes[n]["tier"]
        if g.nodes[n]["kind"] == "leader":
            assert y == Y_LEADER
        elif tier == 1:
            assert BAND_TIER1[1] <= y <= BAND_TIER1[0]
        else:
            assert BAND_TIER2[1] <= y <= BAND_TIER2[0]
        assert -0.01 <= x <= 1.01


def test_layout_is_computed_once_per_model(model):
    renderer = ChainRenderer(model)
    before = dict(renderer.space_drawer.pos)
    for _ in range(3):
        model.step()
        renderer.update()
    assert renderer.space_drawer.pos == before


def test_portrayal_encodes_status_segment_and_credit(model):
    sme = model.smes[0]
    style = portray_agent(sme)
    assert style.color == STATUS_COLOURS[sme.status]
    leader_style = portray_agent(model.leaders[0])
    assert leader_style.marker == "*" and leader_style.size > 4 * style.size


def test_network_png_changes_with_steps_and_language(model):
    renderer = ChainRenderer(model)
    first = renderer.png()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    for _ in range(3):
        model.step()
    renderer.update()
    assert renderer.png() != first
    texts = {txt.get_text() for txt in renderer.canvas.texts}
    assert any("美锦能源" in s for s in texts) and any("Meijin Energy" in s for s in texts)
    model.view_settings.lang.set("zh")
    renderer.update()
    assert renderer._title.get_text().startswith("供应网络")
    assert renderer.png() != first


def test_cjk_font_renders_leader_names(model):
    """The leaders' Chinese names need a CJK font (Debian fonts-noto-cjk)."""
    from matplotlib import font_manager

    from viz.fonts import ensure_cjk_font

    family = ensure_cjk_font()
    assert family is not None, "no CJK font: apt-get install fonts-noto-cjk"
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert "cjk" in path.lower() or "wqy" in path.lower()


def test_every_browser_session_gets_the_cjk_font(model):
    """Solara gives each browser session its own rcParams: the font must be set again for
    each (it was cached after the first call, so a reload or a second tab drew boxes)."""
    import matplotlib

    from viz.fonts import ensure_cjk_font

    family = ensure_cjk_font()
    with matplotlib.rc_context():  # a new session's rcParams: the defaults
        matplotlib.rcParams.update(matplotlib.rcParamsDefault)
        assert family not in matplotlib.rcParams["font.sans-serif"]
        assert ensure_cjk_font() == family
        assert family in matplotlib.rcParams["font.sans-serif"] and family in matplotlib.rcParams["font.family"]


def test_chart_options_cover_the_six_charts_and_are_json(model):
    for _ in range(4):
        model.step()
    options = model_chart_options(model, "en")
    assert tuple(options) == CHARTS
    json.dumps(options)  # what goes over the websocket
    credit_names = {s["name"] for s in options["credit"]["series"]}
    assert credit_names <= {p.replace("_", " ") for p in model.params.packages}
    zh_names = {s["name"] for s in model_chart_options(model, "zh")["credit"]["series"]}
    assert zh_names <= {spec.name_zh for spec in model.params.packages.values()}
    deploy = {s["name"] for s in options["deployment"]["series"]}
    assert any("plan" in n for n in deploy)
    zh = model_chart_options(model, "zh")
    assert zh["approval"]["title"]["text"] == LABELS["chart_approval"]["zh"]


def test_chart_options_cope_with_missing_columns_and_empty_data(model):
    frame = monthly_frame(model)
    thin = frame[["month", "approval_rate"]]  # a scenario without packages, fund or insurer columns
    options = chart_options(thin, "en", packages=("not_there",), suspend_at=1.2)
    assert options["credit"]["series"] == [] and options["credit"]["graphic"]
    assert options["insurer"]["graphic"][0]["style"]["text"] == t("no_data", "en")
    json.dumps(options)


def test_seed_text_is_converted():
    assert parse_seed("42") == 42
    assert parse_seed(" 7 ") == 7
    assert parse_seed("7.0") == 7
    assert parse_seed("abc") is None
    assert parse_seed("-1") is None
    assert parse_seed(5) == 5


def test_reset_ignores_the_default_scenario_and_uses_the_page_settings():
    """SolaraViz's Reset passes `scenario=type(model.scenario)(**fields)`; the page's scenario
    and levers must win, and a seed typed as text must be converted."""
    settings = ViewSettings()
    settings.levers["n_smes"].set(40)
    settings.levers["fund_coverage"].set(0.45)
    m = BrowserModel(settings=settings, seed="11", scenario=ModelParams())
    assert m.params.n_smes == 40 and m.params.fund_coverage == 0.45
    assert m.params.plan_scale == pytest.approx(40 / 300)  # plans follow the network size
    assert m.seed_used == 11
    again = BrowserModel(settings=settings, seed="11", scenario=ModelParams())
    assert again.summary() == m.summary()
    bad = BrowserModel(settings=settings, seed="not a number")
    assert bad.seed_used == 11 and settings.seed_error.value  # keeps the last good seed, says so


def test_choosing_a_scenario_moves_the_levers():
    settings = ViewSettings()
    scenarios = [s.name for s in available_scenarios()]
    settings.choose_scenario(scenarios[-1])
    from viz.settings import lever_values, scenario_params

    assert {k: r.value for k, r in settings.levers.items()} == lever_values(scenario_params(scenarios[-1]))


def _render_page():
    box, rc = solara.render(solara.AppLayout(children=[viz_app.Page()]), handle_error=False)
    return box, rc


def _button(rc, label):
    return rc.find(v.Btn, children=[label]).widget


def _summary(rc):
    return next(w for w in rc.find(solara.widgets.HTML).widgets if "h2-summary" in (w.unsafe_innerHTML or ""))


def _network(rc):
    return rc.find(ipywidgets.Image, _dom_classes=("solara-image", "h2-network"))


def _time(rc, value):
    rc.find(v.Html, tag="span", children=[f"Time: {value}"]).assert_single()


def test_page_renders_steps_resets_and_switches_language():
    box, rc = _render_page()
    try:
        assert rc.find(v.Btn, children=["Step"]).widget is not None
        summary = _summary(rc)
        before = summary.unsafe_innerHTML
        assert "month 0" in before
        rc.find(v.Html, class_="h2-charts").assert_single()
        assert len(rc.find(EchartsWidget).widgets) == len(CHARTS)
        network = _network(rc)
        network.assert_single()
        png_before = network.widget.value
        for _ in range(3):
            _button(rc, "Step").click()
        _time(rc, "3.0")
        assert _network(rc).widget.value != png_before
        after = _summary(rc).unsafe_innerHTML
        assert "month 3" in after and after != before

        # another scenario with fewer SMEs, then Reset: the page's settings build the new model
        scen = rc.find(v.Select, label=t("scenario", "en")).widget
        labels = scen.items
        scen.v_model = labels[-1]
        n = rc.find(v.Slider, label=f"{t('n_smes', 'en')}: 300").widget
        n.v_model = 40
        rc.find(v.Alert).assert_not_empty()  # "changed since the last reset"
        _button(rc, "Reset").click()
        _time(rc, "0.0")
        html = _summary(rc).unsafe_innerHTML
        assert "month 0" in html and escape(labels[-1].split(" (")[0]) in html

        # language: labels and figures follow
        rc.find(v.BtnToggle).widget.v_model = 1  # the language toggle: English | 中文
        assert "截至目前的关键结果" in _summary(rc).unsafe_innerHTML
        assert rc.find(v.Select, label=t("scenario", "zh")).widget is not None
    finally:
        rc.close()


def test_two_browser_sessions_do_not_share_a_model():
    _, rc1 = _render_page()
    _, rc2 = _render_page()
    try:
        _button(rc1, "Step").click()
        _time(rc1, "1.0")
        _time(rc2, "0.0")
    finally:
        rc1.close()
        rc2.close()


def test_viz_subcommand_is_registered():
    from experiments.cli import build_parser
    from viz.server import server_command

    args = build_parser().parse_args(["viz", "--port", "9123", "--host", "127.0.0.1"])
    assert args.func.__name__ == "run_viz" and args.port == 9123
    cmd = server_command(9123, "127.0.0.1")
    assert cmd[1:5] == ["-m", "solara", "run", "viz.app"] and "--no-check-version" in cmd


def test_offline_assets_are_installed():
    """KaTeX (not in solara-assets) must be in Solara's CDN folder: `make test` installs it."""
    from viz.install_offline_assets import cdn_dir, missing

    assert (cdn_dir() / "@widgetti").exists(), "solara-assets is not installed"
    assert missing(cdn_dir()) == [], "run: python -m viz.install_offline_assets"


def test_stress_picker_overlays_the_stress_scenario():
    from viz.settings import stress_scenarios

    stresses = stress_scenarios()
    if not stresses:
        pytest.skip("no stress scenarios shipped")
    from scenarios import load_scenario

    settings = ViewSettings()
    settings.levers["n_smes"].set(40)
    settings.scale_plans.set(False)
    plain = BrowserModel(settings=settings, seed=5)
    settings.stress.set(stresses[0].name)
    stressed = BrowserModel(settings=settings, seed=5)
    expected = load_scenario("baseline", stress=stresses[0].name, overrides={"n_smes": 40})
    assert stressed.params.stable_hash() != plain.params.stable_hash()
    changed = {k for k, val in expected.values().items() if plain.params.values()[k] != val}
    assert changed and all(stressed.params.values()[k] == expected.values()[k] for k in changed)
    assert stressed.view_snapshot["stress"] == stresses[0].name


def test_stacked_charts_stack_their_values_over_months():
    """ECharts stacks along x when both axes are value axes: with stacked areas of [month, value]
    points, package k was drawn at x = (k+1) x month and not stacked (only a one-package run
    looked right). Stacked charts take a category axis of months and one value per month."""
    from model import HydrogenChainModel

    m = HydrogenChainModel(scenario="north_china_hydrogen_capital", rng=1, n_smes=60, plan_scale=60 / 300)
    m.run(6)
    frame = monthly_frame(m)
    options = model_chart_options(m, "en")
    for chart in ("credit", "fiscal"):
        option = options[chart]
        stacked = [s for s in option["series"] if s.get("stack")]
        assert len([s for s in stacked if any(v for v in s["data"])]) >= 2, chart  # a real stack
        assert option["xAxis"]["type"] == "category" and option["xAxis"]["data"] == list(frame["month"])
        for s in option["series"]:
            assert len(s["data"]) == len(frame) and all(v is None or isinstance(v, float) for v in s["data"])
    for chart in ("approval", "defaults", "deployment"):  # unstacked: months on a value axis, as before
        assert options[chart]["xAxis"]["type"] == "value"


def test_the_key_results_panel_is_all_chinese_in_chinese():
    """Every summary row has a Chinese label, credit by package included (three rows once
    stayed in English)."""
    import re

    from model import HydrogenChainModel
    from viz.app import summary_html

    m = HydrogenChainModel(scenario="north_china_hydrogen_capital", rng=1, n_smes=30, plan_scale=0.1)
    m.run(2)
    names = re.findall(r'<td style="padding:1px 12px 1px 0">([^<]*)</td>', summary_html(m, "zh"))
    assert len(names) == len(m.summary()) - 1  # every key but months
    assert [n for n in names if re.search(r"[A-Za-z]{3,}", n)] == []
    assert any("订单+保险+信贷" in n for n in names)
