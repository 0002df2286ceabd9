import pytest

from clickpy.clicktest.format import parse_clicktest
from clickpy.clicktest.match import compare_output


def check(sections: bytes, actual: bytes, name: str = "OUT"):
    """Compare ``actual`` with the expectations for ``name`` in a test made of ``sections``."""
    test = parse_clicktest(b"%script\ntrue\n" + sections, source="t.clicktest")
    return compare_output(name, actual, test.expectations[name], test.ignores_for(name))


def matches(sections: bytes, actual: bytes, name: str = "OUT") -> bool:
    return check(sections, actual, name) is None


# --- %expect -------------------------------------------------------------------


def test_exact_lines_match():
    assert matches(b"%expect OUT\nalpha\nbeta\n", b"alpha\nbeta\n")


def test_changed_line_is_reported_with_both_line_numbers():
    mismatch = check(b"%expect OUT\nalpha\nbeta\ngamma\n", b"alpha\nBETA\ngamma\n")
    assert mismatch.summary == "OUT differs at line 2"
    assert "t.clicktest:5" in mismatch.detail  # the expected line in the test file
    assert "OUT:2" in mismatch.detail
    assert "beta" in mismatch.detail and "BETA" in mismatch.detail


def test_missing_and_extra_output():
    missing = check(b"%expect OUT\none\ntwo\n", b"one\n")
    assert missing.summary == "OUT ends early: 1 expected line(s) missing"
    assert "two" in missing.detail and "(end of output)" in missing.detail
    extra = check(b"%expect OUT\none\n", b"one\nsurprise\n")
    assert extra.summary == "OUT has unexpected output at line 2"
    assert "surprise" in extra.detail


def test_blank_lines_and_trailing_whitespace_do_not_matter():
    assert matches(b"%expect OUT\n\na\n\nb  \n\n", b"a \t\n\n   \nb\r\n")
    assert matches(b"%expect OUT\na\n", b"a")  # no final newline


def test_leading_and_inner_whitespace_matter_without_w():
    assert not matches(b"%expect OUT\na b\n", b"a  b\n")
    assert not matches(b"%expect OUT\na\n", b"  a\n")


def test_empty_expectation_wants_no_output():
    assert matches(b"%expect OUT\n", b"\n\n")
    assert not matches(b"%expect OUT\n", b"anything\n")


def test_wildcards():
    expectation = b"%expect OUT\nClick::ControlSocket/1.{{\\d+}}\nfoo{{(bar)?}}\n"
    assert matches(expectation, b"Click::ControlSocket/1.3\nfoobar\n")
    assert matches(expectation, b"Click::ControlSocket/1.17\nfoo\n")
    assert not matches(expectation, b"Click::ControlSocket/1.x\nfoo\n")
    assert not matches(expectation, b"Click::ControlSocket/1.3\nfoobaz\n")


def test_text_outside_braces_is_literal():
    assert matches(b"%expect OUT\na.c (x) [y]*\n", b"a.c (x) [y]*\n")
    assert not matches(b"%expect OUT\na.c\n", b"abc\n")


def test_wildcard_must_match_the_whole_line():
    assert not matches(b"%expect OUT\nfoo{{\\d}}\n", b"foo12\n")
    assert not matches(b"%expect OUT\nfoo\n", b"foo bar\n")


def test_alternation_stays_inside_its_braces():
    assert matches(b"%expect OUT\nx{{a|b}}y\n", b"xby\n")
    assert not matches(b"%expect OUT\nx{{a|b}}y\n", b"xa\n")


def test_regex_ending_in_a_brace():
    assert matches(b"%expect OUT\nid {{\\d{2}}}\n", b"id 42\n")
    assert not matches(b"%expect OUT\nid {{\\d{2}}}\n", b"id 421\n")


def test_comment_blocks_are_dropped_and_shown_on_mismatch():
    sections = b"%expect OUT\n0.0{{0*}}   {{? zero stays zero }}\n"
    assert matches(sections, b"0.000\n")
    mismatch = check(sections, b"1.5\n")
    assert "zero stays zero" in mismatch.detail


def test_binary_bytes_in_expected_lines():
    assert matches(b"%expect OUT\n\x00\x00200 Write{{.*}}\n", b"\x00\x00200 Write handler OK\n")
    mismatch = check(b"%expect OUT\n\x00ok\n", b"\x01ok\n")
    assert "\\x01ok" in mismatch.detail  # control characters are made visible


# --- -w and -i -------------------------------------------------------------------


def test_w_ignores_amount_of_whitespace():
    sections = b"%expect -w OUT\n1.2.3.4/32   -   0\n  test\n"
    assert matches(sections, b"1.2.3.4/32\t-\t\t0\ntest\n")
    assert matches(sections, b"1.2.3.4/32 - 0\n      test\n")
    # Presence of whitespace still matters.
    assert not matches(sections, b"1.2.3.4/32-0\ntest\n")


def test_w_applies_to_wildcard_lines():
    assert matches(b"%expect -w OUT\nA: {{\\d+}} packets\n", b"A:    12     packets\n")


def test_i_makes_only_regular_expressions_case_insensitive():
    sections = b"%expect -i OUT\nlevel {{warning|error}}\n"
    assert matches(sections, b"level ERROR\n")
    assert not matches(sections, b"LEVEL error\n")
    assert not matches(b"%expect OUT\nlevel {{error}}\n", b"level ERROR\n")


# --- %expectx and %expectv -----------------------------------------------------------


def test_expectx_lines_are_regular_expressions():
    sections = b"%expectx OUT\n\\d+ packets{2}\n(a|b)c {{? a comment, not a pattern }}\n"
    assert matches(sections, b"10 packetss\nbc\n")
    assert not matches(sections, b"10 packets\nbc\n")
    assert matches(b"%expectx -i OUT\nHELLO\n", b"hello\n")


def test_expectv_is_exact():
    assert matches(b"%expectv OUT\na  b\n{{x}}\n", b"a  b\n{{x}}\n")
    mismatch = check(b"%expectv OUT\na  b\n", b"a b\n")
    assert mismatch.summary == "OUT differs at line 1 (exact comparison)"
    assert "b'a  b\\n'" in mismatch.detail and "b'a b\\n'" in mismatch.detail


def test_expectv_trailing_newline_and_blank_lines_count():
    assert not matches(b"%expectv +3 OUT\nabc\n", b"abc\n")
    assert matches(b"%expectv +3 OUT\nabc\n", b"abc")
    # Without +LENGTH the body runs to the next section, blank line included.
    assert not matches(b"%expectv OUT\nabc\n\n%file X\n", b"abc\n")


def test_expectv_is_not_affected_by_ignore_patterns():
    assert not matches(b"%expectv OUT\na\n%ignore\n#{{.*}}\n", b"a\n# note\n")


# --- %ignore family ----------------------------------------------------------------


def test_ignore_drops_matching_output_lines():
    sections = b"%expect OUT\nresult\n%ignore OUT\nexpensive{{.*}}\n"
    assert matches(sections, b"expensive Click configuration\nresult\nexpensive again\n")


def test_ignore_lines_match_whole_lines_literally_outside_braces():
    sections = b"%expect OUT\nresult\n%ignore OUT\na.c\n"
    assert matches(sections, b"a.c\nresult\n")
    assert not matches(sections, b"abc\nresult\n")
    assert not matches(sections, b"a.c extra\nresult\n")


def test_ignorex_and_ignorev():
    assert matches(b"%expect OUT\nkept\n%ignorex OUT\n!.*\n^==.*\n", b"!drop\n== drop\nkept\n")
    assert not matches(b"%expect OUT\nkept\n%ignorex OUT\n!\n", b"!drop\nkept\n")
    assert matches(b"%expect OUT\nkept\n%ignorev OUT\n.*\n", b".*\nkept\n")
    assert not matches(b"%expect OUT\nkept\n%ignorev OUT\n.*\n", b"anything\nkept\n")


def test_ignore_case_flag():
    assert matches(b"%expect OUT\nkept\n%ignorex -i OUT\nwarning.*\n", b"WARNING: x\nkept\n")


def test_ignore_applies_to_its_targets_or_to_all():
    output = b"# comment\nkept\n"
    assert matches(b"%expect OUT\nkept\n%ignore stdout OUT\n#{{.*}}\n", output)
    assert not matches(b"%expect OUT\nkept\n%ignore stdout\n#{{.*}}\n", output)
    assert matches(b"%expect OUT\nkept\n%ignore\n#{{.*}}\n", output)
    assert matches(b"%expect OUT\nkept\n%ignore all\n#{{.*}}\n", output)


def test_ignore_does_not_remove_expected_lines():
    assert not matches(b"%expect OUT\n# header\nkept\n%ignore OUT\n#{{.*}}\n", b"# header\nkept\n")


# --- -a alternatives ----------------------------------------------------------------


@pytest.mark.parametrize("actual", [b"one\n", b"two\n"])
def test_any_alternative_may_match(actual):
    assert matches(b"%expect -a OUT\none\n%expect -a OUT\ntwo\n", actual)


def test_no_alternative_matching_reports_the_closest():
    mismatch = check(b"%expect -a OUT\nx\n%expect -a OUT\na\nb\nc\n", b"a\nb\nX\n")
    assert mismatch.summary.startswith(
        "OUT matches none of 2 alternatives (closest: OUT differs at line 3"
    )
    assert "t.clicktest:8" in mismatch.detail
