"""The flat router graph: what elaboration produces and every later stage reads.

A flat graph has primitive elements only (compound elements and groups are
gone), each with Click's name (``Class@N`` for anonymous elements,
``compound/inner`` for components), its class name, its configuration string
with parameters substituted (or, when flattening, the file's own parameters
left as ``$NAME`` beside their definitions), and the landmark where it was
written.
Connections are (from element, output port, to element, input port), sorted
and without duplicates, as Click's router keeps them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from clickpy.errors import Landmark
from clickpy.lang.confstring import quote


@dataclass(slots=True)
class FlatElement:
    name: str
    class_name: str
    config: str
    landmark: Landmark
    # Written as a bare identifier (no '::', no configuration): if the class
    # turns out to be unknown, the user more likely misspelled an element name.
    bare: bool = False
    # Elaboration already reported an error for this element (for example, no
    # compound overload matched); later checks leave it alone.
    failed: bool = False

    def declaration(self) -> str:
        """Click's way of naming an element in messages: ``name :: Class``."""
        return f"{self.name} :: {self.class_name}"


Connection = tuple[int, int, int, int]  # (from index, output port, to index, input port)


@dataclass
class FlatGraph:
    elements: list[FlatElement] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    connection_landmarks: dict[Connection, Landmark] = field(default_factory=dict)  # where each was written
    requirements: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)
    requirement_landmarks: dict[tuple[str, str], Landmark] = field(default_factory=dict)
    # File-scope parameters left symbolic in the configurations (name, value
    # as written); empty when they were substituted.
    parameters: list[tuple[str, str]] = field(default_factory=list)

    def index(self, name: str) -> int | None:
        for i, e in enumerate(self.elements):
            if e.name == name:
                return i
        return None

    def element(self, name: str) -> FlatElement | None:
        i = self.index(name)
        return None if i is None else self.elements[i]

    def edges(self) -> set[tuple[str, int, str, int]]:
        """Connections by element name, for comparing graphs."""
        names = [e.name for e in self.elements]
        return {(names[f], fp, names[t], tp) for f, fp, t, tp in self.connections}

    def signature(self) -> tuple:
        """A value equal for two graphs with the same elements, configs and connections."""
        return (
            tuple(sorted((e.name, e.class_name, e.config) for e in self.elements)),
            tuple(sorted(self.edges())),
            tuple(self.requirements),
            tuple(self.parameters),
        )

    # --- printing, in Click's flat-configuration format ----------------------

    def unparse(self, landmarks: bool = False) -> str:
        """Click source for this graph; it parses back to the same graph.

        With landmarks, each declaration is preceded by a line directive
        naming where it was written, so errors point at the original source.
        """
        out: list[str] = []
        if self.requirements:
            items = []
            for kind, value in self.requirements:
                items.append(kind + (" " + quote(value) if value else ""))
            out.append("require(" + ", ".join(items) + ");\n\n")
        if self.parameters:
            items = [f"${name} {value}" for name, value in self.parameters]
            out.append("define(" + ", ".join(items) + ");\n\n")
        for e in self.elements:
            if landmarks and e.landmark.line:
                out.append(f'# {e.landmark.line} "{e.landmark.file}"\n')
            config = f"({e.config})" if e.config else ""
            out.append(f"{e.name} :: {e.class_name}{config};\n")
        if self.elements:
            out.append("\n")
        if landmarks and self.connections:
            out.append('# 1 "<flattened>"\n')
        out.append(self._unparse_connections())
        return "".join(out)

    def _unparse_connections(self) -> str:
        """Print connections as chains ``a -> b -> c`` where ports allow."""
        conns = self.connections
        names = [e.name for e in self.elements]
        n = len(conns)
        by_source: dict[tuple[int, int], list[int]] = {}
        for ci, (f, fp, _t, _tp) in enumerate(conns):
            by_source.setdefault((f, fp), []).append(ci)
        nxt = [-1] * n
        starts = [True] * n
        for ci, (_f, _fp, t, tp) in enumerate(conns):
            if tp != 0:
                continue
            # A chain continues through t's output 0, preferring a connection
            # that enters its next element on input 0 (Click prints the same).
            result = -1
            for d in by_source.get((t, 0), []):
                if d != ci:
                    result = d
                    if conns[d][3] == 0:
                        break
            if result >= 0:
                nxt[ci] = result
                starts[result] = False
        used = [False] * n
        lines: list[str] = []
        while True:
            for ci in range(n):
                if used[ci] or not starts[ci]:
                    continue
                f, fp, _t, _tp = conns[ci]
                text = [names[f] + (f" [{fp}]" if fp else "")]
                d = ci
                while d >= 0 and not used[d]:
                    text.append(" -> " if d == ci else "\n    -> ")
                    _f, _fp, t, tp = conns[d]
                    text.append((f"[{tp}] " if tp else "") + names[t])
                    used[d] = True
                    d = nxt[d]
                lines.append("".join(text) + ";\n")
            if all(used):
                break
            # Cycles have no start: begin a chain at the first unused connection.
            for ci in range(n):
                if not used[ci]:
                    starts[ci] = True
                    break
        return "".join(lines)
