from clickpy.errors import Diagnostics
from clickpy.graph.elaborate import elaborate
from clickpy.lang.parser import parse


def flat(text, definitions=None, filename="t.click"):
    d = Diagnostics()
    g = elaborate(parse(text, filename, d), d, definitions)
    assert not d.items, d.format()
    return g


def flat_errors(text, filename="t.click"):
    d = Diagnostics()
    elaborate(parse(text, filename, d), d)
    return [str(x) for x in d.items]


def decls(g):
    return [(e.name, e.class_name, e.config) for e in g.elements]


def test_anonymous_elements_are_numbered_by_position():
    g = flat("a :: Idle; Idle -> Discard; x :: Counter; Counter;")
    assert [e.name for e in g.elements] == ["a", "Idle@2", "Discard@3", "x", "Counter@5"]


def test_anonymous_names_avoid_declared_names():
    g = flat("Idle -> d :: Discard; Idle@1 :: Idle; Idle@1 -> d")
    assert sorted(e.name for e in g.elements) == ["Idle@1", "Idle@2", "d"]


def test_connections_are_sorted_and_deduplicated():
    g = flat("a, b :: Idle; a -> b; a -> b; b [1] -> [1] a;")
    assert g.edges() == {("a", 0, "b", 0), ("b", 1, "a", 1)}
    assert len(g.connections) == 2


def test_compound_components_are_prefixed():
    g = flat("c :: { input -> x :: Counter -> output }; Idle -> c -> Discard;")
    assert ("c/x", "Counter", "") in decls(g)
    assert g.edges() == {("Idle@2", 0, "c/x", 0), ("c/x", 0, "Discard@3", 0)}


def test_anonymous_compound_gets_an_at_name():
    g = flat("Idle -> { input -> Counter -> output } -> Discard;")
    assert [e.name for e in g.elements] == ["Idle@1", "Discard@3", "@2/Counter@1"]


def test_compound_with_several_ports():
    g = flat(
        "compound :: { input -> X -> output; input [1] -> Y -> [1] output; };"
        "a, b, c, d :: Idle; a -> compound -> b; c -> [1] compound [1] -> d;"
    )
    assert g.edges() == {
        ("a", 0, "compound/X@1", 0), ("compound/X@1", 0, "b", 0),
        ("c", 0, "compound/Y@2", 0), ("compound/Y@2", 0, "d", 0),
    }


def test_parameters_positional_keyword_and_rest():
    g = flat(
        "elementclass Q { $a, COUNT $count, __REST__ $rest | input -> A(1, $a, $count; $rest) -> output }"
        "Idle -> Q(1, 2, COUNT 3, FOO 4) -> Discard"
    )
    assert g.element("Q@2/A@1").config == "1, 1, 3; 2, FOO 4"


def test_single_quotes_block_substitution():
    g = flat("elementclass Q { $a | input -> A('$a', \"$a\") -> output } Idle -> Q(x) -> Discard")
    assert g.element("Q@2/A@1").config == "'$a', \"x\""


def test_defines_are_simultaneous_and_overridden_by_the_command_line():
    text = "Message($a); define($a 2, $b $a)"
    assert flat(text).elements[0].config == "2"
    assert flat(text, {"a": "9"}).elements[0].config == "9"
    assert flat("define($a 1); Message($b)", {"b": "cmd"}).elements[0].config == "cmd"


def test_overloads_pick_the_first_that_fits_ports_and_arguments():
    g = flat(
        "elementclass F { input -> A -> output || $x | input -> B($x) -> output "
        "|| input -> C -> output; input [1] -> output }"
        "Idle -> F -> Discard; Idle -> F(7) -> Discard; i :: Idle; i -> F -> Discard; i [1] -> [1] F@9"
    )
    classes = {e.class_name for e in g.elements}
    assert {"A", "B"} <= classes


def test_extension_with_ellipsis_falls_back_to_the_primitive():
    g = flat("elementclass Queue { $cap, $rate | input -> Queue($cap) -> Shaper($rate) -> output || ... }"
             "Idle -> Queue(10, 20) -> Discard; Idle -> Queue(5) -> Discard;")
    names = decls(g)
    assert ("Queue@2/Queue@1", "Queue", "10") in names
    assert ("Queue@5", "Queue", "5") in names


def test_synonym_flattens_to_the_original_class():
    g = flat("elementclass MyQueue Queue; Idle -> MyQueue(5) -> Discard")
    assert g.elements[1].name == "MyQueue@2" and g.elements[1].class_name == "Queue"


def test_element_classes_are_lexically_scoped():
    # 'Queue' inside refers to the original class, not the one being defined.
    g = flat("elementclass Queue { input -> Queue -> Shaper(1000) -> output } Idle -> Queue -> Discard")
    assert {e.class_name for e in g.elements} == {"Idle", "Queue", "Shaper", "Discard"}


def test_variables_follow_lexical_scope():
    g = flat(
        "elementclass Foo { $a | elementclass Bar { $b | DriverManager($a); }"
        " elementclass Baz { $a | Idle; Bar($a); } Baz(other); } Foo(stop);"
    )
    assert decls(g) == [
        ("Foo@1/Baz@1/Idle@1", "Idle", ""),
        ("Foo@1/Baz@1/Bar@2/DriverManager@1", "DriverManager", "stop"),
    ]


def test_groups_share_the_scope_and_imply_ports():
    g = flat("a, b, c :: Idle; a => ( [0] -> c; [1] -> b ); c, b -> x :: Discard;")
    assert g.edges() == {("a", 0, "c", 0), ("a", 1, "b", 0), ("c", 0, "x", 0), ("b", 0, "x", 0)}
    # The manual's example: the group passes both ports through.
    g = flat("x :: Idle; y :: Discard; x => ( [0]->[0]; [1]->[1] ) -> y;")
    assert g.edges() == {("x", 0, "y", 0), ("x", 1, "y", 0)}


def test_spread_declaration():
    g = flat("a, b, c :: Queue(7);")
    assert decls(g) == [("a", "Queue", "7"), ("b", "Queue", "7"), ("c", "Queue", "7")]
    # In a connection, each declaration applies to one name only.
    g = flat("n1 :: Idle; n1, n2 :: Idle -> n3 :: Discard;")
    assert [e.name for e in g.elements] == ["n1", "n2", "n3"]


def test_require_packages_are_recorded():
    g = flat('require(package "foo", compact_config); Idle')
    assert g.requirements == [("package", "foo"), ("compact_config", "")]


def test_compound_argument_mismatch_names_candidates():
    errs = flat_errors(
        "elementclass F { $a | input -> output || $a, $b | input -> output }\n"
        "Idle -> F(1, 2, 3) -> Discard"
    )
    assert errs == [
        "t.click:2:9: no match for 'F[3 arguments, 1 input, 1 output]'",
        "t.click:1:18: candidates are: F(<arg>)[1 input, 1 output]",
        "t.click:1:42:                 F(<arg>, <arg>)[1 input, 1 output]",
    ]


def test_unused_and_missing_compound_ports():
    errs = flat_errors("elementclass P { input -> Print -> output }\nIdle -> p :: P; i :: Idle; i -> [1] p")
    assert "t.click:2:9: 'p' output 0 unused" in errs
    assert "t.click:2:9: 'p' has no input 1" in errs


def test_pseudoelement_misuse_and_gaps():
    errs = flat_errors("elementclass P { input [1] -> output; x :: Idle -> input }")
    assert "t.click:1:18: 'P' pseudoelement 'input' may only be used as output" in errs
    assert "t.click:1:18: 'P' input 0 missing" in errs


def test_redeclaration_and_class_as_element_name():
    assert flat_errors("a :: Idle;\na :: Discard;") == [
        "t.click:2:1: redeclaration of element 'a'",
        "t.click:1:1: element 'a' previously declared here",
    ]
    assert flat_errors("Idle :: Discard;") == ["t.click:1:1: class 'Idle' used as element name"]
    assert flat_errors("A :: A;") == ["t.click:1:1: class 'A' used as element name"]


def test_recursive_elementclass_is_reported():
    errs = flat_errors("elementclass Loop {\n  input -> Loop -> output\n}\nIdle -> Loop -> Discard")
    assert errs == [
        "t.click:2:12: element class 'Loop' is used inside its own definition "
        "(element classes are not recursive)"
    ]


def test_configuration_on_a_reference_is_reported():
    assert flat_errors("a :: Idle; a(1) -> Discard") == [
        "t.click:1:12: configuration string ignored on element reference"
    ]


def test_all_digit_names_are_rejected():
    assert flat_errors("x/12 :: Idle") == ["t.click:1:1: element name 'x/12' has all-digit component"]


def test_define_twice_in_one_scope():
    assert flat_errors("define($a 1);\ndefine($a 2)") == ["t.click:2:1: parameter '$a' multiply defined"]
