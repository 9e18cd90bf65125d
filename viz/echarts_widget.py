"""Solara's ECharts widget with one fix: an option update that arrives while echarts.js is
still loading no longer throws `Cannot read properties of undefined (reading 'setOption')`
in the browser (seen on the first steps after the page opens)."""

from __future__ import annotations

import solara
from solara.components.echarts import EchartsWidget


class SafeEchartsWidget(EchartsWidget):
    template_file = (__file__, "echarts_safe.vue")


@solara.component
def FigureEcharts(option: dict, attributes: dict | None = None, responsive: bool = True):
    """Like `solara.FigureEcharts` (no event callbacks), on the guarded widget."""
    return SafeEchartsWidget.element(option=option, attributes=attributes or {"style": "height: 400px;"},
                                     responsive=responsive, maps={}, on_mouseover_enabled=False,
                                     on_mouseout_enabled=False)
