"""Values are read by Click's rules (lib/args.cc: IntArg, DoubleArg, BoolArg, cp_time; lib/ipaddress.cc), one way for
element arguments, handler values and Script."""
import math

import pytest

from clickpy.runtime.args import (
    ArgError, Bool, Double, Int, Interval, IPAddress, IPAddressList, IPPrefix, IPPrefixOnly, Unsigned, Unsigned64,
    ip_packed, ip_unpacked, mask_prefix_len, parse_bool, parse_double, parse_int, parse_ip, parse_time, prefix_mask,
    unparse_ip,
)


def fails(parse, text, *args) -> str:
    with pytest.raises(ArgError) as e:
        parse(text, *args)
    return str(e.value)


# --- BoolArg: ten spellings, lower case only ---------------------------------------------------

@pytest.mark.parametrize("text", ["1", "t", "y", "true", "yes"])
def test_bool_true_spellings(text):
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "f", "n", "false", "no"])
def test_bool_false_spellings(text):
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["TRUE", "True", "Yes", "NO", "F", "on", "off", "2", "", "tru", "yess"])
def test_bool_is_case_sensitive_and_exact(text):
    assert fails(parse_bool, text) == "expected boolean"


def test_bool_argument_strips_the_space_around_it_but_the_parser_does_not():
    assert Bool("  yes ") is True
    assert fails(parse_bool, " yes") == "expected boolean"


# --- IntArg ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("0", 0), ("42", 42), ("+7", 7), ("-7", -7), ("-0", 0),
    ("0x1F", 31), ("0X1f", 31), ("-0x10", -16), ("+0x10", 16),
    ("0b101", 5), ("0B11", 3),
    ("017", 15), ("00", 0), ("0_7", 7),
    ("1_000", 1000), ("0x_1", None), ("0xF_F", 255), ("0b1_0", 2),
])
def test_int_forms(text, value):
    if value is None:
        fails(parse_int, text)
    else:
        assert parse_int(text) == value


@pytest.mark.parametrize("text", [
    "", "+", "-", "0x", "0b", "0x!", "08", "09", "0b2", "1__0", "1_", "_1", "1.5", "1e3", "abc",
    " 1", "1 ", "+-1", "--1", "++1", "1a", "0xg", "٣",
])
def test_int_rejects(text):
    assert fails(parse_int, text) == "expected integer"


def test_int_32_bit_bounds_as_click_reports_them():
    assert parse_int("2147483647") == 2**31 - 1
    assert parse_int("-2147483648") == -2**31
    assert fails(parse_int, "2147483648") == "out of range, bound 2147483647"
    assert fails(parse_int, "-2147483649") == "out of range, bound -2147483648"
    assert fails(parse_int, "0x80000000") == "out of range, bound 2147483647"


def test_unsigned_takes_no_minus_sign_but_takes_plus():
    assert parse_int("+5", 32, False) == 5
    assert fails(parse_int, "-1", 32, False) == "expected unsigned integer"
    assert fails(parse_int, "-0", 32, False) == "expected unsigned integer"


def test_widths():
    assert parse_int("4294967295", 32, False) == 2**32 - 1
    assert fails(parse_int, "4294967296", 32, False) == "out of range, bound 4294967295"
    assert parse_int("0xFFFFFFFFFFFFFFFF", 64, False) == 2**64 - 1
    assert fails(parse_int, "18446744073709551616", 64, False) == "out of range, bound 18446744073709551615"
    assert parse_int("-9223372036854775808", 64) == -2**63
    assert fails(parse_int, "9223372036854775808", 64) == "out of range, bound 9223372036854775807"
    assert parse_int("255", 8, False) == 255
    assert fails(parse_int, "256", 8, False) == "out of range, bound 255"


def test_integer_argument_types():
    assert Int(" -0x10 ") == -16
    assert Unsigned("0b1_1") == 3
    assert Unsigned64("18446744073709551615") == 2**64 - 1
    assert fails(Int, "2147483648") == "out of range, bound 2147483647"
    assert fails(Unsigned, "-1") == "expected unsigned integer"
    assert fails(Int, "1 0") == "expected integer"


# --- DoubleArg (strtod) --------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("+1E+3", 1000.0), ("-1.5e-2", -0.015),
    ("0x1p3", 8.0), ("0x.8", 0.5), ("-0x10", -16.0), ("0", 0.0), ("0e5", 0.0),
])
def test_double_forms(text, value):
    assert parse_double(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "abc", "1_0", "1e", "1e+", ".", "e5", "1.2.3", "--1"])
def test_double_rejects(text):
    assert fails(parse_double, text) == "expected real number"


def test_double_overflow_and_underflow_are_errors():
    assert fails(parse_double, "1e999") == "out of range"
    assert fails(parse_double, "1e-999") == "underflow"


def test_double_infinity_and_nan_as_strtod():
    assert parse_double("inf") == math.inf and parse_double("-Infinity") == -math.inf
    assert math.isnan(parse_double("NaN"))
    assert Double(" 0.25 ") == 0.25


# --- cp_time -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, ns", [
    ("1", 10**9), ("0.5s", 5 * 10**8), ("100ms", 10**8), ("100 msec", 10**8), ("3us", 3000),
    ("7ns", 7), ("2m", 120 * 10**9), ("1min", 60 * 10**9), ("1h", 3600 * 10**9), ("1hr", 3600 * 10**9),
    ("1d", 86400 * 10**9), ("1day", 86400 * 10**9), ("0.25sec", 25 * 10**7), (".5", 5 * 10**8),
    ("5.", 5 * 10**9), ("+2", 2 * 10**9), ("1_000ms", 10**9), ("1.2_5s", 1_250_000_000), ("2e-3", 2 * 10**6),
])
def test_time_forms(text, ns):
    assert parse_time(text) == ns


@pytest.mark.parametrize("text", ["", "s", "ms", "-1", "1 hour", "abc", "1x", "1__0", "1_", ".", "1e", "٣"])
def test_time_rejects(text):
    fails(parse_time, text)


def test_interval_argument():
    assert Interval("20ms") == 20_000_000


# --- IPv4 addresses (IPAddressArg / IPPrefixArg): ints inside, dotted quads outside -----------------

def test_ip_addresses_are_ints_read_as_written():
    assert parse_ip("10.0.0.1") == 0x0A000001 and IPAddress(" 10.0.0.1 ") == 0x0A000001
    assert parse_ip("001.002.003.004") == 0x01020304          # leading zeros are decimal, as in Click
    assert IPAddress('"1.2.3.4"') == 0x01020304
    assert unparse_ip(0x0A000001) == "10.0.0.1" and unparse_ip(0) == "0.0.0.0"
    assert ip_packed(0x0A000001) == b"\x0a\x00\x00\x01" and ip_unpacked(b"\x0a\x00\x00\x01") == 0x0A000001


@pytest.mark.parametrize("text", ["1.2.3", "1.2.3.256", "1.2.3.4.", "1..2.3", "+1.2.3.4", "1.2.3.-4",
                                  "1.2.3.4 5", "1.2.3.٣", "", "a.b.c.d", "0x1.2.3.4"])
def test_ip_rejects(text):
    assert parse_ip(text) is None
    assert fails(IPAddress, text) == "expected IP address"


def test_ip_address_list():
    assert IPAddressList("1.2.3.4  5.6.7.8") == [0x01020304, 0x05060708] and IPAddressList("") == []
    fails(IPAddressList, "1.2.3.4 x")


@pytest.mark.parametrize("text, prefix", [
    ("18.26.4.9/24", (0x121A0409, 0xFFFFFF00)),          # host bits kept, as Click's IPPrefixArg
    ("18.26.4/24", (0x121A0400, 0xFFFFFF00)),            # fewer octets, mask within them
    ("18/8", (0x12000000, 0xFF000000)),
    ("10.0.0.0/255.255.0.0", (0x0A000000, 0xFFFF0000)),
    ("10.0.0.0/0", (0x0A000000, 0)),
    ("1.2.3.4", (0x01020304, 0xFFFFFFFF)),               # a bare address is /32
])
def test_ip_prefixes(text, prefix):
    assert IPPrefix(text) == prefix


@pytest.mark.parametrize("text", ["18.26/24", "1.2.3.4/33", "1.2.3.4/", "/24", "1.2.3.4/x", "1.2.3/255.255.255.255"])
def test_ip_prefix_rejects(text):
    assert fails(IPPrefix, text) == "expected IP prefix"


def test_bare_address_is_no_prefix_only_prefix():
    fails(IPPrefixOnly, "1.2.3.4")
    assert IPPrefixOnly("1.2.3.4/32") == (0x01020304, 0xFFFFFFFF)


def test_masks_and_prefix_lengths():
    assert [prefix_mask(n) for n in (0, 1, 24, 32)] == [0, 0x80000000, 0xFFFFFF00, 0xFFFFFFFF]
    assert [mask_prefix_len(m) for m in (0, 0x80000000, 0xFFFFFF00, 0xFFFFFFFF)] == [0, 1, 24, 32]
    assert mask_prefix_len(0xFF00FF00) == -1


@pytest.mark.parametrize("text", ["0", "17", "0x11", "021", "0b10001", "1_7", "+17", "-1", "1__7", "0x", "",
                                  "\u0661\u0667", "4294967295", "4294967296"])
def test_the_languages_read_integers_as_the_value_layer_does(text):
    """IPFilter's patterns and the IP summary dump format read integers with
    the runtime's one scanner (Click's IntArg syntax), not copies of their own."""
    from clickpy.elements.analysis.ipsummary_format import Bad, parse_uint
    from clickpy.elements.ip.ip_filter_language import _parse_uint
    from clickpy.runtime.args import scan_int

    expected = scan_int(text, signed=False)
    if expected is not None and expected > 0xFFFFFFFF:
        expected = None
    assert _parse_uint(text) == expected
    try:
        got = parse_uint(text)
    except Bad:
        got = None
    assert got == expected
