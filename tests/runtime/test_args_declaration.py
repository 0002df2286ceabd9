"""What an argument declaration says beyond a flat list: stages, the rest of
the arguments, a default read from another argument, synonyms, raw texts."""
from clickpy.runtime.args import (Arg, ArgError, Bool, Int, Unsigned, Warned, apply_arguments, each_argument,
                                  language, parse_arguments)


class Errors:
    def __init__(self):
        self.messages = []

    def error(self, m):
        self.messages.append(m)


def parse(conf, spec):
    errh = Errors()
    return parse_arguments(None, conf, spec, errh), errh.messages


def numbers(texts, element):
    """A small language: every argument an integer; all errors, each naming its argument."""
    out, errors = [], []
    for i, t in enumerate(texts):
        try:
            out.append(Int(t))
        except ArgError:
            errors.append(f"argument {i}: expected integer")
    if errors:
        raise ArgError(*errors)
    return out


# A derived class's keywords (stage 0) before its base's (stage 1), as the rewriters declare them.
STAGED = (
    Arg("TIMEOUT", Int, 86400, attr="data_timeout"),
    Arg("NODATA_TIMEOUT", Int, None, attr="timeout"),
    Arg("TIMEOUT", Int, 300, stage=1),
    Arg("CAPACITY", Int, None, attr="capacity", stage=1),
    Arg("MAPPING_CAPACITY", Int, None, attr="capacity", stage=1),
    Arg("SPEC", numbers, rest=True),
)


def test_an_earlier_stage_takes_a_keyword_both_stages_know():
    v, errs = parse(["TIMEOUT 5", "1", "2"], STAGED)
    assert errs == []
    assert (v["data_timeout"], v["timeout"], v["spec"]) == (5, 300, [1, 2])


def test_a_later_stage_reads_what_the_earlier_left():
    v, errs = parse(["NODATA_TIMEOUT 7", "MAPPING_CAPACITY 9"], STAGED)
    assert errs == [] and (v["timeout"], v["capacity"], v["data_timeout"], v["spec"]) == (7, 9, 86400, [])


def test_synonyms_given_value_wins_over_a_default_in_any_order():
    v, _ = parse(["CAPACITY 4"], STAGED)
    assert v["capacity"] == 4
    v, _ = parse(["MAPPING_CAPACITY 4"], STAGED)
    assert v["capacity"] == 4


def test_the_default_is_the_first_declared_that_is_not_none():
    v, _ = parse([], STAGED)
    assert v["timeout"] == 300 and v["capacity"] is None


def test_the_rest_takes_keyword_looking_arguments_in_order():
    v, errs = parse(["3", "BOGUS 1", "TIMEOUT 2"], STAGED)
    # BOGUS is no keyword of any stage: it belongs to the rest, which reports it as its language does.
    assert v is None and errs == ["argument 1: expected integer"]


def test_the_rest_reports_every_error_of_its_language():
    v, errs = parse(["x", "2", "y"], STAGED)
    assert v is None and errs == ["argument 0: expected integer", "argument 2: expected integer"]


def test_without_a_rest_left_overs_are_errors():
    spec = (Arg("A", Int, 0, positional=True), Arg("B", Bool, False, stage=1))
    v, errs = parse(["1", "2", "C 3"], spec)
    assert v is None
    assert errs == ["C: unknown argument\n(valid keywords are A, B)", "too many arguments"]


def test_errors_of_every_stage_are_reported_together():
    spec = (Arg("A", Int, 0), Arg("B", Int, 0, stage=1), Arg("REST", numbers, rest=True))
    v, errs = parse(["A x", "B y", "z"], spec)
    assert v is None and errs == ["A: expected integer", "B: expected integer", "argument 0: expected integer"]


ADDRESSES = (
    Arg("IP", Int, positional=True, mandatory=True),
    Arg("ETH", Unsigned, positional=True, mandatory=True, default_from="IP"),
)


def test_default_from_reads_the_other_arguments_text_with_its_own_type():
    v, errs = parse(["5"], ADDRESSES)
    assert errs == [] and (v["ip"], v["eth"]) == (5, 5)
    v, errs = parse(["5", "6"], ADDRESSES)
    assert (v["ip"], v["eth"]) == (5, 6)
    v, errs = parse(["-5"], ADDRESSES)
    assert v is None and errs == ["ETH: expected unsigned integer"]


def test_default_from_does_not_excuse_a_missing_source():
    v, errs = parse([], ADDRESSES)
    assert v is None and errs == ["IP: required argument missing", "ETH: required argument missing"]


def test_given_arguments_keep_their_texts_as_written():
    class Thing:
        arguments = (Arg("CAPACITY", Unsigned, 0), Arg("TIMEOUT", Int, 0), Arg("ON", Bool, True))

    e = Thing()
    assert apply_arguments(e, ["TIMEOUT  0x10", "CAPACITY 010"], Errors())
    assert (e.capacity, e.timeout, e.on) == (8, 16, True)
    assert e.given_arguments == {"TIMEOUT": "0x10", "CAPACITY": "010"}


def test_language_adapts_a_parser_that_reports_to_an_error_handler():
    def pairs(texts, element, errh):
        if len(texts) % 2:
            errh.warning("odd number of words")
        for t in texts:
            if not t.isdigit():
                errh.error(f"'{t}' is not a number")
        return list(zip(texts[::2], texts[1::2]))

    class Notes(Errors):
        def warning(self, m):
            self.messages.append("warning: " + m)

    spec = (Arg("X", Int, 0), Arg("PAIRS", language(pairs), rest=True))
    errh = Notes()
    v = parse_arguments(None, ["1", "2", "X 5", "3"], spec, errh)
    assert errh.messages == ["warning: odd number of words"] and v["pairs"] == [("1", "2")] and v["x"] == 5
    errh = Notes()
    assert parse_arguments(None, ["a", "2", "b"], spec, errh) is None
    assert errh.messages == ["warning: odd number of words", "'a' is not a number", "'b' is not a number"]


def test_a_rest_parser_may_return_warnings_with_its_value():
    spec = (Arg("N", lambda texts, e: Warned(len(texts), ["counted"] if texts else []), rest=True),)

    class Notes(Errors):
        def warning(self, m):
            self.messages.append("warning: " + m)

    errh = Notes()
    assert parse_arguments(None, ["a", "b"], spec, errh)["n"] == 2 and errh.messages == ["warning: counted"]


def test_each_argument_parses_one_at_a_time_and_reports_every_error():
    def one(text, i, element):
        if not text.isdigit():
            raise ArgError(f"argument {i + 1} should be a number")
        return int(text)

    spec = (Arg("N", each_argument(one), rest=True),)
    v, errs = parse(["1", "2"], spec)
    assert errs == [] and v["n"] == [1, 2]
    v, errs = parse(["x", "2", "y"], spec)
    assert v is None and errs == ["argument 1 should be a number", "argument 3 should be a number"]
