"""Entry point for `solara run app.py` (the browser view lives in viz/app.py)."""

from viz.app import Page, page  # noqa: F401
