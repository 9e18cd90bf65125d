"""The supply network: leaders <- tier-1 SMEs <- tier-2 SMEs.

A `networkx.DiGraph` whose edges point from supplier to customer (the direction goods
travel; on a Mesa `Network` a cell's neighbourhood is then its customers). Nodes are
integers 0..N-1: leaders first, in the order of `params.leaders`, then SMEs. Node
attributes: `kind` ("leader" | "sme"), `tier` (0 for leaders), `segment` (制储运加用, "" for
leaders), `leader` (the leader key whose chain the node is in), and for leaders `name`.

Generated in O(N) from parameters with the model's RNG, or loaded from a file a researcher
provides (GraphML, or a CSV edge list `supplier,customer` with an optional
`<name>.nodes.csv` of node attributes `id,segment,...`).
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from pathlib import Path

import networkx as nx
import numpy as np

from .params import SEGMENTS, ModelParams, ParameterError, leader_key, network_input_files, tier1_count


def cumulative_weights(weights) -> list[float]:
    """The normalised cumulative weights `draw_index` samples from."""
    cdf = np.asarray(weights, dtype=float).cumsum()
    cdf /= cdf[-1]
    return cdf.tolist()


def draw_index(rng: np.random.Generator, cdf: list[float]) -> int:
    """An index drawn with probabilities given by `cdf` (from `cumulative_weights`): the same
    draw, from the same one uniform, as `rng.choice(len(weights), p=weights)`, which
    rebuilds and checks its table on every call and took a third of the time it takes to
    build a model (tests/test_network.py pins the equivalence)."""
    return bisect_right(cdf, rng.random())


def leader_segment_weights(leader) -> dict[str, float]:
    """Share of a leader's year-1 SME spend that goes to each segment."""
    weights = dict.fromkeys(SEGMENTS, 0.0)
    for prod in leader.products.values():
        spend = prod.units_per_year[0] * prod.unit_value_wan * prod.sme_share
        total = sum(prod.segment_shares.values()) or 1.0
        for seg, share in prod.segment_shares.items():
            weights[seg] += spend * share / total
    s = sum(weights.values())
    return {k: v / s for k, v in weights.items()} if s > 0 else {k: 1 / len(SEGMENTS) for k in SEGMENTS}


def generate(params: ModelParams, rng: np.random.Generator) -> nx.DiGraph:
    """Tier-1 SMEs are spread over leaders by `supplier_weight` and over segments by each
    leader's spend; each tier-2 SME supplies 1..`tier2_customers_max` tier-1 SMEs of one
    leader's chain, mostly in its own segment."""
    g = nx.DiGraph()
    leaders = params.leaders
    for i, ld in enumerate(leaders):
        g.add_node(i, kind="leader", tier=0, segment="", leader=leader_key(ld), name=ld.name_zh)
    n = params.n_smes
    n1 = tier1_count(n, params.tier1_share)
    weights = np.array([ld.supplier_weight for ld in leaders], dtype=float)
    weights = weights / weights.sum()
    leader_of = rng.choice(len(leaders), size=n1, p=weights)
    leader_of[: len(leaders)] = np.arange(min(len(leaders), n1))  # every leader has a supplier
    leader_cdf = cumulative_weights(weights)
    seg_tables = []  # per leader: (segments, their cumulative weights)
    for ld in leaders:
        segs, seg_w = zip(*leader_segment_weights(ld).items())
        seg_tables.append((segs, cumulative_weights(seg_w)))
    tier1_by_leader_segment: dict[tuple[int, str], list[int]] = {}
    tier1_by_leader: dict[int, list[int]] = {}
    node = len(leaders)
    for j in range(n1):
        li = int(leader_of[j])
        segs, seg_cdf = seg_tables[li]
        seg = segs[draw_index(rng, seg_cdf)]
        g.add_node(node, kind="sme", tier=1, segment=seg, leader=leader_key(leaders[li]))
        g.add_edge(node, li)
        tier1_by_leader_segment.setdefault((li, seg), []).append(node)
        tier1_by_leader.setdefault(li, []).append(node)
        node += 1
    for _ in range(n - n1):
        li = draw_index(rng, leader_cdf)
        pool = tier1_by_leader.get(li) or [c for lst in tier1_by_leader.values() for c in lst]
        first = pool[int(rng.integers(len(pool)))]
        seg = g.nodes[first]["segment"]
        g.add_node(node, kind="sme", tier=2, segment=seg, leader=g.nodes[first]["leader"])
        g.add_edge(node, first)
        same_seg = tier1_by_leader_segment.get((li, seg), pool)
        extra = int(rng.integers(0, params.tier2_customers_max))
        for _k in range(extra):
            c = same_seg[int(rng.integers(len(same_seg)))]
            if c != first:
                g.add_edge(node, c)
        node += 1
    return g


def _read_csv_network(path: Path) -> nx.DiGraph:
    """A CSV edge list (supplier,customer) and its optional `.nodes.csv` (id, attributes);
    any way the files are unreadable is one ParameterError naming the file and the line."""
    edges_file, nodes_file = network_input_files(path)
    raw = nx.DiGraph()
    current = edges_file
    try:
        with edges_file.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"supplier", "customer"} <= set(reader.fieldnames):
                raise ParameterError("network_file", "a CSV edge list needs the columns supplier,customer", str(path))
            for row in reader:
                supplier, customer = row["supplier"], row["customer"]
                if supplier is None or customer is None or not supplier.strip() or not customer.strip():
                    raise ParameterError("network_file", f"line {reader.line_num}: expected supplier,customer, got "
                                                         f"{row!r}", str(edges_file))
                raw.add_edge(supplier.strip(), customer.strip())
        current = nodes_file
        if nodes_file.exists():
            with nodes_file.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "id" not in reader.fieldnames:
                    raise ParameterError("network_file", "a nodes file needs an id column", str(nodes_file))
                for row in reader:
                    nid = (row.pop("id") or "").strip()
                    if nid in raw:
                        raw.nodes[nid].update({k: v for k, v in row.items() if k is not None and v not in (None, "")})
    except UnicodeDecodeError as exc:
        raise ParameterError("network_file", f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(current)) from None
    except OSError as exc:
        raise ParameterError("network_file", f"cannot read it ({exc.strerror})", str(current)) from None
    return raw


def load(path: str | Path, params: ModelParams) -> nx.DiGraph:
    """Load a real supplier network and relabel it to the model's conventions.

    Leader nodes are those whose id (or `name` attribute) is a leader key of `params`
    (e.g. "jinnan") or a leader's English or Chinese name. Every other node is an SME;
    its tier is its distance to a leader (1 or 2) and its segment comes from the file
    (`segment`, one of 制储运加用) or is inherited from its customer.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise ParameterError("network_file", "file not found", where)
    if path.suffix.lower() in (".graphml", ".xml"):
        try:
            raw = nx.read_graphml(path)
        except Exception as exc:  # networkx raises several types for malformed XML
            raise ParameterError("network_file", f"not readable as GraphML: {exc}", where) from None
        raw = nx.DiGraph(raw)
    elif path.suffix.lower() == ".csv":
        raw = _read_csv_network(path)
    else:
        raise ParameterError("network_file", "expected a .graphml or .csv file", where)

    names = {}
    for i, ld in enumerate(params.leaders):
        for alias in (leader_key(ld), ld.name, ld.name_zh):
            names[alias.lower()] = i
    leader_nodes = {}
    for nid, attrs in raw.nodes(data=True):
        for alias in (str(nid), str(attrs.get("name", ""))):
            if alias.lower() in names:
                leader_nodes[nid] = names[alias.lower()]
    missing = set(range(len(params.leaders))) - set(leader_nodes.values())
    if missing:
        keys = ", ".join(leader_key(params.leaders[i]) for i in sorted(missing))
        raise ParameterError("network_file", f"no node for leader(s) {keys}; name a node by the leader key", where)

    g = nx.DiGraph()
    for nid, li in sorted(leader_nodes.items(), key=lambda kv: kv[1]):
        ld = params.leaders[li]
        g.add_node(li, kind="leader", tier=0, segment="", leader=leader_key(ld), name=ld.name_zh)
    index = {nid: li for nid, li in leader_nodes.items()}
    # breadth-first from the leaders against the edge direction: tier = distance
    frontier = list(leader_nodes)
    tier = 0
    while frontier and tier < 2:
        tier += 1
        nxt = []
        for cust in frontier:
            for sup in raw.predecessors(cust):
                if sup in index:
                    continue
                seg = str(raw.nodes[sup].get("segment", "")) or g.nodes[index[cust]]["segment"]
                if tier == 1 and not seg:
                    seg = max(leader_segment_weights(params.leaders[index[cust]]).items(), key=lambda kv: kv[1])[0]
                if seg not in SEGMENTS:
                    raise ParameterError("network_file", f"node {sup}: segment {seg!r} not one of {', '.join(SEGMENTS)}", where)
                new = len(index)
                index[sup] = new
                g.add_node(new, kind="sme", tier=tier, segment=seg, leader=g.nodes[index[cust]]["leader"])
                nxt.append(sup)
        frontier = nxt
    for sup, cust in raw.edges():
        if sup in index and cust in index and g.nodes[index[sup]]["tier"] == g.nodes[index[cust]]["tier"] + 1:
            g.add_edge(index[sup], index[cust])
    if g.number_of_nodes() == len(params.leaders):
        raise ParameterError("network_file", "no SME supplies a leader (edges must point supplier -> customer)", where)
    for li, ld in enumerate(params.leaders):
        if g.in_degree(li) == 0:  # its orders would go nowhere, silently
            raise ParameterError("network_file", f"no SME supplies the leader {leader_key(ld)!r}; add its suppliers or "
                                                 f"leave it out of the scenario's leaders", where)
    return g


def tiered_layout(g: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Positions for drawing: leaders on top, tier-1 below grouped by leader and segment,
    tier-2 at the bottom under their first customer. O(N); computed once."""
    by_tier: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for n, d in g.nodes(data=True):
        by_tier.setdefault(d["tier"], []).append(n)
    pos: dict[int, tuple[float, float]] = {}
    seg_rank = {s: i for i, s in enumerate(SEGMENTS)}
    tier1 = sorted(by_tier[1], key=lambda n: (g.nodes[n]["leader"], seg_rank[g.nodes[n]["segment"]], n))
    for i, n in enumerate(tier1):
        pos[n] = ((i + 0.5) / max(len(tier1), 1), 0.55 + 0.12 * ((i % 3) / 2.0))
    leaders = by_tier[0]
    for n in leaders:
        xs = [pos[s][0] for s in g.predecessors(n) if s in pos]
        pos[n] = (float(np.mean(xs)) if xs else 0.5, 1.0)
    tier2 = sorted(by_tier[2], key=lambda n: (pos[next(iter(g.successors(n)))][0] if g.out_degree(n) else 0.0, n))
    for i, n in enumerate(tier2):
        pos[n] = ((i + 0.5) / max(len(tier2), 1), 0.05 + 0.25 * ((i % 4) / 3.0))
    return pos
