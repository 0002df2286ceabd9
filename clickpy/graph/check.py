"""Stage 4: check a flat router graph against the element classes' declarations.

Every problem is reported in one pass, with the element's landmark:

* classes: unknown names (with the closest known names), and Click classes
  that clickpy does not implement yet;
* required packages that cannot be imported;
* port counts: connections to ports an element does not have, and ports it
  must have that are left unconnected;
* push and pull: agnostic ports take the processing of what they connect to
  (through the element's flow code), then any push-to-pull connection, and
  any push output or pull input used twice, is an error.

The result gives each element's port counts and resolved processing, which
the runtime uses to wire the graph.
"""
from __future__ import annotations

import os

from clickpy import limits
from clickpy.errors import FEW_PORTS, Diagnostics, port_list_text
from clickpy.graph import catalog
from clickpy.graph.flatgraph import FlatElement, FlatGraph
from clickpy.plan import ElementPorts
from clickpy.runtime import registry
from clickpy.graph.ports import (
    AGNOSTIC,
    PULL,
    PUSH,
    PortSpecError,
    flow_pairs,
    port_processing,
)


def check(
    graph: FlatGraph,
    diagnostics: Diagnostics | None = None,
    lookup=catalog.lookup,
) -> list[ElementPorts]:
    """Check graph; errors go to diagnostics. Returns per-element port plans."""
    d = diagnostics if diagnostics is not None else Diagnostics()
    _check_packages(graph, d)
    # Only classes clickpy implements have their ports checked: their
    # declarations are the ones the runtime will use. A Click class clickpy
    # lacks is already an error, and is treated as flexible to avoid noise.
    class_errors = Diagnostics()
    specs = _implemented_specs(graph, class_errors, lookup)
    # A compound used many times repeats its components' landmarks: say each once.
    seen = set()
    for item in class_errors.items:
        key = (item.landmark, item.message)
        if key not in seen:
            seen.add(key)
            item.category = "class"
            d.items.append(item)
    if seen:
        # As in Click, a configuration naming classes that do not exist is
        # wrong as written: its wiring is not judged until they do.
        return [ElementPorts([], []) for _ in graph.elements]
    live = _check_port_ranges(graph, specs, d)
    return _check_processing(graph, specs, live, d)


def port_plans_around_missing_classes(graph: FlatGraph, lookup=catalog.lookup) -> list[ElementPorts]:
    """Port plans for a graph that names classes clickpy lacks, those taken
    as flexible and every complaint discarded: enough to configure the
    elements that exist (``clickpy check`` reports their errors too)."""
    quiet = Diagnostics()
    specs = _implemented_specs(graph, quiet, lookup)
    return _check_processing(graph, specs, _check_port_ranges(graph, specs, quiet), quiet)


def _implemented_specs(graph: FlatGraph, d: Diagnostics, lookup) -> list:
    """Per element, the declaration of its class if clickpy implements it,
    else None; what is unknown or cannot load is reported to d."""
    specs = [_class_spec(e, graph, d, lookup) for e in graph.elements]
    return [s if s is not None and s.implemented else None for s in specs]


def _check_packages(graph: FlatGraph, d: Diagnostics) -> None:
    for kind, value in graph.requirements:
        if kind != "package":
            continue
        lm = graph.requirement_landmarks.get((kind, value))
        base = os.path.dirname(lm.file) if lm is not None else None
        try:
            registry.import_package(value, base)
        except ImportError as e:
            d.error(lm, f"required package '{value}' could not be imported ({e})")


def _class_spec(e: FlatElement, graph: FlatGraph, d: Diagnostics, lookup) -> catalog.ClassSpec | None:
    if e.failed:
        return None
    try:
        spec = lookup(e.class_name)
    except ImportError as err:
        d.error(e.landmark, f"element class '{e.class_name}' could not be loaded: {err}")
        return None
    if spec is None:
        if e.bare:
            named = [x.name for x in graph.elements if "@" not in x.name and "/" not in x.name]
            close = catalog.closest_names(e.class_name, named)
            msg = f"undeclared element '{e.class_name}' (not an element or a known element class)"
        else:
            close = catalog.closest_names(e.class_name)
            msg = f"unknown element class '{e.class_name}'"
        if close:
            msg += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        d.error(e.landmark, msg)
    elif not spec.implemented:
        d.error(e.landmark, f"element class '{e.class_name}' is not implemented in clickpy yet")
    return spec


def _check_port_ranges(graph: FlatGraph, specs, d: Diagnostics) -> tuple[list[tuple[int, int]], list]:
    """Fix each element's port counts; return them and the connections that fit."""
    n = len(graph.elements)
    used_in = [0] * n
    used_out = [0] * n
    for f, fp, t, tp in graph.connections:
        used_out[f] = max(used_out[f], fp + 1)
        used_in[t] = max(used_in[t], tp + 1)
    counts = []
    for i, spec in enumerate(specs):
        ports = None
        if spec is not None and spec.port_count:
            try:
                ports = spec.ports
            except PortSpecError:
                ports = None
        counts.append(ports.resolve(used_in[i], used_out[i]) if ports else (used_in[i], used_out[i]))
    total = 0
    for i, (nin, nout) in enumerate(counts):
        total += nin + nout
        if total > limits.MAX_PORTS:
            # Port plans are lists per port: refuse before making them.
            d.error(graph.elements[i].landmark,
                    f"configuration too large: more than {limits.MAX_PORTS} ports in all")
            return [(0, 0)] * n, []
    live = []
    for c in graph.connections:
        f, fp, t, tp = c
        ok = True
        # A port an element lacks is the connection's mistake: say where it was written.
        where = graph.connection_landmarks.get(c)
        if fp >= counts[f][1]:
            d.error(where or graph.elements[f].landmark, f"'{graph.elements[f].declaration()}' has no output {fp}")
            ok = False
        if tp >= counts[t][0]:
            d.error(where or graph.elements[t].landmark, f"'{graph.elements[t].declaration()}' has no input {tp}")
            ok = False
        if ok:
            live.append(c)
    return counts, live


def _check_processing(graph: FlatGraph, specs, ranges, d: Diagnostics) -> list[ElementPorts]:
    counts, live = ranges
    elements = graph.elements
    ins: list[list[str]] = []
    outs: list[list[str]] = []
    internal = []  # agnostic input/output pairs joined by an element's flow code
    for i, spec in enumerate(specs):
        nin, nout = counts[i]
        codes = None
        if spec is not None and spec.processing:
            try:
                codes = spec.processing_codes
            except PortSpecError:
                codes = None
        if codes is None:
            # Unknown processing: each port simply follows its neighbour.
            ins.append([AGNOSTIC] * nin)
            outs.append([AGNOSTIC] * nout)
            continue
        ins.append([port_processing(codes[0], p) for p in range(nin)])
        outs.append([port_processing(codes[1], p) for p in range(nout)])
        try:
            pairs = flow_pairs(spec.flow_code or "x/x", nin, nout)
        except PortSpecError as e:
            d.error(elements[i].landmark, f"'{elements[i].declaration()}' flow code: {e}")
            pairs = []
        for pi, po in pairs:
            if ins[i][pi] == AGNOSTIC and outs[i][po] == AGNOSTIC:
                internal.append((i, po, i, pi))

    # Spread push and pull along connections (and through agnostic
    # elements) until nothing changes, as Click does.
    edges = [(c, False) for c in live] + [(c, True) for c in internal]
    dead = set()
    changed = True
    while changed:
        changed = False
        for k, ((f, fp, t, tp), is_internal) in enumerate(edges):
            if k in dead:
                continue
            pf, pt = outs[f][fp], ins[t][tp]
            if pt == AGNOSTIC:
                if pf != AGNOSTIC:
                    ins[t][tp] = pf
                    changed = True
            elif pf == AGNOSTIC:
                outs[f][fp] = pt
                changed = True
            elif pf != pt:
                dead.add(k)
                other = PULL if pf == PUSH else PUSH
                if is_internal:
                    d.error(
                        elements[f].landmark,
                        f"agnostic '{elements[f].declaration()}' in mixed context: "
                        f"{other} input {tp}, {pf} output {fp}",
                    )
                else:
                    d.error(
                        elements[f].landmark,
                        f"'{elements[f].declaration()}' {pf} output {fp} connected to "
                        f"'{elements[t].declaration()}' {other} input {tp}",
                    )
    # Ports nothing decided are push, as in Click.
    plans = []
    for i in range(len(elements)):
        plans.append(
            ElementPorts(
                [PUSH if p == AGNOSTIC else p for p in ins[i]],
                [PUSH if p == AGNOSTIC else p for p in outs[i]],
            )
        )
    _check_completeness(graph, plans, live, d)
    return plans


def _check_completeness(graph: FlatGraph, plans: list[ElementPorts], live, d: Diagnostics) -> None:
    elements = graph.elements
    from_count: dict[tuple[int, int], int] = {}
    to_count: dict[tuple[int, int], int] = {}
    for f, fp, t, tp in live:
        from_count[(f, fp)] = from_count.get((f, fp), 0) + 1
        to_count[(t, tp)] = to_count.get((t, tp), 0) + 1
    for (f, fp), n in sorted(from_count.items()):
        if n > 1 and plans[f].outputs[fp] == PUSH:
            d.error(elements[f].landmark, f"illegal reuse of '{elements[f].declaration()}' push output {fp}")
    for (t, tp), n in sorted(to_count.items()):
        if n > 1 and plans[t].inputs[tp] == PULL:
            d.error(elements[t].landmark, f"illegal reuse of '{elements[t].declaration()}' pull input {tp}")
    for i, e in enumerate(elements):
        if e.failed:
            continue
        for side, nports, used in (("input", plans[i].ninputs, to_count), ("output", plans[i].noutputs, from_count)):
            unused = [p for p in range(nports) if (i, p) not in used]
            if len(unused) > FEW_PORTS:
                d.error(e.landmark, f"'{e.declaration()}' {side}s {port_list_text(unused)} unused")
            else:
                for p in unused:
                    d.error(e.landmark, f"'{e.declaration()}' {side} {p} unused")
