"""Element arguments: declared as data on the class, parsed as Click parses them.

An element class lists its arguments once::

    arguments = (
        Arg("CAPACITY", Unsigned, default=1000, positional=True),
        Arg("STOP", Bool, default=False),
    )

``apply_arguments`` then reads a configuration the way Click's ``Args``
does: positional arguments first, then ``KEYWORD value`` arguments in any
order (a positional argument may also be given by keyword). Every problem is
reported (all at once), and attributes are set only when nothing went wrong:
all or nothing. Each argument sets the attribute named like its keyword in lower
case, unless ``attr`` says otherwise.

A type is a function ``(text, element) -> value`` that raises ``ArgError``
with what it expected.

Beyond a flat list, a declaration says what Click's hand-written parsers
did (Click's ``Args::consume``):

* ``stage``: arguments are read stage by stage, lowest first; each stage
  takes its keywords (and positionals) out of the configuration and leaves
  the rest to the next. A subclass's keywords come in an earlier stage than
  its base's, so a keyword both know belongs to the subclass.
* ``rest``: the argument takes every argument left after the last stage, as
  a list; its type is the parser of that small language (Classifier
  patterns, routes, ...): ``(texts, element) -> value``. It raises
  ``ArgError(*messages)`` with every error, each worded as Click words it, and
  may return ``Warned(value, warnings)``.
* ``default_from``: a missing argument is read from the text given for
  another one (ARPQuerier's ``NAME`` stands for both ``IP`` and ``ETH``).

Several arguments may set one attribute (synonyms such as CAPACITY and
MAPPING_CAPACITY): a given value always wins over a default, and of two given
values the one read later wins. The default is the first one declared that is
not None (None: the argument brings no default of its own). ``given_arguments`` maps each given keyword
to its text exactly as written, so a sub-configuration can be passed through
raw to another parser (ARPQuerier hands its table keywords to its ARPTable).
"""
from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from dataclasses import dataclass
from typing import Any, Callable

from clickpy.lang.confstring import quote, split_words, unquote
from clickpy.runtime.names import ANNOTATION_AREA, ANNOTATIONS

REQUIRED = object()


class ArgError(ValueError):
    """A value that does not parse; the message says what was expected.

    A language's parser may give several messages at once, and warnings to
    report with them.
    """

    def __init__(self, *messages, warnings=()):
        super().__init__(*messages)
        self.warnings = list(warnings)


@dataclass(frozen=True)
class Arg:
    keyword: str
    type: Callable[[str, Any], Any]
    default: Any = None
    positional: bool = False
    mandatory: bool = False
    attr: str | None = None
    doc: str = ""
    stage: int = 0                   # read after every argument of a lower stage
    rest: bool = False               # takes the list of arguments left over
    default_from: str | None = None  # when missing, read the text given for that keyword

    @property
    def attribute(self) -> str:
        return self.attr or self.keyword.lower()


# --- value types ---------------------------------------------------------------

# Click's value syntax, one definition for element arguments, handler values
# and Script. The parse_* functions read the whole text exactly (no
# surrounding space, as Click's IntArg/DoubleArg/BoolArg); the argument types
# below them strip the space around an argument first, as Click's argument
# splitting does before any value parser sees it.

_BOOLS = {"0": False, "f": False, "n": False, "false": False, "no": False,
          "1": True, "t": True, "y": True, "true": True, "yes": True}


def parse_bool(text: str) -> bool:
    """Click's BoolArg: exactly one of its ten spellings, lower case only ('TRUE' is no boolean)."""
    v = _BOOLS.get(text)
    if v is None:
        raise ArgError("expected boolean")
    return v


def scan_int(text: str, signed: bool = True) -> int | None:
    """The whole text as an integer in Click's IntArg syntax, unbounded; None if it is not one.

    A '+' (or, when signed, a '-'); then '0x'/'0X' hex or '0b'/'0B' binary
    when at least one character follows the prefix, a leading '0' for octal,
    else decimal; a single '_' may separate two digits.
    """
    n = len(text)
    i = 1 if n and (text[0] == "+" or (signed and text[0] == "-")) else 0
    if i + 2 < n and text[i] == "0" and text[i + 1] in "xX":
        base, i = 16, i + 2
    elif i + 2 < n and text[i] == "0" and text[i + 1] in "bB":
        base, i = 2, i + 2
    else:
        base = 8 if i < n and text[i] == "0" else 10
    value = 0
    after_digit = False
    for c in text[i:]:
        if c == "_" and after_digit:
            after_digit = False
            continue
        d = _DIGIT_VALUES.get(c, 99)
        if d >= base:
            return None
        value = value * base + d
        after_digit = True
    if not after_digit:  # no digits, or a trailing '_'
        return None
    return -value if text[0] == "-" else value


_DIGIT_VALUES = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def parse_int(text: str, bits: int = 32, signed: bool = True) -> int:
    """Click's IntArg for a bits-wide integer: the syntax of scan_int, and a
    value outside the type's range is an error ('out of range, bound B')."""
    v = scan_int(text, signed)
    if v is None:
        raise ArgError("expected integer" if signed else "expected unsigned integer")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= v <= hi:
        raise ArgError(f"out of range, bound {lo if v < lo else hi}")
    return v


_REAL_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEXREAL_RE = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?\Z")
_SPECIAL_REAL_RE = re.compile(r"[+-]?(?:inf|infinity|nan(?:\([0-9A-Za-z_]*\))?)\Z", re.IGNORECASE)


def parse_double(text: str) -> float:
    """Click's DoubleArg: the whole text as C's strtod reads it (decimal, hex
    '0x1p3', 'inf', 'nan'); no leading space; overflow and underflow are errors."""
    if _REAL_RE.match(text):
        v = float(text)
        if math.isinf(v):
            raise ArgError("out of range")
        mantissa = re.split("[eE]", text)[0]
        if v == 0.0 and any(c in "123456789" for c in mantissa):
            raise ArgError("underflow")
        return v
    if _HEXREAL_RE.match(text):
        body = text.lstrip("+-")
        try:
            v = float.fromhex(body if "p" in body.lower() else body + "p0")
        except OverflowError:
            raise ArgError("out of range") from None
        return -v if text[0] == "-" else v
    if _SPECIAL_REAL_RE.match(text):
        t = text.lower()
        v = math.nan if "nan" in t else math.inf
        return -v if t[0] == "-" else v
    raise ArgError("expected real number")


def Bool(text: str, element=None) -> bool:
    return parse_bool(text.strip())


def Int(text: str, element=None) -> int:
    """A 32-bit signed integer (Click's int)."""
    return parse_int(text.strip(), 32, signed=True)


def Unsigned(text: str, element=None) -> int:
    """A 32-bit unsigned integer (Click's uint32_t)."""
    return parse_int(text.strip(), 32, signed=False)


def Unsigned64(text: str, element=None) -> int:
    return parse_int(text.strip(), 64, signed=False)


def Double(text: str, element=None) -> float:
    return parse_double(text.strip())


# --- Click's time text (cp_time) ------------------------------------------------------
#
# A real number of seconds, then optionally a unit (s, sec, m, min, h, hr, d,
# day) which an SI prefix (m, u, n) may precede: '5ms', '1.5min', '2e-3'.
# Parsed exactly and truncated to nanoseconds, as Click's fixed-point parse.

_TIME_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}
_TIME_PREFIXES = {"m": Fraction(1, 10**3), "u": Fraction(1, 10**6), "n": Fraction(1, 10**9)}
# Digits may be separated by single underscores, as in Click's parse_fraction.
_TIME_NUMBER_RE = re.compile(r"([+-]?)([0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)"
                             r"(?:[eE]([+-]?[0-9]+))?\Z")
NS_PER_SEC = 1_000_000_000
_PLAIN_TIME_RE = re.compile(r"([0-9]+)(?:\.([0-9]*))?\Z")
# Times are 64-bit nanoseconds in elements (packet timestamps, timer
# expiries). A time parses only when it is under 2^62 ns (about 146 years)
# either way, so that adding it to the current time cannot overflow.
MAX_TIME_NS = (1 << 62) - 1
_MAX_EXPONENT = 1000    # '1e999999999' is an error, not a billion-digit number


def parse_time(text: str, allow_negative: bool = False) -> int:
    """Click's cp_time: the text as nanoseconds; ArgError if it is no time or out of range."""
    ns = _parse_time(text, allow_negative)
    if not -MAX_TIME_NS <= ns <= MAX_TIME_NS:
        raise ArgError("time out of range")
    return ns


def _parse_time(text: str, allow_negative: bool) -> int:
    m = _PLAIN_TIME_RE.match(text)
    if m:  # the common case in trace files, 'SEC[.FRACTION]', in integer arithmetic
        frac = m.group(2)
        return int(m.group(1)) * NS_PER_SEC + (int(frac[:9].ljust(9, "0")) if frac else 0)
    t = text.strip()
    factor = Fraction(1)
    for unit in sorted(_TIME_UNITS, key=len, reverse=True):
        if t.endswith(unit) and len(t) > len(unit):
            t, factor = t[: -len(unit)], Fraction(_TIME_UNITS[unit])
            if len(t) > 1 and t[-1] in _TIME_PREFIXES:
                t, factor = t[:-1], factor * _TIME_PREFIXES[t[-1]]
            t = t.rstrip()
            break
    m = _TIME_NUMBER_RE.match(t)
    if not m or (m.group(1) == "-" and not allow_negative):
        raise ArgError("expected time in seconds")
    value = Fraction(m.group(2).replace("_", "")) * factor
    if m.group(3):
        if abs(int(m.group(3))) > _MAX_EXPONENT:
            raise ArgError("time out of range")
        value *= Fraction(10) ** int(m.group(3))
    ns = int(value * NS_PER_SEC)
    return -ns if m.group(1) == "-" else ns


def unparse_timestamp(ns: int) -> str:
    """A time as Click's Timestamp prints it: 'SEC.USEC', or 'SEC.NSEC' when not microsecond-exact."""
    sign = "-" if ns < 0 else ""
    sec, sub = divmod(abs(ns), NS_PER_SEC)
    if sub % 1000 == 0:
        return f"{sign}{sec}.{sub // 1000:06d}"
    return f"{sign}{sec}.{sub:09d}"


def unparse_interval(ns: int) -> str:
    """An interval as Click's Timestamp::unparse_interval prints it ('5ms', '20us', '1.500000s')."""
    sec, sub = divmod(ns, NS_PER_SEC)
    if sec == 0:
        if sub % 10**6 == 0:
            return f"{sub // 10**6}ms"
        if sub % 10**3 == 0:
            return f"{sub // 10**3}us"
        return f"{sub}ns"
    return unparse_timestamp(ns) + "s"


def Seconds(text: str, element=None) -> float:
    """A time interval in seconds, as a float (Click's SecondsArg for doubles)."""
    return parse_time(text) / NS_PER_SEC


def Interval(text: str, element=None) -> int:
    """A non-negative time interval; nanoseconds."""
    return parse_time(text)


def PositiveInterval(text: str, element=None) -> int:
    """A time interval that must not be zero; nanoseconds."""
    v = parse_time(text)
    if v == 0:
        raise ArgError("expected positive time")
    return v


def Timestamp(text: str, element=None) -> int:
    """A non-negative point in time (seconds since the epoch, units allowed); nanoseconds."""
    try:
        return parse_time(text)
    except ArgError:
        raise ArgError("expected timestamp") from None


def SignedTimestamp(text: str, element=None) -> int:
    """A time that may be negative (an offset); nanoseconds."""
    try:
        return parse_time(text, allow_negative=True)
    except ArgError:
        raise ArgError("expected timestamp") from None


def String(text: str, element=None) -> str:
    """One word, possibly quoted; unquoted."""
    words = split_words(text)
    if len(words) != 1:
        if not words:
            return ""
        raise ArgError("expected string")
    return unquote(words[0])


def AnyString(text: str, element=None) -> str:
    """The whole argument, unquoted (spaces allowed)."""
    return unquote(text)


def Raw(text: str, element=None) -> str:
    """The argument exactly as written."""
    return text


def Data(text: str, element=None) -> bytes:
    """Like String, as bytes (each character is one byte)."""
    return AnyString(text, element).encode("latin-1", "replace")


def Word(text: str, element=None) -> str:
    v = String(text, element)
    if not v or any(c in v for c in " \t\n,\"'\\"):
        raise ArgError("expected word")
    return v


def Keyword(text: str, element=None) -> str:
    t = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.:?!]+", t):
        raise ArgError("expected keyword")
    return t


def Filename(text: str, element=None) -> str:
    v = String(text, element)
    if not v or "\0" in v:  # no file has a NUL in its name
        raise ArgError("expected filename")
    return v


def InputFilename(text: str, element=None) -> str:
    """A file to read. A relative name that is not in the current directory
    is looked up beside the configuration that names it, so a shipped
    configuration finds its data files from wherever it is run."""
    v = Filename(text, element)
    if os.path.isabs(v) or os.path.exists(v) or v == "-":
        return v
    landmark = getattr(element, "landmark", None)
    where = os.path.dirname(getattr(landmark, "file", "") or "")
    beside = os.path.join(where, v)
    return beside if where and os.path.exists(beside) else v


def _address_info(element, name: str, kind: str):
    router = getattr(element, "router", None)
    if router is None:
        return None
    return router.address_info(name, kind, element)


def Annotation(size: int):
    """Argument type: an annotation of size bytes (0: any size), by name or byte offset.

    A name is one of Click's, or one an AddressInfo declares as an
    annotation. 2-, 4- and 8-byte annotations must be aligned, as Click
    requires. The value is the offset.
    """
    def parse(text: str, element=None) -> int:
        t = String(text, element)
        info = ANNOTATIONS.get(t)
        if info is None:
            try:
                found = _address_info(element, t, "annotation")
            except Exception:  # a name database that cannot answer this kind
                found = None
            if found is not None:
                info = (found, 0) if isinstance(found, int) else found
        if info is None:
            try:
                info = (Int(t), 0)
            except ArgError:
                raise ArgError("expected annotation") from None
        offset, asize = info
        if size and asize and asize != size:
            raise ArgError(f"expected {size}-byte annotation")
        if offset < 0 or offset + max(size, 1) > ANNOTATION_AREA or (size in (2, 4, 8) and offset % size):
            raise ArgError("expected annotation")
        return offset

    parse.__name__ = "Annotation"
    return parse


# --- IPv4 addresses -----------------------------------------------------------------
#
# An IPv4 address is an int holding the address as it is written, first octet
# most significant: '10.0.0.1' is 0x0A000001 (host byte order, as Click's
# IPAddress after ntohl). Masks, prefix lengths, ranges and comparisons are
# then plain integer arithmetic, and printing needs no byte swap; an element
# that writes an address into packets converts it once, when it is configured
# (ip_packed gives the four bytes in network order, as they go on the wire).

IP_ALL_ONES = 0xFFFFFFFF


def _ip_octets(text: str) -> tuple[int, int] | None:
    """'18.26.4' -> (0x121A0400, 3): one to four dotted decimal octets (Click's
    IPAddressArg::basic_parse: leading zeros allowed, each at most 255), or None."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    value = 0
    for p in parts:
        if not (p and p.isascii() and p.isdigit()) or int(p) > 255:
            return None
        value = value << 8 | int(p)
    return value << 8 * (4 - len(parts)), len(parts)


def parse_ip(text: str) -> int | None:
    """A dotted-quad IPv4 address (exactly four octets, as _ip_octets reads them) as an int, or None."""
    parts = text.split(".")
    if len(parts) != 4 or not (text.isascii() and text.replace(".", "").isdigit()):
        return None
    try:
        a, b, c, d = map(int, parts)
    except ValueError:  # an empty octet
        return None
    if a | b | c | d > 255:
        return None
    return a << 24 | b << 16 | c << 8 | d


def unparse_ip(addr: int) -> str:
    """An address as Click prints one: '10.0.0.1'."""
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


def ip_packed(addr: int) -> bytes:
    """The four bytes of an address in network byte order (as in a packet header)."""
    return (addr & IP_ALL_ONES).to_bytes(4, "big")


def ip_unpacked(data: bytes) -> int:
    """An address from its four bytes in network byte order."""
    return int.from_bytes(data[:4], "big")


def prefix_mask(prefix_len: int) -> int:
    """The mask of a prefix length 0-32: 24 -> 0xFFFFFF00."""
    return (IP_ALL_ONES << (32 - prefix_len)) & IP_ALL_ONES if prefix_len > 0 else 0


def mask_prefix_len(mask: int) -> int:
    """The prefix length a mask stands for, or -1 if its one bits are not leading (Click's mask_to_prefix_len)."""
    inverted = ~mask & IP_ALL_ONES
    return 32 - inverted.bit_length() if inverted & (inverted + 1) == 0 else -1


def IPAddress(text: str, element=None) -> int:
    """An IPv4 address, dotted or a name (AddressInfo, an interface); the int form above."""
    t = text.strip()
    v = parse_ip(t)
    if v is None:
        t = unquote(t)
        v = parse_ip(t)
    if v is None:
        v = _address_info(element, t, "ip")
    if v is None:
        raise ArgError("expected IP address")
    return v


def IPAddressList(text: str, element=None) -> list[int]:
    """Space-separated IPv4 addresses (Click's IPAddressArg for a vector)."""
    return [IPAddress(word, element) for word in split_words(text)]


def ip_prefix(text: str, element=None, allow_bare: bool = True) -> tuple[int, int]:
    """An IP prefix, Click's way: 'A.B.C.D/N', 'A.B.C/24', 'ADDR/MASK', a name
    (AddressInfo) for the address or the whole prefix, and (when allow_bare)
    a bare address meaning /32. Returns (address, mask) as ints."""
    t = unquote(text.strip())
    addr_text, slash, mask_text = t.rpartition("/")
    if slash and addr_text and mask_text:
        parsed = _ip_octets(addr_text)
        if parsed is None:
            named = _address_info(element, addr_text, "ip")
            parsed = (named, 4) if named is not None else None
        if parsed is not None:
            addr, noctets = parsed
            if mask_text.isascii() and mask_text.isdigit() and int(mask_text) <= 32:
                mask = prefix_mask(int(mask_text))
            else:
                try:
                    mask = IPAddress(mask_text, element)
                except ArgError:
                    mask = None
            # A mask longer than the octets written is an error ('18.26/24').
            if mask is not None and mask & prefix_mask(8 * noctets) == mask:
                return addr, mask
    # As Click's IPPrefixArg: with bare addresses allowed, a name that is an
    # address means that host; otherwise it means the name's prefix.
    if allow_bare:
        try:
            return IPAddress(t, element), IP_ALL_ONES
        except ArgError:
            pass
    v = _address_info(element, t, "ipprefix")
    if v is not None:
        return v
    raise ArgError("expected IP prefix")


def IPPrefix(text: str, element=None) -> tuple[int, int]:
    """An IP prefix or a bare address (/32); returns (address, mask)."""
    return ip_prefix(text, element, allow_bare=True)


def IPPrefixOnly(text: str, element=None) -> tuple[int, int]:
    """An IP prefix; a bare address is not accepted."""
    return ip_prefix(text, element, allow_bare=False)


_ETHER_RE = re.compile(r"([0-9a-fA-F]{1,2})([:-])([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2"
                       r"([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\Z")


def EtherAddress(text: str, element=None) -> bytes:
    t = unquote(text.strip())
    m = _ETHER_RE.match(t)
    if m:
        return bytes(int(g, 16) for g in m.groups() if g not in ":-")
    v = _address_info(element, t, "ether")
    if v is not None:
        return v
    raise ArgError("expected Ethernet address")


def ElementRef(text: str, element=None):
    """The name of another element (relative to this element's compound)."""
    name = String(text, element)
    router = getattr(element, "router", None)
    found = router.find(name, element) if router is not None else None
    if found is None:
        raise ArgError(f"no element named '{name}'")
    return found


def AnyArg(text: str, element=None) -> str:
    return text


def Tickets(text: str, element=None) -> int:
    v = Unsigned(text, element)
    if v < 1:
        raise ArgError("expected positive integer")
    return v


def positive(parser):
    def parse(text, element=None):
        v = parser(text, element)
        if v <= 0:
            raise ArgError("expected positive number")
        return v

    parse.__name__ = f"positive {parser.__name__}"
    return parse


# --- applying a declaration ------------------------------------------------------


_KEYWORD_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_:.?!]*")


def _keyword_length(arg: str) -> int:
    """Length of the keyword an argument starts with ('LIMIT 5' -> 5), or 0.

    As in Click, an argument looks like 'KEYWORD value' when it starts with a
    word of letters, digits and _:.?! followed by space and a non-empty value.
    """
    m = _KEYWORD_PREFIX.match(arg)
    if not m:
        return 0
    rest = arg[m.end():]
    if not rest or not rest[0].isspace() or not rest.strip():
        return 0
    return m.end()


@dataclass(frozen=True)
class Warned:
    """What a parser of the rest returns to have warnings reported with its value."""
    value: Any
    warnings: list[str]


class _Collected:
    """An error handler that keeps what a language's parser reports (see ``language``)."""

    def __init__(self):
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, message) -> int:
        self.errors.append(str(message))
        return -1

    def warning(self, message) -> int:
        self.warnings.append(str(message))
        return 0

    @property
    def nerrors(self) -> int:
        return len(self.errors)


def language(parse):
    """The type of an argument taking the rest, from a language's parser that
    reports to an error handler as Click's do: ``parse(texts, element, errh) -> value``."""
    def parse_rest(texts, element=None):
        errh = _Collected()
        value = parse(texts, element, errh)
        if errh.errors:
            raise ArgError(*errh.errors, warnings=errh.warnings)
        return Warned(value, errh.warnings)

    parse_rest.__name__ = parse.__name__
    return parse_rest


def each_argument(parse_one):
    """The type of an argument taking the rest from a parser of one argument,
    ``parse_one(text, index, element) -> value``, whose ArgError names the
    argument: the list of values; every argument's errors are reported."""
    def parse_rest(texts, element=None):
        values, errors = [], []
        for i, text in enumerate(texts):
            try:
                values.append(parse_one(text, i, element))
            except ArgError as e:
                errors.extend(e.args)
        if errors:
            raise ArgError(*errors)
        return values

    parse_rest.__name__ = parse_one.__name__
    return parse_rest


def Unparsed(texts: list[str], element=None) -> list[str]:
    """The type of an argument taking the rest whose language the element
    reads itself later (Script's instructions): the texts as written, in order."""
    return list(texts)


def parse_arguments(element, conf: list[str], spec, errh) -> dict[str, Any] | None:
    """Match conf against spec as Click's Args does; {attribute: value}, or None after errors.

    The stages of spec are read in order, each from what the earlier ones
    left (see the module's docstring); '_given' maps each given keyword to its
    text. Left-over arguments are errors, unless an argument takes the rest.
    """
    values: dict[str, Any] = {}
    given: dict[str, str] = {}
    errors: list[str] = []
    stages = sorted({a.stage for a in spec})
    left = list(conf)
    for stage in stages:
        left = _read_stage(element, left, [a for a in spec if a.stage == stage], values, given, errors)
    defaults: dict[str, Any] = {}
    for a in spec:
        if not (a.rest or a.attribute in values or a.default is REQUIRED) and defaults.get(a.attribute) is None:
            defaults[a.attribute] = a.default
    values.update(defaults)
    rest = next((a for a in spec if a.rest), None)
    if rest is not None:
        try:
            v = rest.type(left, element)
        except ArgError as e:
            for w in e.warnings:
                errh.warning(w)
            errors.extend(str(m) for m in e.args)
        else:
            if isinstance(v, Warned):
                for w in v.warnings:
                    errh.warning(w)
                v = v.value
            values[rest.attribute] = v
    else:
        unknown = [a[:k] for a, k in ((a, _keyword_length(a)) for a in left) if k]
        for kw in unknown:
            errors.append(f"{kw}: unknown argument")
        if unknown and spec:
            keywords = dict.fromkeys(a.keyword for a in spec if not a.rest)
            errors[-1] += f"\n(valid keywords are {', '.join(keywords)})"
        if len(unknown) < len(left):
            errors.append("too many arguments")
    for e in errors:
        errh.error(e)
    if errors:
        return None
    values["_given"] = given
    return values


def _read_stage(element, conf: list[str], spec, values: dict, given: dict, errors: list) -> list[str]:
    """Read one stage's arguments out of conf into values; the arguments left.

    Declared arguments are matched in order. A keyword argument matches
    'KEYWORD value' anywhere (the last one wins). A positional argument takes
    the first argument not yet used, provided no keyword argument came before
    it, and, unless it is mandatory, provided it does not look like
    'KEYWORD value'.
    """
    CONSUMED_POSITIONAL, CONSUMED_KEYWORD = -1, -2
    kwpos = [_keyword_length(a) for a in conf]
    for a in spec:
        if a.rest:
            continue
        position = None
        for i, k in enumerate(kwpos):
            if k != CONSUMED_POSITIONAL:
                position = i if k >= 0 else None
                break
        got, got_kw = -1, 0
        n = len(a.keyword)
        for i, k in enumerate(kwpos):
            if k == n and conf[i][:n] == a.keyword:
                got, got_kw = i, k
                kwpos[i] = CONSUMED_KEYWORD
        if (a.positional and position is not None and kwpos[position] >= 0
                and ((got < 0 and a.mandatory) or kwpos[position] == 0)):
            kwpos[position] = CONSUMED_POSITIONAL
            if got < position:
                got, got_kw = position, 0
        if got >= 0:
            text = conf[got][got_kw:].lstrip() if got_kw else conf[got]
        elif a.default_from is not None and a.default_from in given:
            text = given[a.default_from]
        else:
            if a.mandatory:
                errors.append(f"{a.keyword}: required argument missing")
            continue
        given[a.keyword] = text
        try:
            values[a.attribute] = a.type(text, element)
        except ArgError as e:
            errors.append(f"{a.keyword}: {e}")
    return [conf[i] for i, k in enumerate(kwpos) if k >= 0]


def apply_arguments(element, conf: list[str], errh) -> bool:
    """Parse conf by the element's declaration and set its attributes (all or nothing)."""
    values = parse_arguments(element, conf, type(element).arguments, errh)
    if values is None:
        return False
    given = values.pop("_given")
    for attr, v in values.items():
        setattr(element, attr, v)
    try:
        element.given_arguments = given
    except AttributeError:
        pass
    return True


def unparse_bool(b: bool) -> str:
    return "true" if b else "false"


def unparse_seconds(s: float) -> str:
    if s == int(s):
        return f"{int(s)}s"
    return f"{s:g}s"


def unparse_string(s: str) -> str:
    return s if s and re.fullmatch(r"[A-Za-z0-9_./:@+-]+", s) else quote(s)
