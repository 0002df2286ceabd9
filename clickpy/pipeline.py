"""The front end in one call: source text to a checked flat graph, and to a Plan.

``tokenize -> parse -> elaborate -> check``; each stage is its own module.
Later stages run only when the parse succeeded, since a syntax error leaves
a partial tree whose semantic errors would only be noise. ``plan`` is what
everything that runs a configuration calls: its Plan goes to
``Router.from_plan``.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from clickpy.errors import ConfigError, Diagnostics, Landmark
from clickpy.graph.check import check
from clickpy.graph.elaborate import elaborate
from clickpy.graph.flatgraph import FlatElement, FlatGraph
from clickpy.lang import ast
from clickpy.lang.parser import parse
from clickpy.plan import ElementPorts, Plan

_DEFINITION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.S)


@dataclass
class Source:
    text: str
    filename: str


@dataclass
class Result:
    diagnostics: Diagnostics
    program: ast.Program | None = None
    graph: FlatGraph | None = None
    ports: list[ElementPorts] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.nerrors


def split_definitions(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Separate command-line ``NAME=value`` parameters from other arguments."""
    rest, defs = [], {}
    for a in args:
        m = _DEFINITION.match(a)
        if m:
            defs[m.group(1)] = m.group(2)
        else:
            rest.append(a)
    return rest, defs


def read_source(file: str | None = None, expr: str | None = None) -> Source:
    """The configuration named on a command line: -e text, a file, or stdin ('-')."""
    if expr is not None:
        return Source(expr, "config")
    if file is None or file == "-":
        data = sys.stdin.buffer.read()
        return Source(data.decode("latin-1"), "<stdin>")
    return Source(Path(file).read_bytes().decode("latin-1"), file)


def load(
    source: Source,
    definitions: dict[str, str] | None = None,
    *,
    run_check: bool = True,
    keep_parameters: bool = False,
) -> Result:
    """Parse, elaborate and (optionally) check; every error lands in the result.

    ``keep_parameters`` leaves the file's ``define``d parameters symbolic
    (for printing a flat configuration; such a graph is not for running).
    """
    d = Diagnostics()
    result = Result(d)
    result.program = parse(source.text, source.filename, d)
    if d.nerrors:
        return result
    result.graph = elaborate(result.program, d, definitions, keep_parameters=keep_parameters)
    if run_check:
        result.ports = check(result.graph, d)
    return result


def plan(source: Source, definitions: dict[str, str] | None = None, extra_elements=()) -> Plan:
    """The checked Plan for source, or ConfigError with every diagnostic.

    ``extra_elements`` are (name, class name, config) triples added to the
    graph, as the driver adds its ControlSocket elements. The error's stage is
    "read" for syntax and unknown classes, "initialize" for the rest (Click's
    two messages).
    """
    result = load(source, definitions, run_check=False)
    if not result.ok:
        raise ConfigError(result.diagnostics, stage="read")
    for name, class_name, config in extra_elements:
        result.graph.elements.append(FlatElement(name, class_name, config, Landmark(source.filename)))
    result.ports = check(result.graph, result.diagnostics)
    if not result.ok:
        read_error = any(x.category == "class" for x in result.diagnostics.errors)
        raise ConfigError(result.diagnostics, stage="read" if read_error else "initialize")
    return Plan(result.graph, result.ports, result.diagnostics)
