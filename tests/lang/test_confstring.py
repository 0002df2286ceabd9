import pytest

from clickpy.lang.confstring import (
    VariableScope,
    assign_arguments,
    expand,
    is_click_id,
    quote,
    shift_word,
    split_args,
    split_keyword,
    split_words,
    uncomment,
    unquote,
)


@pytest.mark.parametrize(
    "config, args",
    [
        ("", []),
        ("a", ["a"]),
        ("a, b ,c", ["a", "b", "c"]),
        ("1, ", ["1"]),  # an empty last argument is dropped
        ("1, /* comment */", ["1"]),
        (", 1", ["", "1"]),
        ('"a, b", \'c, d\'', ['"a, b"', "'c, d'"]),
        ("a /* x, y */ b, c // z, w\n, d", ["a b", "c", "d"]),
        ("DATA \\<00 2c 01>, X", ["DATA \\<00 2c 01>", "X"]),
    ],
)
def test_split_args(config, args):
    assert split_args(config) == args


def test_uncomment_keeps_inner_space_but_collapses_around_comments():
    assert uncomment("  a   b  ") == "a   b"
    assert uncomment("  a /* Comment */       b  ") == "a b"
    assert uncomment('  " /*???  */ "  ') == '" /*???  */ "'


def test_split_words_and_shift_word():
    assert split_words('a "b c" d/*x*/e') == ["a", '"b c"', "d", "e"]
    assert shift_word("  one two three") == ("one", "two three")
    assert shift_word("") == ("", "")


@pytest.mark.parametrize(
    "text, value",
    [
        ("plain", "plain"),
        ('"a b"', "a b"),
        ("a\"b\"c", "abc"),
        ("'single \\n'", "single \\n"),
        ('"tab\\there"', "tab\there"),
        ('"\\x41\\102\\<43 44>"', "ABCD"),
        ("\\<48 45 4c 4C 4f>", "HELLO"),
        ('"\\<48656c6C 6f 2 /* And finally */ 1>"', "Hello!"),
        ('"line\\\ncontinued"', "linecontinued"),
        ('"\\q\\$\\,"', "q$,"),
        ('"\\\\"', "\\"),
    ],
)
def test_unquote(text, value):
    assert unquote(text) == value


@pytest.mark.parametrize("value", ["", "abc", "a b", 'q"uote', "back\\slash", "$var", "\t\n\r", "\x00\xff"])
def test_quote_round_trips(value):
    assert unquote(quote(value)) == value


def test_quote_escapes_like_click():
    assert quote("a\tb$") == '"a\\tb\\$"'
    assert quote("\x01") == '"\\001"'


def test_keywords():
    assert split_keyword("LIMIT 10") == ("LIMIT", "10")
    assert split_keyword("STOP") == ("STOP", "")
    assert split_keyword('"LIMIT" 10') is None
    assert split_keyword("a-b 1") is None


def test_click_identifiers():
    assert is_click_id("a/b@1")
    assert not is_click_id("a//b")
    assert not is_click_id("/a")
    assert not is_click_id("a/")


def scope(**values):
    s = VariableScope()
    for k, v in values.items():
        s.define(k, v)
    return s


def test_expand_simple_and_braced_references():
    s = scope(a="1", b="two words")
    assert expand("$a, ${a}x, $b", s) == "1, 1x, two words"
    assert expand("$undefined stays", s) == "$undefined stays"


def test_expand_defaults_and_indexes():
    s = scope(a="A B C")
    assert expand("${x-dflt} ${a-dflt}", s) == "dflt A B C"
    assert expand("${a[0]}|${a[2]}|${a[3]}", s) == "A|C|"
    assert expand("${x-$a}", s) == "A B C"  # a default may use variables
    # ...but braces do not nest: the first '}' ends the reference, as in Click.
    assert expand("${x-${a[1]}}", s) == "${a[1]}"


def test_expand_respects_quotes():
    s = scope(a='say "hi"')
    assert expand("'$a'", s) == "'$a'"  # single quotes block expansion
    assert expand('"$a"', s) == '"say \\"hi\\""'  # double quotes keep the value intact
    assert unquote(expand('"$a"', s)) == 'say "hi"'


def test_expand_nested_scopes_and_script_expressions():
    outer = scope(a="outer", j="sub")
    inner = VariableScope(outer)
    inner.define("a", "inner")
    assert expand("$a", inner) == "inner"
    assert expand("$j", inner) == "sub"
    # $(...) is evaluated at run time by Script; only variables inside are substituted.
    assert expand("$(add 1 2) $($j 8 5)", inner) == "$(add 1 2) $(sub 8 5)"


def test_expand_is_bounded_for_self_reference():
    s = scope(a="$a!")
    assert expand("$a", s).endswith("!")  # terminates


def test_assign_arguments_positional():
    assert assign_arguments(["1", "2"], ["", ""]) == ["1", "2"]
    assert assign_arguments(["1"], ["", ""]) is None
    assert assign_arguments(["1", "2", "3"], ["", ""]) is None
    assert assign_arguments([], []) == []


def test_assign_arguments_keywords_and_rest():
    assert assign_arguments(["A", "TWO B"], ["", "TWO", "__REST__"]) == ["A", "B", ""]
    assert assign_arguments(["1", "2", "COUNT 3", "FOO 4"], ["", "COUNT", "__REST__"]) == ["1", "3", "2, FOO 4"]
    assert assign_arguments(["1"], ["", "COUNT"]) is None  # keywords are mandatory
    assert assign_arguments(["A", "B"], ["", "TWO", "__REST__"]) is None
    assert assign_arguments(["A"], ["", "__REST__"]) == ["A", ""]
    assert assign_arguments(["COUNT 1", "BAD 2"], ["COUNT"]) is None
