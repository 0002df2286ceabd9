"""The front end's bounds (clickpy.limits): hostile sizes are located errors, real sizes work."""
import pytest

from clickpy import limits, pipeline


def load(text, definitions=None):
    return pipeline.load(pipeline.Source(text, "t.click"), definitions)


def errors(text):
    return [str(d) for d in load(text).diagnostics.errors]


@pytest.mark.parametrize("text", ["{[e(", "([e(", "x :: {[a(", "[0] ( -> [1] {", ")" * 20 + "(" * 20])
def test_broken_text_ends_with_a_located_error(text):
    errs = errors(text)
    assert errs and all(e.startswith("t.click:1:") for e in errs)


def test_a_port_number_beyond_the_limit_is_an_error_at_the_port():
    assert errors("t :: Tee; Idle -> t; t[10000000] -> Discard;") == [
        f"t.click:1:24: port number 10000000 too large (the largest is {limits.MAX_PORT})"]
    assert errors("x :: { input -> [99999999999999999999] output }; Idle -> x -> Discard")[0].startswith(
        "t.click:1:18: port number 99999999999999999999 too large")


def test_the_largest_port_works_and_unused_ports_are_reported_as_ranges():
    errs = errors(f"t :: Tee; Idle -> t; t[{limits.MAX_PORT}] -> Discard;")
    assert errs == [f"t.click:1:1: 't :: Tee' outputs 0-{limits.MAX_PORT - 1} unused"]
    # a few unused ports are still named one per line, as Click does
    assert errors("t :: Tee; Idle -> t; t[2] -> Discard;") == [
        "t.click:1:1: 't :: Tee' output 0 unused", "t.click:1:1: 't :: Tee' output 1 unused"]


def test_port_ranges_are_bounded_in_all():
    text = "a :: Tee; Idle -> a; a[0-60000] => [0-60000] b :: Hub; b -> Discard;\n" * 20
    assert any(f"port ranges list more than {limits.MAX_CONNECTIONS} ports" in e for e in errors(text))


def test_ports_summed_over_elements_are_bounded():
    text = "".join(f"t{i} :: Tee; Idle -> t{i}; t{i}[65535] -> Discard;\n" for i in range(20))
    errs = errors(text)
    assert len(errs) == 1
    assert errs[0].startswith("t.click:16:") and f"configuration too large: more than {limits.MAX_PORTS} ports" in errs[0]


@pytest.mark.parametrize("text", [
    "(" * 250 + ")" * 250,
    "x :: " + "{" * 250 + "input -> output" + "}" * 250 + "; Idle -> x -> Discard",
    "Idle -> " + "(" * 300 + "Null" + ")" * 300 + " -> Discard",
])
def test_nesting_beyond_the_limit_is_a_located_error(text):
    errs = errors(text)
    assert len(errs) == 1 and "nested too deeply (more than 50)" in errs[0]


def test_nesting_up_to_the_limit_works():
    group = "Null"
    for _ in range(50):
        group = f"(input -> {group} -> output)"
    r = load(f"Idle -> {group} -> Discard")
    assert r.ok, r.diagnostics.format()
    assert [e.class_name for e in r.graph.elements] == ["Idle", "Null", "Discard"]


def test_long_chains_of_classes_and_compounds_elaborate_without_recursion():
    classes = "elementclass C0 { input -> Null -> output }\n" + "".join(
        f"elementclass C{i} {{ input -> C{i - 1} -> output }}\n" for i in range(1, 600))
    r = load(classes + "Idle -> C599 -> Discard;")
    assert r.ok, r.diagnostics.format()
    inner = [e for e in r.graph.elements if e.class_name == "Null"][0]
    assert inner.name.count("/") == 600
    chain = load("elementclass P { input -> output }\nIdle" + " -> P" * 600 + " -> Discard;")
    assert chain.ok and len(chain.graph.connections) == 1


def test_exponential_compounds_stop_at_the_element_limit():
    text = "elementclass A0 { input -> Null -> output }\n" + "".join(
        f"elementclass A{i} {{ input -> A{i - 1} -> A{i - 1} -> output }}\n" for i in range(1, 40))
    errs = errors(text + "Idle -> A39 -> Discard;")
    assert len(errs) == 1
    assert "configuration too large: compound elements expand to more than" in errs[0]


def test_exponential_parameters_stop_at_the_string_limit():
    text = "define($a0 xxxxxxxxxx)\n" + "".join(
        f"define($a{i} $a{i - 1}$a{i - 1}$a{i - 1}$a{i - 1})\n" for i in range(1, 11))
    errs = errors(text + "Idle -> Print($a10) -> Discard")
    assert errs == [f"t.click:12:9: configuration too large: parameters expand to more than "
                    f"{limits.MAX_EXPANDED_STRING} characters"]


def test_anonymous_names_skip_taken_names_as_click_does():
    r = load("Idle@4 :: Idle; Idle@5 :: Idle; a :: Idle; Idle -> Discard; Idle -> Discard;"
             " Idle@4 -> Discard; Idle@5 -> Discard; a -> Discard")
    assert [e.name for e in r.graph.elements][:4] == ["Idle@4", "Idle@5", "a", "Idle@6"]
    assert "Idle@7" in [e.name for e in r.graph.elements]


def test_many_clashing_anonymous_names_are_renamed():
    n = 3000
    text = "".join(f"Idle@{i} :: Idle; " for i in range(1, n + 1)) + "Idle -> Discard; " * 1000 + \
        "".join(f"Idle@{i} -> Discard; " for i in range(1, n + 1))
    r = load(text)
    assert r.ok
    names = [e.name for e in r.graph.elements if e.class_name == "Idle"]
    assert len(names) == len(set(names)) == n + 1000


def test_line_directives_cannot_inject_lines_or_overflow():
    assert errors('# 3 "\\<0a>fake.click"\nx') == [
        "\\x0afake.click:3:1: undeclared element 'x' (not an element or a known element class)"]
    assert errors("# " + "9" * 5000 + "\nIdle -> Discard")[0] == "t.click:1:3: line number too large in line directive"
