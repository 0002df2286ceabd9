"""The Script language on its own: value syntax, number formatting, substitution, parsing."""
import math

import pytest

from clickpy.elements.standard import script_language as sl
from clickpy.runtime.args import unparse_timestamp


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("42", 42), ("-7", -7), ("+7", 7), ("0x1F", 31), ("0XA", 10), ("017", 15),
    ("0b101", 5), ("1_000", 1000), ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -2**63),
])
def test_parse_int_accepts_clicks_forms(text, value):
    assert sl.parse_int(text) == value


@pytest.mark.parametrize("text", ["", "-", "1.5", "08", "0x", "1_", "1__0", " 1", "1 ", "abc",
                                  "9223372036854775808", "10x"])
def test_parse_int_rejects(text):
    assert sl.parse_int(text) is None


def test_parse_int_width_and_sign():
    assert sl.parse_int("4294967295", 32, signed=False) == 4294967295
    assert sl.parse_int("4294967296", 32, signed=False) is None
    assert sl.parse_int("-1", 32, signed=False) is None
    assert sl.parse_int("2147483648", 32) is None


@pytest.mark.parametrize("text, value", [("2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0),
                                         ("-1.5e-2", -0.015), ("0x1p3", 8.0)])
def test_parse_double(text, value):
    assert sl.parse_double(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "1e999", "1e-999", "abc", "1_0"])
def test_parse_double_rejects(text):
    assert sl.parse_double(text) is None


def test_parse_double_specials():
    assert math.isinf(sl.parse_double("inf")) and sl.parse_double("-INF") < 0
    assert math.isnan(sl.parse_double("nan"))


def test_parse_bool_is_exact_and_case_sensitive():
    for t in ("1", "t", "y", "true", "yes"):
        assert sl.parse_bool(t) is True
    for f in ("0", "f", "n", "false", "no"):
        assert sl.parse_bool(f) is False
    for bad in ("TRUE", "True", " true", "2", "", "on"):
        assert sl.parse_bool(bad) is None


def test_number_and_timestamp_formatting():
    assert sl.format_double(6.0) == "6"
    assert sl.format_double(1 / 3) == "0.333333333333"
    assert sl.format_double(1e20) == "1e+20"
    assert unparse_timestamp(1_000_000_000_500_000_000) == "1000000000.500000"
    assert unparse_timestamp(1_000_000_000_000_000_123) == "1000000000.000000123"
    assert unparse_timestamp(-1_500_000_000) == "-1.500000"


@pytest.mark.parametrize("text, ns", [
    ("1", 10**9), ("0.5s", 5 * 10**8), ("100ms", 10**8), ("100 msec", 10**8), ("3us", 3000),
    ("7ns", 7), ("2m", 120 * 10**9), ("1min", 60 * 10**9), ("1h", 3600 * 10**9), ("1hr", 3600 * 10**9),
    ("1d", 86400 * 10**9), ("0.25sec", 25 * 10**7), (".5", 5 * 10**8),
])
def test_parse_time(text, ns):
    assert sl.parse_time_ns(text) == ns


@pytest.mark.parametrize("text", ["", "s", "ms", "-1", "1 hour", "abc", "1x"])
def test_parse_time_rejects(text):
    assert sl.parse_time_ns(text) is None


def _lookup(values):
    def lookup(name, kind, depth):
        if kind == "(":
            return values.get("(" + name + ")")
        return values.get(name)
    return lookup


def test_expand_variables_and_handlers():
    lk = _lookup({"x": "1", "long_name": "L", "(add 1 2)": "3", "?": "0", "(get 1)": "one"})
    assert sl.expand("a $x b", lk) == "a 1 b"
    assert sl.expand("${x}$long_name", lk) == "1L"
    assert sl.expand("$(add 1 2)!", lk) == "3!"
    assert sl.expand("$?", lk) == "0"
    # Nested references are expanded inside $(...) first.
    assert sl.expand("$(get $x)", lk) == "one"
    # Unknown references stay as written.
    assert sl.expand("$nope ${nope} $(nope)", lk) == "$nope ${nope} $(nope)"
    # ... but a nested one that expanded is kept expanded.
    assert sl.expand("$(add $x)", lk) == "$(add 1)"


def test_expand_quoting():
    lk = _lookup({"x": 'a "b"', "y": "v"})
    assert sl.expand("'$y'", lk) == "'$y'"          # nothing inside single quotes
    assert sl.expand('"$x"', lk) == '"a \\"b\\""'   # inside double quotes: escaped
    assert sl.expand("$x", lk, expand_quote=True) == '"a \\"b\\""'
    from clickpy.lang.confstring import unquote
    assert unquote(sl.expand("<$x>", lk, expand_quote=True)) == '<a "b">'


def test_expand_unbalanced_is_left_alone():
    lk = _lookup({"x": "1"})
    assert sl.expand("$(add 1", lk) == "$(add 1"
    assert sl.expand("${x", lk) == "${x"
    assert sl.expand("$", lk) == "$"


def test_expand_depth_limit():
    calls = []

    def lookup(name, kind, depth):
        calls.append(depth)
        return "$x"
    sl.expand("$x", lookup)
    assert max(calls) <= 11


class _Errh(sl.Errors):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, text, kind):
        self.lines.append(text)


def test_parse_program_instructions_and_labels():
    errh = _Errh()
    prog = sl.parse_program(["set x 1", "label top", "print $x", "goto top $(lt $x 3)", "goto end", "loop"],
                            errh, driver=False)
    assert not errh.nerrors
    assert prog.insns[0] == sl.INITIAL
    assert prog.insns[-1] == sl.END
    top = prog.args3.index("top")
    gotos = [i for i, insn in enumerate(prog.insns) if insn == sl.GOTO]
    assert prog.args[gotos[0]] == top and prog.args3[gotos[0]] == "$(lt $x 3)"
    assert prog.args[gotos[1]] == sl.END
    assert prog.args[gotos[2]] == 0  # loop
    assert prog.variables == ["x"]


def test_parse_program_driver_defaults():
    errh = _Errh()
    prog = sl.parse_program([], errh, driver=True)
    assert prog.insns == [sl.WAIT_STEP, sl.STOP]
    prog = sl.parse_program(["wait 1"], errh, driver=False)
    assert prog.insns == [sl.WAIT_TIME, sl.END]  # a wait needs no INITIAL before it


def test_parse_program_reports_every_error():
    errh = _Errh()
    sl.parse_program(["bogus", "set x", "label", "label a b", "wait soon", "pause x", "exit 3",
                      "goto nowhere", ""], errh, driver=False)
    assert errh.lines == [
        "syntax error at 'bogus'", "syntax error at 'set'", "syntax error at 'label'",
        "syntax error at 'label'", "syntax error at 'wait'", "syntax error at 'pause'",
        "syntax error at 'exit'", "no such label 'nowhere'",
    ]


def test_context_errors_print_context_once_and_indent():
    base = _Errh()
    ctx = sl.ContextErrors(base, "While executing 's :: Script':")
    inner = sl.ContextErrors(ctx, "While calling 'c.x':")
    inner.error("bad\nworse")
    ctx.error("again")
    assert base.lines == ["While executing 's :: Script':", "  While calling 'c.x':",
                          "    bad\n    worse", "  again"]
    assert base.nerrors == 2 and ctx.nerrors == 2 and inner.nerrors == 1
