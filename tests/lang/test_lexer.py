from clickpy.errors import Diagnostics, Landmark
from clickpy.lang import lexer as L
from clickpy.lang.lexer import tokenize


def kinds(text):
    return [(t.kind, t.text) for t in tokenize(text)][:-1]


def test_punctuation_and_multi_character_tokens():
    assert kinds("a -> b => c :: D || ... ; , [ ] { } | -") == [
        (L.IDENT, "a"), (L.ARROW, "->"), (L.IDENT, "b"), (L.DARROW, "=>"), (L.IDENT, "c"),
        (L.DCOLON, "::"), (L.IDENT, "D"), (L.DBAR, "||"), (L.ELLIPSIS, "..."), (";", ";"),
        (",", ","), ("[", "["), ("]", "]"), ("{", "{"), ("}", "}"), ("|", "|"), ("-", "-"),
    ]


def test_identifiers_with_slashes_stop_at_comments():
    # '//' starts a comment even in the middle of an identifier.
    assert kinds("an/identifier/with/slashes//too/many") == [(L.IDENT, "an/identifier/with/slashes")]
    assert kinds("a/ b") == [(L.IDENT, "a"), ("/", "/"), (L.IDENT, "b")]
    assert kinds("Class@12 @3") == [(L.IDENT, "Class@12"), (L.IDENT, "@3")]


def test_keywords_and_variables():
    assert kinds("elementclass require provide define $a_1 $") == [
        (L.ELEMENTCLASS, "elementclass"), (L.REQUIRE, "require"), (L.PROVIDE, "provide"),
        (L.DEFINE, "define"), (L.VARIABLE, "a_1"), (L.VARIABLE, ""),
    ]


def test_paren_after_identifier_is_a_configuration_string():
    toks = kinds('Foo(a, "b)c" /* ) */, (d), \\<29>) x')
    assert toks[:4] == [(L.IDENT, "Foo"), ("(", "("), (L.CONFIG, 'a, "b)c" /* ) */, (d), \\<29>'), (")", ")")]
    assert toks[4] == (L.IDENT, "x")


def test_paren_elsewhere_opens_a_group():
    assert [k for k, _ in kinds("a -> ( -> b ) -> c")] == [
        L.IDENT, L.ARROW, "(", L.ARROW, L.IDENT, ")", L.ARROW, L.IDENT
    ]
    # After a configuration string, '(' is a group again.
    assert [k for k, _ in kinds("A(1) (")][-1] == "("
    # After a group's ')', Click reads '(' as that group's configuration.
    assert [k for k, _ in kinds("(a) (x)")][-3:] == ["(", L.CONFIG, ")"]


def test_comments_and_whitespace_are_skipped_and_counted():
    toks = tokenize("// one\n/* two\nthree */ a\r\n  b")
    assert [(t.text, t.landmark.line, t.landmark.col) for t in toks[:-1]] == [("a", 3, 10), ("b", 4, 3)]


def test_line_directives_renumber_lines_and_files():
    toks = tokenize('a\n# 100 "foo.click"\nb\n#line 7\nc\n# 1 ""\nd', "orig.click")
    lms = [t.landmark for t in toks[:-1]]
    assert lms == [
        Landmark("orig.click", 1, 1), Landmark("foo.click", 100, 1),
        Landmark("foo.click", 7, 1), Landmark("orig.click", 1, 1),
    ]


def test_line_directive_inside_a_configuration_string_is_obeyed_and_removed():
    toks = tokenize('m :: Message(\n# 100 "foobar.click"\n"test");\nm2 :: Message("x");', "A.click")
    config = [t for t in toks if t.kind == L.CONFIG][0]
    assert config.text == '\n"test"'
    m2 = [t for t in toks if t.text == "m2"][0]
    assert m2.landmark == Landmark("foobar.click", 101, 1)


def test_hash_not_at_line_start_is_a_token():
    assert kinds("a # b")[1] == ("#", "#")


def test_unknown_directive_is_reported():
    d = Diagnostics()
    tokenize("#pragma once\na", "f.click", d)
    assert [str(x) for x in d.items] == ["f.click:1:1: unknown preprocessor directive"]


def test_unterminated_string_is_one_error_at_the_quote():
    d = Diagnostics()
    tokenize('a :: Message("hello\n);\nb :: Idle;', "f.click", d)
    assert [str(x) for x in d.items] == ['f.click:1:14: unterminated string: no closing " for this "']


def test_unclosed_configuration_string_points_at_the_paren():
    d = Diagnostics()
    tokenize("a :: Tee(1,\n b", "f.click", d)
    assert [str(x) for x in d.items] == ["f.click:1:9: unbalanced '(': configuration string has no closing ')'"]


def test_unterminated_comment():
    d = Diagnostics()
    tokenize("a /* b", "f.click", d)
    assert [str(x) for x in d.items] == ["f.click:1:3: unterminated '/*' comment"]


def test_crlf_line_ends():
    toks = tokenize("a\r\nb\rc")
    assert [t.landmark.line for t in toks[:-1]] == [1, 2, 3]
