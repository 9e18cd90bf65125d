"""The browser view of h2chain: Mesa 3.5's SolaraViz, offline.

    h2chain viz [--port 8765] [--host 127.0.0.1]     # or: solara run app.py

Modules: `app` (the page, one model per browser session), `settings` (controls -> model),
`network_view` (tiered layout, styled SpaceRenderer), `charts` (monthly ECharts options),
`i18n` (English / 中文 labels), `fonts` (CJK font for matplotlib), `server` (the CLI
command), `install_offline_assets` (KaTeX into Solara's CDN folder).
"""
