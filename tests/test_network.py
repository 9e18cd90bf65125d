"""The supply network (model/network.py): generated from parameters, or loaded from a file."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import HydrogenChainModel, ModelParams, ParameterError
from model import network
from model.params import SEGMENTS, leader_key


def _generated(n=120, seed=1, **kw):
    p = ModelParams(n_smes=n, **kw)
    return p, network.generate(p, np.random.default_rng(seed))


@settings(max_examples=200, deadline=None)
@given(weights=st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=8), seed=st.integers(0, 2**32 - 1))
def test_draw_index_is_numpy_choice(weights, seed):
    """The network's (and the banks') draws are numpy's `choice` with probabilities: the
    same indices from the same uniforms, and the generator left in the same state, so the
    faster sampler did not change any generated chain."""
    w = np.array(weights) / sum(weights)
    ours, numpy_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    cdf = network.cumulative_weights(w)
    assert [network.draw_index(ours, cdf) for _ in range(20)] == \
        [int(numpy_rng.choice(len(w), p=w)) for _ in range(20)]
    assert ours.random() == numpy_rng.random()


class TestGenerated:
    def test_leaders_first_then_smes(self):
        p, g = _generated()
        n_leaders = len(p.leaders)
        assert sorted(g.nodes) == list(range(n_leaders + p.n_smes))
        for i, ld in enumerate(p.leaders):
            assert g.nodes[i]["kind"] == "leader" and g.nodes[i]["tier"] == 0
            assert g.nodes[i]["leader"] == leader_key(ld)
        for n in range(n_leaders, n_leaders + p.n_smes):
            assert g.nodes[n]["kind"] == "sme"
            assert g.nodes[n]["tier"] in (1, 2)
            assert g.nodes[n]["segment"] in SEGMENTS

    def test_edges_point_from_supplier_to_customer_one_tier_up(self):
        p, g = _generated()
        assert g.number_of_edges() > 0
        for u, v in g.edges:
            assert g.nodes[u]["tier"] == g.nodes[v]["tier"] + 1, (u, v)
            assert g.nodes[u]["leader"] == g.nodes[v]["leader"]  # one leader's chain
        for i in range(len(p.leaders)):
            assert g.out_degree(i) == 0  # leaders buy, they do not supply

    def test_every_tier1_sme_supplies_exactly_one_leader(self):
        p, g = _generated()
        tier1 = [n for n in g if g.nodes[n]["tier"] == 1]
        assert len(tier1) == round(p.n_smes * p.tier1_share)
        for n in tier1:
            customers = list(g.successors(n))
            assert len(customers) == 1 and g.nodes[customers[0]]["kind"] == "leader"

    def test_tier2_smes_supply_tier1_smes(self):
        p, g = _generated()
        tier2 = [n for n in g if g.nodes[n]["tier"] == 2]
        assert tier2
        for n in tier2:
            customers = list(g.successors(n))
            assert 1 <= len(customers) <= p.tier2_customers_max
            assert all(g.nodes[c]["tier"] == 1 for c in customers)
            assert g.in_degree(n) == 0  # nobody supplies a tier-2 SME

    def test_every_leader_has_suppliers_and_segments_follow_its_business(self):
        p, g = _generated(n=300)
        for i, ld in enumerate(p.leaders):
            segs = {g.nodes[s]["segment"] for s in g.predecessors(i)}
            assert segs, f"{ld.name} has no supplier"
            business = {seg for prod in ld.products.values() for seg in prod.segment_shares}
            assert segs <= business  # Jinnan's trucks need no refuelling-station builders

    def test_seeded(self):
        _, a = _generated(seed=3)
        _, b = _generated(seed=3)
        _, c = _generated(seed=4)
        assert nx.utils.graphs_equal(a, b)
        assert not nx.utils.graphs_equal(a, c)

    def test_model_wires_agents_to_the_graph(self):
        m = HydrogenChainModel(rng=2, n_smes=60)
        g = m.graph
        assert len(list(m.network.all_cells)) == g.number_of_nodes()
        for i, ld in enumerate(m.leaders):
            assert ld.cell.coordinate == i
        for s in m.smes:
            node = s.cell.coordinate
            attrs = g.nodes[node]
            assert (attrs["kind"], attrs["tier"], attrs["segment"], attrs["leader"]) == (
                "sme", s.tier, s.segment, s.leader_key)
            assert {c.cell.coordinate for c in s.customers} == set(g.successors(node))
            assert {x.cell.coordinate for x in s.suppliers} == set(g.predecessors(node))


# --- loading a real supplier list ---------------------------------------------------------------

def _write_graphml(path):
    raw = nx.DiGraph()
    raw.add_node("jinnan")  # a leader named by its key
    raw.add_node("L2", name="Meijin Energy")  # a leader named by its English name
    raw.add_node("s1", segment="储")
    raw.add_node("s2")  # no segment: gets the leader's main segment
    raw.add_node("s3", segment="制")
    raw.add_node("s4", segment="运")  # a tier-3 supplier: beyond the model's two tiers
    raw.add_edges_from([("s1", "jinnan"), ("s2", "L2"), ("s3", "s1"), ("s3", "s2"), ("s4", "s3")])
    nx.write_graphml(raw, path)
    return path


class TestLoad:
    def test_graphml(self, tmp_path):
        p = ModelParams()
        g = network.load(_write_graphml(tmp_path / "chain.graphml"), p)
        # leaders take the numbers of params.leaders (meijin 0, jinnan 1), SMEs follow
        assert g.nodes[0]["leader"] == "meijin" and g.nodes[1]["leader"] == "jinnan"
        assert sorted(g.nodes) == [0, 1, 2, 3, 4]
        smes = {n: d for n, d in g.nodes(data=True) if d["kind"] == "sme"}
        by_tier = sorted((d["tier"], d["segment"], d["leader"]) for d in smes.values())
        # s2 has no segment: Meijin's largest year-1 SME spend is 用 (fuel-cell vehicles:
        # 600 x 100 x 0.35 x 0.6 = 12,600 wan, more than 储 7,920 or 加 3,888)
        assert by_tier == [(1, "储", "jinnan"), (1, "用", "meijin"), (2, "制", "jinnan")] or by_tier == [
            (1, "储", "jinnan"), (1, "用", "meijin"), (2, "制", "meijin")]
        for u, v in g.edges:
            assert g.nodes[u]["tier"] == g.nodes[v]["tier"] + 1
        t2 = next(n for n, d in smes.items() if d["tier"] == 2)
        assert g.out_degree(t2) == 2  # s3 supplies both s1 and s2

    def test_csv_edge_list_with_node_file(self, tmp_path):
        edges = tmp_path / "suppliers.csv"
        edges.write_text("supplier,customer\nacme,jinnan\nbeta,meijin\ngamma,acme\n", encoding="utf-8")
        (tmp_path / "suppliers.nodes.csv").write_text("id,segment\nacme,运\nbeta,加\ngamma,储\n", encoding="utf-8")
        g = network.load(edges, ModelParams())
        segs = sorted((d["tier"], d["segment"], d["leader"]) for _, d in g.nodes(data=True) if d["kind"] == "sme")
        assert segs == [(1, "加", "meijin"), (1, "运", "jinnan"), (2, "储", "jinnan")]

    def test_model_runs_on_a_loaded_network(self, tmp_path):
        path = _write_graphml(tmp_path / "chain.graphml")
        m = HydrogenChainModel(rng=1, network_file=str(path), audit=True)
        assert len(m.smes) == 3
        assert {ld.key for ld in m.leaders} == {"meijin", "jinnan"}
        m.run(6)
        m.ledger.check()

    @pytest.mark.parametrize("name,content,problem", [
        ("missing.graphml", None, "not found"),
        ("chain.txt", "a,b\n", ".graphml or .csv"),
        ("broken.graphml", "<graphml><node id=", "GraphML"),
        ("cols.csv", "from,to\nacme,jinnan\n", "supplier,customer"),
        ("noleader.csv", "supplier,customer\nacme,beta\n", "leader"),
        ("badseg.csv", "supplier,customer\nacme,jinnan\nbeta,meijin\n", "segment"),
        ("reversed.csv", "supplier,customer\njinnan,acme\nmeijin,beta\n", "no SME supplies a leader"),
        ("short.csv", "supplier,customer\nacme,jinnan\nbeta\n", "line 3: expected supplier,customer"),
        ("latin1.csv", None, "not UTF-8"),
        ("noid.csv", "supplier,customer\nacme,jinnan\nbeta,meijin\n", "needs an id column"),
        ("dir.csv", None, "cannot read it"),
    ])
    def test_wrong_files_name_the_file(self, tmp_path, name, content, problem):
        path = tmp_path / name
        if content is not None:
            path.write_text(content, encoding="utf-8")
        if name == "badseg.csv":
            (tmp_path / "badseg.nodes.csv").write_text("id,segment\nacme,water\n", encoding="utf-8")
        if name == "latin1.csv":
            path.write_bytes("supplier,customer\nacmé,jinnan\n".encode("latin-1"))
        if name == "dir.csv":
            path.mkdir()
        if name == "noid.csv":  # the problem is in the nodes file beside it, which the message names
            path = tmp_path / "noid.nodes.csv"
            path.write_text("name,segment\nacme,运\n", encoding="utf-8")
        with pytest.raises(ParameterError) as err:
            network.load(tmp_path / name, ModelParams())
        assert err.value.key == "network_file"
        assert err.value.where == str(path)
        assert str(path) in str(err.value)
        assert problem in str(err.value)

    def test_wrong_file_through_the_model(self, tmp_path):
        path = tmp_path / "nowhere.graphml"
        with pytest.raises(ParameterError) as err:
            HydrogenChainModel(rng=1, network_file=str(path))
        assert str(path) in str(err.value) and "network_file" in str(err.value)

    def test_the_parameter_hash_covers_the_network_file_contents(self, tmp_path):
        """Batches skip runs whose parameter hash they have stored: an edited network file
        must give another hash (it once hashed its name only)."""
        edges = tmp_path / "suppliers.csv"
        edges.write_text("supplier,customer\nacme,jinnan\nbeta,meijin\n", encoding="utf-8")
        first = ModelParams(network_file=str(edges)).stable_hash()
        assert ModelParams(network_file=str(edges)).stable_hash() == first  # same contents, same hash
        edges.write_text("supplier,customer\nacme,jinnan\nbeta,meijin\ngamma,acme\n", encoding="utf-8")
        second = ModelParams(network_file=str(edges)).stable_hash()
        (tmp_path / "suppliers.nodes.csv").write_text("id,segment\nacme,运\n", encoding="utf-8")
        third = ModelParams(network_file=str(edges)).stable_hash()
        assert len({first, second, third}) == 3

    def test_a_leader_without_suppliers_in_the_file_is_refused(self, tmp_path):
        """Its orders would go nowhere: once loaded silently."""
        raw = nx.DiGraph()
        raw.add_nodes_from(["jinnan", "meijin"])
        raw.add_edge("s1", "jinnan")
        path = tmp_path / "half.graphml"
        nx.write_graphml(raw, path)
        with pytest.raises(ParameterError, match="no SME supplies the leader 'meijin'"):
            network.load(path, ModelParams())

    def test_a_network_file_named_in_a_scenario_file_is_found_beside_it(self, tmp_path, monkeypatch):
        """Relative to the scenario file, as `extends` is (it was relative to the working
        directory, so the scenario ran only from its own folder); the hash is the network's
        contents, so the same files elsewhere are the same parameters."""
        from scenarios import load_scenario

        for folder in ("a", "b"):
            d = tmp_path / folder
            d.mkdir()
            (d / "net.csv").write_text("supplier,customer\nacme,jinnan\nbeta,meijin\n", encoding="utf-8")
            (d / "mine.toml").write_text('extends = "baseline"\n[network]\nnetwork_file = "net.csv"\n', encoding="utf-8")
        monkeypatch.chdir(tmp_path)  # not the scenario's folder
        a, b = (load_scenario(str(tmp_path / f / "mine.toml")) for f in ("a", "b"))
        assert a.network_file == str((tmp_path / "a" / "net.csv").resolve())
        assert len(HydrogenChainModel(scenario=a, rng=1).smes) == 2
        assert a.stable_hash() == b.stable_hash()
