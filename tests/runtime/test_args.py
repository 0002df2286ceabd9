"""Element arguments are parsed as Click's Args parses them."""
import pytest

from clickpy.elements.standard.rate_args import BandwidthArg
from clickpy.runtime.args import (
    Arg, ArgError, Bool, Data, EtherAddress, Int, IPAddress, IPPrefix, Seconds, String,
    Unsigned, parse_arguments,
)

SPEC = (
    Arg("DATA", Data, b"", positional=True),
    Arg("LIMIT", Int, -1, positional=True),
    Arg("STOP", Bool, False),
)


class Errors:
    def __init__(self):
        self.messages = []

    def error(self, m):
        self.messages.append(m)


def parse(conf, spec=SPEC):
    errh = Errors()
    values = parse_arguments(None, conf, spec, errh)
    return values, errh.messages


def test_positional_then_keywords():
    v, errs = parse(['"abc"', "5", "STOP true"])
    assert errs == [] and (v["data"], v["limit"], v["stop"]) == (b"abc", 5, True)


def test_keywords_in_any_order_and_last_wins():
    v, errs = parse(["STOP true", "LIMIT 3", "LIMIT 4"])
    assert errs == [] and v["limit"] == 4 and v["data"] == b""


def test_positional_arguments_may_be_given_by_keyword():
    v, _ = parse(["DATA xyz"])
    assert v["data"] == b"xyz"


def test_unknown_keyword_and_too_many():
    assert parse(["a", "1", "BOGUS 2"])[1] == ["BOGUS: unknown argument\n(valid keywords are DATA, LIMIT, STOP)"]
    assert parse(["a", "1", "2"])[1] == ["too many arguments"]


def test_optional_positional_does_not_take_a_keyword_looking_argument():
    # As in Click: 'hello world' looks like KEYWORD value, so it is not DATA.
    assert parse(["hello world"])[1][0].startswith("hello: unknown argument")
    assert parse(['"hello world"'])[0]["data"] == b"hello world"


def test_mandatory_arguments():
    spec = (Arg("CAPACITY", Unsigned, positional=True, mandatory=True),)
    assert parse([], spec)[1] == ["CAPACITY: required argument missing"]
    assert parse(["CAPACITY 5"], spec)[0]["capacity"] == 5


def test_type_errors_name_the_argument_and_all_are_reported():
    assert parse(["x", "y", "STOP maybe"])[1] == ["LIMIT: expected integer", "STOP: expected boolean"]


@pytest.mark.parametrize("parser, text, value", [
    (Int, "0x10", 16), (Int, "010", 8), (Int, "-5", -5), (Unsigned, "42", 42),
    (Bool, "yes", True), (Bool, "0", False),
    (Seconds, "10ms", 0.01), (Seconds, "2", 2.0), (Seconds, "1.5min", 90.0),
    (BandwidthArg, "10Mbps", 1250000), (BandwidthArg, "1kBps", 1000), (BandwidthArg, "384kb/s", 48000),
    (String, '"a b"', "a b"),
    (IPAddress, "10.0.0.1", 0x0A000001),
    (IPPrefix, "18.26.4/24", (0x121A0400, 0xFFFFFF00)),
    (IPPrefix, "10.0.0.0/255.0.0.0", (0x0A000000, 0xFF000000)),
    (EtherAddress, "0-a0-c9-9c-fd-9c", bytes.fromhex("00a0c99cfd9c")),
    (EtherAddress, "00:A0:C9:9C:FD:9C", bytes.fromhex("00a0c99cfd9c")),
])
def test_value_types(parser, text, value):
    assert parser(text) == value


@pytest.mark.parametrize("parser, text", [
    (Int, "1.5"), (Unsigned, "-1"), (Bool, "maybe"), (Seconds, "-1s"), (Seconds, "5 parsecs"),
    (IPAddress, "1.2.3.256"), (IPPrefix, "1.2.3.4/33"), (EtherAddress, "1:2:3"),
])
def test_bad_values(parser, text):
    with pytest.raises(ArgError):
        parser(text)


@pytest.mark.parametrize("text, ns", [
    ("1", 1_000_000_000), ("1.5", 1_500_000_000), (".5", 500_000_000), ("5ms", 5_000_000),
    ("3usec", 3_000), ("7ns", 7), ("2e-3", 2_000_000), ("1m", 60_000_000_000),
    ("1.5min", 90_000_000_000), ("2h", 7_200_000_000_000), ("1day", 86_400_000_000_000),
    ("10 s", 10_000_000_000), ("1.0000000019", 1_000_000_001),   # truncated to the nanosecond
])
def test_click_time_text(text, ns):
    from clickpy.runtime.args import parse_time

    assert parse_time(text) == ns


@pytest.mark.parametrize("text", ["", "s", "ms", "1x", "1.2.3", "-1", "1 2"])
def test_bad_time_text(text):
    from clickpy.runtime.args import parse_time

    with pytest.raises(ArgError):
        parse_time(text)


def test_signed_times_and_printing():
    from clickpy.runtime.args import SignedTimestamp, unparse_interval, unparse_timestamp

    assert SignedTimestamp("-1.5") == -1_500_000_000
    assert unparse_timestamp(1_500_000_000) == "1.500000"
    assert unparse_timestamp(1_000_000_007) == "1.000000007"
    assert unparse_timestamp(-1_500_000_000) == "-1.500000"
    assert [unparse_interval(x) for x in (5_000_000, 20_000, 7, 1_500_000_000)] == ["5ms", "20us", "7ns", "1.500000s"]
