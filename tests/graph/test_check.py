"""The check stage, against class declarations given by the test.

Element classes declare their ports, processing and flow codes; here each
test supplies a small table of such declarations (the shapes of Click's
Idle, Queue, Tee, Discard, ...) so that the checker's rules are exercised
independently of which elements the library implements.
"""
import pytest

from clickpy.errors import Diagnostics
from clickpy.graph.catalog import ClassSpec
from clickpy.graph.check import check
from clickpy.graph.elaborate import elaborate
from clickpy.lang.parser import parse

DECLARED = {
    "Src": ("0/1", "h"),
    "PullSrc": ("0/1", "l"),
    "Idle": ("-/-", "a"),
    "Counter": ("1/1", "a"),
    "Tee": ("1/1-", "h"),
    "Queue": ("1/1-2", "h/lh"),
    "Discard": ("1/0", "a"),
    "Sink": ("1/0", "l"),
    "PushSink": ("1/0", "h"),
    "Switch": ("1/-", "h"),
    "Both": ("1-/=", "a"),
    "Paired": ("2/2", "a"),
}
FLOWS = {"Paired": "#/#"}


def lookup(name):
    if name in DECLARED:
        ports, proc = DECLARED[name]
        return ClassSpec(name, ports, proc, FLOWS.get(name), implemented=True)
    if name == "ARPQuerier":
        return ClassSpec(name, "2/1-2", "h", implemented=False)
    return None


def run(text):
    d = Diagnostics()
    g = elaborate(parse(text, "t.click", d), d, known_class=lambda n: lookup(n) is not None)
    assert not d.items, d.format()
    plans = check(g, d, lookup=lookup)
    return g, plans, [str(x) for x in d.items]


def test_valid_graph_resolves_push_and_pull():
    g, plans, errs = run("Src -> c :: Counter -> q :: Queue -> d :: Counter -> Sink")
    assert errs == []
    by_name = {e.name: p for e, p in zip(g.elements, plans)}
    assert by_name["c"].inputs == ["push"] and by_name["c"].outputs == ["push"]
    assert by_name["q"].inputs == ["push"] and by_name["q"].outputs == ["pull"]
    assert by_name["d"].inputs == ["pull"] and by_name["d"].outputs == ["pull"]


def test_port_counts_come_from_the_declaration():
    _, plans, errs = run("Src -> t :: Tee -> Discard; t [2] -> Discard")
    assert errs == ["t.click:1:8: 't :: Tee' output 1 unused"]
    _, _, errs = run("Src -> c :: Counter; c [1] -> Discard; c -> Discard")
    # As in Click, the bad connection is dropped, so its target is then
    # unconnected; the port error points at the connection, not the declaration.
    assert errs == [
        "t.click:1:22: 'c :: Counter' has no output 1",
        "t.click:1:31: 'Discard@3 :: Discard' input 0 unused",
    ]


def test_equal_port_count():
    _, plans, errs = run("Src -> b :: Both -> Discard; Src -> [1] b [1] -> Discard")
    assert errs == [] and plans[1].noutputs == 2


def test_unconnected_ports_are_reported():
    assert run("c :: Counter")[2] == ["t.click:1:1: 'c :: Counter' input 0 unused", "t.click:1:1: 'c :: Counter' output 0 unused"]
    assert run("Src -> Idle")[2] == []  # Idle accepts any number of ports


def test_push_to_pull_mismatch():
    _, _, errs = run("Src -> Sink")
    assert errs == ["t.click:1:1: 'Src@1 :: Src' push output 0 connected to 'Sink@2 :: Sink' pull input 0"]
    _, _, errs = run("PullSrc -> PushSink")
    assert errs == ["t.click:1:1: 'PullSrc@1 :: PullSrc' pull output 0 connected to 'PushSink@2 :: PushSink' push input 0"]


def test_agnostic_element_in_mixed_context():
    _, _, errs = run("Src -> c :: Counter -> Sink")
    assert errs == ["t.click:1:8: agnostic 'c :: Counter' in mixed context: push input 0, pull output 0"]


def test_flow_code_keeps_agnostic_ports_apart():
    # '#/#': input 0 flows only to output 0, input 1 only to output 1.
    _, plans, errs = run("p :: Paired; Src -> p -> Discard; PullSrc -> [1] p [1] -> Sink")
    assert errs == []
    assert plans[0].inputs == ["push", "pull"] and plans[0].outputs == ["push", "pull"]


def test_reuse_of_push_output_and_pull_input():
    _, _, errs = run("s :: Src; s -> Discard; s -> Discard")
    assert errs == ["t.click:1:1: illegal reuse of 's :: Src' push output 0"]
    _, _, errs = run("q :: Queue; Src -> q; PullSrc -> Counter -> q; q -> Sink")
    assert "t.click:1:1: 'PullSrc@3 :: PullSrc' pull output 0 connected to 'Counter@4 :: Counter' push input 0" not in errs
    _, _, errs = run("Src -> q :: Queue; k :: Sink; q -> k; PullSrc -> k")
    assert errs == ["t.click:1:20: illegal reuse of 'k :: Sink' pull input 0"]


def test_push_outputs_may_fan_in():
    assert run("a :: Src; b :: Src; a, b -> Discard")[2] == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("Srcc -> Discard", "t.click:1:1: undeclared element 'Srcc' (not an element or a known element class); did you mean 'Src'?"),
        ("x :: Cuonter; Src -> x -> Discard", "t.click:1:1: unknown element class 'Cuonter'; did you mean 'Counter'?"),
        ("Src -> ARPQuerier(1.2.3.4, 0:1:2:3:4:5) -> Discard", "t.click:1:8: element class 'ARPQuerier' is not implemented in clickpy yet"),
    ],
)
def test_unknown_and_unimplemented_classes(text, message, monkeypatch):
    from clickpy.graph import catalog

    monkeypatch.setattr(catalog, "known_names", lambda: sorted(DECLARED) + ["ARPQuerier"])
    assert message in run(text)[2]


def test_all_errors_in_one_pass():
    _, _, errs = run("Src -> Sink; c :: Counter; Queue -> Sink")
    assert len(errs) == 4  # mismatch, two unused ports, unused Queue input


def test_unknown_classes_stop_before_the_wiring_is_judged():
    # As in Click: the wiring of a configuration with unknown classes is not checked.
    _, _, errs = run("Src -> Sink; x :: Nope; y :: Nada")
    assert [e.split(": ", 1)[1].split(";")[0] for e in errs] == [
        "unknown element class 'Nope'", "unknown element class 'Nada'"]


def test_missing_required_package():
    d = Diagnostics()
    g = elaborate(parse("require(package clickpy_no_such_pkg)", "t.click", d), d)
    check(g, d, lookup=lookup)
    assert [str(x) for x in d.items] == [
        "t.click:1:1: required package 'clickpy_no_such_pkg' could not be imported "
        "(No module named 'clickpy_no_such_pkg')"
    ]


def test_a_class_that_cannot_load_is_an_error_not_a_crash():
    """An element module that fails to import (a broken install) is reported
    at the element, and the wiring is not judged, as for a missing class."""
    def broken(name):
        if name == "Counter":
            raise ImportError("broken module")
        return lookup(name)

    d = Diagnostics()
    g = elaborate(parse("Src -> Counter -> Discard", "t.click", d), d, known_class=lambda n: True)
    plans = check(g, d, lookup=broken)
    assert [x.message for x in d.items] == ["element class 'Counter' could not be loaded: broken module"]
    assert all(p.inputs == [] and p.outputs == [] for p in plans)
