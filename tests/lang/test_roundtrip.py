"""Generated configurations survive print -> parse, and flatten -> parse, unchanged.

Hypothesis writes Click source with declarations, chains with ports,
many-to-one and '=>' connections, groups, anonymous elements, defines and
overloaded compound classes with parameters. Two round trips must give the
same router graph (elements, classes, configurations, connections):

* the syntax tree printed as Click source and parsed again;
* the flattened graph printed as Click source and parsed again.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickpy.errors import Diagnostics
from clickpy.graph.elaborate import elaborate
from clickpy.lang.parser import parse
from clickpy.lang.printer import unparse

CLASSES = ["Idle", "Counter", "Queue", "Tee", "Paint", "Print", "Strip", "Unknown_Thing"]

words = st.sampled_from(["1", "0x10", "abc", "LIMIT 5", "10.0.0.1/8", "-3", "true"])
quoted = st.sampled_from(['"a, b"', "'x y'", '"q\\"uote"', '"\\<41 42>"', '"$v0"', "'$v0'"])
arg = st.one_of(words, quoted, st.just("$v0"), st.just("${v1-dflt}"))


@st.composite
def configs(draw):
    return ", ".join(draw(st.lists(arg, max_size=3)))


@st.composite
def programs(draw):
    out = []
    out.append(f"define($v0 {draw(words)}, $v1 {draw(words)});")
    ncompounds = draw(st.integers(0, 2))
    for k in range(ncompounds):
        bodies = []
        for nargs in range(draw(st.integers(1, 3))):
            formals = ", ".join(f"$p{i}" for i in range(nargs))
            head = f"{formals} | " if formals else ""
            inner = draw(st.sampled_from(CLASSES))
            bodies.append(f"{head}input -> {inner}($p0) -> x{nargs} :: Counter -> output" if nargs
                          else f"input -> {inner} -> output")
        out.append(f"elementclass Comp{k} {{ " + " || ".join(bodies) + " }")
    n = draw(st.integers(2, 8))
    for i in range(n):
        cls = draw(st.sampled_from(CLASSES))
        conf = draw(configs())
        out.append(f"e{i} :: {cls}" + (f"({conf})" if conf else "") + ";")
    names = [f"e{i}" for i in range(n)]
    element = st.sampled_from(names)
    port = st.integers(0, 3)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.integers(0, 5))
        a, b = draw(element), draw(element)
        if kind == 0:
            out.append(f"{a} [{draw(port)}] -> [{draw(port)}] {b};")
        elif kind == 1:
            middle = draw(st.sampled_from(CLASSES))
            out.append(f"{a} -> {middle}({draw(configs())}) -> {b};")
        elif kind == 2:
            c = draw(element)
            out.append(f"{a}, {b} -> {c};")
        elif kind == 3:
            c = draw(element)
            out.append(f"{a} [0, 1] => {b}, [2] {c};")
        elif kind == 4:
            out.append(f"{a} -> ( input -> {draw(st.sampled_from(CLASSES))} -> output ) -> {b};")
        elif ncompounds:
            k = draw(st.integers(0, ncompounds - 1))
            nargs = draw(st.integers(0, 2))
            args = ", ".join(draw(words) for _ in range(nargs))
            use = f"Comp{k}({args})" if nargs else f"Comp{k}"
            if draw(st.booleans()):
                use = f"c{len(out)} :: {use}"
            out.append(f"{a} -> {use} -> {b};")
    return "\n".join(out) + "\n"


def graph_of(text):
    d = Diagnostics()
    program = parse(text, "gen.click", d)
    graph = elaborate(program, d)
    return program, graph, d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_print_parse_round_trip(text):
    program, graph, d = graph_of(text)
    if d.nerrors:  # a compound use with no fitting overload: both sides must agree
        _, graph2, d2 = graph_of(unparse(program))
        assert [x.message for x in d2.errors] == [x.message for x in d.errors]
        return
    printed = unparse(program)
    program2, graph2, d2 = graph_of(printed)
    assert not d2.items, f"{d2.format()}\n--- printed:\n{printed}"
    assert graph2.signature() == graph.signature()
    # Printing is stable: the printed text prints to itself.
    assert unparse(program2) == printed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_flatten_parse_round_trip(text):
    _, graph, d = graph_of(text)
    if d.nerrors:
        return
    flat = graph.unparse()
    _, graph2, d2 = graph_of(flat)
    assert not d2.items, f"{d2.format()}\n--- flat:\n{flat}"
    assert graph2.signature() == graph.signature()
    assert graph2.unparse() == flat
