"""The checked graph as plain data, in msgpack: what crosses a process boundary.

A configuration checked in one process (a hotconfig's bounded child, later
a guest's image) is used in another: the flat graph, each element's port
plan and the diagnostics travel as msgpack lists of strings and numbers,
never as pickles, so that reading them runs no code. The layout is
versioned; a payload of another version, or a damaged one, is a ValueError.
"""
from __future__ import annotations

import msgpack

from clickpy.errors import Diagnostic, Diagnostics, Landmark
from clickpy.graph.check import ElementPorts
from clickpy.graph.flatgraph import FlatElement, FlatGraph

FORMAT = 1


def _landmark(lm: Landmark | None):
    return None if lm is None else [lm.file, lm.line, lm.col]


def _unlandmark(v) -> Landmark | None:
    return None if v is None else Landmark(str(v[0]), int(v[1]), int(v[2]))


def pack(graph: FlatGraph, ports: list[ElementPorts], diagnostics: Diagnostics) -> bytes:
    return msgpack.packb([
        FORMAT,
        [[e.name, e.class_name, e.config, _landmark(e.landmark), e.bare, e.failed] for e in graph.elements],
        [list(c) + [_landmark(graph.connection_landmarks.get(c))] for c in graph.connections],
        [[kind, value, _landmark(graph.requirement_landmarks.get((kind, value)))]
         for kind, value in graph.requirements],
        [[p.inputs, p.outputs] for p in ports],
        pack_diagnostics(diagnostics),
    ], use_bin_type=True)


def unpack(data: bytes) -> tuple[FlatGraph, list[ElementPorts], Diagnostics]:
    try:
        version, elements, connections, requirements, ports, items = msgpack.unpackb(data, raw=False)
        if version != FORMAT:
            raise ValueError(f"checked graph of format {version}, not {FORMAT}")
        graph = FlatGraph()
        graph.elements = [FlatElement(str(n), str(c), str(cfg), _unlandmark(lm), bool(bare), bool(failed))
                          for n, c, cfg, lm, bare, failed in elements]
        for f, fp, t, tp, lm in connections:
            c = (int(f), int(fp), int(t), int(tp))
            graph.connections.append(c)
            if lm is not None:
                graph.connection_landmarks[c] = _unlandmark(lm)
        for kind, value, lm in requirements:
            graph.requirements.append((str(kind), str(value)))
            if lm is not None:
                graph.requirement_landmarks[(kind, value)] = _unlandmark(lm)
        plans = [ElementPorts(list(i), list(o)) for i, o in ports]
        d = unpack_diagnostics(items)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise ValueError(f"damaged checked graph: {e}") from None
    return graph, plans, d


def pack_diagnostics(diagnostics: Diagnostics) -> list:
    """Diagnostics as plain lists (msgpack packs them)."""
    return [[_landmark(d.landmark), d.message, d.severity, d.continuation, d.category] for d in diagnostics.items]


def unpack_diagnostics(items) -> Diagnostics:
    d = Diagnostics()
    d.items = [Diagnostic(_unlandmark(lm), str(m), str(s), list(cont), str(cat)) for lm, m, s, cont, cat in items]
    return d
