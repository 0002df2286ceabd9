import pytest

from clickpy.errors import Diagnostics
from clickpy.lang import ast
from clickpy.lang.parser import find_library, parse


def parse_ok(text):
    d = Diagnostics()
    p = parse(text, "t.click", d)
    assert not d.items, d.format()
    return p


def errors(text, filename="t.click"):
    d = Diagnostics()
    parse(text, filename, d)
    return [str(x) for x in d.items]


def test_declaration_forms():
    p = parse_ok("a :: Idle; b, c :: Queue(10); Discard; d :: {input -> output}(1)")
    s = p.statements
    assert isinstance(s[0].sets[0][0].target, ast.Declaration)
    assert [r.target.name for r in s[1].sets[0]] == ["b", "c"]
    assert s[1].sets[0][1].target.config == "10"
    assert s[2].sets[0][0].target == ast.Name("Discard", None, s[2].sets[0][0].target.landmark)
    decl = s[3].sets[0][0].target
    assert isinstance(decl.element_class, ast.CompoundClass) and decl.config == "1"


def test_connection_chain_with_ports():
    p = parse_ok("a [1] -> [2] x [3] -> [4] b;")
    conn = p.statements[0]
    assert conn.arrows == ["->", "->"]
    x = conn.sets[1][0]
    assert (x.inputs.numbers, x.outputs.numbers) == ([2], [3])


def test_port_ranges_lists_and_expandable():
    p = parse_ok("c [0-2] => a, b, d; e [] => [1, 3-] f;")
    first = p.statements[0].sets[0][0].outputs
    assert (first.numbers, first.expandable) == ([0, 1, 2], False)
    s2 = p.statements[1]
    assert (s2.sets[0][0].outputs.numbers, s2.sets[0][0].outputs.expandable) == ([0], True)
    assert (s2.sets[1][0].inputs.numbers, s2.sets[1][0].inputs.expandable) == ([1, 3], True)


def test_implicit_input_and_output_in_compounds_and_groups():
    p = parse_ok("elementclass A { [1] -> x -> ; -> [1] y :: Idle [2] -> }")
    body = p.statements[0].definition.bodies[0]
    first = body.statements[0]
    assert isinstance(first.sets[0][0].target, ast.Implicit)
    assert first.sets[0][0].target.which == "input"
    assert first.sets[0][0].outputs.numbers == [1]  # '[1] ->' is input's output 1
    assert first.sets[-1][0].target.which == "output"


def test_implicit_ports_in_the_middle_of_a_chain_is_an_error():
    assert errors("elementclass A { a -> [1], b -> c }") == [
        "t.click:1:30: implicit ports used in the middle of a chain"
    ]
    # With nothing after the ports, Click reports a stranded port.
    assert errors("elementclass A { a -> [1] -> b }") == [
        "t.click:1:23: stranded port ignored",
        "t.click:1:27: syntax error near '->'",
    ]


def test_compound_formals_overloads_and_extension():
    p = parse_ok("elementclass Foo { $a, COUNT $c, __REST__ $r | input -> output || -> || ... }")
    cc = p.statements[0].definition
    assert [(f.keyword, f.name) for f in cc.bodies[0].formals] == [("", "a"), ("COUNT", "c"), ("__REST__", "r")]
    assert len(cc.bodies) == 2 and cc.extends


def test_synonym_elementclass():
    p = parse_ok("elementclass MyQueue Queue;")
    assert p.statements[0].definition == "Queue"


def test_formal_errors():
    assert errors("elementclass F { COUNT $c, $a | }") == [
        "t.click:1:28: compound element parameters out of order\n"
        "(The correct order is '[positional], [keywords], [__REST__]'.)".replace("\n", "\nt.click:1:28: ")
    ]
    assert errors("elementclass F { $a, $a | }") == ["t.click:1:22: parameter '$a' multiply defined"]


def test_require_and_define():
    p = parse_ok('require(package "foo", compact_config, bar); define($a 1, $b "two words")')
    req, define = p.statements
    assert [(r.kind, r.value) for r in req.requirements] == [
        ("package", "foo"), ("compact_config", ""), ("package", "bar")
    ]
    assert [(n, v) for n, v, _ in define.definitions] == [("a", "1"), ("b", '"two words"')]


def test_bad_define():
    assert errors("define(a 1)") == ["t.click:1:1: bad 'define' declaration: 'a' is not a variable"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("elementclass A {\n  a -> b;\n", "t.click:1:16: unbalanced '{': compound element is never closed"),
        ("a -> (\n -> b\n", "t.click:1:6: unbalanced '(': element group is never closed"),
        ("a -> b }", "t.click:1:8: syntax error near '}'"),
        ("a -> b )", "t.click:1:8: syntax error near ')'"),
        ("-> b", "t.click:1:1: syntax error near '->'"),
        ("a :: ;", "t.click:1:6: missing element type in declaration"),
        ("a [x] -> b", "t.click:1:4: syntax error: port number should be integer"),
        ("a -> b ::", "t.click:1:10: missing element type in declaration"),
        ("elementclass ;", "t.click:1:14: expected element class name after 'elementclass'"),
    ],
)
def test_syntax_errors_have_one_clear_message(text, message):
    assert errors(text)[0] == message


def test_parser_recovers_and_reports_every_error():
    errs = errors("a -> b }\nc :: ;\nd -> e )\n")
    assert len(errs) == 3


def test_require_library_is_parsed_once(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKPATH", raising=False)
    (tmp_path / "dir").mkdir()
    (tmp_path / "main").write_text("require(library lib, library lib3)\na :: A;\n")
    (tmp_path / "lib").write_text("require(library dir/lib2)\nelementclass A { b :: B; }\n")
    (tmp_path / "dir" / "lib2").write_text("elementclass B { i :: Idle; }\n")
    (tmp_path / "lib3").write_text("require(library lib)\n")
    d = Diagnostics()
    p = parse((tmp_path / "main").read_text(), str(tmp_path / "main"), d)
    assert not d.items
    reqs = p.statements[0].requirements
    assert reqs[0].library is not None
    assert reqs[1].library.statements[0].requirements[0].library is None  # lib already included


def test_require_library_on_clickpath(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mylib.click").write_text("elementclass X { input -> output }")
    monkeypatch.setenv("CLICKPATH", f"/nonexistent:{tmp_path}")
    assert find_library("mylib.click", "/somewhere/else.click") == str(tmp_path / "conf" / "mylib.click")


def test_missing_library_is_reported_at_the_require(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKPATH", raising=False)
    errs = errors("\n  require(library nothere.click)", str(tmp_path / "m.click"))
    assert errs == [f"{tmp_path}/m.click:2:3: library 'nothere.click' not found in the including file's directory"]


def test_library_only_at_file_scope(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKPATH", raising=False)
    (tmp_path / "lib").write_text("")
    errs = errors("elementclass A { require(library lib) }", str(tmp_path / "m.click"))
    assert errs == [f"{tmp_path}/m.click:1:18: 'require library' must be used at file scope"]
