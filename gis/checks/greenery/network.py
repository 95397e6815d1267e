"""Walking distance to parks along a road network (networkx), for park coverage.

The road lines become a graph (vertices → nodes, segments → edges weighted by length in
metres). Park entrances are the road nodes within ``entrance_m`` of a park (or inside it). One
multi-source Dijkstra per radius, from a virtual node joined to every entrance with a cutoff,
gives each reachable node its walking distance; memory is one distance per road node, whatever
the number of parks. Each reached node then serves a straight snap of
``min(radius - distance, snap_m)`` around it, and each park ``min(radius, snap_m)`` around
itself; :func:`gis.checks.greenery.coverage.reach` turns those discs into covered parcel area.

Examples
--------
>>> roads = np.array([shapely.LineString([(0, 0), (100, 0), (200, 0)])])
>>> net = road_network(roads)
>>> net.graph.number_of_nodes(), net.graph.number_of_edges()
(3, 2)
>>> park = np.array([shapely.box(-20, -20, 0, 20)])
>>> pts, left = network_sources(park, np.array([150.0]), net, entrance_m=10, snap_m=100)
>>> left.tolist()
[100.0, 100.0, 50.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

Array = NDArray[Any]

_START = -1
"""The virtual source node (road nodes are numbered from 0)."""


@dataclass(frozen=True)
class RoadNetwork:
    """A road graph and its nodes as points (node ``i`` is ``nodes[i]``)."""

    graph: nx.Graph
    nodes: Array


def road_network(roads: Array, *, precision_m: float = 0.01) -> RoadNetwork:
    """Build a weighted graph from road lines (planar lengths in metres, working CRS).

    Nodes are the line vertices snapped to ``precision_m``, so roads join where they share a
    vertex; lines that cross without a common vertex do not connect (node the network first).
    Where two lines share a segment the shorter weight is kept.
    """
    parts = shapely.get_parts(np.asarray(roads))
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    keys = np.round(coords / precision_m).astype("i8")
    uniq, node = np.unique(keys, axis=0, return_inverse=True)
    node = node.reshape(-1)
    same = idx[1:] == idx[:-1]
    edges = pd.DataFrame(
        {
            "u": np.minimum(node[:-1], node[1:])[same],
            "v": np.maximum(node[:-1], node[1:])[same],
            "w": np.hypot(*(coords[1:][same] - coords[:-1][same]).T),
        }
    )
    shortest = edges[edges["u"] != edges["v"]].groupby(["u", "v"])["w"].min()
    graph = nx.Graph()
    graph.add_nodes_from(range(len(uniq)))
    u = shortest.index.get_level_values("u").to_numpy()
    v = shortest.index.get_level_values("v").to_numpy()
    graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), shortest.tolist(), strict=True))
    return RoadNetwork(graph, shapely.points(uniq * precision_m))


def _walk(network: RoadNetwork, parks: Array, radius: float, entrance_m: float) -> pd.Series:
    """Return the walking distance (m) of every road node within ``radius`` of the parks."""
    park_i, node_i = shapely.STRtree(network.nodes).query(
        parks, predicate="dwithin", distance=entrance_m
    )
    if len(node_i) == 0:
        return pd.Series(dtype="f8")
    offset = pd.Series(shapely.distance(network.nodes[node_i], parks[park_i])).groupby(node_i).min()
    graph = network.graph
    graph.add_weighted_edges_from(
        (_START, int(n), float(d)) for n, d in zip(offset.index, offset.to_numpy(), strict=True)
    )
    try:
        dist = nx.single_source_dijkstra_path_length(graph, _START, cutoff=radius)
    finally:
        graph.remove_node(_START)
    dist.pop(_START, None)
    return pd.Series(dist, dtype="f8")


def network_sources(
    parks: Array,
    radii: Array,
    network: RoadNetwork,
    *,
    entrance_m: float = 50.0,
    snap_m: float = 100.0,
) -> tuple[Array, Array]:
    """Return the sources and radii (m) that stand for walking-distance reach.

    Parameters
    ----------
    parks : numpy.ndarray of shapely geometries
        Park polygons in the network's CRS.
    radii : numpy.ndarray
        Walking radius of each park in metres (0 = serves nothing); one Dijkstra pass per
        distinct radius.
    network : RoadNetwork
        From :func:`road_network`.
    entrance_m : float
        Road nodes within this distance of a park (metres) are its entrances.
    snap_m : float
        Longest straight walk from a road node (or a park) to a home, metres.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The parks followed by every reached road node, and the radius each of them serves.
    """
    parks = np.asarray(parks)
    geoms, dists = [parks], [np.minimum(radii, snap_m)]
    for radius in np.unique(radii[radii > 0]):
        walked = _walk(network, parks[radii == radius], float(radius), entrance_m)
        geoms.append(network.nodes[walked.index.to_numpy(dtype="i8")])
        dists.append(np.minimum(radius - walked.to_numpy(), snap_m))
    return np.concatenate(geoms), np.concatenate(dists)
