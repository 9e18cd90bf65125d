"""`model.collector`: a run raises the garbage collector's young-generation threshold and puts
it back, and the results do not depend on it."""

from __future__ import annotations

import gc

import pandas as pd
import pytest

from model import HydrogenChainModel
from model.collector import YOUNG_THRESHOLD, rarer_collections


@pytest.fixture(autouse=True)
def default_thresholds():
    old = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*old)


def test_raised_inside_and_restored_after():
    with rarer_collections(50_000):
        assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_exception():
    with pytest.raises(RuntimeError), rarer_collections(50_000):
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("before", [(100_000, 10, 10), (0, 10, 10)])
def test_a_higher_threshold_or_a_disabled_collector_is_left_alone(before):
    gc.set_threshold(*before)
    with rarer_collections(50_000):
        assert gc.get_threshold() == before
    assert gc.get_threshold() == before


def test_none_leaves_the_collector_alone():
    with rarer_collections(None):
        assert gc.get_threshold() == (700, 10, 10)


def test_a_change_made_inside_the_block_is_kept():
    with rarer_collections(50_000):
        gc.set_threshold(2_000, 5, 5)
    assert gc.get_threshold() == (2_000, 5, 5)


def test_run_raises_the_threshold_while_it_runs_and_only_then(monkeypatch):
    seen = []
    m = HydrogenChainModel(rng=1, n_smes=20)
    step = m.step
    monkeypatch.setattr(m, "step", lambda: (seen.append(gc.get_threshold()[0]), step()))
    m.run(2)
    m.run(1, gc_young_threshold=None)
    assert seen == [YOUNG_THRESHOLD, YOUNG_THRESHOLD, 700]
    assert gc.get_threshold() == (700, 10, 10)


def test_results_do_not_depend_on_the_collector():
    def frames(threshold):
        m = HydrogenChainModel(rng=5, n_smes=120, scenario="north_china_hydrogen_capital")
        m.run(24, gc_young_threshold=threshold)
        return m.datacollector.get_model_vars_dataframe(), m.summary(), list(m.ledger.balances)

    a, b = frames(None), frames(YOUNG_THRESHOLD)
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1] == b[1]
    assert a[2] == b[2]
