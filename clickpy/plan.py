"""The Plan: a checked configuration as plain data, between building and running.

The front end (``clickpy.pipeline.plan``) turns source text into a Plan; the
runtime (``Router.from_plan``) runs one and never reads source itself. A Plan
holds the flat graph (each element's name, class and configuration, the
connections, the requirements, where each was written), each element's port
plan (push or pull per port) and the diagnostics the check produced.

It crosses process boundaries (a hotconfig's bounded checker, a guest's
image) as msgpack lists of strings and numbers, never as pickles, so reading
one runs no code. The layout is versioned; a payload of another version, or a
damaged one, is a ValueError. ``content_hash`` names what a Plan does:
landmarks and diagnostics are left out, so moving a line or editing a
comment keeps the hash.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import msgpack

from clickpy.errors import Diagnostic, Diagnostics, Landmark
from clickpy.graph.flatgraph import FlatElement, FlatGraph

FORMAT = 2


@dataclass(slots=True)
class ElementPorts:
    """An element's ports after checking: counts and push/pull per port."""

    inputs: list[str]
    outputs: list[str]

    @property
    def ninputs(self) -> int:
        return len(self.inputs)

    @property
    def noutputs(self) -> int:
        return len(self.outputs)


@dataclass(eq=False)
class Plan:
    graph: FlatGraph
    ports: list[ElementPorts]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    @property
    def elements(self) -> list[FlatElement]:
        return self.graph.elements

    def unparse(self) -> str:
        return self.graph.unparse()

    def _content(self) -> list:
        g = self.graph
        return [[[e.name, e.class_name, e.config] for e in g.elements],
                [list(c) for c in g.connections],
                [list(r) for r in g.requirements],
                [[p.inputs, p.outputs] for p in self.ports]]

    @cached_property
    def content_hash(self) -> str:
        """A stable hex digest of what the Plan runs (not where it was written)."""
        return hashlib.sha256(msgpack.packb(self._content(), use_bin_type=True)).hexdigest()

    def pack(self) -> bytes:
        g = self.graph
        return msgpack.packb([
            FORMAT,
            [[e.name, e.class_name, e.config, _landmark(e.landmark), e.bare, e.failed] for e in g.elements],
            [list(c) + [_landmark(g.connection_landmarks.get(c))] for c in g.connections],
            [[kind, value, _landmark(g.requirement_landmarks.get((kind, value)))] for kind, value in g.requirements],
            [[p.inputs, p.outputs] for p in self.ports],
            pack_diagnostics(self.diagnostics),
        ], use_bin_type=True)

    @classmethod
    def unpack(cls, data: bytes) -> "Plan":
        try:
            version, elements, connections, requirements, ports, items = msgpack.unpackb(data, raw=False)
            if version != FORMAT:
                raise ValueError(f"plan of format {version}, not {FORMAT}")
            graph = FlatGraph()
            graph.elements = [FlatElement(str(n), str(c), str(cfg), _unlandmark(lm), bool(bare), bool(failed))
                              for n, c, cfg, lm, bare, failed in elements]
            n = len(graph.elements)
            for f, fp, t, tp, lm in connections:
                c = (int(f), int(fp), int(t), int(tp))
                if not (0 <= c[0] < n and 0 <= c[2] < n and c[1] >= 0 and c[3] >= 0):
                    raise ValueError(f"connection {c} outside the graph")
                graph.connections.append(c)
                if lm is not None:
                    graph.connection_landmarks[c] = _unlandmark(lm)
            for kind, value, lm in requirements:
                graph.requirements.append((str(kind), str(value)))
                if lm is not None:
                    graph.requirement_landmarks[(kind, value)] = _unlandmark(lm)
            plans = [ElementPorts([str(k) for k in i], [str(k) for k in o]) for i, o in ports]
            if len(plans) != n:
                raise ValueError(f"{len(plans)} port plans for {n} elements")
            d = unpack_diagnostics(items)
        except (ValueError, TypeError, msgpack.UnpackException) as e:
            raise ValueError(f"damaged plan: {e}") from None
        return cls(graph, plans, d)


def _landmark(lm: Landmark | None):
    return None if lm is None else [lm.file, lm.line, lm.col]


def _unlandmark(v) -> Landmark | None:
    return None if v is None else Landmark(str(v[0]), int(v[1]), int(v[2]))


def pack_diagnostics(diagnostics: Diagnostics) -> list:
    """Diagnostics as plain lists (msgpack packs them)."""
    return [[_landmark(d.landmark), d.message, d.severity, d.continuation, d.category] for d in diagnostics.items]


def unpack_diagnostics(items) -> Diagnostics:
    d = Diagnostics()
    d.items = [Diagnostic(_unlandmark(lm), str(m), str(s), list(cont), str(cat)) for lm, m, s, cont, cat in items]
    return d
