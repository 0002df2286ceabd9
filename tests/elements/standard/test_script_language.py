"""The Script language on its own: number formatting, substitution, parsing (values: tests/runtime/test_values.py)."""
from clickpy.elements.standard import script_language as sl
from clickpy.lang.confstring import expand_with
from clickpy.runtime.args import unparse_timestamp
from clickpy.runtime.error_handler import ElementErrors


def test_number_and_timestamp_formatting():
    assert sl.format_double(6.0) == "6"
    assert sl.format_double(1 / 3) == "0.333333333333"
    assert sl.format_double(1e20) == "1e+20"
    assert unparse_timestamp(1_000_000_000_500_000_000) == "1000000000.500000"
    assert unparse_timestamp(1_000_000_000_000_000_123) == "1000000000.000000123"
    assert unparse_timestamp(-1_500_000_000) == "-1.500000"


def _lookup(values):
    def lookup(name, kind, depth):
        if kind == "(":
            return values.get("(" + name + ")")
        return values.get(name)
    return lookup


def test_expand_variables_and_handlers():
    lk = _lookup({"x": "1", "long_name": "L", "(add 1 2)": "3", "?": "0", "(get 1)": "one"})
    assert expand_with("a $x b", lk) == "a 1 b"
    assert expand_with("${x}$long_name", lk) == "1L"
    assert expand_with("$(add 1 2)!", lk) == "3!"
    assert expand_with("$?", lk) == "0"
    # Nested references are expanded inside $(...) first.
    assert expand_with("$(get $x)", lk) == "one"
    # Unknown references stay as written.
    assert expand_with("$nope ${nope} $(nope)", lk) == "$nope ${nope} $(nope)"
    # ... but a nested one that expanded is kept expanded.
    assert expand_with("$(add $x)", lk) == "$(add 1)"


def test_expand_quoting():
    lk = _lookup({"x": 'a "b"', "y": "v"})
    assert expand_with("'$y'", lk) == "'$y'"          # nothing inside single quotes
    assert expand_with('"$x"', lk) == '"a \\"b\\""'   # inside double quotes: escaped
    assert expand_with("$x", lk, expand_quote=True) == '"a \\"b\\""'
    from clickpy.lang.confstring import unquote
    assert unquote(expand_with("<$x>", lk, expand_quote=True)) == '<a "b">'


def test_expand_unbalanced_is_left_alone():
    lk = _lookup({"x": "1"})
    assert expand_with("$(add 1", lk) == "$(add 1"
    assert expand_with("${x", lk) == "${x"
    assert expand_with("$", lk) == "$"


def test_expand_depth_limit():
    calls = []

    def lookup(name, kind, depth):
        calls.append(depth)
        return "$x"
    expand_with("$x", lookup)
    assert max(calls) <= 11


def test_parse_program_instructions_and_labels():
    errh = ElementErrors()
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
    errh = ElementErrors()
    prog = sl.parse_program([], errh, driver=True)
    assert prog.insns == [sl.WAIT_STEP, sl.STOP]
    prog = sl.parse_program(["wait 1"], errh, driver=False)
    assert prog.insns == [sl.WAIT_TIME, sl.END]  # a wait needs no INITIAL before it


def test_parse_program_reports_every_error():
    errh = ElementErrors()
    sl.parse_program(["bogus", "set x", "label", "label a b", "wait soon", "pause x", "exit 3",
                      "goto nowhere", ""], errh, driver=False)
    assert [text for _, text in errh.items] == [
        "syntax error at 'bogus'", "syntax error at 'set'", "syntax error at 'label'",
        "syntax error at 'label'", "syntax error at 'wait'", "syntax error at 'pause'",
        "syntax error at 'exit'", "no such label 'nowhere'",
    ]
