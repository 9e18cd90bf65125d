"""What the page's controls hold, and how they become a model.

One `ViewSettings` per browser session (never module level: a module-level object is shared
by every browser that opens the page). The controls write into its reactive values; nothing
happens to the running model until Reset, when SolaraViz calls
`BrowserModel(settings=<this object>, seed=<the seed box>)`, which resolves
scenario + stress + levers into a `ModelParams`.

When the scenario picker changes, the lever sliders jump to that scenario's values, so a
slider always shows the value the next run will use.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import solara

from model import HydrogenChainModel, ModelParams

log = logging.getLogger(__name__)

DEFAULT_SCENARIO = "baseline"
DEFAULT_SEED = 42
NO_STRESS = ""

# lever name -> (min, max, step); the slider's label comes from viz.i18n
LEVERS: dict[str, tuple[float, float, float]] = {
    "fund_coverage": (0.0, 1.0, 0.05),
    "interest_subsidy_pp": (0.0, 3.0, 0.25),
    "premium_voucher_share": (0.0, 1.0, 0.05),
    "npl_tolerance": (0.0, 0.10, 0.005),
    "order_advance_rate": (0.0, 1.0, 0.05),
    "n_smes": (20, 1000, 20),
}
INT_LEVERS = {"n_smes"}
PLAN_SMES = 300  # the network size the leaders' plans are written for


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    title: str
    title_zh: str
    kind: str

    def label(self, lang: str) -> str:
        title = self.title_zh if lang == "zh" and self.title_zh else self.title
        return f"{title} ({self.name})" if title else self.name


@functools.cache
def available_scenarios() -> tuple[ScenarioInfo, ...]:
    """Every shipped scenario with its [meta] titles; only a baseline if the library is absent.
    Read once per server process (the shipped files do not change while it runs)."""
    try:
        from scenarios import list_scenarios
    except ImportError:
        return (ScenarioInfo(DEFAULT_SCENARIO, "Baseline (model defaults)", "基准情景（模型默认值）", "baseline"),)
    return tuple(ScenarioInfo(*row) for row in list_scenarios())


@functools.cache
def scenario_description(name: str) -> str:
    """The [meta] description of a shipped scenario ('' if none or no library)."""
    try:
        from scenarios import scenario_meta
    except ImportError:
        return ""
    try:
        return " ".join(str(scenario_meta(name).get("description", "")).split())
    except (OSError, ValueError):
        return ""


def stress_scenarios() -> list[ScenarioInfo]:
    return [s for s in available_scenarios() if s.kind == "stress"]


def scenario_params(name: str, stress: str = NO_STRESS, overrides: dict | None = None, rng=None) -> ModelParams:
    """The resolved parameters of scenario `name` with a stress overlay and lever overrides."""
    overrides = dict(overrides or {})
    try:
        from scenarios import load_scenario
    except ImportError:
        if name != DEFAULT_SCENARIO or stress:
            raise ValueError("the scenario library (scenarios/) is not installed") from None
        params = ModelParams(**overrides)
    else:
        params = load_scenario(name, overrides=overrides, stress=stress or None)
    return type(params)(rng=rng, **params.values())


def lever_values(params: ModelParams) -> dict[str, float | int]:
    values = params.values()
    return {k: values[k] for k in LEVERS}


def parse_seed(text) -> int | None:
    """A seed typed in the page arrives as a string: an int, or None if it is not one."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() and value >= 0 else None


@dataclass
class ViewSettings:
    """Per-session state of the controls (solara reactives) and the page language."""

    scenario: solara.Reactive[str] = field(default_factory=lambda: solara.reactive(DEFAULT_SCENARIO))
    stress: solara.Reactive[str] = field(default_factory=lambda: solara.reactive(NO_STRESS))
    levers: dict[str, solara.Reactive] = field(default_factory=dict)
    lang: solara.Reactive[str] = field(default_factory=lambda: solara.reactive("en"))
    seed_error: solara.Reactive[str] = field(default_factory=lambda: solara.reactive(""))
    # The leaders' plans are their real targets at 300 SMEs: scale them with n_smes so a
    # smaller or larger network keeps the same orders per SME (plan_scale, see ModelParams).
    scale_plans: solara.Reactive[bool] = field(default_factory=lambda: solara.reactive(True))

    def __post_init__(self):
        if not self.levers:
            base = lever_values(scenario_params(self.scenario.value))
            self.levers = {k: solara.reactive(v) for k, v in base.items()}

    @property
    def language(self) -> str:
        return self.lang.value

    def choose_scenario(self, name: str) -> None:
        """Pick a scenario and move the lever sliders to its values."""
        self.scenario.set(name)
        for k, v in lever_values(scenario_params(name)).items():
            self.levers[k].set(v)

    def snapshot(self) -> dict:
        """What the next Reset will build (plain values)."""
        levers = {k: (int(r.value) if k in INT_LEVERS else float(r.value)) for k, r in self.levers.items()}
        return {"scenario": self.scenario.value, "stress": self.stress.value, **levers,
                "scale_plans": bool(self.scale_plans.value)}


class BrowserModel(HydrogenChainModel):
    """`HydrogenChainModel` built from the page's settings.

    SolaraViz's Reset calls `type(model)(**page_fields, scenario=<a default ModelParams>)`;
    that default scenario object is ignored here: the scenario comes from `settings`. The seed
    comes from the page's text box (a string) and is converted; an invalid seed keeps the
    previous one and says so on the page.
    """

    def __init__(self, *, settings: ViewSettings | None = None, seed: str | int = DEFAULT_SEED,
                 scenario: ModelParams | None = None, rng=None):
        settings = settings if settings is not None else ViewSettings()
        parsed = parse_seed(seed) if rng is None else rng
        if parsed is None:
            previous = getattr(settings, "_last_seed", DEFAULT_SEED)
            settings.seed_error.set(f"{seed!r}|{previous}")
            parsed = previous
        else:
            settings.seed_error.set("")
        settings._last_seed = parsed
        snap = settings.snapshot()
        levers = {k: snap[k] for k in LEVERS}
        params = scenario_params(snap["scenario"], snap["stress"], levers, rng=parsed)
        if snap["scale_plans"] and "plan_scale" in params.specs():
            params = params.replace(plan_scale=params.plan_scale * params.n_smes / PLAN_SMES)
        super().__init__(scenario=params, rng=parsed)
        self.view_settings = settings
        self.view_snapshot = snap
        self.seed_used = parsed
        if getattr(self, "grid", None) is None:
            self.grid = self.network  # SolaraViz looks for `grid` or `space`
